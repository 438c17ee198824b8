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
    assert plan == {"restart_data": [], "restart": [], "not_restarted": [], "healthy": True}


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


# --- the data tier ----------------------------------------------------------------------
# LangGraph's shape: an app, its database "postgres" and its cache "redis", both in the cluster.
LANGGRAPH = [
    {"name": "langgraph", "kind": "Deployment", "workload": "langgraph-multi-agent"},
    {"name": "postgres", "kind": "StatefulSet", "workload": "postgres"},
    {"name": "redis", "kind": "StatefulSet", "workload": "redis"},
]


def tier(database="postgres", cache="redis", database_in_cluster=True, cache_in_cluster=True):
    def entry(name, role, in_cluster):
        if name is None:
            return None
        return {
            "name": name,
            "role": role,
            "kind": "StatefulSet" if in_cluster else "external",
            "workload": name if in_cluster else None,
            "in_cluster": in_cluster,
            "service": None,
            "port": None,
        }

    return {
        "database": entry(database, "database", database_in_cluster),
        "cache": entry(cache, "cache", cache_in_cluster),
    }


def test_in_cluster_database_and_cache_whose_pods_are_down_restart_first_database_then_cache():
    plan = recovery_plan(
        report(
            finding(
                "redis", "pod_crashloop", message="container redis of pod redis-0 is in CrashLoopBackOff"
            ),
            finding("langgraph", "endpoints_all_failing"),
            finding("postgres", "no_ready_replica", message="StatefulSet postgres: 0 of 1 ready"),
            # Its pods are down, so it does not answer either: that is no reason to leave it down.
            finding("postgres", "dependency_unreachable", message="postgresql postgres is unreachable"),
            components={
                "postgres": {"pods": [{"name": "postgres-0", "ready": False}]},
                "redis": {
                    "pods": [
                        {"name": "redis-1", "ready": False},
                        {"name": "redis-0", "ready": True},
                        {"name": "redis-2", "ready": False, "terminating": True},
                    ]
                },
            },
        ),
        LANGGRAPH,
        data_tier=tier(),
    )
    assert [(r["component"], r["role"], r["kind"], r["workload"]) for r in plan["restart_data"]] == [
        ("postgres", "database", "StatefulSet", "postgres"),
        ("redis", "cache", "StatefulSet", "redis"),
    ]
    # A StatefulSet's pods that are not ready are named: they are deleted, not rolled.
    assert [r["pods"] for r in plan["restart_data"]] == [["postgres-0"], ["redis-1"]]
    assert plan["restart_data"][0]["reasons"] == [
        "StatefulSet postgres: 0 of 1 ready",
        "postgresql postgres is unreachable",
    ]
    assert [r["component"] for r in plan["restart"]] == ["langgraph"]
    assert plan["not_restarted"] == [] and plan["healthy"] is False


def test_ready_database_that_refuses_connections_is_reported_not_restarted():
    plan = recovery_plan(
        report(finding("postgres", "dependency_unreachable", message="password authentication failed")),
        LANGGRAPH,
        data_tier=tier(),
    )
    assert plan["restart_data"] == [] and plan["restart"] == []
    [reported] = plan["not_restarted"]
    assert reported["component"] == "postgres" and reported["rules"] == ["dependency_unreachable"]
    assert "ready pods but refuses connections" in reported["advice"] and "diagnose.yml" in reported["advice"]


@pytest.mark.parametrize("rule", ["dependency_unreachable", "no_ready_replica", "pod_crashloop"])
def test_external_database_is_never_restarted_and_named_with_its_runbook(rule):
    components = [c for c in LANGGRAPH if c["name"] != "postgres"] + [
        {"name": "postgres", "kind": "none", "workload": "postgres"}
    ]
    plan = recovery_plan(
        report(finding("postgres", rule)), components, data_tier=tier(database_in_cluster=False)
    )
    assert plan["restart_data"] == [] and plan["restart"] == []
    [reported] = plan["not_restarted"]
    advice = reported["advice"]
    assert "outside the cluster" in advice and "never restarts" in advice
    assert "diagnose.yml" in advice and "restore_database.yml" in advice


def test_external_cache_named_by_the_connection_only_is_reported_with_its_runbook():
    plan = recovery_plan(
        report(finding("redis", "dependency_unreachable")),
        [c for c in LANGGRAPH if c["name"] != "redis"],
        data_tier=tier(cache_in_cluster=False),
    )
    [reported] = plan["not_restarted"]
    assert "no workload of this platform" in reported["advice"] and "restore_redis.yml" in reported["advice"]


def test_database_whose_image_cannot_be_pulled_is_not_restarted():
    plan = recovery_plan(
        report(finding("postgres", "pod_image_pull"), finding("postgres", "no_ready_replica")),
        LANGGRAPH,
        data_tier=tier(),
    )
    assert plan["restart_data"] == []
    assert "roll back" in plan["not_restarted"][0]["advice"]


def test_healthy_data_tier_plans_nothing_and_only_limits_the_data_tier_too():
    assert recovery_plan(report(), LANGGRAPH, data_tier=tier())["healthy"] is True
    plan = recovery_plan(
        report(finding("postgres", "no_ready_replica"), finding("langgraph", "pod_crashloop")),
        LANGGRAPH,
        only=["langgraph"],
        data_tier=tier(),
    )
    assert plan["restart_data"] == [] and [r["component"] for r in plan["restart"]] == ["langgraph"]


@pytest.mark.parametrize(
    "data_tier,message",
    [
        ("postgres", "data_tier filter's output"),
        ({"database": {"name": "postgres"}}, r"data_tier.database must be"),
        (tier(database="billing"), "no workload of it"),
    ],
)
def test_bad_data_tier_says_why(data_tier, message):
    with pytest.raises(PlanError, match=message):
        recovery_plan(report(finding("billing", "no_ready_replica")), LANGGRAPH, data_tier=data_tier)
