"""The filters the backup role and emergency_recovery.yml chain, on LangGraph's description:
its database component is called ``postgres``; its role, not its name, says what it is."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.platform import FilterModule

F = FilterModule().filters()
LANGGRAPH = [
    {"name": "langgraph", "workload": "langgraph-multi-agent", "image": "langgraph:1", "replicas": 3},
    {"name": "postgres", "role": "database", "image": "postgres:15"},
    {"name": "redis", "role": "cache", "image": "redis:7"},
]
DATABASE = {"name": "postgres", "host": "postgres", "port": 5432}
CACHE = {"name": "redis", "host": "redis", "port": 6379}


def test_the_restore_scales_down_the_app_and_keeps_the_database_and_cache_whatever_their_names():
    # roles/backup: backup_restore_keep_running's default, then _backup_app_workloads.
    keep = F["components_with_role"](LANGGRAPH, ["database", "cache"])
    assert keep == ["postgres", "redis"]
    assert F["workload_refs"](LANGGRAPH, exclude=keep) == [
        {"kind": "Deployment", "name": "langgraph-multi-agent"}
    ]


def test_emergency_recovery_plans_the_in_cluster_database_first():
    report = {
        "critical": True,
        "findings": [
            {
                "component": "langgraph",
                "rule": "endpoints_all_failing",
                "severity": "critical",
                "message": "5xx",
            },
            {"component": "postgres", "rule": "pod_crashloop", "severity": "critical", "message": "crash"},
        ],
        "components": {"postgres": {"pods": [{"name": "postgres-0", "ready": False}]}},
    }
    plan = F["recovery_plan"](
        report,
        F["health_components"](LANGGRAPH),
        data_tier=F["data_tier"](LANGGRAPH, DATABASE, CACHE),
    )
    assert [(r["component"], r["kind"], r["pods"]) for r in plan["restart_data"]] == [
        ("postgres", "StatefulSet", ["postgres-0"])
    ]
    assert [r["component"] for r in plan["restart"]] == ["langgraph"]


def test_an_external_database_is_reported_not_restarted():
    components = [dict(c, kind="external") if c["name"] == "postgres" else c for c in LANGGRAPH]
    report = {
        "critical": True,
        "findings": [{"component": "postgres", "rule": "dependency_unreachable", "severity": "critical"}],
    }
    plan = F["recovery_plan"](
        report,
        F["health_components"](components),
        data_tier=F["data_tier"](components, DATABASE, CACHE),
    )
    assert plan["restart_data"] == [] and "outside the cluster" in plan["not_restarted"][0]["advice"]


def test_a_data_tier_that_is_not_the_filters_output_is_refused():
    with pytest.raises(AnsibleFilterError, match="recovery_plan: data_tier must be"):
        F["recovery_plan"]({"findings": []}, F["health_components"](LANGGRAPH), data_tier=["postgres"])
