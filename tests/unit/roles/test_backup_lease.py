"""The backup role's long steps keep the lock the role took: every dump, snapshot and restore
run under the gate passes the lock to the module (its lease option), which renews it while it
runs, so the gate takes it for a short time (backup_lock_duration, backup_redis_lock_duration)."""

from __future__ import annotations

from .yamltree import ROLES, action, effective_args, load, role_defaults, tasks

STEPS = (
    "multiagent.ops.postgresql_backup",
    "multiagent.ops.postgresql_restore",
    "multiagent.ops.redis_backup",
    "multiagent.ops.redis_restore",
)
# run before the gate or without it: they change nothing, or only a scratch database
UNGATED = (
    "Restore | the archive matches its manifest, and the server answers",
    "Restore | verify mode restores into a scratch database only",
    "Verify the archive and that the target can take it (changes nothing)",
)


def role_tasks():
    for path in sorted((ROLES / "backup" / "tasks").glob("*.yml")):
        for task, parents in tasks(load(path)):
            yield path.name, task, parents


def test_every_gated_long_step_renews_the_lock_it_runs_under():
    found = []
    for file, task, parents in role_tasks():
        if action(task) not in STEPS or task["name"] in UNGATED:
            continue
        assert task.get("check_mode") is not True, task["name"]
        lease = effective_args(task, parents).get("lease")
        assert lease is not None and "_backup_lease" in lease, "%s: %r passes no lease" % (file, task["name"])
        found.append(task["name"])
    assert len(found) == 7, found


def test_the_lease_names_the_lock_the_gate_took():
    lease = load(ROLES / "backup" / "vars" / "main.yml")["_backup_lease"]
    assert lease["name"] == "{{ __ops_lock.name }}" and lease["namespace"] == "{{ __ops_lock.namespace }}"
    assert lease["holder"] == "{{ __ops_lock_holder }}"


def test_the_gates_of_the_long_steps_take_the_lock_for_a_short_time():
    defaults = role_defaults("backup")
    assert defaults["backup_lock_duration"] == 120 and defaults["backup_redis_lock_duration"] == 120
    durations = {}
    for file, task, _parents in role_tasks():
        if task.get("ansible.builtin.include_role", {}).get("tasks_from") == "gate":
            durations[(file, task["name"])] = (task.get("vars") or {}).get("ops_lock_duration")
    for (file, name), duration in durations.items():
        if file == "restore_database.yml":  # the application's stop and start do not renew it
            assert duration == "{{ __backup_restore_lock_duration }}", name
        elif file in ("database.yml", "redis.yml", "restore_redis.yml"):
            assert duration in ("{{ backup_lock_duration }}", "{{ backup_redis_lock_duration }}"), name
