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

Everything but :func:`list_hpas`, :func:`read_state`, :func:`wait_scaled` and
:func:`run` (the runner of multiagent.ops.scale) is pure and works on plain dicts as the API
returns them.
"""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import (
    NOTHING_CHANGED,
    OpsError,
    nothing_changed,
)
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout as ro
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

KINDS = ("Deployment", "StatefulSet")
SCALED, RESTORED = "scaled", "restored"
STATES = (SCALED, RESTORED)


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
    raw = (notes.get(records.RECORDED_MIN_REPLICAS), notes.get(records.RECORDED_MAX_REPLICAS))
    if raw == (None, None):
        return None
    name = _meta(hpa).get("name")
    try:
        low, high = int(raw[0]), int(raw[1])
    except (TypeError, ValueError):
        raise ScaleError(
            "HorizontalPodAutoscaler %s: annotations %s=%r and %s=%r are not a replica range; "
            "fix or remove them"
            % (name, records.RECORDED_MIN_REPLICAS, raw[0], records.RECORDED_MAX_REPLICAS, raw[1])
        )
    if not 0 <= low <= high or high < 1:
        raise ScaleError(
            "HorizontalPodAutoscaler %s: the recorded range %d-%d is not valid; fix or remove %s and %s"
            % (name, low, high, records.RECORDED_MIN_REPLICAS, records.RECORDED_MAX_REPLICAS)
        )
    return {"min": low, "max": high}


# -- plans ----------------------------------------------------------------------------------


def workload_replicas(obj):
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _quiesced(target, workload):
    notes = _annotations(workload)
    if notes.get(records.RECORDED_REPLICAS) is not None:
        raise ScaleError(
            "%s is quiesced (%s=%s, by %s): restore it with multiagent.ops.quiesce state=restored "
            "before scaling it"
            % (
                label(target),
                records.RECORDED_REPLICAS,
                notes[records.RECORDED_REPLICAS],
                notes.get(records.QUIESCED_BY) or "unknown",
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
                annotations[records.RECORDED_MIN_REPLICAS] = str(low)
                annotations[records.RECORDED_MAX_REPLICAS] = str(high)
            if purpose and _annotations(hpa).get(records.SCALED_BY) != purpose:
                annotations[records.SCALED_BY] = purpose
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
    plan["hpa_patch"] = _hpa_patch(
        plan,
        {records.RECORDED_MIN_REPLICAS: None, records.RECORDED_MAX_REPLICAS: None, records.SCALED_BY: None},
    )
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


def list_hpas(client, namespace):
    """``(items, version)``: the namespace's HPAs in one LIST, at autoscaling/v2 or, on a
    server without it, v1."""
    what = "list horizontalpodautoscalers in namespace %s" % namespace
    try:
        return client.list(hpa_path(namespace, "v2"), what), "v2"
    except ApiError as exc:
        if exc.kind != "not_found":
            raise
    return client.list(hpa_path(namespace, "v1"), what), "v1"


def read_state(client, namespace, targets):
    """Every workload (one GET, or one LIST per kind) and the namespace's HPAs (one LIST),
    before anything is planned. Raises ScaleError naming a missing workload."""
    workloads = {}
    by_kind = {}
    for target in targets:
        by_kind.setdefault(target.get("kind") or "Deployment", []).append(target["name"])
    for kind, names in by_kind.items():
        for name, obj in ro.read_workloads(client, namespace, kind, names).items():
            workloads[(kind, name)] = obj
    missing = [label(t) for t in targets if workloads.get((t.get("kind") or "Deployment", t["name"])) is None]
    if missing:
        raise ScaleError("%s: not found in namespace %s" % (", ".join(missing), namespace))
    hpas, version = list_hpas(client, namespace)
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


def changes(namespace, plans, version, results=None):
    """The writes of the plans, in order, as patch.Change: for each target its HPA first (so
    that the autoscaler never works against the new replica count), then ``/scale``.
    ``results``: the per-target results the changes belong to (patch.patch_all)."""
    planned = []
    for index, plan in enumerate(plans):
        result = results[index] if results else None
        who = "%s %s" % (plan["kind"], plan["name"])
        if plan["hpa_patch"] is not None:
            fields = ", ".join(
                "%s %d -> %d" % (c["field"], c["before"], c["after"]) for c in plan["hpa_changes"]
            )
            action = "set %s of" % fields if fields else "drop the records of"
            change = patch.Change(
                hpa_path(namespace, version, plan["hpa"]),
                plan["hpa_patch"],
                "%s HorizontalPodAutoscaler %s (of %s) in %s" % (action, plan["hpa"], who, namespace),
                done="HorizontalPodAutoscaler %s %s" % (plan["hpa"], fields or "records dropped"),
                result=result,
            )
            planned.append(change)
        if plan["scaled"]:
            change = patch.Change(
                scale_path(namespace, plan["kind"], plan["name"]),
                {"spec": {"replicas": plan["replicas_after"]}},
                "scale %s in %s from %d to %d replicas"
                % (who, namespace, plan["replicas_before"], plan["replicas_after"]),
                done="%s scaled to %d" % (who, plan["replicas_after"]),
                result=result,
            )
            planned.append(change)
    return planned


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


def scaled(bounds):
    """The waiter's predicate: the rollout status of ``rollout.rolled_out`` (kubectl's rules;
    a paused Deployment fails), done when the workload has also :func:`settled` within
    ``bounds``. A scale-down is "rolled out" by kubectl's rules as soon as the spec is
    observed, so the replica counts are checked on top until they match; ``rolled_out``
    keeps kubectl's verdict."""

    def check(obj):
        status = ro.rolled_out(obj)
        status["rolled_out"] = status["done"]
        status["done"] = not status["failed"] and settled(status, bounds)
        return status

    return check


