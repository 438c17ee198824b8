#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: performance_analysis
short_description: Measure a platform's response times, database and cache performance, and run a load check
version_added: 0.2.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "In one call, at the same time: sends O(requests) GETs to every endpoint of O(endpoints),
    O(concurrency) at a time per endpoint, and reports per endpoint the p50, p95 and p99
    response times (over every request, failed ones included), the error rate and the
    statuses; reads PostgreSQL's connections against C(max_connections), its buffer cache hit
    ratio, a bloat estimate per table (its size times its share of dead rows) and, when the
    C(pg_stat_statements) extension is installed, the statements that took the most time (else
    a note saying it is not); reads Redis' C(INFO) (memory against C(maxmemory), which 0 means
    unlimited, the keyspace hit rate, operations, evictions, clients) and its C(SLOWLOG)."
  - "Endpoints are reached at their URL, or through the Kubernetes API server's service proxy
    (O(endpoints[].service)), so a run from outside the cluster needs no port-forward. A database
    or cache with a O(database.workload) (O(cache.workload)) is read inside a running and ready
    pod of that workload through the C(pods/exec) API with the pod's own credentials
    (C(psql), C(redis-cli); C(SLOWLOG) needs C(redis-cli) 7 or later for its C(--json) output);
    one without a workload directly at O(database.host) (O(cache.host)). This is how
    M(multiagent.ops.platform_health) reaches them."
  - "B(Load check.) With O(load), after the look (never beside it): a constant arrival rate of
    O(load.rate) GETs per second to O(load.url) for O(load.duration) seconds. An open model,
    like k6's constant-arrival-rate executor: a request starts on schedule whether or not
    earlier ones have answered, at most O(load.max_in_flight) at once (a start that finds them
    all busy is dropped). The verdict C(report.load.verdict) is C(invalid) when the run started
    less than 95 % of the target rate (the client could not keep up, or too many requests were
    in flight), else C(failed) when the p95 is above O(load.p95_ms) or the error rate above
    O(load.max_error_rate), else C(passed). The module reports the verdict; the caller decides
    whether it fails the run (playbooks/performance_analysis.yml does)."
  - Read-only (the load check sends only GETs). Never reports C(changed).
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode (including the load check, when given).
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
notes:
  - Secrets given as O(database.password) or O(cache.password) are never returned.
  - At most 64 requests of the analysis are in flight at once, over all endpoints.
  - The load check reaches O(load.url) directly (an ingress or load balancer, as a user does);
    through the API server's proxy it would measure the API server.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0 (only for endpoints through the service proxy and an in-cluster data tier)
  - aiohttp >= 3.9 (only with O(load))
  - psycopg >= 3.1 or psycopg2 (only with O(database.host))
  - redis >= 4.5 (only with O(cache.host))
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
options:
  namespace:
    description: Namespace of the platform (of the services behind the proxy, of the data tier's workloads).
    type: str
    required: true
  endpoints:
    description:
      - HTTP endpoints to measure, all at the same time. Give either O(endpoints[].url), or
        O(endpoints[].service) to go through the API server's service proxy.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name in the report; defaults to the URL or service and path.
        type: str
      url:
        description: Full http(s) URL.
        type: str
      service:
        description: Service name in O(namespace), reached through the API server proxy.
        type: str
      port:
        description: Service port name or number (proxy only).
        type: str
      path:
        description: Path on the service (proxy only).
        type: str
        default: /health
      scheme:
        description: Scheme the proxy uses to reach the service.
        type: str
        default: http
        choices: [http, https]
      component:
        description: Component the endpoint belongs to.
        type: str
      expect_status:
        description: Status codes that count as success; default any 2xx.
        type: list
        elements: int
      timeout:
        description: Per-request timeout in seconds; default O(timeout).
        type: float
      headers:
        description: Extra request headers.
        type: dict
      validate_certs:
        description: Verify TLS certificates of plain URLs.
        type: bool
        default: true
  requests:
    description: Requests sent to each endpoint.
    type: int
    default: 50
  concurrency:
    description: Requests in flight at once per endpoint (at most 64 over all endpoints).
    type: int
    default: 10
  timeout:
    description: Default per-request timeout in seconds (of the endpoints and the load check).
    type: float
    default: 5
  top:
    description: How many statements, tables and slow log entries are reported.
    type: int
    default: 10
  database:
    description:
      - PostgreSQL to analyse. With O(database.workload), inside its pod (C(psql) through the
        exec API, with the pod's credentials); otherwise directly at O(database.host), which needs
        psycopg (3) or psycopg2. The user needs to read C(pg_stat_activity), C(pg_stat_database)
        and C(pg_stat_user_tables) (any user can; C(pg_monitor) shows other users' queries).
    type: dict
    suboptions:
      name:
        description: Name in the report.
        type: str
        default: postgresql
      workload:
        description: The workload that runs the database in O(namespace); the connection options are then not used.
        type: str
      kind:
        description: Kind of O(database.workload).
        type: str
        default: StatefulSet
        choices: [Deployment, StatefulSet, DaemonSet]
      container:
        description: Container of the pod to exec into; needed when the pod has several.
        type: str
      host:
        description: Host name or address (a database outside the cluster).
        type: str
      port:
        description: Port.
        type: int
        default: 5432
      user:
        description: User name.
        type: str
        default: postgres
      password:
        description: Password.
        type: str
      dbname:
        description: Database.
        type: str
        default: postgres
      sslmode:
        description: libpq sslmode.
        type: str
        default: prefer
      timeout:
        description: Connect timeout in seconds (also C(psql)'s in the pod).
        type: float
        default: 5
  cache:
    description:
      - Redis to analyse (C(INFO), C(SLOWLOG GET)). With O(cache.workload), inside its pod
        (C(redis-cli) through the exec API, the password from the container's C(REDISCLI_AUTH)
        or C(REDIS_PASSWORD)); otherwise directly at O(cache.host), which needs the redis Python
        package.
    type: dict
    suboptions:
      name:
        description: Name in the report.
        type: str
        default: redis
      workload:
        description: The workload that runs the cache in O(namespace); see O(database.workload).
        type: str
      kind:
        description: Kind of O(cache.workload).
        type: str
        default: StatefulSet
        choices: [Deployment, StatefulSet, DaemonSet]
      container:
        description: Container of the pod to exec into; needed when the pod has several.
        type: str
      host:
        description: Host name or address (a cache outside the cluster).
        type: str
      port:
        description: Port.
        type: int
        default: 6379
      username:
        description: ACL user name.
        type: str
      password:
        description: Password.
        type: str
      db:
        description: Database number.
        type: int
        default: 0
      tls:
        description: Use TLS.
        type: bool
        default: false
      timeout:
        description: Socket timeout in seconds (in the pod, how long C(redis-cli) may stay silent).
        type: float
        default: 5
  load:
    description: The load check, run after the analysis; see the description.
    type: dict
    suboptions:
      url:
        description: Full http(s) URL to send the GETs to.
        type: str
        required: true
      rate:
        description: Target arrival rate, in requests per second.
        type: float
        required: true
      duration:
        description: Seconds over which requests start.
        type: float
        required: true
      p95_ms:
        description: Threshold of the p95 response time in milliseconds; none when not given.
        type: float
      max_error_rate:
        description: Threshold of the share of failed requests (0-1); none when not given.
        type: float
      max_in_flight:
        description: Requests in flight at once at most; a start beyond them is dropped.
        type: int
        default: 100
      timeout:
        description: Per-request timeout in seconds; default O(timeout).
        type: float
      expect_status:
        description: Status codes that count as success; default any 2xx.
        type: list
        elements: int
      headers:
        description: Extra request headers.
        type: dict
      validate_certs:
        description: Verify TLS certificates.
        type: bool
        default: true
"""

EXAMPLES = r"""
- name: Response times of the health endpoints, database and cache performance
  multiagent.ops.performance_analysis:
    namespace: mplp-production
    endpoints:
      - url: https://api.mplp.example.com/health
      - service: mplp-core
        port: "8080"
        path: /api/v1/core/health
        component: core
    requests: 50
    concurrency: 10
    database:
      workload: mplp-postgresql
    cache:
      host: redis.example.internal
      password: "{{ vault_redis_password }}"
  register: perf

- name: A load check after a deploy (the MPLP guide's k6 step)
  multiagent.ops.performance_analysis:
    namespace: mplp-production
    load:
      url: https://api.mplp.example.com/api/v1/core/health
      rate: 50
      duration: 30
      p95_ms: 500
      max_error_rate: 0.01
  register: load

- name: The load check passed
  ansible.builtin.assert:
    that: load.report.load.verdict == 'passed'
    fail_msg: "{{ load.report.load.message }}"
"""

RETURN = r"""
report:
  description: The analysis.
  returned: always
  type: dict
  contains:
    endpoints:
      description: Per endpoint, in the order given.
      type: list
      elements: dict
      sample:
        - name: core /api/v1/core/health
          component: core
          url: https://api.mplp.example.com/api/v1/core/health
          requests: 50
          errors: 1
          error_rate: 0.02
          statuses: {"200": 49, "500": 1}
          error_reasons: {"HTTP 500": 1}
          p50_ms: 12.4
          p95_ms: 48.1
          p99_ms: 77.3
          min_ms: 6.2
          max_ms: 80.0
          mean_ms: 17.9
          duration_seconds: 0.21
          throughput_rps: 238.1
    database:
      description:
        - PostgreSQL's figures, None without O(database). C(error) says why they could not be read.
        - C(connections) (by state, total, max_connections, usage_percent), C(cache_hit_ratio) (0-1,
          None before any read), C(size_bytes), C(xact_commit), C(xact_rollback), C(deadlocks),
          C(temp_files), C(temp_bytes), C(tables) (the most dead rows first, with
          C(estimated_bloat_bytes)), C(estimated_bloat_bytes), C(top_statements) (None without
          C(pg_stat_statements), then C(top_statements_note) says why), C(via), C(pod).
      type: dict
    cache:
      description:
        - Redis' figures, None without O(cache). C(error) says why they could not be read.
        - C(memory) (used, peak, C(maxmemory) and C(usage_percent), None when unlimited),
          C(stats) (C(hit_rate) 0-1, operations, evictions, clients), C(slowlog) (the slowest
          first; None with C(slowlog_note) when it could not be read), C(server_version), C(via), C(pod).
      type: dict
    load:
      description: The load check, None without O(load).
      type: dict
      sample:
        url: https://api.mplp.example.com/health
        target_rate: 50.0
        duration: 30.0
        scheduled: 1500
        started: 1500
        dropped: 0
        achieved_rate: 49.98
        max_lag_ms: 3.1
        requests: 1500
        error_rate: 0.0
        p95_ms: 41.2
        verdict: passed
        rate_ratio: 0.9996
        checks:
          - {name: p95_ms, threshold: 500.0, value: 41.2, ok: true}
          - {name: error_rate, threshold: 0.01, value: 0.0, ok: true}
        message: "passed: 50.0 requests/s (target 50/s); p95_ms 41.2 within 500; error_rate 0 within 0.01"
    findings:
      description: What to look at first, as sentences.
      type: list
      elements: str
    duration_seconds:
      description: How long the analysis (without the load check) took.
      type: float
"""

from ansible_collections.multiagent.ops.plugins.module_utils.health import module as health_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        endpoints=health_module.ENDPOINTS,
        requests=dict(type="int", default=50),
        concurrency=dict(type="int", default=10),
        timeout=dict(type="float", default=5),
        top=dict(type="int", default=10),
        database=health_module.DATABASE,
        cache=health_module.CACHE,
        load=dict(
            type="dict",
            options=dict(
                url=dict(type="str", required=True),
                rate=dict(type="float", required=True),
                duration=dict(type="float", required=True),
                p95_ms=dict(type="float"),
                max_error_rate=dict(type="float"),
                max_in_flight=dict(type="int", default=100),
                timeout=dict(type="float"),
                expect_status=dict(type="list", elements="int"),
                headers=dict(type="dict"),
                validate_certs=dict(type="bool", default=True),
            ),
        ),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    health_module.analyse(module)


if __name__ == "__main__":
    main()
