# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health decisions: from collected facts to findings, component statuses and a score.

Pure functions over plain data. The collectors (Kubernetes LISTs, HTTP/database/cache
probes) produce an ``Observation``; ``evaluate()`` turns it into the report. Every rule has
a stable id, a default severity and an effect on its component; both severity and the
thresholds can be overridden from the inventory, the effect cannot (it is what the rule
means).
"""

from __future__ import annotations

import datetime
import math

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl

SEVERITIES = ("critical", "warning", "unknown", "info")
# Statuses from best to worst; a component takes the worst effect of its findings.
# Known trouble outranks "unknown": a component whose endpoints fail is degraded even if
# its pods could not be listed.
STATUS_ORDER = ("healthy", "unknown", "degraded", "down")

# rule id -> (default severity, effect on the component, what triggers it). The module's
# DOCUMENTATION lists the same table (a unit test compares the two).
RULES = {
    "workload_missing": ("critical", "down", "the component's workload does not exist"),
    "no_ready_replica": (
        "critical",
        "down",
        "no replica of the component is ready (also when it is scaled to zero)",
    ),
    "endpoints_all_failing": ("critical", "down", "every health endpoint of the component fails"),
    "dependency_unreachable": (
        "critical",
        "down",
        "the database (pg_isready, SELECT 1) or the cache (PING) does not answer, checked directly or"
        " inside a ready pod",
    ),
    "pod_crashloop": (
        "critical",
        "degraded",
        "a container is in CrashLoopBackOff (the component is down when no replica is ready)",
    ),
    "pod_image_pull": (
        "critical",
        "degraded",
        "a container cannot pull its image (ImagePullBackOff, ErrImagePull, InvalidImageName)"
        " (the component is down when no replica is ready)",
    ),
    "replicas_unavailable": (
        "warning",
        "degraded",
        "some replicas of the workload are unavailable while at least one is ready",
    ),
    "rollout_stalled": (
        "warning",
        "degraded",
        "the rollout exceeded its progress deadline (ProgressDeadlineExceeded)",
    ),
    "pod_restarts": (
        "warning",
        "degraded",
        "a pod restarted at least thresholds.restarts times within thresholds.restarts_window",
    ),
    "pod_pending": ("warning", "degraded", "a pod has been Pending longer than thresholds.pending_age"),
    "endpoint_slow": (
        "warning",
        "degraded",
        "the p95 latency of a health endpoint's probes is above thresholds.slow_p95",
    ),
    "endpoint_failing": (
        "warning",
        "degraded",
        "one of several health endpoints of the component fails (no answer, or a status other"
        " than endpoints[].expect_status, by default any 2xx)",
    ),
    "check_unavailable": (
        "unknown",
        "unknown",
        "a check could not run (the API unreachable, permission denied, a timeout, a missing client library)",
    ),
}

DEFAULT_THRESHOLDS = {
    "restarts": 3,  # restarts of one pod within restarts_window
    "restarts_window": 3600,  # seconds
    "pending_age": 300,  # seconds a pod may stay Pending
    "slow_p95": 2.0,  # seconds, p95 latency of an endpoint's probes
    "events_window": 900,  # seconds of events called "recent"
}

# Score: 100 only with no findings; each finding costs points by severity; any critical
# finding caps the score at CRITICAL_CAP. Penalties grow with severity, so making a
# finding worse (or adding one) never raises the score.
PENALTY = {"critical": 30, "warning": 10, "unknown": 5, "info": 1}
CRITICAL_CAP = 50

PLATFORM = "platform"  # pseudo component for endpoints and checks tied to no component
MAX_COMPONENT_EVENTS = 10  # recent Warning events kept per component


class ConfigError(ValueError):
    """Bad rule/threshold configuration; the message names the offending key."""


def resolve_rules(overrides=None):
    """Merge ``{rule_id: {severity: ..., enabled: ...}}`` overrides over the defaults."""
    resolved = {
        rid: {"severity": sev, "effect": eff, "enabled": True, "description": desc}
        for rid, (sev, eff, desc) in RULES.items()
    }
    for rid, override in (overrides or {}).items():
        if rid not in resolved:
            raise ConfigError("unknown health rule '%s'; known rules: %s" % (rid, ", ".join(sorted(RULES))))
        if isinstance(override, str):
            override = {"severity": override}
        if not isinstance(override, dict):
            raise ConfigError("rule '%s': expected a dict with severity/enabled" % rid)
        for key, value in override.items():
            if key == "severity":
                if value not in SEVERITIES:
                    raise ConfigError(
                        "rule '%s': severity '%s' is not one of %s" % (rid, value, ", ".join(SEVERITIES))
                    )
                resolved[rid]["severity"] = value
            elif key == "enabled":
                resolved[rid]["enabled"] = bool(value)
            else:
                raise ConfigError("rule '%s': unknown key '%s' (severity, enabled)" % (rid, key))
    return resolved


def resolve_thresholds(overrides=None):
    resolved = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in resolved:
            raise ConfigError(
                "unknown health threshold '%s'; known: %s" % (key, ", ".join(sorted(DEFAULT_THRESHOLDS)))
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError("threshold '%s' must be a number, got %r" % (key, value))
        if number < 0 or math.isnan(number):
            raise ConfigError("threshold '%s' must be >= 0, got %r" % (key, value))
        resolved[key] = number
    return resolved


def percentile(values, pct):
    """Nearest-rank percentile (p95 of 3 probes is the slowest of the three)."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def score(findings):
    total = 100
    worst_critical = False
    for f in findings:
        total -= PENALTY.get(f["severity"], 0)
        worst_critical = worst_critical or f["severity"] == "critical"
    if worst_critical:
        total = min(total, CRITICAL_CAP)
    return max(total, 0)


