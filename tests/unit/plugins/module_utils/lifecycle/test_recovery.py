"""recovery_plan: restart what a restart can cure, report the rest, touch nothing else."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.recovery import (
    PlanError,
    recovery_plan,
)

COMPONENTS = [
    {"name": "core", "kind": "Deployment", "workload": "mplp-core"},
    {"name": "plan", "kind": "Deployment", "workload": "mplp-plan"},
    {"name": "role", "kind": "Deployment", "workload": "mplp-role"},
    {"name": "postgresql", "kind": "StatefulSet", "workload": "mplp-postgresql"},
    {"name": "cache", "kind": "none", "workload": "cache"},
]


def finding(component, rule, severity="critical", message=None):
    return {"component": component, "rule": rule, "severity": severity, "message": message or rule}


def report(*findings, **more):
    data = {"findings": list(findings), "critical": any(f["severity"] == "critical" for f in findings)}
    data.update(more)
    return data


def test_restarts_only_the_failing_components():
    plan = recovery_plan(
        report(
            finding(
                "core", "pod_crashloop", message="container core of pod mplp-core-x is in CrashLoopBackOff"
            ),
            finding("postgresql", "no_ready_replica"),
            finding("plan", "endpoint_slow", "warning"),
            finding("role", "check_unavailable", "unknown"),
        ),
        COMPONENTS,
    )
    assert [(r["component"], r["kind"], r["workload"]) for r in plan["restart"]] == [
        ("core", "Deployment", "mplp-core"),
        ("postgresql", "StatefulSet", "mplp-postgresql"),
    ]
    assert plan["restart"][0]["reasons"] == ["container core of pod mplp-core-x is in CrashLoopBackOff"]
    assert plan["not_restarted"] == []  # a slow endpoint or an unknown check is not a restart
    assert plan["healthy"] is False


def test_image_pull_is_not_restarted_even_when_it_also_crashloops():
    plan = recovery_plan(
        report(
            finding("core", "pod_image_pull"),
            finding("core", "pod_crashloop"),
            finding("plan", "rollout_stalled", "warning"),
        ),
        COMPONENTS,
    )
    assert plan["restart"] == []
    advice = {n["component"]: n["advice"] for n in plan["not_restarted"]}
    assert "roll back" in advice["core"] and "roll back" in advice["plan"]
    assert plan["not_restarted"][0]["rules"] == ["pod_crashloop", "pod_image_pull"]


def test_components_without_workload_are_reported_not_restarted():
    plan = recovery_plan(
        report(finding("cache", "dependency_unreachable"), finding("billing", "workload_missing")), COMPONENTS
    )
    assert plan["restart"] == []
    assert {n["component"] for n in plan["not_restarted"]} == {"cache", "billing"}
    assert "deploy" in next(n["advice"] for n in plan["not_restarted"] if n["component"] == "billing")


def test_healthy_report_plans_nothing():
    plan = recovery_plan(report(finding("core", "pod_restarts", "info")), COMPONENTS)
    assert plan == {"restart": [], "not_restarted": [], "healthy": True}


def test_only_limits_the_restarts():
    plan = recovery_plan(
        report(finding("core", "pod_crashloop"), finding("plan", "no_ready_replica")),
        COMPONENTS,
        only=["plan"],
    )
    assert [r["component"] for r in plan["restart"]] == ["plan"]


@pytest.mark.parametrize(
    "bad,components,only,message",
    [
        ({}, COMPONENTS, None, "needs a platform_health report"),
        ({"findings": [], "api_error": "cannot reach the Kubernetes API"}, COMPONENTS, None, "could not use"),
        ({"findings": []}, COMPONENTS, ["billing"], "unknown component(s) billing"),
        ({"findings": []}, [{"kind": "Deployment"}], None, "health_components' output"),
    ],
)
def test_bad_input_says_why(bad, components, only, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        recovery_plan(bad, components, only)
