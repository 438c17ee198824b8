#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: autoscale_check
short_description: Decide per component whether to add or remove replicas, by the runbook's auto-scaling rule
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "The LangGraph runbook's C(auto-scaling.sh) as one read-only task for all the components of
    a namespace: it reads the namespace's pods, ReplicaSets, pod metrics (C(metrics.k8s.io)) and
    HorizontalPodAutoscalers once each, and the workloads once per kind."
  - "Each component's CPU and memory utilisation is the sum of its pods' usage over the sum of
    their requests, in percent, as the HorizontalPodAutoscaler computes it; pods are grouped by
    their owner (ownerReferences), so a rollout's old and new pods count together. Only running
    pods with metrics count; a resource a pod does not request has no utilisation."
  - "The decision (the seed's rule): 2 replicas more when CPU is above C(cpu_high) (70)
    or memory above C(memory_high) (80); 1 fewer when CPU is below
    C(cpu_low) (30) and memory below C(memory_low) (40); always within the
    target's range (O(targets[].min)-O(targets[].max), the inventory's autoscaling range). A
    scale-up stops at the maximum instead of being refused; a count outside the range is brought
    into it. Without a measurement nothing is scaled."
  - "The module changes nothing. Its C(targets) result is the input of M(multiagent.ops.scale)
    for the components to act on: those with a range whose count should change and, unless
    O(hpa_owned=true), no HorizontalPodAutoscaler (an HPA owns their replicas and would undo a
    scale; M(multiagent.ops.scale) changes the HPA's range to agree when asked)."
options:
  namespace:
    description: Namespace of the workloads.
    type: str
    required: true
  targets:
    description: The components to check.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description: Kind of the workload.
        type: str
        default: Deployment
        choices: [Deployment, StatefulSet]
      name:
        description: Name of the workload.
        type: str
        required: true
      min:
        description: Lowest replica count (the inventory's C(autoscaling.min)); a component without a range is only reported.
        type: int
      max:
        description: Highest replica count (the inventory's C(autoscaling.max)).
        type: int
      component:
        description: The platform component the workload belongs to, named in messages.
        type: str
  thresholds:
    description:
      - Overrides of the seed's thresholds, in percent of the requests, and steps -
        C(cpu_high) (70), C(memory_high) (80), C(cpu_low) (30), C(memory_low) (40),
        C(step_up) (2), C(step_down) (1).
    type: dict
    default: {}
  hpa_owned:
    description: Also act on components whose replicas a HorizontalPodAutoscaler owns.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: The decisions are the result; there is no change to show a diff of.
notes:
  - Without the metrics API (metrics-server not installed, or not allowed) the module warns and
    decides nothing but bringing counts back into their range.
seealso:
  - module: multiagent.ops.scale
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: The auto-scaling decisions for two components
  multiagent.ops.autoscale_check:
    namespace: mplp-production
    targets:
      - {component: core, name: mplp-core, min: 3, max: 20}
      - {component: plan, name: mplp-plan, min: 2, max: 8}
    thresholds: {cpu_high: 75}
  register: decided

- name: Act on them
  multiagent.ops.scale:
    namespace: mplp-production
    targets: "{{ decided.targets }}"
  when: decided.targets | length > 0
"""

RETURN = r"""
components:
  description:
    - Per target, in the order given - C(component), C(kind), C(name), C(min), C(max), C(pods),
      C(measured) (pods with metrics), C(cpu_pct), C(memory_pct) (null when unknown), C(hpa)
      (its name or null), C(decision) (C(up), C(down) or C(keep)), C(replicas_before),
      C(replicas_after), C(act) (handed to the scale), C(reason) and C(message).
  returned: always
  type: list
  elements: dict
  sample:
    - component: core
      kind: Deployment
      name: mplp-core
      min: 3
      max: 20
      pods: 3
      measured: 3
      cpu_pct: 85.0
      memory_pct: 60.0
      hpa: null
      decision: up
      replicas_before: 3
      replicas_after: 5
      act: true
      reason: "CPU 85% > 70%: 3 -> 5"
      message: "core (Deployment mplp-core): CPU 85% > 70%: 3 -> 5"
targets:
  description: The components to act on, as M(multiagent.ops.scale)'s C(targets) (C(replicas) the decided count).
  returned: always
  type: list
  elements: dict
metrics_available:
  description: Whether the metrics API could be read.
  returned: always
  type: bool
thresholds:
  description: The thresholds and steps used.
  returned: always
  type: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import metrics
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        targets=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                kind=dict(type="str", default="Deployment", choices=list(scaling.KINDS)),
                name=dict(type="str", required=True),
                min=dict(type="int"),
                max=dict(type="int"),
                component=dict(type="str"),
            ),
        ),
        thresholds=dict(type="dict", default={}),
        hpa_owned=dict(type="bool", default=False),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, metrics.run)


if __name__ == "__main__":
    main()
