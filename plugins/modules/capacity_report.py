#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: capacity_report
short_description: Forecast CPU, memory and traffic per component and region from Prometheus, and write the capacity report
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "The LangGraph runbook's C(capacity-planning.py) as one task: seven PromQL queries cover every
    component of every region at once over O(days) days at O(step) (CPU usage, memory working set,
    CPU and memory requests per pod, the request rate per Service, and the pods' owners), sent
    together the way M(multiagent.ops.prometheus_query) sends them."
  - "Utilisation is usage against requests, in percent, summed over the pods of each workload:
    pods that a rollout renamed are grouped by their owner (C(kube_pod_owner), C(kube_replicaset_owner),
    else the workload's name), so 30 days of renamed pods make one series."
  - "Each series' trend is fitted to its hourly peaks by least squares, x in days; where the data is
    noisy (r2 below 0.6, or an outlier) by Theil-Sen, the median of the pairwise slopes. The report
    gives the value at O(end) and O(days_ahead) days later, the days until CPU and memory reach
    their thresholds (O(thresholds)), and the seed's recommendations: CPU above 80 %, memory above
    85 %, request growth above 50 % at the horizon."
  - "With O(report_dir) it writes C(<report_name>.md) (the summary), C(<report_name>.html) (a
    self-contained page: the summary and one chart per component and region, drawn with matplotlib
    as inline SVG; nothing is fetched when it is opened) and C(<report_name>.json) (the numbers),
    each atomically and only when its content differs. A report of the same data (a fixed
    O(end)) changes nothing."
options:
  platform_namespace:
    description: The platform's namespace, the C(namespace) label of its series.
    type: str
    required: true
  components:
    description:
      - "The components to report on, as the inventory's C(platform_components) describes them (or
        names): C(name), C(workload) (the Deployment or StatefulSet whose pods are counted; default
        the name) and C(service.name) (the Service whose request rate is measured; default the
        workload)."
    type: list
    elements: raw
    required: true
  region_label:
    description:
      - The label that names a series' region (or cluster) when one Prometheus holds several.
        Empty when this Prometheus holds one cluster's series only; they are then O(region)'s.
    type: str
    default: region
  regions:
    description:
      - The regions to report on (values of O(region_label)); every region in the data when empty.
    type: list
    elements: str
    default: []
  region:
    description: The region of series without O(region_label) (a Prometheus of one cluster).
    type: str
    default: default
  end:
    description:
      - End of the period, as O(days) counts back from it and the forecast counts forward from it.
        Unix seconds, RFC 3339, C(now) or C(now-<duration>).
    type: raw
    default: now
  days:
    description: Days of data the trends are fitted to.
    type: int
    default: 30
  step:
    description:
      - Resolution of the range queries, seconds or a duration. Over 30 days at least 236 seconds
        (Prometheus answers at most 11,000 points per series).
    type: raw
    default: 5m
  rate_window:
    description: Window of the C(rate()) of the counters; at least twice the scrape interval.
    type: str
    default: 10m
  days_ahead:
    description: Days after O(end) the forecast is made for.
    type: int
    default: 30
  thresholds:
    description:
      - "Overrides of the seed's levels: C(cpu) (80) and C(memory) (85), percent of requests, which
        the days are counted to and above which the forecast recommends scaling; C(requests_growth)
        (50), percent growth of the request rate at the horizon."
    type: dict
    default: {}
  robust:
    description:
      - When the robust fit (Theil-Sen) is used instead of least squares. C(auto) where the data is
        noisy; C(always); C(never).
    type: str
    choices: [auto, always, never]
    default: auto
  report_dir:
    description: Directory to write the report files into (created when missing). No files without it.
    type: path
  report_name:
    description: Name of the report files, without their extension.
    type: str
    default: capacity
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [markdown, html, json]
    default: [markdown, html, json]
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.prometheus_connection
attributes:
  check_mode:
    support: full
    description: Queries and computes everything; writes no file, and says whether one would change.
  diff_mode:
    support: none
    description: The report files are not diffed.
