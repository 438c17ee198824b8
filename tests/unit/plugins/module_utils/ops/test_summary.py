"""ops/summary.py: what a runbook publishes about one cluster."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.ops import summary

HEALTH = {
    "changed": False,
    "report": {"status": "degraded", "score": 50, "critical": True, "counts": {"critical": 1, "warning": 2}},
}
BACKUP = {
    "changed": True,
    "backups": [
        {
            "kind": "postgresql",
            "target": "mplp",
            "path": "/b/mplp.dump.zst",
            "url": "s3://bucket/p/mplp.dump.zst",
            "manifest_path": "/b/mplp.dump.zst.manifest.json",
            "manifest": {"tables": {}},
            "size": 10,
            "sha256": "ab" * 32,
            "tables": 4,
            "rows": 1200,
            "duration_seconds": 1.5,
        }
    ],
}


def test_a_health_check_publishes_the_status_score_and_counts():
    assert summary.summary("health_check", "us-east-1", True, {"health": HEALTH}) == {
        "runbook": "health_check",
        "cluster": "us-east-1",
        "status": "ok",
        "health": {"status": "degraded", "score": 50, "critical": 1, "warnings": 2},
        "changed": False,
    }


def test_a_backup_publishes_where_each_archive_is_its_size_checksum_and_manifest():
    out = summary.summary(
        "backup_database", "us-east-1", True, {"backup_database": BACKUP, "backup_redis": None}
    )
    assert out["backups"] == [
        {
            "kind": "postgresql",
            "target": "mplp",
            "archive": "s3://bucket/p/mplp.dump.zst",
            "size": 10,
            "sha256": "ab" * 32,
            "manifest": "/b/mplp.dump.zst.manifest.json",
            "tables": 4,
            "rows": 1200,
        }
    ]
    assert out["changed"] is True and out["status"] == "ok"


def test_restores_publish_the_rows_keys_or_objects_put_back():
    pg = {
        "changed": True,
        "database": "mplp",
        "manifest": {"tables": {'"public"."a"': {"rows": 3}, "b": {"rows": 4}}},
    }
    verify = {"changed": False, "database": "mplp_verify_1", "manifest": {"tables": {"a": {"rows": 3}}}}
    redis = {
        "changed": True,
        "archive": "/b/r.rdb.zst",
        "target": "127.0.0.1:6379",
        "manifest": {"keys_total": 42},
    }
    config = {
        "changed": True,
        "namespace": "mplp",
        "created": ["ConfigMap/a"],
        "updated": ["Secret/b", "Service/c"],
    }
    out = summary.summary(
        "restore",
        "eu",
        True,
        {"restore_database": pg, "verify_database": verify, "restore_redis": redis, "restore_config": config},
    )
    assert out["restored"] == [
        {"kind": "postgresql", "state": "restored", "target": "mplp", "rows": 7},
        {"kind": "postgresql", "state": "verified", "target": "mplp_verify_1", "rows": 3},
        {
            "kind": "redis",
            "state": "restored",
            "target": "127.0.0.1:6379",
            "archive": "/b/r.rdb.zst",
            "keys": 42,
        },
        {"kind": "config", "state": "restored", "target": "mplp", "objects": 3},
    ]


def test_a_deploy_publishes_its_counts_and_a_failed_run_says_so():
    applied = {
        "changed": True,
        "summary": {"created": 2, "updated": 1, "unchanged": 47, "failed": 0, "skipped": 1},
    }
    out = summary.summary("deploy", "us-east-1", False, {"deploy": applied, "health": {"skipped": True}})
    assert out == {
        "runbook": "deploy",
        "cluster": "us-east-1",
        "status": "failed",
        "deploy": {"created": 2, "updated": 1, "unchanged": 47, "failed": 0},
        "changed": True,
    }


def test_steps_that_did_not_run_or_changed_nothing_leave_changed_false():
    steps = [{"skipped": True, "changed": True}, {"changed": False}, None]
    assert summary.summary("scale", "c", True, {"steps": steps})["changed"] is False
    assert summary.summary("scale", "c", True, {"steps": steps + [{"changed": True}]})["changed"] is True


@pytest.mark.parametrize(("runbook", "cluster", "results"), [("", "c", {}), ("r", None, {}), ("r", "c", [])])
def test_bad_input_names_what_is_wrong(runbook, cluster, results):
    with pytest.raises(summary.SummaryError):
        summary.summary(runbook, cluster, True, results)
