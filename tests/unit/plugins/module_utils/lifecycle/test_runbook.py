"""The state a stopped maintenance.yml or upgrade.yml left, from what each step registered
(literal results, as Ansible registers them)."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import runbook

OK = {"changed": True}
SAME = {"changed": False}
FAILED = {"failed": True, "changed": False, "msg": "boom"}
SKIPPED = {"skipped": True, "changed": False}


def enable(**steps):
    return runbook.maintenance_state(
        steps, "enable", "us-east-1", "Enable | some step", "it broke.", page="mplp-maintenance"
    )


def test_a_gate_that_refused_changed_nothing():
    state = runbook.maintenance_state(
        {"page": None, "workloads_restored": None},
        "enable",
        "us-east-1",
        "Gate | the maintenance window is open, or the run is forced",
        "maintenance.yml enable of mplp in ns: outside the maintenance windows of us-east-1",
    )
    assert state["state"] == "unchanged" and state["changed"] is False
    assert state["message"] == (
        'maintenance.yml enable on us-east-1 stopped at "Gate | the maintenance window is open, or the run '
        'is forced": maintenance.yml enable of mplp in ns: outside the maintenance windows of us-east-1. '
        "State: nothing was changed. Re-run with -e maintenance_action=enable to finish (records are kept, "
        "never taken twice), or -e maintenance_action=disable to go back."
    )


@pytest.mark.parametrize(
    "steps,state,text",
    [
        (
            {"page": FAILED},
            "page_partly_up",
            "the maintenance page (Deployment mplp-maintenance) may be partly up",
        ),
        ({"page": OK, "routed": FAILED}, "partly_routed", "the maintenance page is up; Services annotated"),
        (
            {"page": SAME, "routed": OK, "quiesced": FAILED},
            "partly_quiesced",
            "traffic is on the maintenance page (every Service re-pointed, its selector recorded)",
        ),
        (
            {"page": OK, "routed": None},
            "partly_routed",
            "Services annotated multiagent.ops/recorded-selector",
        ),
        ({"page": OK, "routed": OK, "quiesced": OK}, "on", "maintenance mode is on."),
    ],
)
def test_enable_says_how_far_it_got(steps, state, text):
    result = enable(**steps)
    assert result["state"] == state and text in result["message"]
    assert result["message"].startswith(
        'maintenance.yml enable on us-east-1 stopped at "Enable | some step": it broke. '
    )
    assert result["message"].endswith("or -e maintenance_action=disable to go back.")


@pytest.mark.parametrize(
    "steps,state,text,changed",
    [
        (
            {"workloads_restored": None, "page": SKIPPED},
            "unchanged",
            "nothing was changed; maintenance mode is as it was.",
            False,
        ),
        (
            {"workloads_restored": FAILED},
            "workloads_partly_restored",
            "traffic is still on the maintenance page",
            False,
        ),
        (
            {"workloads_restored": OK, "services_restored": FAILED},
            "services_partly_restored",
            "the application is running again",
            True,
        ),
        (
            {"workloads_restored": OK, "services_restored": OK, "unpaged": FAILED},
            "page_left",
            "(Deployment mplp-maintenance) is still",
            True,
        ),
        (
            {"workloads_restored": SAME, "services_restored": SAME, "unpaged": SAME},
            "off_unhealthy",
            "but the platform is not healthy.",
            False,
        ),
    ],
)
def test_disable_says_how_far_it_got(steps, state, text, changed):
    result = runbook.maintenance_state(steps, "disable", page="mplp-maintenance")
    assert (result["state"], result["changed"]) == (state, changed)
    assert text in result["message"]
    assert result["message"].startswith("maintenance.yml disable stopped: see the task output. State: ")
    assert result["message"].endswith("Re-run with -e maintenance_action=disable to finish.")


def test_an_unknown_action_is_refused():
    with pytest.raises(runbook.StateError, match="action must be enable or disable"):
        runbook.maintenance_state({}, "")


def test_an_upgrade_rolled_back_names_what_it_put_back():
    undo = {
        "changed": True,
        "workloads": [
            {"name": "mplp-core", "changed": True, "target_revision": 1},
            {"name": "mplp-plan", "changed": False, "target_revision": 4},
        ],
    }
    outcome = runbook.upgrade_outcome(
        "us-east-1", "Verify | the platform is healthy: core down", ["core", "plan"], undo
    )
    assert outcome["state"] == "rolled_back"
    assert outcome["rolled_back"] == [{"name": "mplp-core", "revision": 1}]
    assert outcome["message"] == (
        "upgrade on us-east-1 failed and was rolled back — Verify | the platform is healthy: core down — "
        "rolled back: mplp-core to revision 1; the platform runs the revisions it ran before; no further "
        "cluster was touched."
    )


@pytest.mark.parametrize(
    "undo", [None, SKIPPED, {"changed": False, "workloads": [{"name": "x", "changed": False}]}]
)
def test_an_upgrade_that_changed_nothing_says_so(undo):
    outcome = runbook.upgrade_outcome("eu-west-1", "Preflight: no", ["core"], undo)
    assert outcome["state"] == "unchanged" and outcome["rolled_back"] == []
    assert "failed and was rolled back — Preflight: no — no workload had changed;" in outcome["message"]


def test_a_rollback_that_failed_too_says_the_cluster_may_be_half_upgraded():
    outcome = runbook.upgrade_outcome(
        "us-east-1",
        "Apply: timeout",
        ["core", "plan"],
        undo_error="Rollback | one undo: cannot reach the API.",
    )
    assert outcome["state"] == "unknown"
    assert outcome["message"] == (
        "upgrade on us-east-1 failed — Apply: timeout — and rolling it back failed too — Rollback | one "
        "undo: cannot reach the API. Some workloads of core, plan may run the new release: run "
        "playbooks/rollback.yml (or upgrade.yml with the previous version) once the cluster answers; no "
        "further cluster was touched."
    )
    assert "failed and was rolled back" not in outcome["message"]