notes:
  - Issues only GET requests to Prometheus's C(/api/v1/query) and C(/api/v1/query_range).
  - "The series it reads: cAdvisor's C(container_cpu_usage_seconds_total) and
    C(container_memory_working_set_bytes), kube-state-metrics' C(kube_pod_container_resource_requests),
    C(kube_pod_owner) and C(kube_replicaset_owner), and the platform's C(http_requests_total) with
    a C(service) label (as a ServiceMonitor adds it)."
requirements:
  - python >= 3.11 (on the host that runs the module)
  - urllib3
  - numpy
  - matplotlib (for the HTML report's charts)
  - kubernetes >= 24.2.0 (with O(via=service_proxy) and a configuration that needs it)
"""

EXAMPLES = r"""
- name: Capacity of every MPLP component in this cluster's region, over 30 days, 30 days ahead
  multiagent.ops.capacity_report:
    url: http://prometheus.monitoring:9090
    platform_namespace: mplp-production
    components: "{{ platform_components }}"
    regions: [us-east-1]
    report_dir: /var/reports/capacity
    report_name: capacity-us-east-1
  register: capacity

- name: Through the API server's service proxy, a Prometheus of one cluster (no region label)
  multiagent.ops.capacity_report:
    via: service_proxy
    namespace: monitoring
    service: kube-prometheus-stack-prometheus
    port: "9090"
    platform_namespace: mplp-production
    components: [core, plan]
    region_label: ""
    region: eu-west-1
    thresholds: {cpu: 70, memory: 80}
"""

RETURN = r"""
report:
  description:
    - The report - C(end), C(start) (Unix seconds), C(days), C(days_ahead), C(thresholds),
      C(regions), C(components) and C(recommendations).
    - "Per component and region (C(components)): C(region), C(component), C(workload), C(service),
      C(pods) (how many pods were counted over the period: one per rollout), C(cpu), C(memory)
      (utilisation, percent of requests) and C(requests) (requests per second), each None without
      data (named in C(missing)) or its analysis: C(points) (hourly peaks), C(method) (least_squares
      or theil_sen), C(slope_per_day), C(r2), C(noisy) (why Theil-Sen was used), C(least_squares)
      and C(theil_sen) (both fits), C(current), C(predicted), C(growth_pct), C(trend), and
      C(thresholds) (C(threshold), C(days), C(status) already_above, rising or not_rising)."
  returned: success
  type: dict
recommendations:
  description: The seed's advice, C({type, metric, reason, action, region, component}) each.
  returned: success
  type: list
  elements: dict
  sample:
    - type: scale_up
      metric: cpu
      reason: CPU utilisation is predicted to reach 93.4% in 30 days (> 80%)
      action: add 2 replicas (or raise the autoscaling maximum)
      region: us-east-1
      component: trace
files:
  description: The report files, C({path, changed}) each (in check mode, whether each would change).
  returned: always
  type: list
  elements: dict
errors:
  description: The failure of each query that did not answer, by name.
  returned: when a query failed
  type: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import module as capacity_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as monitoring_module


def argspec():
    return k8s_module.argspec(
        platform_namespace=dict(type="str", required=True),
        components=dict(type="list", elements="raw", required=True),
        region_label=dict(type="str", default="region"),
        regions=dict(type="list", elements="str", default=[]),
        region=dict(type="str", default="default"),
        end=dict(type="raw", default="now"),
        days=dict(type="int", default=30),
        step=dict(type="raw", default="5m"),
        rate_window=dict(type="str", default="10m"),
        days_ahead=dict(type="int", default=30),
        thresholds=dict(type="dict", default={}),
        robust=dict(type="str", choices=["auto", "always", "never"], default="auto"),
        report_dir=dict(type="path"),
        report_name=dict(type="str", default="capacity"),
        formats=dict(
            type="list",
            elements="str",
            choices=["markdown", "html", "json"],
            default=["markdown", "html", "json"],
        ),
        **monitoring_module.CONNECTION_OPTIONS,
    )


def main():
    module = k8s_module.new_module(
        argspec(),
        supports_check_mode=True,
        required_if=[["via", "direct", ["url"]], ["via", "service_proxy", ["namespace", "service"]]],
    )
    capacity_module.main(module)


if __name__ == "__main__":
    main()
