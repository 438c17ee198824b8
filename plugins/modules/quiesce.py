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
  - "O(state=resumed): scales each workload back to its recorded replicas and restores each
    CronJob's suspend flag, then removes the records. It works from any later run, because
    the record is in the cluster; objects without a record are left as they are."
  - Reads every object first and fails naming the one that is missing before changing
    anything.
  - A Deployment scaled to zero is not scaled up by its HorizontalPodAutoscaler (the HPA
    is inactive at zero replicas); resuming hands it back to the HPA.
options:
  namespace:
    description: Namespace of the objects.
    type: str
    required: true
  workloads:
    description: Deployments and StatefulSets to quiesce or resume.
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
    description: C(quiesced) or C(resumed).
    type: str
    default: quiesced
    choices: [quiesced, resumed]
  purpose:
    description: Who quiesces and why, kept in C(multiagent.ops/quiesced-by).
    type: str
    default: multiagent.ops
  wait:
    description: Wait until quiesced workloads have no pods, or resumed ones are ready.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 300
  api_timeout:
    description: Timeout in seconds of each Kubernetes API request.
    type: float
    default: 15
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change without writing.
  diff_mode:
    support: full
    description: Replicas and suspend flags before and after.
requirements:
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
    state: resumed
"""

RETURN = r"""
workloads:
  description: Per workload, C(object), C(replicas_before), C(replicas_after), C(recorded) and C(changed).
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

import datetime
import time

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import quiesce as rec

PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


def argspec():
    return kube_module.argspec(
        namespace=dict(type="str", required=True),
        workloads=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet"]),
                name=dict(type="str", required=True),
            ),
        ),
        cronjobs=dict(type="list", elements="str", default=[]),
        state=dict(type="str", default="quiesced", choices=["quiesced", "resumed"]),
        purpose=dict(type="str", default="multiagent.ops"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        api_timeout=dict(type="float", default=15),
    )


def _path(ns, kind, name=None):
    base = (
        "/apis/batch/v1/namespaces/%s/cronjobs" % ns
        if kind == "CronJob"
        else "/apis/apps/v1/namespaces/%s/%s" % (ns, PLURAL[kind])
    )
    return base if name is None else "%s/%s" % (base, name)


def _read_all(module, reader):
    """Every object, before anything changes; a missing one fails the task."""
    p = module.params
    ns = p["namespace"]
    objects = []
    for item in p["workloads"]:
        obj = reader.get_optional(
            _path(ns, item["kind"], item["name"]), "read %s %s" % (item["kind"], item["name"])
        )
        if obj is None:
            module.fail_json(
                msg="%s %s does not exist in namespace %s; nothing was changed"
                % (item["kind"], item["name"], ns)
            )
        obj.setdefault("kind", item["kind"])
        objects.append(obj)
    names = p["cronjobs"]
    if names == ["*"]:
        found = reader.list(_path(ns, "CronJob"), "list cronjobs in namespace %s" % ns)
    else:
        found = []
        for name in names:
            obj = reader.get_optional(_path(ns, "CronJob", name), "read CronJob %s" % name)
            if obj is None:
                module.fail_json(
                    msg="CronJob %s does not exist in namespace %s; nothing was changed" % (name, ns)
                )
            found.append(obj)
    for obj in found:
        obj.setdefault("kind", "CronJob")
    return objects, found


def _wait(module, reader, results, deadline, sleep):
    ns = module.params["namespace"]
    quiesce = module.params["state"] == "quiesced"
    pending = {r["object"]: r for r in results}
    while pending:
        for name in list(pending):
            kind, obj_name = name.split("/", 1)
            obj = reader.get_optional(_path(ns, kind, obj_name), "read %s" % name) or {}
            status = obj.get("status") or {}
            target = pending[name]["replicas_after"]
            if quiesce:
                done = int(status.get("replicas") or 0) == 0
            else:
                done = (
                    wl.workload_replicas(dict(obj, kind=kind))["observed_generation_current"]
                    and int(status.get("readyReplicas") or 0) >= target
                    and int(status.get("updatedReplicas", target) or 0) >= target
                )
            if done:
                del pending[name]
        if pending and time.monotonic() >= deadline:
            return sorted(pending)
        if pending:
            sleep(1)
    return []


def run(module, reader, sleep=time.sleep):
    p = module.params
    ns = p["namespace"]
    at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    workloads, cronjobs = _read_all(module, reader)
    quiesce = p["state"] == "quiesced"
    try:
        planned = [
            (
                obj,
                *(
                    rec.plan_quiesce_workload(obj, p["purpose"], at)
                    if quiesce
                    else rec.plan_resume_workload(obj)
                ),
            )
            for obj in workloads
        ] + [
            (
                obj,
                *(
                    rec.plan_quiesce_cronjob(obj, p["purpose"], at)
                    if quiesce
                    else rec.plan_resume_cronjob(obj)
                ),
            )
            for obj in cronjobs
        ]
    except rec.RecordError as exc:
        module.fail_json(msg="%s; nothing was changed" % exc)

    changed = any(patch for _obj, patch, _summary in planned)
    done = []
    for obj, patch, summary in planned:
        summary["changed"] = bool(patch)
        if patch and not module.check_mode:
            name = (obj.get("metadata") or {}).get("name")
            status, answer = reader.send(
                "PATCH", _path(ns, obj["kind"], name), patch, "patch %s" % summary["object"]
            )
            if not 200 <= status < 300:
                message = answer.get("message") if isinstance(answer, dict) else ""
                module.fail_json(
                    msg="Failed to %s %s: HTTP %d %s; already done: %s"
                    % (
                        "quiesce" if quiesce else "resume",
                        summary["object"],
                        status,
                        message,
                        ", ".join(d["object"] for d in done) or "nothing",
                    ),
                    workloads=[s for o, _p, s in planned if o["kind"] != "CronJob"],
                )
        if patch:
            done.append(summary)

    result = dict(
        changed=changed,
        workloads=[s for o, _p, s in planned if o["kind"] != "CronJob"],
        cronjobs=[s for o, _p, s in planned if o["kind"] == "CronJob"],
    )
    if module._diff:
        result["diff"] = {
            "before": {
                s["object"]: s.get("replicas_before", s.get("suspended_before")) for _o, _p, s in planned
            },
            "after": {
                s["object"]: s.get("replicas_after", s.get("suspended_after")) for _o, _p, s in planned
            },
        }
    if p["wait"] and not module.check_mode and result["workloads"]:
        late = _wait(module, reader, result["workloads"], time.monotonic() + p["wait_timeout"], sleep)
        if late:
            module.fail_json(
                msg="%s after %ds: %s (the change is made and recorded; re-run to wait again)"
                % (
                    "still have pods" if quiesce else "not ready",
                    p["wait_timeout"],
                    ", ".join(late),
                ),
                **result,
            )
    module.exit_json(**result)


def main():
    module = kube_module.new_module(argspec(), supports_check_mode=True)
    kube_module.legacy_main(module, run)


if __name__ == "__main__":
    main()
