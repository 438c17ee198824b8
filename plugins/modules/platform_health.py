#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: platform_health
short_description: Check the health of a multi-agent platform in one look
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - In one call, lists the namespace's Deployments, ReplicaSets, StatefulSets, Pods and
    recent Events (label selectors optional), maps pods to components through their
    ownerReferences (never by name), probes all given HTTP endpoints concurrently with a
    per-probe timeout (plain URLs, or through the API server's service proxy for services
    without an ingress), optionally checks PostgreSQL (C(pg_isready) and C(SELECT 1)) and Redis
    (C(PING)), and returns a report with a status per component, findings with a severity and
    a stable rule id, an overall status and a 0-100 score.
  - "B(Data tier.) A database or cache given with a O(database.workload) (O(cache.workload))
    runs in the cluster and is checked where it is: inside a running and ready pod of that
    workload, through the C(pods/exec) API, with the pod's own credentials (C(pg_isready) and
    C(psql -c 'SELECT 1') using the container's C(PGUSER)/C(PGPASSWORD)/C(PGDATABASE), else
    C(POSTGRES_USER)/C(POSTGRES_PASSWORD)/C(POSTGRES_DB); C(redis-cli PING) with the password in
    C(REDISCLI_AUTH), never C(-a)). So a check run from outside the cluster, where the
    C(*.svc) names do not resolve, sees it as it is. One without a workload (a managed
    database) is connected to directly at O(database.host)."
  - "The exec checks use the one pods LIST of the look and run while the rest of it goes on.
    A forbidden C(pods/exec) (HTTP 403) makes the check C(unknown), naming the permission it
    needs (C(create pods/exec in namespace X)), never C(down). Without a running and ready pod
    the check does not run (RV(report.components) C(check.status=not_checked)) and has no
    finding of its own: the workload's C(no_ready_replica) or C(workload_missing) says it."
  - All Kubernetes LISTs and all probes run at the same time, so the call takes about as
    long as the slowest probe.
  - Read-only. Never reports C(changed). Safe in check mode.
  - "B(Rules.) Each rule has a stable id, a default severity (which O(rules) can change) and an
    effect on its component, the status the component gets at least (which cannot change).
    A component takes the worst effect of its findings. The rules, as
    C(id): severity, effect; what triggers it:"
  - "C(workload_missing): critical, down; the component's workload does not exist."
  - "C(no_ready_replica): critical, down; no replica of the component is ready (also when it is
    scaled to zero)."
  - "C(endpoints_all_failing): critical, down; every health endpoint of the component fails."
  - "C(dependency_unreachable): critical, down; the database (C(pg_isready), C(SELECT 1)) or the
    cache (C(PING)) does not answer, checked directly or inside a ready pod."
  - "C(pod_crashloop): critical, degraded; a container is in C(CrashLoopBackOff) (the component
    is down when no replica is ready)."
  - "C(pod_image_pull): critical, degraded; a container cannot pull its image
    (C(ImagePullBackOff), C(ErrImagePull), C(InvalidImageName)) (the component is down when no
    replica is ready)."
  - "C(replicas_unavailable): warning, degraded; some replicas of the workload are unavailable
    while at least one is ready."
  - "C(rollout_stalled): warning, degraded; the rollout exceeded its progress deadline
    (C(ProgressDeadlineExceeded))."
  - "C(pod_restarts): warning, degraded; a pod restarted at least C(thresholds.restarts) times
    within C(thresholds.restarts_window)."
  - "C(pod_pending): warning, degraded; a pod has been C(Pending) longer than
    C(thresholds.pending_age)."
  - "C(endpoint_slow): warning, degraded; the p95 latency of a health endpoint's probes is above
    C(thresholds.slow_p95)."
  - "C(endpoint_failing): warning, degraded; one of several health endpoints of the component
    fails (no answer, or a status other than O(endpoints[].expect_status), by default any 2xx)."
  - "C(check_unavailable): unknown, unknown; a check could not run (the API unreachable,
    permission denied, a timeout, a missing client library)."
  - "Score: 100 only with no findings; each finding costs 30 (critical), 10 (warning),
    5 (unknown) or 1 (info) points; any critical finding caps the score at 50. Making a
    finding worse never raises the score."
  - The API's C(restartCount) is cumulative and has no per-restart times, so restarts count
    as within the window when the pod is younger than the window or its last termination
    falls inside it.
