# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emergency recovery: from a health report, what to restart and what a restart cannot fix.

The seeds' emergency-recovery.sh restarts every workload, the database included. Here the
diagnosis decides: a component is restarted when its findings are ones a new pod can cure
(a crash loop, no ready replica, unavailable replicas, health endpoints that all fail while
the workload exists); findings a restart cannot cure (an image that cannot be pulled, a
rollout past its deadline, pods that cannot be scheduled, a missing workload) are reported
with the runbook that does, and nothing else is touched.

The data tier (the components ``data_tier`` names: the database and the cache) is planned
apart, because the application needs it: an in-cluster database or cache whose pods are not
ready is restarted first (``restart_data``, the database before the cache, one at a time,
each waited for) and only then the application (``restart``). One whose pods are ready but
that refuses connections (``dependency_unreachable`` without a pod or replica finding) is
not restarted: new pods would refuse them too, and the sessions that still work would be
cut. One outside the cluster (a managed service, ``kind: external``) is never restarted:
this platform has no workload of it.
"""

from __future__ import annotations

RESTARTABLE = ("pod_crashloop", "no_ready_replica", "replicas_unavailable", "endpoints_all_failing")
ADVICE = {
    "pod_image_pull": "new pods cannot pull the image either: roll back (rollback.yml) or fix the tag",
    "rollout_stalled": "the rollout is past its progress deadline: roll back (rollback.yml)",
    "pod_pending": "pods cannot be scheduled: add capacity or lower requests (scale.yml)",
    "workload_missing": "the workload does not exist: deploy it (deploy.yml)",
    "dependency_unreachable": "the database or cache does not answer: see diagnose.yml and its own runbook",
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# A data component's pods are not ready when it has one of these findings.
POD_RULES = ("pod_crashloop", "no_ready_replica", "replicas_unavailable")
DATA_ROLES = ("database", "cache")
SERVICE = {"database": "PostgreSQL", "cache": "Redis"}
RESTORE = {"database": "restore_database.yml", "cache": "restore_redis.yml"}


class PlanError(ValueError):
    """A report or component list that cannot be planned from; the message says why."""


def _data_components(data_tier):
    """``data_tier``'s output -> ``{name: entry}`` of the database and the cache there are."""
    if data_tier is None:
        return {}
    if not isinstance(data_tier, dict):
        raise PlanError("data_tier must be the data_tier filter's output, got %r" % (data_tier,))
    found = {}
    for role in DATA_ROLES:
        entry = data_tier.get(role)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not entry.get("name") or "in_cluster" not in entry:
            raise PlanError("data_tier.%s must be the data_tier filter's output, got %r" % (role, entry))
        found[entry["name"]] = dict(entry, role=role)
    return found


def external_advice(entry, described=True):
    """What to do about a database or cache outside the cluster: never a restart from here.
    ``described``: a component of the platform says so (kind external); otherwise only the
    connection names it."""
    return (
        "the %s %s runs outside the cluster (%s): emergency recovery never restarts it; look with"
        " diagnose.yml, then follow its provider's runbook for %s (restart or fail over the managed"
        " instance; %s if its data is lost)"
        % (
            entry["role"],
            entry["name"],
            "kind external" if described else "no workload of this platform",
            SERVICE[entry["role"]],
            RESTORE[entry["role"]],
        )
    )


def refusing_advice(entry):
    """What to do about an in-cluster database or cache whose pods are ready but that does
    not answer: a restart would bring up pods that refuse the same way."""
    return (
        "the %s %s has ready pods but refuses connections: not restarted (new pods would refuse"
        " too, and the sessions that still work would be cut); check its credentials, connection"
        " limit, network policies and logs with diagnose.yml (the seeds' troubleshooting: %s)"
        % (
            entry["role"],
            entry["name"],
            "database connection failures" if entry["role"] == "database" else "Redis cache problems",
        )
    )


def not_ready_pods(report, name):
    """The pods of a component that the report lists as not ready (and not going already)."""
    entry = ((report.get("components") or {}).get(name)) or {}
    return sorted(
        pod["name"]
        for pod in entry.get("pods") or []
        if isinstance(pod, dict) and pod.get("name") and not pod.get("ready") and not pod.get("terminating")
    )


