# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emergency recovery: from a health report, what to restart and what a restart cannot fix.

The seeds' emergency-recovery.sh restarts every workload, the database included. Here the
diagnosis decides: a component is restarted when its findings are ones a new pod can cure
(a crash loop, no ready replica, unavailable replicas, health endpoints that all fail while
the workload exists); findings a restart cannot cure (an image that cannot be pulled, a
rollout past its deadline, pods that cannot be scheduled, a missing workload, an
unreachable database or cache outside the cluster) are reported with the runbook that
does, and nothing else is touched.
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


class PlanError(ValueError):
    """A report or component list that cannot be planned from; the message says why."""


def recovery_plan(report, components, only=None):
    """``report`` (platform_health's), ``components`` (health_components' output: name, kind,
    workload) -> ``{restart: [{component, kind, workload, reasons}], not_restarted:
    [{component, rules, advice}], healthy: bool}``.

    ``only`` limits the restarts to those components. A component with a finding a restart
    cannot cure is not restarted, even if it also crash-loops: restarting it would replace
    pods with pods that fail the same way (an image pull error makes no new pod start).
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
    restart, not_restarted = [], []
    for name, findings in sorted(rules.items(), key=lambda item: str(item[0])):
        comp = by_name.get(name)
        if wanted and name not in wanted:
            continue
        ids = sorted({f.get("rule") for f in findings})
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
    return {
        "restart": restart,
        "not_restarted": not_restarted,
        "healthy": not report.get("critical") and not restart and not not_restarted,
    }
