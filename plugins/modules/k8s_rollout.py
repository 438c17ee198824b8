#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k8s_rollout
short_description: Restart, undo, pause, resume and watch rollouts of several workloads at once, like kubectl rollout
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "The C(kubectl rollout) sub-commands for one or several Deployments, StatefulSets or
    DaemonSets of one namespace in one task: every workload is read and every change planned
    before anything is written, the writes follow, then one wait covers all of them (each
    round reads the workloads with one request per kind)."
  - "O(action=status) waits until the rollouts are done, by C(kubectl rollout status)'s
    rules: the latest spec observed, every replica updated and available, no old replica
    left (Deployments); ready and updated pods up to the partition, update revision current
    (StatefulSets); updated and available pods on every node (DaemonSets). A workload with
    the C(OnDelete) strategy has nothing to wait for. A Deployment past its
    C(progressDeadlineSeconds) fails at once, a paused one too (it cannot progress). A
    failure names the workload, the cause and the pods that are not ready, with their
    reason read from the pod status (C(ImagePullBackOff), C(CrashLoopBackOff),
    C(Unschedulable)...). Transient API failures while waiting are retried until
    O(wait_timeout)."
  - "O(action=restart) stamps the pod template annotation C(kubectl.kubernetes.io/restartedAt)
    with the current time, as C(kubectl rollout restart) does, so that the controller replaces
    every pod by the workload's own update strategy. A restart is always a change. A paused
    Deployment is refused (it would not restart until resumed)."
  - "O(action=history) lists the revisions: a Deployment's ReplicaSets, a StatefulSet's or
    DaemonSet's ControllerRevisions, those the workload owns (by uid), oldest first, with
    their images and C(kubernetes.io/change-cause)."
  - "O(action=undo) puts back the pod template of revision O(to_revision), by default the
    revision before the newest one, as C(kubectl rollout undo): the controller then re-uses
    that revision's ReplicaSet under a new revision number, so undoing twice goes back and
    forth between the last two templates. The Deployment's C(kubernetes.io/change-cause) is
    set to the target revision's so that the history stays right; unlike kubectl, its other
    annotations are left alone. Undo to the template the workload already runs changes
    nothing. An unknown revision fails before anything is written, naming the revisions
    that exist. A paused Deployment is refused, as by kubectl."
  - "O(action=pause) and O(action=resume) set C(spec.paused) of Deployments (only they can
    be paused); pausing a paused Deployment or resuming a running one changes nothing."
options:
  namespace:
    description: Namespace of the workloads.
    type: str
    required: true
  kind:
    description: Kind of the workloads.
    type: str
    default: Deployment
    choices: [Deployment, StatefulSet, DaemonSet]
  name:
    description:
      - Name of one workload.
      - Exactly one of O(name), O(names), O(label_selector) and O(to_revisions) is required.
    type: str
  names:
    description: Names of several workloads, handled in one task.
    type: list
    elements: str
  label_selector:
    description:
      - The workloads of O(kind) in O(namespace) whose labels match this selector
        (C(app.kubernetes.io/part-of=mplp,tier!=db)). Matching none fails.
    type: str
  action:
    description: What to do, as the C(kubectl rollout) sub-command of the same name.
    type: str
    required: true
    choices: [restart, status, history, undo, pause, resume]
  to_revision:
    description:
      - With O(action=undo), the revision to go back to (see O(action=history)).
      - Default is the revision before the newest one.
    type: int
  to_revisions:
    description:
      - "With O(action=undo), the workloads to put back, each to its own revision
        (C({mplp-core: 3, mplp-plan: 5})), as O(action=history) recorded them before a
        change: what an upgrade's rollback needs. A workload already running its revision's
        template is left alone."
      - Every revision is checked, and every change planned, before anything is written.
      - Mutually exclusive with O(to_revision), O(name), O(names) and O(label_selector).
    type: dict
  wait:
    description:
      - Wait until the rollouts are done and fail when they fail or do not finish within
        O(wait_timeout) (for all the rollouts together).
      - Only O(action=restart), O(action=undo), O(action=resume) and O(action=status) wait;
        O(action=history) and O(action=pause) never do.
      - With O(action=status) and C(wait=false), the status is only reported, never failed.
      - Nothing waits in check mode except O(action=status), which only reads.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description:
      - Reads and plans every change, reports C(changed) as it would be, writes nothing and
        does not wait (O(action=status) still waits, it only reads).
  diff_mode:
    support: full
    description: Per workload, what changes (C(restartedAt), template revision, images, change-cause, template annotations, C(paused)) before and after.
notes:
  - O(action=status) and O(action=history) only read and always return C(changed=false).
  - "The service account needs C(get), C(list) and C(patch) on the workloads, C(list) on
    C(replicasets) or C(controllerrevisions) for history and undo, and C(list) on C(pods) to
    name the pods that are not ready."