options:
  namespace:
    description: Namespace of the platform.
    type: str
    required: true
  label_selectors:
    description:
      - Label selectors (C(key=value), C(key!=value), C(key in (a,b))) that restrict the
        workloads and pods looked at. They are joined with commas (all must match).
    type: list
    elements: str
    default: []
  components:
    description:
      - The platform's components. Each is checked through its workload and pods.
      - When empty, every Deployment and StatefulSet in the namespace (after
        O(label_selectors)) is a component.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Component name used in the report.
        type: str
        required: true
      kind:
        description: Kind of the workload; C(none) for a component known only by endpoints.
        type: str
        default: Deployment
        choices: [Deployment, StatefulSet, DaemonSet, none]
      workload:
        description: Name of the workload object; defaults to O(components[].name).
        type: str
  discover:
    description:
      - Also report Deployments and StatefulSets that are not listed in O(components).
      - Defaults to true when O(components) is empty, false otherwise.
    type: bool
  endpoints:
    description:
      - HTTP health endpoints, probed concurrently, each O(probe_attempts) times.
      - Give either O(endpoints[].url), or O(endpoints[].service) to go through the API
        server's service proxy.
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
        description:
          - Component the endpoint belongs to. Endpoints without one are reported under
            the pseudo component C(platform).
        type: str
      expect_status:
        description: Status codes that mean healthy; default any 2xx.
        type: list
        elements: int
      timeout:
        description: Per-probe timeout in seconds; default O(probe_timeout).
        type: float
      headers:
        description: Extra request headers.
        type: dict
      validate_certs:
        description: Verify TLS certificates of plain URLs.
        type: bool
        default: true
  probe_timeout:
    description: Default per-probe timeout in seconds.
    type: float
    default: 5
  probe_attempts:
    description:
      - How many times each endpoint is probed (concurrently across endpoints, in turn for
        one endpoint); the slow rule uses the p95 of these.
    type: int
    default: 3
  database:
    description:
      - PostgreSQL to check. With O(database.workload), inside its pod (C(pg_isready) and
        C(SELECT 1) through the exec API); otherwise directly at O(database.host) with
        C(SELECT 1), which needs psycopg (3) or psycopg2.
      - Give O(database.host) or O(database.workload).
    type: dict
    suboptions:
      name:
        description: Component name in the report.
        type: str
        default: postgresql
      workload:
        description:
          - The workload that runs the database in O(namespace). The check runs in its first
            running and ready pod (by name), with that pod's credentials; the connection
            options below are then not used.
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
        description: Connect timeout in seconds (also the one of C(pg_isready) and C(psql) in the pod).
        type: float
        default: 5
  cache:
    description:
      - Redis to check with C(PING). With O(cache.workload), inside its pod (C(redis-cli)
        through the exec API, the password from the container's C(REDISCLI_AUTH) or
        C(REDIS_PASSWORD); C(REDISCLI_HOST) and C(REDISCLI_PORT) in its environment point
        C(redis-cli) at a server that is not on localhost:6379); otherwise directly at
        O(cache.host), which needs the redis Python package.
      - Give O(cache.host) or O(cache.workload).
    type: dict
    suboptions:
      name:
        description: Component name in the report.
        type: str
        default: redis
      workload:
        description:
          - The workload that runs the cache in O(namespace); see O(database.workload).
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
  rules:
    description:
      - "Per-rule overrides, for example C({pod_restarts: {severity: critical}}) or
        C({endpoint_slow: {enabled: false}}). Severities are C(critical), C(warning),
        C(unknown), C(info). The effect of a rule on its component does not change."
    type: dict
    default: {}
  thresholds:
    description:
      - Overrides of C(restarts) (3), C(restarts_window) (3600 s), C(pending_age) (300 s),
        C(slow_p95) (2.0 s) and C(events_window) (900 s, what counts as recent).
    type: dict
    default: {}
  collect:
    description:
      - Extra for a diagnosis. C(pods) lists every pod of every component (otherwise only
        pods that are not ready, restarted, waiting or not running are listed); C(services)
        lists Services; C(metrics) reads pod usage from C(metrics.k8s.io); C(logs) greps
        recent log lines of troubled pods (and one pod per component) for O(log_pattern). A
        source that cannot be read is named in RV(report.sources) and never fails the module.
      - C(data) reads the data tier's statistics where it is checked (in the pod or directly),
        once its check passed; PostgreSQL's connections by state (C(pg_stat_activity)) and,
        when the C(pg_stat_statements) extension is installed, the slowest statements (else a
        note saying it is not); Redis' C(INFO memory). See RV(report.data_tier).
    type: list
    elements: str
    default: []
    choices: [pods, services, metrics, logs, data]
  max_events:
    description: At most this many recent events are returned, newest first.
    type: int
    default: 50
  log_tail_lines:
    description: Lines read from the end of each container log.
    type: int
    default: 200
  log_pattern:
    description: Regular expression selecting error lines.
    type: str
    default: '(?i)\b(error|fatal|panic|exception|traceback|critical)\b'
  log_max_pods:
    description: At most this many pods have their logs read.
    type: int
    default: 20
  fail_on_api_error:
    description:
      - Fail when the Kubernetes API cannot be used at all (unreachable, wrong credentials,
        or the LISTs of workloads and pods time out after O(api_timeout)).
        The report is returned either way and names the checks that could not run.
      - Set to false for a diagnosis that must report whatever it can.
    type: bool
    default: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
