# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replica record: quiesce workloads and CronJobs, and put them back, from the cluster;
the runner of multiagent.ops.quiesce.

Quiescing writes what it changes onto the object itself (the annotations of records.py),
so a later run, another operator or an AWX job can read it back and undo it; nothing lives
only in a playbook's memory. Re-quiescing never overwrites a record (the second run would
otherwise record 0 and lose the real count); restoring without a record changes nothing.

Everything but :func:`run` is pure and works on plain dicts as the API returns them.
"""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

SCALABLE = ("Deployment", "StatefulSet")
QUIESCED, RESTORED = "quiesced", "restored"
# The old name of state=restored, still accepted until 2.0.0.
RESUMED = "resumed"
STATES = (QUIESCED, RESTORED, RESUMED)


class RecordError(ValueError):
    """A record on an object that cannot be used; the message names the object."""


def _annotations(obj):
    return ((obj.get("metadata") or {}).get("annotations")) or {}


def _replicas(obj):
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _name(obj):
    return "%s/%s" % (obj.get("kind"), (obj.get("metadata") or {}).get("name"))


def recorded_replicas(obj):
    raw = _annotations(obj).get(records.RECORDED_REPLICAS)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise RecordError(
            "%s: annotation %s=%r is not a replica count" % (_name(obj), records.RECORDED_REPLICAS, raw)
        )
    if value < 0:
        raise RecordError("%s: annotation %s=%r is negative" % (_name(obj), records.RECORDED_REPLICAS, raw))
    return value


def plan_quiesce_workload(obj, by, at):
    """``(patch or None, summary)`` scaling a Deployment/StatefulSet to zero with a record."""
    current = _replicas(obj)
    recorded = recorded_replicas(obj)
    summary = {"object": _name(obj), "replicas_before": current, "recorded": recorded}
    if recorded is None:
        summary.update(recorded=current, replicas_after=0)
        annotations = {
            records.RECORDED_REPLICAS: str(current),
            records.QUIESCED_BY: by,
            records.QUIESCED_AT: at,
        }
        return {"metadata": {"annotations": annotations}, "spec": {"replicas": 0}}, summary
    summary["replicas_after"] = 0
    if current == 0:
        return None, summary  # already quiesced: keep the first record
    return {"spec": {"replicas": 0}}, summary  # scaled up meanwhile: back to zero, record kept


def plan_restore_workload(obj):
    """``(patch or None, summary)`` putting back the recorded replicas and dropping the record."""
    current = _replicas(obj)
    recorded = recorded_replicas(obj)
    summary = {"object": _name(obj), "replicas_before": current, "recorded": recorded}
    if recorded is None:
        summary["replicas_after"] = current
        return None, summary
    summary["replicas_after"] = recorded
    dropped = {records.RECORDED_REPLICAS: None, records.QUIESCED_BY: None, records.QUIESCED_AT: None}
    return {"metadata": {"annotations": dropped}, "spec": {"replicas": recorded}}, summary


def plan_quiesce_cronjob(obj, by, at):
    """``(patch or None, summary)`` suspending a CronJob with a record of its own flag."""
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    recorded = _annotations(obj).get(records.RECORDED_SUSPEND)
    summary = {"object": _name(obj), "suspended_before": suspended}
    if recorded is None:
        summary.update(recorded=suspended, suspended_after=True)
        annotations = {
            records.RECORDED_SUSPEND: "true" if suspended else "false",
            records.QUIESCED_BY: by,
            records.QUIESCED_AT: at,
        }
        return {"metadata": {"annotations": annotations}, "spec": {"suspend": True}}, summary
    summary.update(recorded=recorded == "true", suspended_after=True)
    return (None if suspended else {"spec": {"suspend": True}}), summary


def plan_restore_cronjob(obj):
    """``(patch or None, summary)`` putting back the recorded suspend flag and dropping the record."""
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    recorded = _annotations(obj).get(records.RECORDED_SUSPEND)
    summary = {"object": _name(obj), "suspended_before": suspended, "recorded": None}
    if recorded is None:
        summary["suspended_after"] = suspended
        return None, summary
    if recorded not in ("true", "false"):
        raise RecordError(
            "%s: annotation %s=%r is not true or false" % (_name(obj), records.RECORDED_SUSPEND, recorded)
        )
    summary.update(recorded=recorded == "true", suspended_after=recorded == "true")
    dropped = {records.RECORDED_SUSPEND: None, records.QUIESCED_BY: None, records.QUIESCED_AT: None}
    return {"metadata": {"annotations": dropped}, "spec": {"suspend": recorded == "true"}}, summary


def plan(obj, state, by, at):
    """``(patch or None, summary)`` of one workload or CronJob for ``state``."""
    if obj.get("kind") == "CronJob":
        return plan_quiesce_cronjob(obj, by, at) if state == QUIESCED else plan_restore_cronjob(obj)
    return plan_quiesce_workload(obj, by, at) if state == QUIESCED else plan_restore_workload(obj)


def diff(summaries):
    """``{"before", "after"}``: replicas or suspend flag per object."""
    return {
        side: {s["object"]: s.get("replicas_%s" % side, s.get("suspended_%s" % side)) for s in summaries}
        for side in ("before", "after")
    }


# -- the runner of multiagent.ops.quiesce ----------------------------------------------------


def state_of(request):
    """The state asked for; the deprecated ``resumed`` is ``restored``, with a deprecation."""
    state = request.params["state"]
    if state == RESUMED:
        request.deprecate("state=resumed is deprecated: use state=restored, which does the same", "2.0.0")
        return RESTORED
    return state


def _read_all(client, p):
    """Every object, before anything changes; a missing one fails the task."""
    ns = p["namespace"]
    objects = []
    for item in p["workloads"]:
        resource = resources.get(item["kind"])
        obj = client.get_optional(
            resource.object_path(ns, item["name"]), "read %s" % resource.label(ns, item["name"])
        )
        if obj is None:
            raise OpsError(
                nothing_changed("%s %s does not exist in namespace %s" % (item["kind"], item["name"], ns))
            )
        obj.setdefault("kind", item["kind"])
        objects.append(obj)
    names = p["cronjobs"]
    if names == ["*"]:
        found = client.list(resources.CRON_JOB.collection_path(ns), "list cronjobs in namespace %s" % ns)
    else:
        found = []
        for name in names:
            obj = client.get_optional(
                resources.CRON_JOB.object_path(ns, name), "read %s" % resources.CRON_JOB.label(ns, name)
            )
            if obj is None:
                raise OpsError(nothing_changed("CronJob %s does not exist in namespace %s" % (name, ns)))
            found.append(obj)
    for obj in found:
        obj.setdefault("kind", "CronJob")
    return objects + found


def _gone(target):
    """The status of a quiesced workload that does not exist any more: no pods either."""
    return dict(wait.blank(target), done=True, message="no pods left (it does not exist)")


def _timed_out(target, status, obj, error, timeout):
    result = wait.timed_out(target, status, obj, error, timeout)
    result["timed_out"] = error is None
    return result


def wait_settled(client, namespace, state, summaries, timeout, clock=time.monotonic, sleep=time.sleep):
    """Wait until quiesced workloads have no pods, or restored ones their replicas ready
    (k8s/wait.py). Returns the statuses of those that did not get there, [] when all did."""
    targets = []
    for summary in summaries:
        kind, name = summary["object"].split("/", 1)
        if state == QUIESCED:
            target = wait.Target(resources.get(kind), namespace, name, wait.pods_gone)
            target.absent = _gone(target)
        else:
            target = wait.Target(resources.get(kind), namespace, name, wait.ready(summary["replicas_after"]))
        targets.append(target)
    waiter = wait.Waiter(
        client, timeout, what="the replicas", on_timeout=_timed_out, clock=clock, sleep=sleep
    )
    return [status for status in waiter.wait(targets) if not status["done"]]


def wait_message(state, timeout, late):
    """``still have pods after 30s: Deployment/a, Deployment/b (...)``; a workload that did
    not simply run out of time says why."""
    names = sorted(
        "%s/%s" % (s["kind"], s["name"]) + ("" if s.get("timed_out") else " (%s)" % s["message"])
        for s in late
    )
    head = "still have pods" if state == QUIESCED else "not ready"
    if all(s.get("timed_out") for s in late):
        head += " after %ds" % timeout
    return "%s: %s (the change is made and recorded; re-run to wait again)" % (head, ", ".join(names))


def run(request, client, clock=time.monotonic, sleep=time.sleep, now=None):
    """Quiesce the objects with a record, or put them back from it (multiagent.ops.quiesce)."""
    p = request.params
    state = state_of(request)
    ns = p["namespace"]
    objects = _read_all(client, p)
    at = records.stamp(now() if now else None)
    try:
        planned = [(obj, *plan(obj, state, p["purpose"], at)) for obj in objects]
    except RecordError as exc:
        raise OpsError(nothing_changed(str(exc))) from None

    for _obj, body, summary in planned:
        summary["changed"] = body is not None
    output = dict(
        changed=any(body is not None for _obj, body, _summary in planned),
        workloads=[s for obj, _body, s in planned if obj["kind"] != "CronJob"],
        cronjobs=[s for obj, _body, s in planned if obj["kind"] == "CronJob"],
    )
    if request.diff:
        output["diff"] = diff([s for _obj, _body, s in planned])
    if request.check_mode:
        return output

    pending = [(obj, body, summary) for obj, body, summary in planned if body is not None]
    verb = "quiesce" if state == QUIESCED else "restore"
    changes = [
        patch.Change(
            resources.get(obj["kind"]).object_path(ns, obj["metadata"]["name"]),
            body,
            "%s %s" % (verb, summary["object"]),
            done=summary["object"],
            result=summary,
        )
        for obj, body, summary in pending
    ]
    patch.patch_all(client, changes, output)

    if p["wait"] and output["workloads"]:
        late = wait_settled(client, ns, state, output["workloads"], p["wait_timeout"], clock, sleep)
        if late:
            raise OpsError(wait_message(state, p["wait_timeout"], late), **output)
    return output
