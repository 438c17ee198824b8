"""select_components and maintenance_targets: what a lifecycle runbook acts on, from literal
platform descriptions."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.platform import selection
from ansible_collections.multiagent.ops.plugins.module_utils.platform.spec import SpecError

PLATFORM = [
    {"name": "core", "workload": "mplp-core", "service": {"name": "mplp-core", "port": 8080}},
    {"name": "plan", "workload": "mplp-plan", "service": {"name": "mplp-plan", "port": 8080}},
    {"name": "agent", "kind": "DaemonSet", "service": {"name": "mplp-agent"}},
    {
        "name": "postgresql",
        "kind": "StatefulSet",
        "workload": "mplp-postgresql",
        "service": {"name": "mplp-pg"},
    },
    {
        "name": "redis",
        "kind": "external",
        "external": {"host": "cache.example"},
        "service": {"name": "mplp-redis"},
    },
    {"name": "docs", "kind": "none", "service": {"name": "mplp-docs"}},
]


def test_without_names_every_deployment_component():
    chosen = selection.select_components(PLATFORM)
    assert chosen == {
        "names": ["core", "plan"],
        "targets": [
            {"name": "core", "kind": "Deployment", "workload": "mplp-core"},
            {"name": "plan", "kind": "Deployment", "workload": "mplp-plan"},
        ],
        "workloads": ["mplp-core", "mplp-plan"],
        "kind": "Deployment",
        "known": ["core", "plan", "agent", "postgresql", "redis", "docs"],
        "problems": [],
    }


def test_named_components_in_the_descriptions_order_once_each():
    chosen = selection.select_components(PLATFORM, ["plan", "core", "plan"])
    assert chosen["names"] == ["plan", "core"]
    assert chosen["workloads"] == ["mplp-core", "mplp-plan"]
    assert selection.select_components(PLATFORM, "plan")["workloads"] == ["mplp-plan"]


def test_unknown_components_are_named_with_the_known_ones():
    chosen = selection.select_components(PLATFORM, ["kore", "plan", "x"])
    assert chosen["problems"] == [
        "unknown component(s) kore, x; the platform has: core, plan, agent, postgresql, redis, docs"
    ]


@pytest.mark.parametrize(
    "names,kinds,one_kind,problem",
    [
        (["core", "postgresql"], ("Deployment",), False, "not Deployments: postgresql (StatefulSet)"),
        (["redis"], ("Deployment", "StatefulSet"), False, "not a Deployment or StatefulSet: redis (none)"),
        (
            ["core", "postgresql"],
            ("Deployment", "StatefulSet", "DaemonSet"),
            True,
            "components of one workload kind per run, got: core Deployment, postgresql StatefulSet",
        ),
    ],
)
def test_kinds_the_runbook_does_not_act_on_are_refused(names, kinds, one_kind, problem):
    chosen = selection.select_components(PLATFORM, names, kinds, one_kind)
    assert chosen["problems"] == [problem]


def test_one_kind_of_several_allowed_kinds_is_fine_and_reported():
    chosen = selection.select_components(PLATFORM, ["postgresql"], ("Deployment", "StatefulSet"), True)
    assert (chosen["problems"], chosen["kind"], chosen["workloads"]) == (
        [],
        "StatefulSet",
        ["mplp-postgresql"],
    )
    assert (
        selection.select_components(PLATFORM, ["core", "postgresql"], ("Deployment", "StatefulSet"))["kind"]
        is None
    )


def test_a_platform_without_deployments_asks_for_names():
    chosen = selection.select_components([{"name": "db", "kind": "StatefulSet"}])
    assert chosen["names"] == [] and chosen["problems"] == [
        "the platform has no Deployment component to act on: name the components"
    ]


def test_a_description_that_cannot_be_read_raises():
    with pytest.raises(SpecError, match="component 'x': kind 'Job'"):
        selection.select_components([{"name": "x", "kind": "Job"}])


def test_maintenance_takes_down_everything_but_what_is_kept():
    targets = selection.maintenance_targets(
        PLATFORM[:2] + PLATFORM[3:], keep=["postgresql", "", "redis", "postgresql"]
    )
    assert targets == {
        "workloads": [
            {"kind": "Deployment", "name": "mplp-core"},
            {"kind": "Deployment", "name": "mplp-plan"},
        ],
        # docs has no workload; its Service points nowhere in the cluster, as redis's points outside it
        "services": ["mplp-core", "mplp-plan"],
        "kept": ["postgresql", "redis"],
        "problems": [],
    }


def test_maintenance_refuses_daemonsets_and_an_empty_application():
    targets = selection.maintenance_targets(PLATFORM, keep=["postgresql", "redis"])
    assert targets["problems"] == [
        "DaemonSets cannot be scaled to zero (add them to maintenance_keep_running): agent"
    ]
    nothing = selection.maintenance_targets(PLATFORM[3:5], keep=["postgresql", "redis"])
    assert nothing["problems"] == [
        "no application component to take down (keeping running: postgresql, redis)"
    ]
