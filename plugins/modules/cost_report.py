#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cost_report
short_description: Cost of the components' requests, oversized pods and right-sizing advice from measured usage
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "The LangGraph runbook's C(cost-optimization.sh) as one read-only task for all the
    components of a namespace: their requests and limits (each workload's pod template)
    against measured usage, the monthly cost at the inventory's prices, the pods that request
    too much, and how to size them."
  - "Usage comes from the metrics API (O(source=metrics_api), C(metrics.k8s.io): one look now)
    or from Prometheus (O(source=prometheus)): per-pod CPU (C(container_cpu_usage_seconds_total))
    and memory (C(container_memory_working_set_bytes)) over the O(days) before O(end), grouped
    by the owning workload through C(kube_pod_owner) and C(kube_replicaset_owner), so pods a
    rollout renamed count together. The component's usage per pod is the mean and the 95th
    percentile over the window (with the metrics API, across its pods now)."
  - "Cost is of the requests (what the scheduler reserves and a node pool is billed for):
    cores x C(vcpu_hour) + GiB x C(gb_hour), x 730 hours a month, x replicas."
  - "Oversized, by the seed's thresholds: mean usage under C(cpu_under) (30) % of
    the CPU request or under C(memory_under) (40) % of the memory request; per pod
    (RV(oversized_pods)) and per component."
  - "Right-sizing: a request of at least the p95 usage per pod divided by the HPA's target
    utilisation for that resource (80 % without one), costed at the replicas the HPA would
    then hold for the same load (C(ceil(replicas x utilisation / target)), within its range
    and its 10 % tolerance); without an HPA the replicas stay."
  - "It reads the HorizontalPodAutoscalers in one LIST, the workloads in one LIST per kind,
    and the metrics API (pods, ReplicaSets, PodMetrics, one LIST each) or five Prometheus
    queries, sent at once while the LISTs run."
options:
  namespace:
    description: Namespace of the workloads.
    type: str
    required: true
  components:
    description:
      - The components to cost, as the filter M(multiagent.ops.health_components) gives them
        from C(platform_components).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the component.
        type: str
        required: true
      kind:
        description: Kind of its workload.
        type: str
        default: Deployment
        choices: [Deployment, StatefulSet]
      workload:
        description: Name of its workload; the component's name when unset.
        type: str
  prices:
    description:
      - "Prices per hour: C(vcpu_hour) (one vCPU, a core requested) and C(gb_hour) (one GiB of
        memory requested), numbers of 0 or more, and an optional C(currency) shown in messages."
    type: dict
    required: true
  thresholds:
    description:
      - Overrides of the seed's oversized thresholds, in percent of the requests -
        C(cpu_under) (30) and C(memory_under) (40).
    type: dict
    default: {}
  source:
    description: Where usage is measured.
    type: str
    choices: [metrics_api, prometheus]
    default: metrics_api
  labels:
    description:
      - "Label matchers added to every Prometheus query, for a Prometheus that holds several
        clusters or regions (C({region: us-east-1})). A C(namespace) key replaces the
        namespace label (O(namespace) by default)."
    type: dict
    default: {}
  days:
    description: Length of the Prometheus window, in days.
    type: float
    default: 7
  end:
    description:
      - End of the Prometheus window - Unix seconds, RFC 3339, C(now) or C(now-<duration>).
    type: raw
    default: now
  step:
    description:
      - Resolution of the Prometheus window, seconds or a duration; raised where the window
        would pass Prometheus's 11,000 points per series.
    type: raw
    default: 5m
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.prometheus
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: The report is the result; there is no change to show a diff of.
notes:
  - Without the metrics API (metrics-server not installed, or not allowed) it warns, costs the
    requests and gives no advice.
  - A component whose pods request nothing for a resource costs nothing for it and has no
    utilisation of it.
