"""The backup of one database and of the globals (pg/dump.py) on a fake target: archive then
manifest, the snapshot the checksums are taken in, and what is left when something fails."""

import errno
import os
import re
import shutil

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

ZSTD = shutil.which("zstd") or "/usr/bin/zstd"


# -- backup_database / backup_globals on a fake target ---------------------------------------


class SnapshotSession:
    """The queries SnapshotHolder and content_snapshot make, answered for one table."""

    def __init__(self, fail_content=False):
        self.executed = []
        self.closed = False
        self.fail_content = fail_content

    def execute(self, sql):
        self.executed.append(sql)

    def text(self, sql):
        return {
            "SELECT pg_export_snapshot()": "00000003-0000001B-1",
            "SELECT current_setting('server_version')": "15.8",
            "SELECT pg_database_size(current_database())": "8765432",
            "SELECT current_setting('server_version_num')": "150008",
        }[sql]

    def value(self, sql):
        if sql.startswith(pgsql.RESOLVE_SQL.split("%s", maxsplit=1)[0]):
            self.executed.append(sql)
            if "'Audit*'" in sql or "'nope'" in sql:
                return None
            return ["public", "Audit"] if "Audit" in sql else ["public", "orders"]
        if sql == pgsql.TABLES_SQL:
            return [{"schema": "public", "table": "orders", "oid": "16390"}]
        if sql == pgsql.UNHASHABLE_SQL:
            return []
        if self.fail_content:
            raise pgsql.SqlError("canceling statement due to user request")
        return {"rows": 2, "sum": "-2"}

    def cancel(self):
        self.executed.append("<cancel>")

    def close(self):
        self.closed = True


class FakeTarget:
    tools = {"pg_dump": "/pg/bin/pg_dump", "pg_dumpall": "/pg/bin/pg_dumpall", "zstd": ZSTD}
    conn = {"maintenance_db": "postgres"}

    def __init__(self, session, dump=b"PGDMP dump", error=None):
        self._session = session
        self.dump = dump
        self.error = error
        self.calls = []

    def session(self, dbname):
        return self._session

    def source(self):
        return {"mode": "direct", "host": "127.0.0.1", "port": 5432, "user": "postgres"}

    def tool_version(self, name):
        return "%s (PostgreSQL) 15.8" % name

    def dump_into(self, argv, writer, zstd_cmd, what):
        self.calls.append((argv, zstd_cmd, what))
        writer.write(self.dump)
        if self.error:
            raise self.error


def test_backup_database_writes_a_verified_archive_and_manifest(tmp_path):
    session = SnapshotSession()
    target = FakeTarget(session)
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    manifest, path = pgbackup.backup_database(target, "mplp", str(tmp_path), now=moment, label="nightly")
    assert path == str(tmp_path / "mplp-20261122T020000Z.dump.zst")
    assert sorted(os.listdir(tmp_path)) == [
        "mplp-20261122T020000Z.dump.zst",
        "mplp-20261122T020000Z.dump.zst.manifest.json",
    ]
    assert artifact.verify_file(path) == (manifest, [])
    assert manifest["tables"] == {
        "public.orders": {"rows": 2, "checksum": "fffffffffffffffe", "method": "record"}
    }
    assert (manifest["database"], manifest["snapshot"], manifest["server_version"]) == (
        "mplp",
        "00000003-0000001B-1",
        "15.8",
    )
    assert manifest["client_version"] == "pg_dump (PostgreSQL) 15.8"
    assert manifest["database_size"] == 8765432 and manifest["label"] == "nightly"
    # the tables are keyed by quoted names where needed, and the manifest says so
    assert manifest["table_key_format"] == pgsql.TABLE_KEY_FORMAT == 2
    argv, zstd_cmd, what = target.calls[0]
    assert "--snapshot=00000003-0000001B-1" in argv and "--dbname=mplp" in argv
    assert what == "pg_dump of mplp"
    assert session.executed[0] == "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    assert "COMMIT" in session.executed and session.closed


