# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling Deployments and StatefulSets, with or without a HorizontalPodAutoscaler.

``kubectl scale`` on a workload an HPA owns lasts until the HPA's next sync (15 s): the
HPA brings the replicas back into its own range. So when an HPA targets the workload, the
plan changes the HPA's range so that it agrees with the request, then sets the replicas
through ``/scale`` as well (the result does not wait for the HPA's next sync, and the HPA
has no reason to undo it):

- ``minReplicas`` becomes N whenever it differs: raised, so that the autoscaler keeps at
  least N; lowered (a request below a floor an earlier scale raised), so that it may keep N.
- ``maxReplicas`` becomes N when the request reduces the replicas (N below the current
  replicas and below the maximum), so that the autoscaler keeps at most N instead of
  scaling back up; and when N is above it, so that it may keep N.

A scale-up thus leaves the autoscaler free to add replicas under load (never fewer than
asked); a scale-down pins it at N (neither back up nor further down). The HPA's original
range is recorded in annotations on the HPA the first time it is changed and never
overwritten by later scales, so a restore puts the autoscaler's own range back from any
later run.

Everything but :func:`list_hpas`, :func:`read_state`, :func:`apply` and :func:`wait_scaled`
is pure and works on plain dicts as the API returns them.
"""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout as ro
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import quiesce as rec

RECORDED_MIN = "multiagent.ops/recorded-min-replicas"
RECORDED_MAX = "multiagent.ops/recorded-max-replicas"
SCALED_BY = "multiagent.ops/scaled-by"
KINDS = ("Deployment", "StatefulSet")


class ScaleError(ValueError):
    """A request that cannot be planned or carried out; the message names the workload."""


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def _annotations(obj):
    return _meta(obj).get("annotations") or {}


def label(target):
    """``core (Deployment mplp-core)``, or ``Deployment mplp-core`` without a component."""
    workload = "%s %s" % (target.get("kind") or "Deployment", target["name"])
    return "%s (%s)" % (target["component"], workload) if target.get("component") else workload


def _range(low, high):
    if low is None and high is None:
        return "any"
    return "%s-%s" % ("0" if low is None else low, "any" if high is None else high)


# -- the request ----------------------------------------------------------------------------


def check_targets(targets, state="scaled"):
    """Validate the request before anything is read: known kinds, no workload twice, a
    replica count in the allowed range (the inventory's autoscaling min and max). Raises
    ScaleError naming every offending target, the requested value and the range."""
    problems = []
    seen = set()
    for target in targets:
        kind = target.get("kind") or "Deployment"
        if kind not in KINDS:
            problems.append("%s: kind must be one of %s" % (label(target), ", ".join(KINDS)))
            continue
        key = (kind, target["name"])
        if key in seen:
            problems.append("%s is named twice" % label(target))
        seen.add(key)
        low, high = target.get("min"), target.get("max")
        if low is not None and high is not None and low > high:
            problems.append("%s: the allowed range %d-%d is empty (min > max)" % (label(target), low, high))
            continue
        if state != "scaled":
            continue
        wanted = target.get("replicas")
        if wanted is None:
            problems.append("%s: replicas is required to scale" % label(target))
        elif wanted < 0:
            problems.append("%s: %d replicas requested; it must be 0 or more" % (label(target), wanted))
        elif (low is not None and wanted < low) or (high is not None and wanted > high):
            problems.append(
                "%s: %d replicas requested, outside the allowed range %s"
                % (label(target), wanted, _range(low, high))
            )
    if problems:
        raise ScaleError("; ".join(problems))


# -- HorizontalPodAutoscalers ---------------------------------------------------------------


def hpa_range(hpa):
    """``(minReplicas, maxReplicas)``; minReplicas defaults to 1 as in the API."""
    spec = hpa.get("spec") or {}
    low = spec.get("minReplicas")
    return (1 if low is None else int(low)), int(spec.get("maxReplicas") or 0)


def targets_workload(hpa, kind, name):
    """True when the HPA's scaleTargetRef names this workload (apps group, or none given)."""
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    group = (ref.get("apiVersion") or "apps/v1").rpartition("/")[0]
    return ref.get("kind") == kind and ref.get("name") == name and group in ("apps", "")


def find_hpa(hpas, target):
    """The HPA that targets the workload, or None. Two of them is a misconfiguration the
    HPA controller itself refuses to act on (AmbiguousSelector): fail rather than guess."""
    kind = target.get("kind") or "Deployment"
    found = [h for h in hpas if targets_workload(h, kind, target["name"])]
    if len(found) > 1:
        raise ScaleError(
            "%s: %d HorizontalPodAutoscalers target it (%s); the autoscaler does not act on a "
            "workload with several, remove all but one first"
            % (label(target), len(found), ", ".join(sorted(_meta(h).get("name") for h in found)))
        )
    return found[0] if found else None


def recorded_range(hpa):
    """The range recorded before the first scale, ``{"min", "max"}``, or None."""
    notes = _annotations(hpa)
    raw = (notes.get(RECORDED_MIN), notes.get(RECORDED_MAX))
    if raw == (None, None):
        return None
    name = _meta(hpa).get("name")
    try:
        low, high = int(raw[0]), int(raw[1])
    except (TypeError, ValueError):
        raise ScaleError(
            "HorizontalPodAutoscaler %s: annotations %s=%r and %s=%r are not a replica range; "
            "fix or remove them" % (name, RECORDED_MIN, raw[0], RECORDED_MAX, raw[1])
        )
    if not 0 <= low <= high or high < 1:
        raise ScaleError(
            "HorizontalPodAutoscaler %s: the recorded range %d-%d is not valid; fix or remove %s and %s"
            % (name, low, high, RECORDED_MIN, RECORDED_MAX)
        )
    return {"min": low, "max": high}


# -- plans ----------------------------------------------------------------------------------


def workload_replicas(obj):
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _quiesced(target, workload):
    notes = _annotations(workload)
    if notes.get(rec.RECORDED_REPLICAS) is not None:
        raise ScaleError(
            "%s is quiesced (%s=%s, by %s): resume it with multiagent.ops.quiesce state=resumed "
            "before scaling it"
            % (
                label(target),
                rec.RECORDED_REPLICAS,
                notes[rec.RECORDED_REPLICAS],
                notes.get(rec.QUIESCED_BY) or "unknown",
            )
        )


def _plan(target, workload, hpa):
    kind = target.get("kind") or "Deployment"
    current = workload_replicas(workload)
    plan = {
        "object": "%s/%s" % (kind, target["name"]),
        "kind": kind,
        "name": target["name"],
        "component": target.get("component"),
        "replicas_before": current,
        "replicas_after": current,
        "hpa": _meta(hpa).get("name") if hpa else None,
        "hpa_before": None,
        "hpa_after": None,
        "hpa_changes": [],
        "recorded": None,
        "scaled": False,
        "changed": False,
        "warnings": [],
        "hpa_patch": None,
        "bounds": (current, current),
    }
    if hpa is not None:
        low, high = hpa_range(hpa)
        plan["hpa_before"] = {"min": low, "max": high}
        plan["hpa_after"] = {"min": low, "max": high}
        plan["recorded"] = recorded_range(hpa)
    return plan


def _change(plan, field, after, why):
    key = "min" if field == "minReplicas" else "max"
    plan["hpa_changes"].append(
        {"field": field, "before": plan["hpa_before"][key], "after": after, "why": why}
    )
    plan["hpa_after"][key] = after


def _hpa_patch(plan, annotations):
    spec = {}
    if plan["hpa_after"]["min"] != plan["hpa_before"]["min"]:
        spec["minReplicas"] = plan["hpa_after"]["min"]
    if plan["hpa_after"]["max"] != plan["hpa_before"]["max"]:
        spec["maxReplicas"] = plan["hpa_after"]["max"]
    patch = {}
    if annotations:
        patch["metadata"] = {"annotations": annotations}
    if spec:
        patch["spec"] = spec
    return patch or None


def plan_scale(target, workload, hpa=None, purpose=None):
    """What scaling ``workload`` to ``target["replicas"]`` changes, as a dict: replicas and
    HPA range before and after, ``hpa_changes`` (``field``, ``before``, ``after``, ``why``),
    the ``recorded`` range, ``hpa_patch`` (a merge patch of the HPA or None), ``scaled``
    (the replicas change through /scale), ``changed`` and ``bounds``: the replica range
    the workload may settle in (the HPA's new range, or exactly N without an HPA).
    Raises ScaleError for a quiesced workload, or zero replicas under an HPA."""
    _quiesced(target, workload)
    wanted = target["replicas"]
    plan = _plan(target, workload, hpa)
    current = plan["replicas_before"]
    plan["replicas_after"] = wanted
    plan["scaled"] = wanted != current
    plan["bounds"] = (wanted, wanted)
    if hpa is not None:
        if wanted == 0:
            raise ScaleError(
                "%s: 0 replicas requested, but HorizontalPodAutoscaler %s manages it (its minReplicas "
                "cannot be 0); to stop the workload use multiagent.ops.quiesce, which records the "
                "count to resume" % (label(target), plan["hpa"])
            )
        low, high = hpa_range(hpa)
        if wanted > low:
            _change(
                plan, "minReplicas", wanted, "raised so the autoscaler keeps at least %d replicas" % wanted
            )
        elif wanted < low:
            _change(
                plan,
                "minReplicas",
                wanted,
                "lowered so the autoscaler may keep %d replicas (at minReplicas %d it would scale back "
                "up)" % (wanted, low),
            )
        if wanted < high and wanted < current:
            _change(
                plan,
                "maxReplicas",
                wanted,
                "lowered so the autoscaler keeps at most %d replicas (it would otherwise be free to "
                "scale back up to %d)" % (wanted, current),
            )
        elif wanted > high:
            _change(
                plan,
                "maxReplicas",
                wanted,
                "raised so the autoscaler may keep %d replicas (at maxReplicas %d it would scale back "
                "down)" % (wanted, high),
            )
        after = plan["hpa_after"]  # min <= max: both are N unless N lies between them
        annotations = {}
        if plan["hpa_changes"]:
            if plan["recorded"] is None:
                # The autoscaler's own range, kept across any number of later scales.
                plan["recorded"] = dict(plan["hpa_before"])
                annotations[RECORDED_MIN] = str(low)
                annotations[RECORDED_MAX] = str(high)
            if purpose and _annotations(hpa).get(SCALED_BY) != purpose:
                annotations[SCALED_BY] = purpose
        plan["hpa_patch"] = _hpa_patch(plan, annotations)
        plan["bounds"] = (after["min"], after["max"])
        _warn_outside(plan, target)
    plan["changed"] = plan["scaled"] or plan["hpa_patch"] is not None
    return plan


def _warn_outside(plan, target):
    low, high = target.get("min"), target.get("max")
    after = plan["hpa_after"]
    if (low is not None and after["min"] < low) or (high is not None and after["max"] > high):
        plan["warnings"].append(
            "%s: HorizontalPodAutoscaler %s allows %d-%d, beyond the allowed range %s; only what "
            "this scale needs was changed"
            % (label(target), plan["hpa"], after["min"], after["max"], _range(low, high))
        )


def plan_restore(target, workload, hpa=None):
    """Put back the HPA range recorded by the first scale and drop the records. Replicas
    outside the restored range are brought to its nearest bound (what the HPA would do at
    its next sync); inside it they are left to the autoscaler. Without an HPA or a record
    nothing changes."""
    plan = _plan(target, workload, hpa)
    current = plan["replicas_before"]
    if hpa is None or plan["recorded"] is None:
        if hpa is not None:  # the autoscaler may move the replicas within its range
            low, high = hpa_range(hpa)
            plan["bounds"] = (min(low, current), max(high, current))
        return plan
    recorded = plan["recorded"]
    low, high = target.get("min"), target.get("max")
    if (low is not None and low != recorded["min"]) or (high is not None and high != recorded["max"]):
        plan["warnings"].append(
            "%s: the range recorded on HorizontalPodAutoscaler %s, %d-%d, differs from the allowed "
            "range %s; the record was restored (apply the platform again to set the inventory's)"
            % (label(target), plan["hpa"], recorded["min"], recorded["max"], _range(low, high))
        )
    why = "put back to the range recorded before the first scale"
    if recorded["min"] != plan["hpa_before"]["min"]:
        _change(plan, "minReplicas", recorded["min"], why)
    if recorded["max"] != plan["hpa_before"]["max"]:
        _change(plan, "maxReplicas", recorded["max"], why)
    plan["hpa_patch"] = _hpa_patch(plan, {RECORDED_MIN: None, RECORDED_MAX: None, SCALED_BY: None})
    plan["recorded"] = None
    wanted = min(max(current, recorded["min"]), recorded["max"])
    plan["replicas_after"] = wanted
    plan["scaled"] = wanted != current
    plan["bounds"] = (recorded["min"], recorded["max"])
    plan["changed"] = True
    return plan


def describe(plan, state="scaled"):
    """One line for the report: replicas, the HPA fields changed and why."""
    who = (
        "%s (%s %s)" % (plan["component"], plan["kind"], plan["name"])
        if plan.get("component")
        else "%s %s" % (plan["kind"], plan["name"])
    )
    before, after = plan["replicas_before"], plan["replicas_after"]
    if before != after:
        text = "%s: replicas %d -> %d" % (who, before, after)
    elif state == "restored" and plan["changed"]:
        text = "%s: replicas %d, left to the autoscaler" % (who, after)
    else:
        text = "%s: replicas %s%d" % (who, "already " if state == "scaled" else "", after)
    if plan["hpa"] is None:
        text += "; no HorizontalPodAutoscaler" + (": nothing to restore" if state == "restored" else "")
    elif plan["hpa_changes"]:
        text += "; HorizontalPodAutoscaler %s: %s" % (
            plan["hpa"],
            "; ".join(
                "%s %d -> %d, %s" % (c["field"], c["before"], c["after"], c["why"])
                for c in plan["hpa_changes"]
            ),
        )
    else:
        text += "; HorizontalPodAutoscaler %s keeps %d-%d%s" % (
            plan["hpa"],
            plan["hpa_after"]["min"],
            plan["hpa_after"]["max"],
            ""
            if state == "scaled"
            else (": its records are dropped" if plan["changed"] else ": nothing recorded to restore"),
        )
    if plan["recorded"] and state == "scaled":
        text += " (its own range %d-%d is recorded for the restore)" % (
            plan["recorded"]["min"],
            plan["recorded"]["max"],
        )
    return text


def public(plan):
    """The plan as the module returns it (without the patch and the wait bounds)."""
    return {k: v for k, v in plan.items() if k not in ("hpa_patch", "bounds", "warnings")}


# -- reading, writing, waiting --------------------------------------------------------------


def hpa_path(namespace, version, name=None):
    hpa = resources.get("HorizontalPodAutoscaler", "autoscaling/%s" % version)
    return hpa.collection_path(namespace) if name is None else hpa.object_path(namespace, name)


def scale_path(namespace, kind, name):
    return resources.get(kind).object_path(namespace, name, "scale")


def list_hpas(reader, namespace):
    """``(items, version)``: the namespace's HPAs in one LIST, at autoscaling/v2 or, on a
    server without it, v1."""
    what = "list horizontalpodautoscalers in namespace %s" % namespace
    try:
        return reader.list(hpa_path(namespace, "v2"), what), "v2"
    except ApiError as exc:
        if exc.kind != "not_found":
            raise
    return reader.list(hpa_path(namespace, "v1"), what), "v1"


def read_state(reader, namespace, targets):
    """Every workload (one GET, or one LIST per kind) and the namespace's HPAs (one LIST),
    before anything is planned. Raises ScaleError naming a missing workload."""
    workloads = {}
    by_kind = {}
    for target in targets:
        by_kind.setdefault(target.get("kind") or "Deployment", []).append(target["name"])
    for kind, names in by_kind.items():
        for name, obj in ro.read_workloads(reader, namespace, kind, names).items():
            workloads[(kind, name)] = obj
    missing = [label(t) for t in targets if workloads.get((t.get("kind") or "Deployment", t["name"])) is None]
    if missing:
        raise ScaleError("%s: not found in namespace %s" % (", ".join(missing), namespace))
    hpas, version = list_hpas(reader, namespace)
    return workloads, hpas, version


def plan_all(targets, workloads, hpas, state="scaled", purpose=None):
    """One plan per target, every one made before anything is written."""
    plans = []
    for target in targets:
        kind = target.get("kind") or "Deployment"
        workload = workloads[(kind, target["name"])]
        hpa = find_hpa(hpas, target)
        if state == "restored":
            plans.append(plan_restore(target, workload, hpa))
        else:
            plans.append(plan_scale(target, workload, hpa, purpose))
    return plans


def _answer(answer):
    return answer.get("message") if isinstance(answer, dict) and answer.get("message") else ""


def apply(reader, namespace, plans, version):
    """Write the plans: for each target its HPA first (so that the autoscaler never works
    against the new replica count), then ``/scale``. Raises ScaleError naming the object,
    the action, the cause and what was already done."""
    done = []
    for plan in plans:
        who = "%s %s" % (plan["kind"], plan["name"])
        if plan["hpa_patch"] is not None:
            fields = ", ".join(
                "%s %d -> %d" % (c["field"], c["before"], c["after"]) for c in plan["hpa_changes"]
            )
            action = "set %s of" % fields if fields else "drop the records of"
            what = "%s HorizontalPodAutoscaler %s (of %s) in %s" % (action, plan["hpa"], who, namespace)
            status, answer = reader.send(
                "PATCH", hpa_path(namespace, version, plan["hpa"]), plan["hpa_patch"], what
            )
            if not 200 <= status < 300:
                raise ScaleError(
                    "Failed to %s: HTTP %d %s; already done: %s"
                    % (what, status, _answer(answer), "; ".join(done) or "nothing")
                )
            done.append("HorizontalPodAutoscaler %s %s" % (plan["hpa"], fields or "records dropped"))
        if plan["scaled"]:
            what = "scale %s in %s from %d to %d replicas" % (
                who,
                namespace,
                plan["replicas_before"],
                plan["replicas_after"],
            )
            body = {"spec": {"replicas": plan["replicas_after"]}}
            status, answer = reader.send(
                "PATCH", scale_path(namespace, plan["kind"], plan["name"]), body, what
            )
            if not 200 <= status < 300:
                raise ScaleError(
                    "Failed to %s: HTTP %d %s; already done: %s"
                    % (what, status, _answer(answer), "; ".join(done) or "nothing")
                )
            done.append("%s scaled to %d" % (who, plan["replicas_after"]))
    return done


def settled(status, bounds):
    """True when the rollout is done (latest generation observed, rolled out) and every
    replica is ready and available: ``readyReplicas == availableReplicas == spec.replicas``,
    with spec.replicas inside ``bounds`` (the HPA may move it within its new range)."""
    low, high = bounds
    replicas = status["replicas"]
    return (
        status["done"]
        and low <= replicas <= high
        and status["ready"] == replicas
        and status["available"] == replicas
    )


def _pending_message(status, bounds):
    low, high = bounds
    want = "%d" % low if low == high else "%d-%d" % (low, high)
    return "%s: not settled at %s replicas (spec %d, ready %d, available %d)%s" % (
        ro.workload_label(status),
        want,
        status["replicas"],
        status["ready"],
        status["available"],
        "" if status["done"] else ": " + (status.get("message") or "rollout in progress"),
    )


def wait_scaled(reader, namespace, plans, timeout, poll=1.0, clock=time.monotonic, sleep=time.sleep):
    """Wait for every target at once until each has settled in its bounds (see :func:`settled`),
    one failed (a stuck rollout, a missing workload), or ``timeout`` seconds passed.

    Rollouts are judged by ``rollout.wait_rollouts`` (kubectl's rules, with the unready
    pods and why on failure). A scale-down is "rolled out" by those rules as soon as the
    spec is observed, so the replica counts are checked on top until they match.
    Returns ``(results, failures)``: per plan ``{done, ready, available, replicas,
    seconds, message}`` and the failure messages."""
    start = clock()
    deadline = start + max(timeout, 0)
    pending = list(range(len(plans)))
    results = {}
    last = {}
    while pending:
        goals = [
            {"kind": plans[i]["kind"], "namespace": namespace, "name": plans[i]["name"]} for i in pending
        ]
        waited = ro.wait_rollouts(
            reader, goals, max(deadline - clock(), 0), poll=poll, clock=clock, sleep=sleep
        )
        still = []
        failed = False
        for i, status in zip(pending, waited, strict=True):
            if settled(status, plans[i]["bounds"]):
                results[i] = dict(status, seconds=round(clock() - start, 1))
            elif status["failed"]:
                results[i] = dict(
                    status, message=ro.failure_message(status), seconds=round(clock() - start, 1)
                )
                failed = True
            else:
                last[i] = status
                still.append(i)
        pending = still
        if not pending:
            break
        now = clock()
        if failed:  # as wait_rollouts does: the others are reported as last seen
            for i in pending:
                results[i] = dict(last[i], seconds=round(now - start, 1))
            break
        if now >= deadline:
            for i in pending:
                message = _pending_message(last[i], plans[i]["bounds"]) + " after %g s" % timeout
                results[i] = dict(
                    last[i], done=False, failed=True, message=message, seconds=round(now - start, 1)
                )
            break
        sleep(max(min(poll, deadline - now), 0))
    out = []
    failures = []
    for i in range(len(plans)):
        status = results[i]
        ok = settled(status, plans[i]["bounds"])
        if ok:
            message = status.get("message") or ""
        elif status.get("failed"):
            message = status["message"]
        else:
            message = _pending_message(status, plans[i]["bounds"])
        out.append(
            {
                "done": ok,
                "replicas": status["replicas"],
                "ready": status["ready"],
                "available": status["available"],
                "seconds": status["seconds"],
                "message": message,
            }
        )
        if not ok:
            failures.append(message)
    return out, failures


def diff(plans):
    """``{"before": ..., "after": ...}`` keyed by workload: replicas and the HPA range."""

    def side(plan, when):
        entry = {"replicas": plan["replicas_%s" % when]}
        hpa = plan["hpa_%s" % when]
        if hpa is not None:
            entry["hpa"] = {"name": plan["hpa"], "minReplicas": hpa["min"], "maxReplicas": hpa["max"]}
        return entry

    return {
        "before": {p["object"]: side(p, "before") for p in plans},
        "after": {p["object"]: side(p, "after") for p in plans},
    }
