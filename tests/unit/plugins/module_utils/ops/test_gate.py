"""The gate's decisions: window or force, the lock's name and place, its holder."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.ops import gate

OPEN = {
    "open": True,
    "window": "02:00-04:00",
    "ends_at": "2026-11-22T04:00:00+08:00",
    "timezone": "Asia/Shanghai",
}
SHUT = {
    "open": False,
    "timezone": "Asia/Shanghai",
    "next_start": "2026-11-23T02:00:00+08:00",
    "next_window": "02:00-04:00",
}


def test_an_open_window_lets_the_run_go_on_and_says_until_when():
    verdict = gate.verdict(OPEN, "restore", "us-east-1")
    assert verdict == {
        "allowed": True,
        "message": "maintenance window 02:00-04:00 open until 2026-11-22T04:00:00+08:00",
    }


def test_outside_the_windows_only_force_or_a_runbook_without_window_goes_on():
    refused = gate.verdict(SHUT, "restore of mplp_production", "us-east-1", windows=["02:00-04:00"])
    assert refused["allowed"] is False
    assert refused["message"] == (
        'restore of mplp_production: outside the maintenance windows of us-east-1 (["02:00-04:00"], '
        "Asia/Shanghai); the next opens at 2026-11-23T02:00:00+08:00 (02:00-04:00). Run then, or pass "
        "-e ops_force=true."
    )
    assert gate.verdict(SHUT, "x", "c", force=True) == {
        "allowed": True,
        "message": "forced outside the maintenance windows",
    }
    assert gate.verdict(SHUT, "x", "c", need_window=False)["message"] == "no maintenance window needed"
    never = gate.verdict({"open": False, "timezone": "UTC"}, "x", "c")
    assert "the next opens at never (none)" in never["message"] and "({}, UTC)" in never["message"]


def test_a_window_status_that_is_not_one_is_named():
    with pytest.raises(gate.GateError, match="what maintenance_window answered"):
        gate.verdict("02:00-04:00", "x", "c")


@pytest.mark.parametrize(
    "target,name",
    [
        ("platform-mplp-production", "maops-lock-platform-mplp-production"),
        ("db-MPLP_production", "maops-lock-db-mplp-production"),
        ("redis:6379 / cache", "maops-lock-redis-6379-cache"),
        ("x" * 80, "maops-lock-" + "x" * 52),
        ("a" * 51 + "-.b", "maops-lock-" + "a" * 51),  # cut at 63, no trailing - or .
    ],
)
def test_the_lock_is_a_valid_lease_name(target, name):
    assert gate.lock_name(target) == name and len(name) <= 63


def test_the_lock_lives_in_the_namespace_or_its_fallback_until_the_namespace_exists():
    assert gate.lock("platform-a", "a") == {
        "target": "platform-a",
        "name": "maops-lock-platform-a",
        "namespace": "a",
        "fallback_namespace": None,
    }
    assert gate.lock("platform-a", "a", "default")["fallback_namespace"] == "default"
    assert gate.lock("platform-a", "a", "a")["fallback_namespace"] is None
    with pytest.raises(gate.GateError, match="needs a target"):
        gate.lock(" ", "a")
    with pytest.raises(gate.GateError, match="namespace of its lock"):
        gate.lock("t", "")


def test_the_holder_is_the_one_given_else_the_awx_job_else_the_operator_and_the_run():
    assert gate.holder("change-1234", awx_job_id=7) == "change-1234"
    assert gate.holder("", awx_job_id=7) == "awx-job-7"
    assert (
        gate.holder(None, user="ops", stamp="20261122T020000Z", suffix=42)
        == "ansible-ops-20261122T020000Z-42"
    )
    assert gate.holder("", stamp="20261122T020000Z", suffix=0) == "ansible-operator-20261122T020000Z-0"
    with pytest.raises(gate.GateError, match="random suffix"):
        gate.holder("")


def test_an_awx_holder_names_the_job_its_template_and_user_and_a_cronjob_its_pod():
    assert (
        gate.holder("", awx_job_id=4242, template="Nightly backup", awx_user="alice", pod="ignored")
        == "awx-job-4242 (template 'Nightly backup', user alice)"
    )
    assert gate.holder(None, awx_job_id="7", awx_user="bob") == "awx-job-7 (user bob)"
    assert gate.holder("change-1", pod="backup-29012-abcde") == "change-1"
    assert gate.holder("", pod="backup-29012-abcde", stamp="s", suffix=1) == "pod/backup-29012-abcde"
