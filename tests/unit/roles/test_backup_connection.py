"""Every PostgreSQL task of the backup role reaches the server the same way: the verify of a
new backup, the restore and the safety backup get the same connection options as the dump
(in-cluster mode with backup_container on a multi-container pod needs the container on
each of them)."""

from __future__ import annotations

from .yamltree import ROLES, action, effective_args, load, tasks

CONNECTION = ("mode", "login_host", "login_port", "login_user", "login_password", "namespace", "pod_selector")
MODULES = ("multiagent.ops.postgresql_backup", "multiagent.ops.postgresql_restore")


def postgresql_tasks():
    for path in sorted((ROLES / "backup" / "tasks").glob("*.yml")):
        for task, parents in tasks(load(path)):
            if action(task) in MODULES:
                yield path.name, task["name"], effective_args(task, parents)


def test_every_postgresql_task_gets_the_same_connection_the_container_included():
    found = list(postgresql_tasks())
    names = [name for _file, name, _args in found]
    assert "Database | prove each new backup restores (scratch database, compared, dropped)" in names
    assert len(found) >= 6
    expected = {key: found[0][2].get(key) for key in CONNECTION + ("container",)}
    assert expected["container"] == "{{ backup_container if backup_container | length > 0 else omit }}"
    for file, name, args in found:
        given = {key: args.get(key) for key in expected}
        assert given == expected, "%s: %r passes %r" % (file, name, given)