seealso:
  - module: kubernetes.core.k8s_rollback
  - module: multiagent.ops.quiesce
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Restart the application's components and wait until every new pod is ready
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    names: [mplp-core, mplp-plan, mplp-context]
    action: restart
    wait_timeout: 600

- name: Is the release rolled out? (fails naming the stuck pods, e.g. ImagePullBackOff)
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    label_selector: app.kubernetes.io/part-of=mplp
    action: status
    wait_timeout: 120

- name: Which revisions are there?
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    name: mplp-core
    action: history
  register: core_history

- name: Roll the application back to the previous release
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    names: [mplp-core, mplp-plan]
    action: undo

- name: Or to a given revision
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    name: mplp-core
    action: undo
    to_revision: 4

- name: Put back what ran before a failed change, each workload to its own revision
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    action: undo
    to_revisions: "{{ before.workloads | items2dict(key_name='name', value_name='revision_before') }}"

- name: Pause a Deployment to make several changes, then resume and wait
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    name: mplp-core
    action: "{{ item }}"
  loop: [pause, resume]

- name: Restart the database's StatefulSet, without waiting
  multiagent.ops.k8s_rollout:
    namespace: mplp-production
    kind: StatefulSet
    name: mplp-postgresql
    action: restart
    wait: false
"""

RETURN = r"""
workloads:
  description: One result per workload, in the order given (by name for O(label_selector)).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the workload.
      type: str
    name:
      description: Name of the workload.
      type: str
    namespace:
      description: Its namespace.
      type: str
    action:
      description: The action.
      type: str
    changed:
      description: Whether this workload was (or, in check mode, would be) changed.
      type: bool
    message:
      description: What the action did or would do (C(already paused), C(rolled back to revision 2)...).
      type: str
    revision_before:
      description: The revision the workload ran before the action (null when unknown).
      type: int
    revision_after:
      description:
        - The revision it runs after the action, read back once the wait is over; a changed
          template gets a new revision number, also when it is an old revision's template.
        - Null when not waited for (check mode, C(wait=false)) or for status, history, pause
          and resume.
      type: int
    target_revision:
      description: With O(action=undo), the revision whose template was put back.
      type: int
      returned: action is undo
    status:
      description:
        - The rollout status, as waited for (or read once without waiting)
          C(kind), C(name), C(namespace), C(done), C(failed), C(message), C(replicas)
          (desired), C(updated), C(ready), C(available), and when waited, C(seconds).
        - For a failed rollout, C(pods) lists up to five pods that are not ready with
          C(name), C(reason) and C(message).
        - C(timed_out) (true) marks a rollout that was still in progress when the wait ended,
          not one that failed by itself (waiting longer may still see it done).
      type: dict
      returned: action is not history
      sample:
        kind: Deployment
        name: mplp-core
        namespace: mplp-production
        done: false
        failed: true
        message: "rollout did not finish within 30 s: 1 of 2 updated replicas are available"
        replicas: 2
        updated: 2
        ready: 1
        available: 1
        seconds: 30.0
        pods: [{name: mplp-core-7d9c5-abc12, reason: ImagePullBackOff, message: "container core: Back-off pulling image"}]
    history:
      description:
        - With O(action=history), the revisions oldest first, with C(revision), C(name)
          (ReplicaSet or ControllerRevision), C(change_cause), C(images), C(created),
          C(current) and, for Deployments, C(replicas).
      type: list
      elements: dict
      returned: action is history
      sample:
        - revision: 1
          name: mplp-core-5d4f8
          change_cause: release 1.0
          images: ["mplp/core:1.0"]
          created: "2026-11-20T10:00:00Z"
          current: false
          replicas: 0
        - revision: 2
          name: mplp-core-7d9c5
          change_cause: release 1.1
          images: ["mplp/core:1.1"]
          created: "2026-11-22T10:00:00Z"
          current: true
          replicas: 2
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout

SELECTION = ("name", "names", "label_selector", "to_revisions")


def argspec():
    return k8s_module.argspec(
        wait=True,
        namespace=dict(type="str", required=True),
        kind=dict(type="str", default="Deployment", choices=list(rollout.KINDS)),
        name=dict(type="str"),
        names=dict(type="list", elements="str"),
        label_selector=dict(type="str"),
        action=dict(type="str", required=True, choices=list(rollout.ACTIONS)),
        to_revision=dict(type="int"),
        to_revisions=dict(type="dict"),
    )


def main():
    module = k8s_module.new_module(
        argspec(),
        supports_check_mode=True,
        mutually_exclusive=[SELECTION, ("to_revision", "to_revisions")],
        required_one_of=[SELECTION],
    )
    k8s_module.main(module, rollout.run)


if __name__ == "__main__":
    main()