def _plan_data(name, entry, comp, ids, findings, report):
    """``("restart", item)`` or ``("report", item)`` or None for one database or cache.

    The item of a StatefulSet names its pods that are not ready (``pods``): a rolling restart
    of a StatefulSet replaces pods only once every pod is ready, so the caller deletes those
    (the controller recreates them) instead of restarting it."""
    blockers = [r for r in ids if r in ADVICE and r != "dependency_unreachable"]
    pods_down = [r for r in ids if r in POD_RULES]
    curable = [r for r in ids if r in RESTARTABLE]
    if not entry["in_cluster"]:
        if blockers or curable or "dependency_unreachable" in ids:
            advice = external_advice(entry, comp is not None)
            return "report", {"component": name, "rules": ids, "advice": advice}
        return None
    if comp is None or comp.get("kind") not in WORKLOAD_KINDS:
        raise PlanError(
            "data_tier says the %s %s runs in the cluster, but the components have no workload of it"
            % (entry["role"], name)
        )
    if blockers:
        return "report", {"component": name, "rules": ids, "advice": "; ".join(ADVICE[r] for r in blockers)}
    if pods_down or (curable and "dependency_unreachable" not in ids):
        return "restart", {
            "component": name,
            "role": entry["role"],
            "kind": comp["kind"],
            "workload": comp.get("workload") or name,
            "pods": not_ready_pods(report, name) if comp["kind"] == "StatefulSet" else [],
            "reasons": [
                f.get("message")
                for f in findings
                if f.get("rule") in RESTARTABLE + ("dependency_unreachable",)
            ][:5],
        }
    if "dependency_unreachable" in ids:
        return "report", {"component": name, "rules": ids, "advice": refusing_advice(entry)}
    return None


def recovery_plan(report, components, only=None, data_tier=None):
    """``report`` (platform_health's), ``components`` (health_components' output: name, kind,
    workload), ``data_tier`` (the data_tier filter's output; None: no component is planned as
    the data tier) -> ``{restart_data: [{component, role, kind, workload, pods, reasons}], restart:
    [{component, kind, workload, reasons}], not_restarted: [{component, rules, advice}],
    healthy: bool}``.

    ``restart_data`` comes first, the database before the cache: the caller restarts them one
    at a time, waiting for each, before ``restart`` (the application). ``only`` limits the
    restarts to those components. A component with a finding a restart cannot cure is not
    restarted, even if it also crash-loops: restarting it would replace pods with pods that
    fail the same way (an image pull error makes no new pod start).
    """
    if not isinstance(report, dict) or "findings" not in report:
        raise PlanError("recovery_plan needs a platform_health report (with findings)")
    if report.get("api_error"):
        raise PlanError("the diagnosis could not use the Kubernetes API: %s" % report["api_error"])
    by_name = {}
    for comp in components or []:
        if not isinstance(comp, dict) or not comp.get("name"):
            raise PlanError("components must be health_components' output, got %r" % (comp,))
        by_name[comp["name"]] = comp
    data = _data_components(data_tier)
    wanted = set(only or [])
    unknown = sorted(wanted - set(by_name))
    if unknown:
        raise PlanError(
            "unknown component(s) %s; the platform has: %s" % (", ".join(unknown), ", ".join(by_name))
        )
    rules = {}
    for finding in report.get("findings") or []:
        if finding.get("severity") not in ("critical", "warning"):
            continue
        rules.setdefault(finding.get("component"), []).append(finding)
    restart_data, restart, not_restarted = [], [], []
    for name, findings in sorted(rules.items(), key=lambda item: str(item[0])):
        comp = by_name.get(name)
        if wanted and name not in wanted:
            continue
        ids = sorted({f.get("rule") for f in findings})
        if name in data:
            decision = _plan_data(name, data[name], comp, ids, findings, report)
            if decision is not None:
                (restart_data if decision[0] == "restart" else not_restarted).append(decision[1])
            continue
        blockers = [r for r in ids if r in ADVICE]
        curable = [r for r in ids if r in RESTARTABLE]
        if comp is None or comp.get("kind") not in WORKLOAD_KINDS:
            if blockers or curable:
                not_restarted.append(
                    {
                        "component": name,
                        "rules": ids,
                        "advice": "; ".join(ADVICE[r] for r in blockers)
                        or "no workload of this platform to restart",
                    }
                )
            continue
        if blockers:
            not_restarted.append(
                {"component": name, "rules": ids, "advice": "; ".join(ADVICE[r] for r in blockers)}
            )
        elif curable:
            restart.append(
                {
                    "component": name,
                    "kind": comp["kind"],
                    "workload": comp.get("workload") or name,
                    "reasons": [f.get("message") for f in findings if f.get("rule") in curable][:5],
                }
            )
    restart_data.sort(key=lambda item: DATA_ROLES.index(item["role"]))
    return {
        "restart_data": restart_data,
        "restart": restart,
        "not_restarted": not_restarted,
        "healthy": not report.get("critical") and not restart_data and not restart and not not_restarted,
    }