notes:
  - Issues only GET requests, at fixed API paths (no discovery round trips).
  - Secrets given as O(database.password) or O(cache.password) are never returned.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - psycopg >= 3.1 or psycopg2 (only with O(database.host))
  - redis >= 4.5 (only with O(cache.host))
  - websocket-client (only with O(database.workload) or O(cache.workload))
"""

EXAMPLES = r"""
- name: Check the MPLP platform
  multiagent.ops.platform_health:
    kubeconfig: "{{ cluster_kubeconfig }}"
    namespace: mplp-production
    components:
      - name: core
        workload: mplp-core
      - name: postgresql
        kind: StatefulSet
    endpoints:
      - url: https://api.mplp.example.com/health
      - name: core
        url: https://api.mplp.example.com/api/v1/core/health
        component: core
      - service: mplp-core
        port: http
        path: /ready
        component: core
    database:  # in the cluster: checked inside its pod
      workload: mplp-postgresql
    cache:  # a managed Redis: checked directly
      host: redis.internal
      password: "{{ vault_redis_password }}"
    thresholds:
      slow_p95: 1.0
    rules:
      pod_restarts:
        severity: critical
  register: health

- name: Fail on critical findings
  ansible.builtin.assert:
    that: not health.report.critical
    fail_msg: "{{ health.report.findings | selectattr('severity', 'eq', 'critical') | map(attribute='message') | join('; ') }}"

- name: Everything in a namespace, with logs and usage, never failing on a missing source
  multiagent.ops.platform_health:
    namespace: langgraph-multi-agent
    collect: [services, metrics, logs]
    fail_on_api_error: false
  register: diagnosis
