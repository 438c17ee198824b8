"""scale_targets: what scale.yml hands multiagent.ops.scale, from literal descriptions."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.targets import scale_targets

PLATFORM = [
    {"name": "core", "workload": "mplp-core", "autoscaling": {"min": 2, "max": 6, "cpu": 70}},
    {"name": "plan", "workload": "mplp-plan"},
    {"name": "postgresql", "kind": "StatefulSet", "workload": "mplp-postgresql"},
    {"name": "redis", "kind": "external"},
    {"name": "search", "autoscaling": {"min": 1, "max": 3}},
]


def test_counts_per_component_with_the_inventorys_range():
    plan = scale_targets(PLATFORM, {"postgresql": 1, "core": "4"})
    assert plan == {
        "names": ["postgresql", "core"],
        "targets": [
            {
                "component": "core",
                "kind": "Deployment",
                "name": "mplp-core",
                "replicas": 4,
                "min": 2,
                "max": 6,
            },
            {
                "component": "postgresql",
                "kind": "StatefulSet",
                "name": "mplp-postgresql",
                "replicas": 1,
                "min": None,
                "max": None,
            },
        ],
        "known": ["core", "plan", "postgresql", "redis", "search"],
        "problems": [],
        "stops": False,
    }


def test_scaling_to_zero_stops_a_component():
    assert scale_targets(PLATFORM, {"plan": 0})["stops"] is True
    assert scale_targets(PLATFORM, {"plan": "0 "})["targets"][0]["replicas"] == 0


def test_restore_without_names_restores_every_autoscaled_component():
    plan = scale_targets(PLATFORM, None, restore=True)
    assert [(t["component"], t["name"], t["replicas"]) for t in plan["targets"]] == [
        ("core", "mplp-core", None),
        ("search", "search", None),
    ]
    assert plan["problems"] == [] and plan["stops"] is False
    named = scale_targets(PLATFORM, ["core"], restore=True)
    assert [t["component"] for t in named["targets"]] == ["core"] and named["problems"] == []


@pytest.mark.parametrize(
    "given,restore,problems",
    [
        ({}, False, []),
        ({"kore": 3}, False, ["unknown component(s) kore"]),
        ({"redis": 1}, False, ["component(s) without a Deployment or StatefulSet to scale: redis"]),
        (
            {"core": "three", "plan": -1, "search": True, "postgresql": 1.5},
            False,
            [
                "replicas must be a whole number, 0 or more, got "
                "core=three, plan=-1, search=True, postgresql=1.5"
            ],
        ),
        (
            ["core"],
            False,
            ["replicas must be given per component ({component: replicas}), got a list of names"],
        ),
    ],
)
def test_problems_name_what_is_wrong(given, restore, problems):
    plan = scale_targets(PLATFORM, given, restore)
    assert plan["problems"] == problems
    if not given:
        assert plan["names"] == [] and plan["targets"] == []
