"""Database dumps, Redis snapshots and configuration archives go through the same retention
(issue 13): each backup entry point applies multiagent.ops.backup_retention after its backup,
with the same rules, the platform's time zone and the backup just written as ``current``, and
the role's defaults give the three the same policy."""

from __future__ import annotations

import pytest

from .yamltree import ROLES, action, load, role_defaults, tasks

RETENTION = "multiagent.ops.backup_retention"
RULES = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age_days")
# entry point file -> (its backup module, the prefix of its retention variables)
ENTRY_POINTS = {
    "database.yml": ("multiagent.ops.postgresql_backup", "backup_retention_"),
    "redis.yml": ("multiagent.ops.redis_backup", "backup_redis_"),
    "config.yml": ("multiagent.ops.config_backup", "backup_config_"),
}


def ordered(file):
    return [task for task, _parents in tasks(load(ROLES / "backup" / "tasks" / file))]


@pytest.mark.parametrize("file", sorted(ENTRY_POINTS))
def test_retention_follows_the_backup_with_the_same_rules(file):
    backup_module, prefix = ENTRY_POINTS[file]
    steps = [action(task) for task in ordered(file)]
    assert steps.count(RETENTION) == 1, steps
    assert steps.index(backup_module) < steps.index(RETENTION)
    [task] = [t for t in ordered(file) if action(t) == RETENTION]
    args = task[RETENTION]
    assert set(RULES) | {"timezone", "current", "location"} <= set(args), sorted(args)
    assert "platform_timezone" in args["timezone"]
    for rule in RULES:
        assert prefix + rule in args[rule], (file, rule, args[rule])


def test_the_three_default_policies_are_the_same():
    defaults = role_defaults("backup")
    database = {rule: defaults["backup_retention_" + rule] for rule in RULES}
    config = {rule: defaults["backup_config_" + rule] for rule in RULES}
    # Redis's defaults read the runbook's redis_backup_* first: "{{ redis_backup_keep_last | default(7) }}".
    redis = {rule: defaults["backup_redis_" + rule] for rule in RULES}
    assert config == database
    for rule, value in database.items():
        assert "default(%s)" % value in redis[rule], (rule, redis[rule])
