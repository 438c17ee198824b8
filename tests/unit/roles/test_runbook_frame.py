"""One runbook frame: the play header, the Lease tasks, the window check and the "platform is
healthy" verdict each exist once in the collection's YAML (playbooks/_runbook.yml and the
internal role multiagent.ops._ops); every runbook is the frame plus its procedure, and every
changing runbook takes the platform's lock through the gate."""

from __future__ import annotations

import pytest

from .yamltree import PLAYBOOKS, ROLES, action, load, task_files, tasks

FRAME = "_runbook.yml"
NOT_RUNBOOKS = (FRAME, "awx_configure.yml")  # the AWX configuration is not a runbook
CHANGING = (
    "deploy",
    "upgrade",
    "rollback",
    "restart",
    "scale",
    "maintenance",
    "emergency_recovery",
    "autoscale_check",
    "monitoring",
    "harden",
    "rotate_secret",
)
HEADER = ("hosts", "serial", "max_fail_percentage", "gather_facts", "module_defaults")
GATE = ("ansible.builtin.include_role", "ansible.builtin.import_role")


def runbooks():
    return sorted(p for p in PLAYBOOKS.glob("*.yml") if p.name not in NOT_RUNBOOKS)


def every_task():
    """(file, task, parents) for every task of the procedures and the roles' task files."""
    for path in task_files():
        for task, parents in tasks(load(path)):
            yield path, task, parents


def module_defaults(data):
    """Every module_defaults of a play, block or task, anywhere in the data."""
    if isinstance(data, dict):
        if isinstance(data.get("module_defaults"), dict):
            yield data["module_defaults"]
        for value in data.values():
            yield from module_defaults(value)
    elif isinstance(data, list):
        for item in data:
            yield from module_defaults(item)


def yaml_files():
    files = sorted(PLAYBOOKS.rglob("*.yml")) + sorted(ROLES.glob("*/tasks/*.yml"))
    return [p for p in files if "molecule" not in p.parts]


def test_the_play_header_exists_once_in_the_frame():
    [check, play] = load(PLAYBOOKS / FRAME)
    assert set(HEADER) <= set(play)
    # before it, only the check that the host pattern matches a cluster (no module_defaults:
    # it contacts nothing)
    assert check["hosts"] == "all:localhost" and "module_defaults" not in check
    [assertion] = check["tasks"]
    assert action(assertion) == "ansible.builtin.assert" and assertion["run_once"] is True
    assert list(play["module_defaults"]) == ["group/multiagent.ops.k8s", "group/multiagent.ops.k8s_api"]
    given = [p for p in yaml_files() for d in module_defaults(load(p)) if "group/multiagent.ops.k8s" in d]
    assert given == [PLAYBOOKS / FRAME]


@pytest.mark.parametrize("path", runbooks(), ids=lambda p: p.name)
def test_every_runbook_is_the_frame_and_its_procedure(path):
    [entry] = load(path)
    assert entry.get("ansible.builtin.import_playbook") == FRAME
    assert not set(HEADER + ("tasks", "roles", "pre_tasks", "post_tasks")) & set(entry)
    variables = entry["vars"]
    assert variables["ops_runbook"] == path.stem
    assert variables["ops_runbook_title"] == entry["name"]
    assert (PLAYBOOKS / "procedures" / ("%s.yml" % path.stem)).exists()
    assert variables.get("ops_runbook_serial", False) is (path.stem in CHANGING)


def test_the_tasks_the_frame_replaced_are_gone():
    assert not (PLAYBOOKS / "tasks").exists()


def test_the_lease_is_taken_once_and_given_back_once():
    every = [(p, t) for p, t, _parents in every_task() if action(t) == "multiagent.ops.lease"]
    # A long step run async is waited for by lease calls with its job: they renew the gate's
    # lease as its holder, in one task.
    renewals = sorted({p.relative_to(ROLES).as_posix() for p, t in every if "job" in t[action(t)]})
    assert renewals == ["backup/tasks/async_wait.yml"]
    leases = [(p, t) for p, t in every if "job" not in t[action(t)]]
    states = sorted({(p.relative_to(ROLES).as_posix(), t[action(t)].get("state")) for p, t in leases})
    assert states == [("_ops/tasks/gate.yml", "acquired"), ("_ops/tasks/release.yml", "released")]
    # The gate tries once, then (held by another run) waits in steps: both tasks are one lease.
    takes = [t for p, t in leases if t[action(t)].get("state") == "acquired"]
    first, step = takes
    assert first[action(first)] == step[action(step)]  # the same arguments (one YAML anchor)
    assert "__ops_lease_wait | default(0)" in first[action(first)]["wait_timeout"]
    assert "__ops_lease_wait" not in (first.get("vars") or {})  # one try: 0 s
    assert "__ops_step" in step["vars"]["__ops_lease_wait"]  # then bounded steps


def test_the_window_is_checked_once():
    checks = [p for p, t, _parents in every_task() if "multiagent.ops.maintenance_window" in str(t)]
    assert [p.relative_to(ROLES).as_posix() for p in checks] == ["_ops/tasks/gate.yml"]


def test_the_platform_is_judged_healthy_once():
    asserts = [
        (p, t)
        for p, t, _parents in every_task()
        if action(t) == "ansible.builtin.assert" and "report.api_error is none" in str(t)
    ]
    assert [p.relative_to(ROLES).as_posix() for p, _task in asserts] == ["_ops/tasks/assert_healthy.yml"]
    looks = [p for p, t, _parents in every_task() if action(t) == "multiagent.ops.platform_health"]
    assert [p.relative_to(ROLES).as_posix() for p in looks] == ["_ops/tasks/health.yml"]


def _gates(path):
    for task, _parents in tasks(load(path)):
        args = task.get(action(task))
        if (
            action(task) in GATE
            and args.get("name") == "multiagent.ops._ops"
            and args.get("tasks_from") == "gate"
        ):
            yield task.get("vars") or {}


@pytest.mark.parametrize("runbook", CHANGING)
def test_every_changing_runbook_takes_the_platform_lock(runbook):
    targets = [v.get("ops_gate_target", "") for v in _gates(PLAYBOOKS / "procedures" / ("%s.yml" % runbook))]
    assert len(targets) == 1 and targets[0].startswith("platform-"), targets


def test_deploy_takes_the_lock_before_the_role_and_where_a_first_deploy_can():
    procedure = load(PLAYBOOKS / "procedures" / "deploy.yml")
    names = [action(t) for t, _parents in tasks(procedure)]
    # the gate, the role, then the optional load check (off unless deploy_load_check is given)
    assert names == [
        "ansible.builtin.include_role",
        "ansible.builtin.import_role",
        "ansible.builtin.include_tasks",
    ]
    load_check = procedure[-1]
    assert load_check["ansible.builtin.include_tasks"] == "_load_check.yml"
    assert "deploy_load_check | default(none) is not none" in load_check["when"]
    [gate] = list(_gates(PLAYBOOKS / "procedures" / "deploy.yml"))
    assert gate["ops_gate_target"] == "platform-{{ deploy_namespace | default(platform_namespace) }}"
    assert gate["ops_gate_namespace"] == "{{ deploy_namespace | default(platform_namespace) }}"
    assert gate["ops_gate_fallback_namespace"] == "default"
    assert gate["ops_gate_window"] is False
