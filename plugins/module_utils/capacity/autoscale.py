# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The auto-scaling decision of the LangGraph runbook's ``auto-scaling.sh``, as a pure function.

The seed adds 2 replicas when CPU is above 70 % or memory above 80 %, removes 1 when CPU is
below 30 % and memory below 40 %, and keeps the count within 3-20. Here:

- utilisation is measured against the pods' requests (as the HorizontalPodAutoscaler measures
  it); the seed compared ``kubectl top``'s millicores and MiB with percentages;
- the range is the component's own (the inventory's ``autoscaling`` {min, max} for its
  region), not one range for every component;
- a scale-up that would pass the maximum stops at it (the seed refused the whole step, so a
  component at max - 1 never got its last replica); a count already outside the range is
  brought back into it whatever the load says;
- no measurement (no metrics, no requests) never scales: the seed read a missing CPU as 0 and
  so as a reason to scale up on memory alone, or to scale down.
"""

from __future__ import annotations

UP, DOWN, KEEP = "up", "down", "keep"

DEFAULTS = {
    "cpu_high": 70.0,
    "memory_high": 80.0,
    "cpu_low": 30.0,
    "memory_low": 40.0,
    "step_up": 2,
    "step_down": 1,
    "min": 3,
    "max": 20,
}


class DecisionError(ValueError):
    pass


def thresholds(overrides=None):
    """The seed's thresholds with ``overrides`` (None values ignored), checked."""
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(merged) - set(DEFAULTS))
    if unknown:
        raise DecisionError("unknown threshold(s) %s; known: %s" % (", ".join(unknown), ", ".join(DEFAULTS)))
    for key in ("cpu_high", "memory_high", "cpu_low", "memory_low"):
        merged[key] = float(merged[key])
    for key in ("step_up", "step_down", "min", "max"):
        merged[key] = int(merged[key])
    problems = []
    if merged["cpu_low"] >= merged["cpu_high"]:
        problems.append("cpu_low %g must be below cpu_high %g" % (merged["cpu_low"], merged["cpu_high"]))
    if merged["memory_low"] >= merged["memory_high"]:
        problems.append(
            "memory_low %g must be below memory_high %g" % (merged["memory_low"], merged["memory_high"])
        )
    if merged["step_up"] < 1 or merged["step_down"] < 1:
        problems.append("step_up and step_down must be 1 or more")
    if merged["min"] < 1 or merged["max"] < merged["min"]:
        problems.append("the range %d-%d is not valid (1 <= min <= max)" % (merged["min"], merged["max"]))
    if problems:
        raise DecisionError("; ".join(problems))
    return merged


def _pct(value):
    return "n/a" if value is None else "%.0f%%" % value


def decide(replicas, cpu, memory, limits=None):
    """``replicas`` now, ``cpu`` and ``memory`` utilisation in percent of the requests (None
    when unknown), ``limits`` as :func:`thresholds` takes them (``min``/``max`` the range)
    -> ``{"decision": up|down|keep, "replicas_before", "replicas_after", "reason"}``."""
    t = thresholds(limits)
    low, high = t["min"], t["max"]
    usage = "CPU %s, memory %s of requests" % (_pct(cpu), _pct(memory))
    span = "%d-%d" % (low, high)

    def result(after, reason):
        decision = UP if after > replicas else DOWN if after < replicas else KEEP
        return {"decision": decision, "replicas_before": replicas, "replicas_after": after, "reason": reason}

    if replicas < low:
        return result(
            low, "%d replicas are below the range %s: raised to its minimum (%s)" % (replicas, span, usage)
        )
    if replicas > high:
        return result(
            high, "%d replicas are above the range %s: lowered to its maximum (%s)" % (replicas, span, usage)
        )
    if cpu is None and memory is None:
        return result(replicas, "no usage measured (metrics API or requests missing): left at %d" % replicas)

    hot = []
    if cpu is not None and cpu > t["cpu_high"]:
        hot.append("CPU %s > %g%%" % (_pct(cpu), t["cpu_high"]))
    if memory is not None and memory > t["memory_high"]:
        hot.append("memory %s > %g%%" % (_pct(memory), t["memory_high"]))
    if hot:
        if replicas >= high:
            return result(
                replicas, "%s, but already at the maximum %d of %s" % (" and ".join(hot), high, span)
            )
        after = min(replicas + t["step_up"], high)
        capped = " (capped at the maximum)" if after < replicas + t["step_up"] else ""
        return result(after, "%s: %d -> %d%s" % (" and ".join(hot), replicas, after, capped))

    # Both must be low, and both known: a scale-down on half a measurement could starve the other.
    if cpu is not None and memory is not None and cpu < t["cpu_low"] and memory < t["memory_low"]:
        cold = "CPU %s < %g%% and memory %s < %g%%" % (_pct(cpu), t["cpu_low"], _pct(memory), t["memory_low"])
        if replicas <= low:
            return result(replicas, "%s, but already at the minimum %d of %s" % (cold, low, span))
        after = max(replicas - t["step_down"], low)
        return result(after, "%s: %d -> %d" % (cold, replicas, after))
    return result(replicas, "%s: within the thresholds, left at %d" % (usage, replicas))


# -- the check over a platform's components (multiagent.ops.autoscale_check) ------------------


def check_component(target, workload, measured, hpa, limits=None, hpa_owned=False):
    """One component: ``target`` ``{component, kind, name, min, max}`` (the inventory's range),
    its ``workload`` object, ``measured`` (:func:`usage.workload_usage`'s entry, or None), its
    ``hpa`` (or None) -> the decision with ``act`` (hand it to multiagent.ops.scale) and a
    one-line ``message``. A component without a range, or whose replicas an HPA owns (unless
    ``hpa_owned``), is decided but never acted on."""
    replicas = int((workload.get("spec") or {}).get("replicas", 1))
    measured = measured or {}
    label = "%s (%s %s)" % (
        target.get("component") or target["name"],
        target.get("kind") or "Deployment",
        target["name"],
    )
    out = {
        "component": target.get("component") or target["name"],
        "kind": target.get("kind") or "Deployment",
        "name": target["name"],
        "min": target.get("min"),
        "max": target.get("max"),
        "pods": measured.get("pods", 0),
        "measured": measured.get("measured", 0),
        "cpu_pct": measured.get("cpu_pct"),
        "memory_pct": measured.get("memory_pct"),
        "hpa": ((hpa or {}).get("metadata") or {}).get("name"),
    }
    if target.get("min") is None or target.get("max") is None:
        out.update(
            decision=KEEP,
            replicas_before=replicas,
            replicas_after=replicas,
            act=False,
            reason="no autoscaling range in the inventory: left alone",
        )
    else:
        out.update(
            decide(
                replicas,
                out["cpu_pct"],
                out["memory_pct"],
                dict(limits or {}, min=target["min"], max=target["max"]),
            )
        )
        out["act"] = out["decision"] != KEEP
        if out["act"] and hpa is not None and not hpa_owned:
            out["act"] = False
            out["reason"] += "; HorizontalPodAutoscaler %s owns the replicas: left to it" % out["hpa"]
    out["message"] = "%s: %s" % (label, out["reason"])
    return out


def scale_targets(results):
    """The decisions to act on, as multiagent.ops.scale's ``targets``."""
    return [
        {
            "component": r["component"],
            "kind": r["kind"],
            "name": r["name"],
            "replicas": r["replicas_after"],
            "min": r["min"],
            "max": r["max"],
        }
        for r in results
        if r["act"]
    ]