def test_exclude_table_data_is_resolved_quoted_and_left_out_of_the_snapshot(tmp_path):
    session = SnapshotSession()
    target = FakeTarget(session)
    manifest, _path = pgbackup.backup_database(
        target, "mplp", str(tmp_path), exclude_table_data=['"Audit"', "Orders"]
    )
    argv = target.calls[0][0]
    # pg_dump gets the resolved names quoted (a literal match, no case folding or wildcards)
    assert '--exclude-table-data="public"."Audit"' in argv
    assert '--exclude-table-data="public"."orders"' in argv
    assert manifest["exclude_table_data"] == ['"public"."Audit"', '"public"."orders"']
    assert manifest["tables"] == {}  # public.orders' data was not dumped: not counted


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"exclude_table_data": ["nope"]}, "'nope' matches no table"),
        ({"exclude_table_data": ["Audit*"]}, "pattern character"),
        ({"extra_args": ["--no-comments", "-t", "orders"]}, "dump_args -t would change what is dumped"),
        ({"extra_args": ["--schema-only"]}, "use exclude_table_data"),
    ],
)
def test_a_backup_that_would_not_match_its_manifest_is_refused_before_dumping(tmp_path, kwargs, message):
    session = SnapshotSession()
    target = FakeTarget(session)
    with pytest.raises((BackupError, pgsql.SqlError), match=re.escape(message)):
        pgbackup.backup_database(target, "mplp", str(tmp_path), **kwargs)
    assert target.calls == [] and os.listdir(tmp_path) == []


def test_a_failed_dump_leaves_nothing_and_ends_the_snapshot(tmp_path):
    older = tmp_path / "mplp-20261121T020000Z.dump.zst"
    older.write_bytes(b"yesterday")
    session = SnapshotSession()
    target = FakeTarget(session, error=BackupError("pg_dump of mplp failed (exit code 1): FATAL"))
    with pytest.raises(BackupError, match="FATAL"):
        pgbackup.backup_database(target, "mplp", str(tmp_path))
    assert os.listdir(tmp_path) == [older.name]
    assert older.read_bytes() == b"yesterday"
    assert session.executed[-1] == "ROLLBACK" and session.closed


def test_a_failed_content_snapshot_fails_the_backup(tmp_path):
    target = FakeTarget(SnapshotSession(fail_content=True))
    with pytest.raises(BackupError) as info:
        pgbackup.backup_database(target, "mplp", str(tmp_path))
    assert str(info.value).startswith("cannot take the row counts and checksums: ")
    assert os.listdir(tmp_path) == []


def test_a_disk_error_names_the_archive(tmp_path):
    target = FakeTarget(SnapshotSession(), error=OSError(errno.ENOSPC, "No space left on device"))
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    with pytest.raises(BackupError) as info:
        pgbackup.backup_database(target, "mplp", str(tmp_path), now=moment)
    assert str(info.value) == (
        "writing the backup failed, nothing kept: no space left on the device of %s"
        % (tmp_path / "mplp-20261122T020000Z.dump.zst")
    )
    assert os.listdir(tmp_path) == []


def test_a_failed_manifest_removes_the_archive(tmp_path, monkeypatch):
    def no_room(path, manifest, overwrite=False):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifact, "write_manifest", no_room)
    with pytest.raises(BackupError, match="writing the manifest failed, the archive was removed"):
        pgbackup.backup_database(FakeTarget(SnapshotSession()), "mplp", str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_an_existing_backup_of_the_same_second_is_not_overwritten(tmp_path):
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    existing = tmp_path / "mplp-20261122T020000Z.dump.zst"
    existing.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="already exists; refusing to overwrite"):
        pgbackup.backup_database(FakeTarget(SnapshotSession()), "mplp", str(tmp_path), now=moment)
    globals_existing = tmp_path / "db01-globals-20261122T020000Z.globals.sql.zst"
    globals_existing.write_bytes(b"keep me too")
    with pytest.raises(BackupError, match="already exists; refusing to overwrite"):
        pgbackup.backup_globals(FakeTarget(None), str(tmp_path), "db01-globals", now=moment)
    assert existing.read_bytes() == b"keep me" and globals_existing.read_bytes() == b"keep me too"


def test_backup_globals(tmp_path):
    target = FakeTarget(None, dump=b"CREATE ROLE mplp;")
    manifest, path = pgbackup.backup_globals(target, str(tmp_path), "db01-globals", no_role_passwords=True)
    assert artifact.verify_file(path) == (manifest, [])
    assert manifest["kind"] == "postgresql-globals" and manifest["role_passwords"] is False
    argv, _zstd, what = target.calls[0]
    assert argv == [
        "/pg/bin/pg_dumpall",
        "--globals-only",
        "--no-password",
        "--no-role-passwords",
        "--database=postgres",
    ]
    assert what == "pg_dumpall --globals-only"