class _Report:
    def __init__(self, rules):
        self.rules = rules
        self.findings = []
        self.effects = {}

    def add(self, rule, component, message, obj=None, **details):
        cfg = self.rules[rule]
        if not cfg["enabled"]:
            return
        finding = {
            "rule": rule,
            "severity": cfg["severity"],
            "component": component,
            "message": message,
        }
        if obj:
            finding["object"] = obj
        if details:
            finding["details"] = details
        self.findings.append(finding)
        self.worsen(component, cfg["effect"])

    def worsen(self, component, status):
        current = self.effects.get(component, "healthy")
        if STATUS_ORDER.index(status) > STATUS_ORDER.index(current):
            self.effects[component] = status


def _pod_findings(rep, component, pods, now, th):
    window = datetime.timedelta(seconds=th["restarts_window"])
    for pod in pods:
        name = wl.meta(pod).get("name")
        obj = "Pod/%s" % name
        summary = wl.pod_summary(pod, now)
        reported_waiting = False
        for w in summary["waiting"]:
            if w["reason"] == "CrashLoopBackOff":
                rep.add(
                    "pod_crashloop",
                    component,
                    "container %s of pod %s is in CrashLoopBackOff (%d restarts)"
                    % (w["container"], name, summary["restarts"]),
                    obj,
                    container=w["container"],
                    restarts=summary["restarts"],
                )
                reported_waiting = True
            elif w["reason"] in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                rep.add(
                    "pod_image_pull",
                    component,
                    "container %s of pod %s cannot pull its image (%s)" % (w["container"], name, w["reason"]),
                    obj,
                    container=w["container"],
                    reason=w["reason"],
                )
                reported_waiting = True
        if reported_waiting:
            continue
        created = wl.parse_time(wl.meta(pod).get("creationTimestamp"))
        if (
            summary["phase"] == "Pending"
            and not summary["terminating"]
            and created is not None
            and (now - created).total_seconds() > th["pending_age"]
        ):
            rep.add(
                "pod_pending",
                component,
                "pod %s has been Pending for %ds (limit %ds)%s"
                % (
                    name,
                    (now - created).total_seconds(),
                    th["pending_age"],
                    _pending_reason(pod),
                ),
                obj,
                age_seconds=int((now - created).total_seconds()),
            )
        # restartCount is cumulative over the pod's life; the API keeps no per-restart
        # times. The restarts count as "within the window" when the pod itself is younger
        # than the window, or its last termination falls inside it.
        if summary["restarts"] >= th["restarts"]:
            last = wl.parse_time(summary["last_termination"])
            recent = (created is not None and now - created <= window) or (
                last is not None and now - last <= window
            )
            if recent:
                rep.add(
                    "pod_restarts",
                    component,
                    "pod %s restarted %d times (threshold %d within %ds)"
                    % (name, summary["restarts"], th["restarts"], th["restarts_window"]),
                    obj,
                    restarts=summary["restarts"],
                )


def _pending_reason(pod):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return ": %s" % (cond.get("message") or cond.get("reason") or "unschedulable")
    return ""