"""

RETURN = r"""
report:
  description: The health report.
  returned: always (also when the module fails after collecting)
  type: dict
  contains:
    status:
      description: Overall status, C(healthy), C(degraded), C(down) (every workload down) or C(unknown).
      type: str
      sample: degraded
    score:
      description: 0-100; 100 only with no findings, at most 50 with a critical finding.
      type: int
      sample: 50
    critical:
      description: Whether any critical finding exists.
      type: bool
    counts:
      description: Number of findings per severity.
      type: dict
      sample: {critical: 1, warning: 0, unknown: 0, info: 0}
    findings:
      description: Findings, most severe first.
      type: list
      elements: dict
      sample:
        - rule: pod_crashloop
          severity: critical
          component: core
          message: container app of pod mplp-core-6d4f-x2x9q is in CrashLoopBackOff (5 restarts)
          object: Pod/mplp-core-6d4f-x2x9q
    components:
      description:
        - Per component, its C(status), C(findings), C(replicas), C(pod_counts), C(pods) (see
          O(collect)), C(endpoints), C(check) (database/cache) and up to 10 C(warning_events).
        - A C(check) has C(type), C(ok) (null when it could not run), C(status) (C(up),
          C(down), C(unknown), C(not_checked)), C(error), C(latency_seconds), C(via) (C(exec) or
          C(direct)), and C(pod), C(server_version), C(missing_permission) when known.
      type: dict
    events:
      description: Events of the last C(thresholds.events_window) seconds, newest first, at most O(max_events).
      type: list
      elements: dict
    events_total:
      description: How many events the window held.
      type: int
    sources:
      description: Kubernetes sources that could not be read, with the reason.
      type: dict
      sample: {events: {ok: false, reason: forbidden, error: "permission denied to list events ..."}}
    services:
      description: Services, when O(collect) has C(services).
      type: list
      elements: dict
    data_tier:
      description:
        - When O(collect) has C(data), per role (C(database), C(cache)) what was read, C(via)
          (C(exec) or C(direct)), C(pod) and C(checked); for the database C(connections)
          (C(by_state), C(total), C(max_connections), C(usage_percent),
          C(longest_transaction_seconds), C(pg_stat_statements)), C(slow_queries) (null
          without the extension) and C(slow_queries_note); for the cache C(memory)
          (C(used_memory), C(maxmemory), C(maxmemory_policy), C(mem_fragmentation_ratio),
          C(usage_percent)); C(error) when they could not be read.
      type: dict
      sample:
        database:
          name: postgresql
          via: exec
          pod: mplp-postgresql-0
          connections: {by_state: {active: 1, idle: 4}, total: 5, max_connections: 100}
          slow_queries: null
          slow_queries_note: pg_stat_statements is not installed in this database
        cache:
          name: redis
          via: exec
          memory: {used_memory: 1014792, maxmemory: 0, mem_fragmentation_ratio: 1.2}
    usage:
      description: Pod CPU (millicores) and memory (bytes), when O(collect) has C(metrics); C(available=false) when the metrics API does not answer.
      type: dict
    logs:
      description: Error lines per pod and container, when O(collect) has C(logs).
      type: list
      elements: dict
    api_error:
      description:
        - Why the Kubernetes API could not be used at all (unreachable, wrong credentials)
          and which checks did not run; null when it could.
      type: str
      sample: "cannot reach the Kubernetes API at https://10.0.0.1:6443 (connection refused) while trying to connect; checks not run: pods, workloads"
    rules:
      description: Every rule with the severity it had in this check and whether it was enabled (see O(rules)).
      type: dict
      sample: {pod_restarts: {severity: critical, enabled: true}}
    thresholds:
      description: The thresholds of this check, the defaults with O(thresholds) over them.
      type: dict
      sample: {restarts: 3, restarts_window: 3600, pending_age: 300, slow_p95: 1.0, events_window: 900}
    namespace:
      description: The namespace checked.
      type: str
    duration_seconds:
      description: Wall time of the look.
      type: float
    checked_at:
      description: Time of the check (UTC, ISO 8601).
      type: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.health import module as health_module
from ansible_collections.multiagent.ops.plugins.module_utils.health.collect import DEFAULT_LOG_PATTERN
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        label_selectors=dict(type="list", elements="str", default=[]),
        components=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                kind=dict(
                    type="str",
                    default="Deployment",
                    choices=["Deployment", "StatefulSet", "DaemonSet", "none"],
                ),
                workload=dict(type="str"),
            ),
        ),
        discover=dict(type="bool"),
        endpoints=health_module.ENDPOINTS,
        probe_timeout=dict(type="float", default=5),
        probe_attempts=dict(type="int", default=3),
        database=health_module.DATABASE,
        cache=health_module.CACHE,
        rules=dict(type="dict", default={}),
        thresholds=dict(type="dict", default={}),
        collect=dict(
            type="list", elements="str", default=[], choices=["pods", "services", "metrics", "logs", "data"]
        ),
        max_events=dict(type="int", default=50),
        log_tail_lines=dict(type="int", default=200),
        log_pattern=dict(type="str", default=DEFAULT_LOG_PATTERN),
        log_max_pods=dict(type="int", default=20),
        fail_on_api_error=dict(type="bool", default=True),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    health_module.main(module)


if __name__ == "__main__":
    main()
