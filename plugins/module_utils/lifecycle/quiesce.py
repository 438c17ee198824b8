# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replica record: quiesce workloads and CronJobs, and put them back, from the cluster.

Quiescing writes what it changes onto the object itself (annotations), so a later run,
another operator or an AWX job can read it back and undo it; nothing lives only in a
playbook's memory. Re-quiescing never overwrites a record (the second run would otherwise
record 0 and lose the real count); resuming without a record changes nothing.
"""

from __future__ import annotations

RECORDED_REPLICAS = "multiagent.ops/recorded-replicas"
RECORDED_SUSPEND = "multiagent.ops/recorded-suspend"
QUIESCED_BY = "multiagent.ops/quiesced-by"
QUIESCED_AT = "multiagent.ops/quiesced-at"
SCALABLE = ("Deployment", "StatefulSet")


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
    raw = _annotations(obj).get(RECORDED_REPLICAS)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise RecordError(
            "%s: annotation %s=%r is not a replica count" % (_name(obj), RECORDED_REPLICAS, raw)
        )
    if value < 0:
        raise RecordError("%s: annotation %s=%r is negative" % (_name(obj), RECORDED_REPLICAS, raw))
    return value


def plan_quiesce_workload(obj, by, at):
    """``(patch or None, summary)`` scaling a Deployment/StatefulSet to zero with a record."""
    current = _replicas(obj)
    recorded = recorded_replicas(obj)
    summary = {"object": _name(obj), "replicas_before": current, "recorded": recorded}
    if recorded is None:
        summary.update(recorded=current, replicas_after=0)
        patch = {
            "metadata": {"annotations": {RECORDED_REPLICAS: str(current), QUIESCED_BY: by, QUIESCED_AT: at}},
            "spec": {"replicas": 0},
        }
        return patch, summary
    summary["replicas_after"] = 0
    if current == 0:
        return None, summary  # already quiesced: keep the first record
    return {"spec": {"replicas": 0}}, summary  # scaled up meanwhile: back to zero, record kept


def plan_resume_workload(obj):
    """``(patch or None, summary)`` putting back the recorded replicas and dropping the record."""
    current = _replicas(obj)
    recorded = recorded_replicas(obj)
    summary = {"object": _name(obj), "replicas_before": current, "recorded": recorded}
    if recorded is None:
        summary["replicas_after"] = current
        return None, summary
    summary["replicas_after"] = recorded
    return {
        "metadata": {"annotations": {RECORDED_REPLICAS: None, QUIESCED_BY: None, QUIESCED_AT: None}},
        "spec": {"replicas": recorded},
    }, summary


def plan_quiesce_cronjob(obj, by, at):
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    recorded = _annotations(obj).get(RECORDED_SUSPEND)
    summary = {"object": _name(obj), "suspended_before": suspended}
    if recorded is None:
        summary.update(recorded=suspended, suspended_after=True)
        patch = {
            "metadata": {
                "annotations": {
                    RECORDED_SUSPEND: "true" if suspended else "false",
                    QUIESCED_BY: by,
                    QUIESCED_AT: at,
                }
            },
            "spec": {"suspend": True},
        }
        return patch, summary
    summary.update(recorded=recorded == "true", suspended_after=True)
    return (None if suspended else {"spec": {"suspend": True}}), summary


def plan_resume_cronjob(obj):
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    recorded = _annotations(obj).get(RECORDED_SUSPEND)
    summary = {"object": _name(obj), "suspended_before": suspended, "recorded": None}
    if recorded is None:
        summary["suspended_after"] = suspended
        return None, summary
    if recorded not in ("true", "false"):
        raise RecordError(
            "%s: annotation %s=%r is not true or false" % (_name(obj), RECORDED_SUSPEND, recorded)
        )
    summary.update(recorded=recorded == "true", suspended_after=recorded == "true")
    return {
        "metadata": {"annotations": {RECORDED_SUSPEND: None, QUIESCED_BY: None, QUIESCED_AT: None}},
        "spec": {"suspend": recorded == "true"},
    }, summary
