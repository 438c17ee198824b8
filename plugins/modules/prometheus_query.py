#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: prometheus_query
short_description: Run PromQL instant and range queries, many at once, directly or through the Kubernetes API server
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Runs one PromQL query (O(query)) or many (O(queries)) against Prometheus's HTTP API in
    one task: the queries are checked first (names, times, steps, at most 11,000 points per
    series), then sent at once, at most O(concurrency) at a time over one pool of keep-alive
    connections. Results are keyed by the queries' names, series as plain data and every
    sample value as a float."
  - "O(via=direct) reaches Prometheus at O(url), with bearer, basic or mutual-TLS
    authentication (O(prometheus_auth)). O(via=service_proxy) reaches the Service
    O(namespace)/O(service) through the Kubernetes API server's service proxy with the
    module's Kubernetes options, so a run from outside the cluster needs no port-forward;
    the API server authenticates the caller there, and O(prometheus_auth) is not used."
  - "A query that fails fails the task with a message naming the query and the cause (HTTP
    status, Prometheus's error type and message, a timeout, a refused connection); the
    results of the queries that answered are returned with it, and every failure in
    RV(errors). Nothing is retried."
options:
  query:
    description:
      - One PromQL expression; its result is RV(query_results.query). Its type and times are
        O(type), O(time), O(start), O(end) and O(step).
      - Exactly one of O(query) and O(queries).
    type: str
  queries:
    description: The queries, run at once; results are keyed by their names.
    type: list
    elements: dict
    suboptions:
      name:
        description: Unique name of the query, the key of its result.
        type: str
        required: true
      query:
        description: The PromQL expression.
        type: str
        required: true
      type:
        description: C(instant) (one evaluation, at O(queries[].time)) or C(range).
        type: str
        choices: [instant, range]
        default: instant
      time:
        description: Evaluation time of an instant query; Prometheus's current time when unset.
        type: raw
      start:
        description: Start of a range query.
        type: raw
      end:
        description: End of a range query; now when unset.
        type: raw
      step:
        description: Resolution of a range query, seconds or a duration (C(5m)).
        type: raw
  type:
    description: Type of O(query).
    type: str
    choices: [instant, range]
    default: instant
  time:
    description:
      - Evaluation time of O(query) when O(type=instant). Times are Unix seconds, RFC 3339
        (C(2026-12-01T00:00:00Z)), C(now) or C(now-<duration>) (C(now-7d)).
    type: raw
  start:
    description: Start of O(query) when O(type=range).
    type: raw
  end:
    description: End of O(query) when O(type=range); now when unset.
    type: raw
  step:
    description: Resolution of O(query) when O(type=range), seconds or a duration (C(5m), C(1h)).
    type: raw
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.prometheus_connection
attributes:
  check_mode:
    support: full
    description: Queries are reads; the module runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
notes:
  - Issues only GET requests to C(/api/v1/query) and C(/api/v1/query_range).
  - Over 30 days a range query needs a step of at least 236 seconds (11,000 points per series).
requirements:
  - python >= 3.11 (on the host that runs the module)
  - urllib3
  - kubernetes >= 24.2.0 (with O(via=service_proxy) and a configuration that needs it)
"""

EXAMPLES = r"""
- name: Error ratio and p95 latency now, and CPU per component over the last day
  multiagent.ops.prometheus_query:
    url: http://prometheus.monitoring:9090
    queries:
      - name: error_ratio
        query: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
      - name: p95
        query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
      - name: cpu
        type: range
        query: sum by (container) (rate(container_cpu_usage_seconds_total{namespace="mplp"}[10m]))
        start: now-1d
        step: 5m
  register: metrics

- name: The same from outside the cluster, through the API server (no port-forward)
  multiagent.ops.prometheus_query:
    via: service_proxy
    namespace: monitoring
    service: kube-prometheus-stack-prometheus
    port: "9090"
    query: up == 0
  register: down

- name: With a bearer token from the vault
  multiagent.ops.prometheus_query:
    url: https://prometheus.example.com
    prometheus_auth:
      bearer_token: "{{ vault_prometheus_token }}"
    query: sum(kube_pod_container_resource_requests{resource="cpu"})
    time: "2026-12-01T00:00:00Z"
"""

RETURN = r"""
query_results:
  description:
    - The result of each query that answered, by name (C(query) for O(query)).
  returned: always
  type: dict
  contains:
    query:
      description: The PromQL expression.
      type: str
    type:
      description: C(instant) or C(range).
      type: str
    result_type:
      description: Prometheus's result type, C(vector), C(matrix), C(scalar) or C(string).
      type: str
    series:
      description:
        - For a vector, C({metric, value, time}) per series; for a matrix,
          C({metric, values}) with C(values) a list of C([time, value]) pairs. Values are
          floats (C(NaN) and C(+Inf) included), times Unix seconds.
      type: list
      elements: dict
      returned: for vector and matrix results
    value:
      description: The value of a scalar (float) or string result.
      type: raw
      returned: for scalar and string results
    time:
      description: The evaluation time of a scalar or string result.
      type: float
      returned: for scalar and string results
    warnings:
      description: Prometheus's warnings about the query.
      type: list
      elements: str
  sample:
    error_ratio:
      query: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
      type: instant
      result_type: vector
      series:
        - metric: {}
          value: 0.004
          time: 1796083200.0
      warnings: []
errors:
  description: The failure of each query that did not answer, by name (empty when all did).
  returned: always
  type: dict
  sample:
    p95: "Query 'p95' failed: HTTP 400, bad_data: 1:15: parse error: unexpected right parenthesis ')'"
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as query_module

QUERY_OPTIONS = dict(
    name=dict(type="str", required=True),
    query=dict(type="str", required=True),
    type=dict(type="str", choices=["instant", "range"], default="instant"),
    time=dict(type="raw"),
    start=dict(type="raw"),
    end=dict(type="raw"),
    step=dict(type="raw"),
)


def argspec():
    return k8s_module.argspec(
        **query_module.CONNECTION_OPTIONS,
        query=dict(type="str"),
        queries=dict(type="list", elements="dict", options=QUERY_OPTIONS),
        type=dict(type="str", choices=["instant", "range"], default="instant"),
        time=dict(type="raw"),
        start=dict(type="raw"),
        end=dict(type="raw"),
        step=dict(type="raw"),
    )


def main():
    module = k8s_module.new_module(
        argspec(),
        supports_check_mode=True,
        mutually_exclusive=[["query", "queries"]],
        required_one_of=[["query", "queries"]],
        required_if=[["via", "direct", ["url"]], ["via", "service_proxy", ["namespace", "service"]]],
    )
    query_module.main(module)


if __name__ == "__main__":
    main()