def _pending_message(status, bounds):
    low, high = bounds
    want = "%d" % low if low == high else "%d-%d" % (low, high)
    return "%s: not settled at %s replicas (spec %d, ready %d, available %d)%s" % (
        ro.workload_label(status),
        want,
        status["replicas"],
        status["ready"],
        status["available"],
        "" if status.get("rolled_out") else ": " + (status.get("message") or "rollout in progress"),
    )


def wait_scaled(client, namespace, plans, timeout, poll=1.0, clock=time.monotonic, sleep=time.sleep):
    """Wait for every target at once until each has settled in its bounds (:func:`scaled`),
    one failed (a stuck rollout, a missing workload), or ``timeout`` seconds passed; the
    rollout waiter (k8s/rollout.py over k8s/wait.py) reads them all, a LIST per kind and round.

    A failed rollout is named with its unready pods and why. Returns ``(results,
    failures)``: per plan ``{done, ready, available, replicas, seconds, message}`` and the
    failure messages."""
    bounds = {(plan["kind"], plan["name"]): plan["bounds"] for plan in plans}

    def on_failure(_target, _obj, status):
        status["message"] = ro.failure_message(status)
        return status

    def on_timeout(target, status, _obj, error, waited, result):
        if error is None and status is not None and status.get("rolled_out"):
            # Rolled out, but the replica counts are not there yet: say which.
            message = _pending_message(status, bounds[(target.resource.kind, target.name)])
            return dict(status, done=False, failed=True, message=message + " after %g s" % waited)
        result["message"] = ro.failure_message(result)
        return result

    waiter = ro.waiter(
        client, timeout, poll=poll, clock=clock, sleep=sleep, on_failure=on_failure, on_timeout=on_timeout
    )
    targets = [
        wait.Target(resources.get(plan["kind"]), namespace, plan["name"], scaled(plan["bounds"]))
        for plan in plans
    ]
    out, failures = [], []
    for plan, status in zip(plans, waiter.wait(targets), strict=True):
        if status["done"]:
            message = status.get("message") or ""
        else:  # failed, or as last seen when another one failed first
            message = status["message"] if status["failed"] else _pending_message(status, plan["bounds"])
            failures.append(message)
        out.append(
            {
                "done": status["done"],
                "replicas": status["replicas"],
                "ready": status["ready"],
                "available": status["available"],
                "seconds": status["seconds"],
                "message": message,
            }
        )
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


# -- the runner of multiagent.ops.scale -----------------------------------------------------


def run(request, client, clock=time.monotonic, sleep=time.sleep):
    """Scale the targets, agreeing with their HPAs, or restore the HPAs' recorded ranges
    (multiagent.ops.scale)."""
    p = request.params
    ns, state, targets = p["namespace"], p["state"], p["targets"]
    if not targets:
        raise OpsError("targets is empty: name at least one workload")
    if p["wait_timeout"] < 0:
        raise OpsError("wait_timeout must be 0 or more, not %d" % p["wait_timeout"])
    try:
        check_targets(targets, state)
        workloads, hpas, version = read_state(client, ns, targets)
        plans = plan_all(targets, workloads, hpas, state, p["purpose"])
    except (ScaleError, ApiError) as exc:
        raise OpsError(nothing_changed(str(exc))) from None

    results = []
    for plan in plans:
        result = public(plan)
        result["message"] = describe(plan, state)
        results.append(result)
        for warning in plan["warnings"]:
            request.warn(warning)
    output = {"changed": any(plan["changed"] for plan in plans), "targets": results}
    if request.diff:
        output["diff"] = diff(plans)
    if request.check_mode:
        return output

    planned = changes(ns, plans, version, results)
    patch.patch_all(client, planned, output)
    done = [change.done for change in planned]

    if p["wait"]:
        waited, failures = wait_scaled(client, ns, plans, p["wait_timeout"], clock=clock, sleep=sleep)
        for result, status in zip(results, waited, strict=True):
            result.update(ready=status["ready"], available=status["available"], seconds=status["seconds"])
        if failures:
            raise OpsError(
                "%s (%s; re-run to wait again)"
                % (" | ".join(failures), "changed: " + "; ".join(done) if done else NOTHING_CHANGED),
                **output,
            )
    return output