def _workload_findings(rep, component, kind, name, workload, pods, th):
    obj = "%s/%s" % (kind, name)
    if workload is None:
        rep.add(
            "workload_missing",
            component,
            "%s %s does not exist in the namespace" % (kind, name),
            obj,
        )
        return None
    replicas = wl.workload_replicas(workload)
    ready_pods = sum(1 for p in pods if wl.pod_is_ready(p))
    # Pod readiness seen directly is fresher than a status the controller may not have
    # written yet; take the larger so a lagging status does not invent an outage.
    ready = max(replicas["ready"], ready_pods) if pods else replicas["ready"]
    if ready == 0:
        detail = (
            "scaled to zero (0 desired replicas)"
            if replicas["desired"] == 0
            else "0 of %d desired replicas are ready" % replicas["desired"]
        )
        rep.add("no_ready_replica", component, "%s %s: %s" % (kind, name, detail), obj, **replicas)
    elif replicas["unavailable"] > 0:
        rep.add(
            "replicas_unavailable",
            component,
            "%s %s: %d of %d replicas unavailable"
            % (kind, name, replicas["unavailable"], replicas["desired"]),
            obj,
            **replicas,
        )
    progressing = wl.condition(workload, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        rep.add(
            "rollout_stalled",
            component,
            "%s %s: rollout exceeded its progress deadline (%s)"
            % (kind, name, progressing.get("message") or "no progress"),
            obj,
        )
    return dict(replicas, ready=ready)


def _endpoint_findings(rep, component, results, th):
    failing = [r for r in results if not r.get("ok")]
    if results and len(failing) == len(results):
        rep.add(
            "endpoints_all_failing",
            component,
            "all %d health endpoint(s) fail: %s"
            % (len(results), "; ".join("%s: %s" % (r["name"], r.get("error")) for r in failing)),
            endpoints=[r["name"] for r in failing],
        )
    else:
        for r in failing:
            rep.add(
                "endpoint_failing",
                component,
                "health endpoint %s fails: %s" % (r["name"], r.get("error")),
                "Endpoint/%s" % r["name"],
                status=r.get("status"),
            )
    for r in results:
        p95 = percentile(r.get("latencies") or [], 95)
        if r.get("ok") and p95 is not None and p95 > th["slow_p95"]:
            rep.add(
                "endpoint_slow",
                component,
                "health endpoint %s is slow: p95 %.2fs over %d probe(s) (limit %.2fs)"
                % (r["name"], p95, len(r.get("latencies") or []), th["slow_p95"]),
                "Endpoint/%s" % r["name"],
                p95_seconds=round(p95, 3),
            )


def _check_entry(dep):
    """The ``check`` of a database or cache component: ``ok`` is None when it could not run
    (``status`` says why: ``unknown``, or ``not_checked`` without a ready pod)."""
    if dep.get("skipped"):
        ok, status = None, "not_checked"
    elif dep.get("unavailable"):
        ok, status = None, "unknown"
    else:
        ok = bool(dep.get("ok"))
        status = "up" if ok else "down"
    entry = {
        "type": dep.get("type"),
        "ok": ok,
        "status": status,
        "error": dep.get("error"),
        "latency_seconds": dep.get("latency"),
        "via": dep.get("via") or "direct",
    }
    for key in ("pod", "server_version", "missing_permission"):
        if dep.get(key):
            entry[key] = dep[key]
    return entry


def _pod_troubled(summary):
    return (
        not summary["ready"]
        or summary["restarts"] > 0
        or summary["waiting"]
        or summary["phase"] not in ("Running", "Succeeded")
    )


def evaluate(observation, rules=None, thresholds=None, now=None, list_pods=False, max_events=50):
    """Turn collected facts into the health report.

    ``observation`` keys (all optional except ``components``):

    - ``components``: list of ``{name, kind, workload_name, workload (dict or None),
      pods: [pod dicts]}``; a component with ``kind: None`` has no workload (endpoints only);
    - ``endpoints``: list of probe results ``{name, component, url, ok, status, error,
      latencies: [seconds]}``;
    - ``dependencies``: list of ``{name, type: database|cache, ok, error, latency}``;
    - ``events``: raw Event objects; ``pod_components``: pod name -> component name;
    - ``unavailable``: list of ``{check, component (or None for all), error}`` for checks
      that could not run (permission denied, timeout).

    ``list_pods`` keeps every pod's summary in its component (otherwise only pods that are
    not ready, restarted, waiting or not running); ``max_events`` bounds the recent events
    returned (newest first; ``events_total`` counts them all).
    """
    rules = resolve_rules(rules)
    th = resolve_thresholds(thresholds)
    now = now or datetime.datetime.now(datetime.UTC)
    rep = _Report(rules)
    components = {}

    for comp in observation.get("components") or []:
        name = comp["name"]
        entry = components.setdefault(
            name, {"name": name, "kind": comp.get("kind"), "workload": comp.get("workload_name")}
        )
        pods = comp.get("pods") or []
        if comp.get("kind") and comp.get("workload_checked", True):
            replicas = _workload_findings(
                rep, name, comp["kind"], comp["workload_name"], comp.get("workload"), pods, th
            )
            if replicas is not None:
                entry["replicas"] = replicas
        if comp.get("pods_checked", True):
            _pod_findings(rep, name, pods, now, th)
            summaries = [wl.pod_summary(p, now) for p in pods]
            entry["pod_counts"] = {
                "total": len(summaries),
                "ready": sum(1 for p in summaries if p["ready"]),
            }
            # Every pod when asked (a diagnosis); otherwise the ones worth a look, so that
            # a report of a thousand healthy pods stays readable and cheap to pass around.
            entry["pods"] = summaries if list_pods else [p for p in summaries if _pod_troubled(p)]
        # A crash-looping component with no ready replica is down, not merely degraded,
        # even where the no_ready_replica rule is switched off.
        container_trouble = any(
            f["component"] == name and f["rule"] in ("pod_crashloop", "pod_image_pull") for f in rep.findings
        )
        if container_trouble and entry.get("replicas", {}).get("ready", 1) == 0:
            rep.worsen(name, "down")

    by_component = {}
    for result in observation.get("endpoints") or []:
        by_component.setdefault(result.get("component") or PLATFORM, []).append(result)
    for name, results in by_component.items():
        entry = components.setdefault(name, {"name": name, "kind": None, "workload": None})
        entry["endpoints"] = [
            {
                "name": r["name"],
                "url": r.get("url"),
                "ok": bool(r.get("ok")),
                "status": r.get("status"),
                "error": r.get("error"),
                "p95_seconds": percentile(r.get("latencies") or [], 95),
            }
            for r in results
        ]
        _endpoint_findings(rep, name, results, th)

    for dep in observation.get("dependencies") or []:
        name = dep["name"]
        entry = components.setdefault(name, {"name": name, "kind": None, "workload": None})
        entry["check"] = _check_entry(dep)
        if dep.get("skipped"):
            continue  # no ready pod to check in: the workload's findings say so
        if dep.get("unavailable"):
            rep.add(
                "check_unavailable",
                name,
                "check '%s' could not run: %s" % (dep.get("type", "dependency"), dep.get("error")),
                check=dep.get("type", "dependency"),
                **(
                    {"missing_permission": dep["missing_permission"]} if dep.get("missing_permission") else {}
                ),
            )
            continue
        if not dep.get("ok"):
            rep.add(
                "dependency_unreachable",
                name,
                "%s %s is unreachable: %s" % (dep.get("type", "dependency"), name, dep.get("error")),
                "%s/%s" % (dep.get("type", "dependency"), name),
            )

    for gap in observation.get("unavailable") or []:
        targets = [gap["component"]] if gap.get("component") else list(components) or [PLATFORM]
        for target in targets:
            components.setdefault(target, {"name": target, "kind": None, "workload": None})
            rep.add(
                "check_unavailable",
                target,
                "check '%s' could not run: %s" % (gap["check"], gap.get("error")),
                check=gap["check"],
            )

    pod_components = observation.get("pod_components") or {}
    events = wl.recent_events(observation.get("events") or [], now, th["events_window"])
    for ev in events:
        comp = pod_components.get(ev["name"]) if ev["kind"] == "Pod" else None
        if comp is None and ev["name"] in components:
            comp = ev["name"]
        ev["component"] = comp
        if comp in components and ev["type"] == "Warning":
            warnings = components[comp].setdefault("warning_events", [])
            if len(warnings) < MAX_COMPONENT_EVENTS:
                warnings.append(ev)

    for name, entry in components.items():
        entry["status"] = rep.effects.get(name, "healthy")
        entry["findings"] = [f for f in rep.findings if f["component"] == name]

    findings = sorted(
        rep.findings,
        key=lambda f: (SEVERITIES.index(f["severity"]), f["component"] or "", f["rule"]),
    )
    statuses = [c["status"] for c in components.values()]
    workload_statuses = [c["status"] for c in components.values() if c.get("kind")]
    if workload_statuses and all(s == "down" for s in workload_statuses):
        overall = "down"
    elif any(s in ("down", "degraded") for s in statuses):
        overall = "degraded"
    elif any(s == "unknown" for s in statuses):
        overall = "unknown"
    else:
        overall = "healthy"
    counts = {sev: sum(1 for f in findings if f["severity"] == sev) for sev in SEVERITIES}
    return {
        "status": overall,
        "score": score(findings),
        "critical": counts["critical"] > 0,
        "counts": counts,
        "findings": findings,
        "components": components,
        "events": events[:max_events],
        "events_total": len(events),
        "checked_at": now.isoformat(),
        "rules": {rid: {"severity": r["severity"], "enabled": r["enabled"]} for rid, r in rules.items()},
        "thresholds": th,
    }
