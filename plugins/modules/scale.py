#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scale
short_description: Scale Deployments and StatefulSets within an allowed range, agreeing with their HorizontalPodAutoscalers
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Sets the replicas of several workloads of one namespace in one task: every workload is
    read (one request per kind) together with the namespace's HorizontalPodAutoscalers (one
    LIST), every change is planned before anything is written, the writes follow, then one
    wait covers all of them."
  - "A requested count outside the target's allowed range (O(targets[].min),
    O(targets[].max), e.g. the inventory's autoscaling range) fails before anything is
    written, naming the target, the count and the range. So does a missing workload, a
    workload with two HPAs, and a quiesced one (see M(multiagent.ops.quiesce))."
  - "Without an HPA the replicas are set through the C(/scale) subresource, as C(kubectl
    scale) does; a workload already at the count is not touched."
  - "With an HPA (its C(scaleTargetRef) names the workload), setting the replicas alone
    would last until the HPA's next sync, which brings them back into its own range. So the
    HPA is changed to agree first. C(minReplicas) becomes N whenever it differs: raised so
    that the autoscaler keeps at least N, or lowered (below a floor an earlier scale raised)
    so that it may keep N. C(maxReplicas) becomes N when the request reduces the replicas
    (N below the current replicas and below the maximum), so that the autoscaler keeps at
    most N instead of scaling back up, and when N is above it, so that it may keep N. A
    scale-up thus leaves the autoscaler free to add replicas under load, never fewer than
    asked; a scale-down pins it at N. Each target's result says which field changed, from
    what to what, and why."
  - "The HPA's own range is recorded the first time it is changed, in the annotations
    C(multiagent.ops/recorded-min-replicas) and C(multiagent.ops/recorded-max-replicas) on the
    HPA, and never overwritten by later scales. O(state=restored) puts it back from any later
    run and drops the records."
  - "After changing the HPA the replicas are also set through C(/scale), so the result does
    not depend on the HPA's next sync. On a cluster the HPA would get there by itself (its
    range now excludes the old count); it then has nothing to undo, since the count is
    inside its new range. Under load the HPA may still add replicas above a raised minimum:
    the wait accepts any count inside the HPA's new range."
  - "O(wait=true) waits until every workload has settled: the latest generation observed,
    the rollout done by C(kubectl rollout status)'s rules, and C(readyReplicas) and
    C(availableReplicas) equal to the replicas (N, or inside the HPA's new range). A rollout
    that cannot finish fails at once with the pods that are not ready and why."
  - Zero replicas under an HPA is refused (its C(minReplicas) cannot be 0); use
    M(multiagent.ops.quiesce), which records the count to restore.
options:
  namespace:
    description: Namespace of the workloads and their HPAs.
    type: str
    required: true
  targets:
    description: The workloads to scale (or, with O(state=restored), whose HPA to restore).
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
      replicas:
        description: The replica count wanted. Required with O(state=scaled).
        type: int
      min:
        description: Lowest count allowed (e.g. the inventory's C(autoscaling.min)); no lower bound when unset.
        type: int
      max:
        description: Highest count allowed (e.g. the inventory's C(autoscaling.max)); no upper bound when unset.
        type: int
      component:
        description: The platform component the workload belongs to, named in messages.
        type: str
  state:
    description:
      - C(scaled) sets the replicas (and the HPA's range when an HPA owns them).
      - C(restored) puts back each HPA's range recorded by the first scale and drops the
        records; replicas outside the restored range are brought to its nearest bound (what
        the HPA would do at its next sync), others are left to the autoscaler. Targets
        without an HPA or a record are left alone.
    type: str
    default: scaled
    choices: [scaled, restored]
  purpose:
    description: Who scales and why, kept in the annotation C(multiagent.ops/scaled-by) of an HPA that is changed.
    type: str
    default: multiagent.ops
  wait:
    description:
      - Wait until every workload has settled at its new count (see above), and fail naming
        those that did not within O(wait_timeout), for all the workloads together.
      - Never waits in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description: Reads and plans (the range checks included) and reports what would change, without writing or waiting.
  diff_mode:
    support: full
    description: Replicas and the HPA's minReplicas and maxReplicas before and after, per workload.
notes:
  - The changes are merge patches of the HPA and of the workload's C(/scale) subresource; a
    failure half-way says what was already done (the task then reports C(changed=true) and,
    per target, whether it was reached), and a re-run completes it (the plan is made from
    what the cluster has).
  - The HPA is read and written at C(autoscaling/v2), or C(autoscaling/v1) on a server without it.
seealso:
  - module: multiagent.ops.quiesce
  - module: kubernetes.core.k8s_scale
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Scale mplp-core to 5 within the scaling guide's range (its HPA keeps at least 5)
  multiagent.ops.scale:
    namespace: mplp-production
    targets:
      - {name: mplp-core, replicas: 5, min: 3, max: 20, component: core}
  register: scaled

- name: Several workloads at once, one wait for all
  multiagent.ops.scale:
    namespace: mplp-production
    targets:
      - {name: mplp-core, replicas: 8, min: 3, max: 20}
      - {name: mplp-plan, replicas: 3, min: 2, max: 8}
      - {kind: StatefulSet, name: mplp-redis-master, replicas: 1}
    purpose: scale.yml for the launch event (CHG-1234)
    wait_timeout: 600

- name: After the event, give the autoscalers their own ranges back
  multiagent.ops.scale:
    namespace: mplp-production
    targets:
      - {name: mplp-core}
      - {name: mplp-plan}
    state: restored
"""

RETURN = r"""
targets:
  description:
    - Per workload, in the order given. C(object) (C(Deployment/mplp-core)), C(kind),
      C(name), C(component), C(replicas_before), C(replicas_after), C(scaled) (the replicas
      were set through /scale), C(hpa) (its name, or null), C(hpa_before) and C(hpa_after)
      (C({min, max}), or null), C(hpa_changes) (C(field), C(before), C(after), C(why)),
      C(recorded) (the HPA's own range kept for the restore, or null), C(changed) and
      C(message), one line saying all of it.
    - After the wait, C(ready) and C(available) replicas and C(seconds) waited.
  returned: always
  type: list
  elements: dict
  sample:
    - object: Deployment/mplp-core
      kind: Deployment
      name: mplp-core
      component: core
      replicas_before: 3
      replicas_after: 5
      scaled: true
      hpa: mplp-core
      hpa_before: {min: 3, max: 20}
      hpa_after: {min: 5, max: 20}
      hpa_changes:
        - {field: minReplicas, before: 3, after: 5, why: raised so the autoscaler keeps at least 5 replicas}
      recorded: {min: 3, max: 20}
      changed: true
      ready: 5
      available: 5
      seconds: 2.1
      message: >-
        core (Deployment mplp-core): replicas 3 -> 5; HorizontalPodAutoscaler mplp-core: minReplicas 3 -> 5,
        raised so the autoscaler keeps at least 5 replicas (its own range 3-20 is recorded for the restore)
diff:
  description: Per workload, C(replicas) and C(hpa) (C(name), C(minReplicas), C(maxReplicas)) before and after.
  returned: in diff mode
  type: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling


def argspec():
    return k8s_module.argspec(
        wait=True,
        namespace=dict(type="str", required=True),
        targets=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                kind=dict(type="str", default="Deployment", choices=list(scaling.KINDS)),
                name=dict(type="str", required=True),
                replicas=dict(type="int"),
                min=dict(type="int"),
                max=dict(type="int"),
                component=dict(type="str"),
            ),
        ),
        state=dict(type="str", default=scaling.SCALED, choices=list(scaling.STATES)),
        purpose=dict(type="str", default="multiagent.ops"),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, scaling.run)


if __name__ == "__main__":
    main()
