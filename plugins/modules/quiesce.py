#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: quiesce
short_description: Scale workloads to zero and suspend CronJobs with a record in the cluster, and put them back
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "O(state=quiesced): records each workload's replicas in an annotation on the workload
    (C(multiagent.ops/recorded-replicas)) and scales it to zero; records each CronJob's
    C(suspend) (C(multiagent.ops/recorded-suspend)) and suspends it. Re-running keeps the
    first record: a second run never records zero."
  - "O(state=restored): scales each workload back to its recorded replicas and restores each
    CronJob's suspend flag, then removes the records. It works from any later run, because
    the record is in the cluster; objects without a record are left as they are."
  - Reads every object first and fails naming the one that is missing before changing
    anything.
  - A Deployment scaled to zero is not scaled up by its HorizontalPodAutoscaler (the HPA
    is inactive at zero replicas); restoring hands it back to the HPA.
options:
  namespace:
    description: Namespace of the objects.
    type: str
    required: true
  workloads:
    description: Deployments and StatefulSets to quiesce or restore.
    type: list
    elements: dict
    default: []
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
  cronjobs:
    description: Names of CronJobs to suspend or restore; C(['*']) for every CronJob in the namespace.
    type: list
    elements: str
    default: []
  state:
    description:
      - C(quiesced) or C(restored).
      - C(resumed) is the deprecated name of C(restored) and does the same; it will be
        removed in 2.0.0.
    type: str
    default: quiesced
    choices: [quiesced, restored, resumed]
  purpose:
    description: Who quiesces and why, kept in C(multiagent.ops/quiesced-by).
    type: str
    default: multiagent.ops
  wait:
    description:
      - Wait until quiesced workloads have no pods left, or restored ones have their
        replicas ready, and fail naming those that did not within O(wait_timeout).
      - Never waits in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change without writing or waiting.
  diff_mode:
    support: full
    description: Replicas and suspend flags before and after.
notes:
  - The changes are merge patches, one per object; a failure half-way says which objects
    were already changed, and a re-run completes the work (the records are in the cluster).
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Stop the application before a restore (the database keeps running)
  multiagent.ops.quiesce:
    namespace: mplp-production
    workloads:
      - name: mplp-core
      - name: mplp-plan
    cronjobs: ["*"]
    purpose: restore_database.yml run 20261122T0200

- name: Later (even from another run), put everything back and wait until ready
  multiagent.ops.quiesce:
    namespace: mplp-production
    workloads:
      - name: mplp-core
      - name: mplp-plan
    cronjobs: ["*"]
    state: restored
"""

RETURN = r"""
workloads:
  description:
    - Per workload, C(object), C(replicas_before), C(replicas_after), C(recorded) and
      C(changed) (it was, or in check mode would be, changed).
    - When a write fails half-way, the task fails with these results; C(changed) is false
      for the objects it did not reach.
  returned: always
  type: list
  elements: dict
  sample: [{object: Deployment/mplp-core, replicas_before: 3, replicas_after: 0, recorded: 3, changed: true}]
cronjobs:
  description: Per CronJob, C(object), C(suspended_before), C(suspended_after), C(recorded) and C(changed).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import quiesce


def argspec():
    return k8s_module.argspec(
        wait=True,
        namespace=dict(type="str", required=True),
        workloads=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                kind=dict(type="str", default="Deployment", choices=list(quiesce.SCALABLE)),
                name=dict(type="str", required=True),
            ),
        ),
        cronjobs=dict(type="list", elements="str", default=[]),
        state=dict(type="str", default=quiesce.QUIESCED, choices=list(quiesce.STATES)),
        purpose=dict(type="str", default="multiagent.ops"),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, quiesce.run)


if __name__ == "__main__":
    main()