seealso:
  - module: multiagent.ops.prometheus_query
  - module: multiagent.ops.autoscale_check
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - numpy and urllib3 (with O(source=prometheus))
"""

EXAMPLES = r"""
- name: Cost and right-sizing from the metrics API
  multiagent.ops.cost_report:
    namespace: mplp-production
    components: "{{ platform_components | multiagent.ops.health_components | selectattr('kind', 'in', ['Deployment', 'StatefulSet']) }}"
    prices: {vcpu_hour: 0.04, gb_hour: 0.005, currency: USD}
  register: cost

- name: The same over 14 days of Prometheus data for one region
  multiagent.ops.cost_report:
    namespace: mplp-production
    components:
      - {name: core, workload: mplp-core}
      - {name: postgresql, kind: StatefulSet, workload: mplp-postgresql}
    prices: {vcpu_hour: 0.04, gb_hour: 0.005}
    source: prometheus
    prometheus:
      via: service_proxy
      namespace: monitoring
      service: kube-prometheus-stack-prometheus
      port: "9090"
    labels: {region: us-east-1}
    days: 14
"""

RETURN = r"""
components:
  description:
    - Per component, in the order given - C(component), C(kind), C(name), C(replicas),
      C(requests) and C(limits) per pod (C({cpu, memory}), cores and bytes, null when a
      container leaves it unset), C(monthly) (C({cpu, memory, total}) of the requests at the
      replicas), C(hpa) (C({name, min, max, cpu_target, memory_target}) or null),
      C(usage) (C({pods, mean, p95}) per pod, null when not measured; with Prometheus also
      C(samples)), C(utilisation) (C({mean, p95}) in percent of the requests), C(oversized)
      (the resources it over-requests), C(advice) (C({requests, replicas, monthly,
      current_monthly, saving, why}), null without usage) and a one-line C(message).
  returned: always
  type: list
  elements: dict
pods:
  description: Every measured pod - C(pod), C(component), C(cpu_pct), C(memory_pct) (mean usage
    in percent of its requests) and C(oversized) (the resources under the thresholds).
  returned: always
  type: list
  elements: dict
oversized_pods:
  description: The pods of RV(pods) that over-request CPU or memory.
  returned: always
  type: list
  elements: dict
  sample:
    - {pod: mplp-plan-7d9f8-abcde, component: plan, cpu_pct: 12.0, memory_pct: 55.0, oversized: [cpu]}
totals:
  description: C(monthly) now, C(advised_monthly) right-sized and the C(saving), over the components.
  returned: always
  type: dict
  sample: {monthly: 1234.5, advised_monthly: 800.25, saving: 434.25}
source:
  description:
    - C(name) (C(metrics_api) or C(prometheus)) and, for Prometheus, the window (C(start),
      C(end), C(step) in Unix seconds, C(days)) and the label C(selector); for the metrics
      API the C(time) of the look.
  returned: always
  type: dict
prices:
  description: The prices used (C(vcpu_hour), C(gb_hour), C(currency)).
  returned: always
  type: dict
thresholds:
  description: The oversized thresholds used (C(cpu_under), C(memory_under)).
  returned: always
  type: dict
namespace:
  description: The namespace reported on.
  returned: always
  type: str
errors:
  description: With O(source=prometheus), the failure of each query that did not answer.
  returned: on a Prometheus failure
  type: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import arrays, cost_client
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import require
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as monitoring_module


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        components=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                kind=dict(type="str", default="Deployment", choices=list(scaling.KINDS)),
                workload=dict(type="str"),
            ),
        ),
        prices=dict(type="dict", required=True),
        thresholds=dict(type="dict", default={}),
        source=dict(type="str", choices=["metrics_api", "prometheus"], default="metrics_api"),
        prometheus=dict(type="dict", default={}, options=monitoring_module.PROMETHEUS_OPTIONS),
        labels=dict(type="dict", default={}),
        days=dict(type="float", default=7),
        end=dict(type="raw", default="now"),
        step=dict(type="raw", default="5m"),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    if module.params["source"] == "prometheus":
        require(module, "numpy", arrays.IMPORT_ERROR, "with source=prometheus")
    k8s_module.main(module, cost_client.run)


if __name__ == "__main__":
    main()
