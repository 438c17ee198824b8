"""The restore's parts (pg/restore.py): the archive checked against its manifest before
anything is touched, the lock watch, and the restored content checked against a manifest of
either table key format."""

import re
import time

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import content
from ansible_collections.multiagent.ops.plugins.module_utils.pg import restore as pg_restore
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError


class LockSession:
    """Answers LockWatch's look at pg_stat_activity from a script of replies."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.cancelled = []

    def value(self, sql):
        assert "pg_blocking_pids" in sql and "'app-1'" in sql and "'mplp'" in sql
        return self.replies.pop(0) if self.replies else None

    def text(self, sql):
        self.cancelled.append(sql)
        return "t"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_lock_watch_cancels_a_restore_that_waits_too_long_and_names_the_holder():
    blocker = {"pid": 77, "user": "app", "application": "worker", "client": "10.0.0.9"}
    blocker.update(state="idle in transaction", query="SELECT * FROM t")
    waiting = {"pid": 4242, "blockers": [blocker]}
    session = LockSession([None, waiting, waiting, waiting, waiting])
    with pg_restore.LockWatch(session, "mplp", "app-1", timeout=2, interval=0.01, clock=Clock()) as watch:
        deadline = time.monotonic() + 10
        while watch.cancelled is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert session.cancelled == ["SELECT pg_cancel_backend(4242)"]
    assert watch.describe() == (
        "pg_restore waited more than 2s for a lock on mplp, held by pid 77 (user app, application worker, "
        "client 10.0.0.9, idle in transaction: SELECT * FROM t) and was cancelled"
    )


def test_lock_watch_leaves_a_restore_alone_whose_waits_end_in_time():
    waiting = {"pid": 4242, "blockers": []}
    session = LockSession([waiting, None, waiting, None, waiting, None] * 3)
    with pg_restore.LockWatch(session, "mplp", "app-1", timeout=2, interval=0.01, clock=Clock()) as watch:
        deadline = time.monotonic() + 10
        while session.replies and time.monotonic() < deadline:
            time.sleep(0.01)
    assert session.cancelled == [] and watch.cancelled is None


def test_lock_watch_without_a_timeout_does_not_look():
    session = LockSession([])
    with pg_restore.LockWatch(session, "mplp", "app-1", timeout=0) as watch:
        assert watch.cancelled is None
    assert watch._thread is None and watch.error is None


# -- verified_manifest ---------------------------------------------------------------------


def write_backup(directory, kind="postgresql", **changes):
    return fakes.write_backup(directory / "mplp-20261122T020000Z.dump.zst", kind=kind, **changes)


def test_verified_manifest(tmp_path):
    path = write_backup(tmp_path)
    assert pg_restore.verified_manifest(str(path))["target"] == "mplp"


def test_verified_manifest_refuses_a_bad_or_foreign_backup(tmp_path):
    path = write_backup(tmp_path, status="running", size=8)
    with pytest.raises(BackupError) as info:
        pg_restore.verified_manifest(str(path))
    assert str(info.value) == (
        "refusing %s: status is running, not complete; size is 7 bytes, the manifest says 8 "
        "(truncated or replaced?)" % path
    )
    other = tmp_path / "redis"
    other.mkdir()
    path = write_backup(other, kind="redis")
    with pytest.raises(BackupError, match="a redis backup, not a PostgreSQL one"):
        pg_restore.verified_manifest(str(path))


@pytest.mark.parametrize(
    "tables,problem",
    [
        ([1], "tables is not an object"),
        ({"public.a": 5}, "tables[public.a] is not an object"),
        ({"public.a": {}}, "tables[public.a] rows None is not a count of rows"),
        ({"public.a": {"rows": "5"}}, "tables[public.a] rows '5' is not a count"),
        ({"public.a": {"rows": True}}, "tables[public.a] rows True is not a count"),
        ({"public.a": {"rows": -1}}, "tables[public.a] rows -1 is not a count"),
        ({"public.a": {"rows": 1, "checksum": "xyz"}}, "checksum 'xyz' is not 16 hex digits"),
        ({"public.a": {"rows": 1, "checksum": "00000000000000aa", "method": "md5"}}, "method 'md5'"),
    ],
)
def test_verified_manifest_refuses_malformed_tables_before_anything_is_touched(tmp_path, tables, problem):
    path = write_backup(tmp_path, tables=tables)
    with pytest.raises(BackupError, match="refusing .*" + re.escape(problem)):
        pg_restore.verified_manifest(str(path))


def test_verified_manifest_accepts_well_formed_tables_and_refuses_another_archives_manifest(tmp_path):
    good = {
        "public.a": {"rows": 3, "checksum": "00000000000000aa", "method": "record"},
        "public.b": {"rows": 0, "checksum": "00000000000000bb", "method": "text"},
        "public.c": {"rows": 5},
    }
    path = write_backup(tmp_path, tables=good)
    assert pg_restore.verified_manifest(str(path))["tables"] == good
    assert content.has_tables(pg_restore.verified_manifest(str(path)))
    other = tmp_path / "other"
    other.mkdir()
    path = write_backup(other, file="other-20261122T020000Z.dump.zst")
    with pytest.raises(BackupError, match="describes other-20261122T020000Z.dump.zst, not mplp-"):
        pg_restore.verified_manifest(str(path))


def test_a_manifest_with_table_keys_of_a_newer_format_is_refused(tmp_path):
    path = write_backup(tmp_path, tables={"public.a": {"rows": 1}}, table_key_format=3)
    with pytest.raises(BackupError, match="table_key_format 3 is newer than this collection reads"):
        pg_restore.verified_manifest(str(path))


def test_a_manifest_of_0_1_0_is_accepted(tmp_path):
    # no table_key_format, keys of the bare dotted form
    tables = {"public.Orders": {"rows": 3, "checksum": "00000000000000aa", "method": "record"}}
    path = write_backup(tmp_path, tables=tables, manifest_version=1)
    manifest = pg_restore.verified_manifest(str(path))
    assert "table_key_format" not in manifest and content.key_format(manifest) == 1


# -- check_restored: the restored content against the manifest ------------------------------


class CheckSession:
    """A restored database of two tables whose names join alike with a bare dot."""

    TABLES = [
        {"schema": "a", "table": "b.c", "oid": "16601", "columns": ["id"]},
        {"schema": "a.b", "table": "c", "oid": "16602", "columns": ["id"]},
    ]
    SUMS = {'"a"."b.c"': (1, "11"), '"a.b"."c"': (2, "22")}

    def __init__(self):
        self.executed = []
        self.closed = False

    def execute(self, sql):
        self.executed.append(sql)

    def value(self, sql):
        if sql == content.TABLES_SQL:
            return self.TABLES
        rows, total = next(v for k, v in self.SUMS.items() if sql.rstrip().endswith("FROM %s t" % k))
        return {"rows": rows, "sum": total}

    def close(self):
        self.closed = True


class CheckTarget:
    def __init__(self):
        self.checking = CheckSession()

    def session(self, dbname):
        return self.checking


def test_check_restored_reads_the_keys_of_the_manifests_format():
    new = {
        "kind": "postgresql",
        "table_key_format": 2,
        "tables": {
            'a."b.c"': {"rows": 1, "checksum": "000000000000000b", "method": "record"},
            '"a.b".c': {"rows": 2, "checksum": "0000000000000016", "method": "record"},
        },
    }
    target = CheckTarget()
    assert pg_restore.check_restored(target, "mplp", new) == {
        "tables_checked": 2,
        "rows_checked": 3,
        "problems": [],
        "extra_tables": [],
    }
    assert target.checking.closed
    changed = dict(
        new, tables=dict(new["tables"], **{'a."b.c"': {"rows": 1, "checksum": "00000000000000ff"}})
    )
    problems = pg_restore.check_restored(CheckTarget(), "mplp", changed)["problems"]
    assert problems == [
        'a."b.c" content checksum 000000000000000b differs from the backup\'s 00000000000000ff '
        "(same row count)"
    ]
    # 0.1.0's manifest: one key for both, standing for the last; the other is named as extra
    legacy = {"kind": "postgresql", "tables": {"a.b.c": {"rows": 2, "checksum": "0000000000000016"}}}
    checks = pg_restore.check_restored(CheckTarget(), "mplp", legacy)
    assert checks["problems"] == [] and checks["extra_tables"] == ['a."b.c"']


def test_the_scratch_name_fits_in_63_bytes_and_keeps_whole_characters():
    import datetime

    moment = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.UTC)
    for name in ("mplp", "é" * 40, "a" + "é" * 40, "日本" * 20, "x" * 80):
        scratch = pg_restore.scratch_name(name, moment)
        assert scratch.endswith("_verify_20261122020000")
        assert len(scratch.encode("utf-8")) <= 63
        stem = scratch[: -len("_verify_20261122020000")]
        assert name.startswith(stem) and len(stem.encode("utf-8")) >= min(37, len(name.encode("utf-8")))
