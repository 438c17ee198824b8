"""postgresql_backup: its runner (pg/dump.run) through the module contract (argument
validation, check mode, names, results, messages), main() through AnsibleModule (argument
spec, no_log, the kubernetes library left out in direct mode), and the refusals of
postgresql_restore before it touches anything."""

import contextlib
import datetime
import json
import os
import stat
import subprocess
import sys

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import NOTHING_CHANGED
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
from ansible_collections.multiagent.ops.plugins.module_utils.pg import restore as pgrestore
from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError
from ansible_collections.multiagent.ops.plugins.modules import postgresql_backup, postgresql_restore

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19

    @contextlib.contextmanager
    def patch_module_args(args):
        from ansible.module_utils import basic

        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old


T0 = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.UTC)
PASSWORD = "s3cret-Pw:1"


class FakeModule(fakes.FakeModule):
    def __init__(self, module=postgresql_backup, check_mode=False, diff=False, **params):
        super().__init__(module, check_mode, diff, **params)


class ListSession:
    def __init__(self, names=None, error=None):
        self.names = names or []
        self.error = error
        self.queries = []
        self.closed = False

    def value(self, sql):
        self.queries.append(sql)
        if self.error:
            raise self.error
        return self.names

    def close(self):
        self.closed = True


class FakeTarget:
    def __init__(self, session=None):
        self._session = session
        self.sessions = []

    def session(self, dbname):
        self.sessions.append(dbname)
        return self._session


def no_kubernetes():
    raise AssertionError("these tests run in direct mode: no Kubernetes client")


def run(module, runner=pgbackup.run):
    with pytest.raises(Exit):
        finish(module, runner, no_kubernetes)
    return module.result


@pytest.fixture
def target(monkeypatch):
    fake = FakeTarget(ListSession(["app", "mplp", "postgres", "reporting"]))
    monkeypatch.setattr(pg_session, "make_target", lambda params, kubernetes: fake)
    monkeypatch.setattr(artifact, "utcnow", lambda: T0)
    return fake


@pytest.fixture
def backups(monkeypatch):
    """pgbackup's writers replaced: record the calls, return manifests, fail when told."""
    calls = []
    failing = {}

    def manifest(kind, target_name, path, tables=None):
        return {"kind": kind, "target": target_name, "size": 10, "sha256": "a" * 64, "tables": tables or {}}

    def backup_database(target, db, dest, prefix=None, **kwargs):
        calls.append(("database", db, dest, prefix, kwargs))
        if db in failing:
            raise failing[db]
        path = os.path.join(dest, artifact.archive_name(prefix, T0, pgbackup.EXT["custom"]))
        tables = {"public.a": {"rows": 3}, "public.b": {"rows": 4}}
        return dict(manifest("postgresql", db, path, tables), duration_seconds=1.5), path

    def backup_globals(target, dest, prefix, **kwargs):
        calls.append(("globals", prefix, dest, kwargs))
        if "globals" in failing:
            raise failing["globals"]
        path = os.path.join(dest, artifact.archive_name(prefix, T0, pgbackup.EXT["globals"]))
        return manifest("postgresql-globals", prefix, path), path

    monkeypatch.setattr(pgbackup, "backup_database", backup_database)
    monkeypatch.setattr(pgbackup, "backup_globals", backup_globals)
    return calls, failing


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params,message",
    [
        (
            {"databases": ["mplp"], "compression_level": 0},
            "compression_level must be between 1 and 19, not 0",
        ),
        (
            {"databases": ["mplp"], "compression_level": 20},
            "compression_level must be between 1 and 19, not 20",
        ),
        ({}, "nothing to back up: give databases, all_databases=true or globals=true"),
        ({"exclude_databases": ["x"]}, "nothing to back up"),
        ({"databases": ["mplp"], "dump_args": ["-t", "x"]}, "dump_args -t would change what is dumped"),
        ({"databases": ["mplp"], "dump_args": ["--schema-only"]}, "use exclude_table_data"),
        ({"databases": ["mplp"], "login_password": "a\nb"}, "line break"),
    ],
)
def test_bad_input_fails_before_connecting(no_target, tmp_path, params, message):
    result = run(FakeModule(dest=str(tmp_path / "b"), **params))
    assert result["failed"] is True and message in result["msg"]
    assert not (tmp_path / "b").exists()


# -- check mode ----------------------------------------------------------------------------


def test_check_mode_plans_one_database(target, backups, tmp_path):
    dest = tmp_path / "b"
    result = run(FakeModule(check_mode=True, dest=str(dest), databases=["mplp"]))
    path = str(dest / "mplp-20261122T020000Z.dump.zst")
    assert result == {
        "changed": True,
        "failed": False,
        "databases": ["mplp"],
        "backups": [
            # artifact.backup_entry: nothing written yet, so no size, digest or manifest
            {
                "kind": "postgresql",
                "target": "mplp",
                "path": path,
                "manifest_path": path + ".manifest.json",
                "url": path,
                "size": None,
                "sha256": None,
                "manifest": None,
            }
        ],
    }
    assert backups[0] == [] and not dest.exists()
    assert target.sessions == []


def test_check_mode_names_with_a_prefix_several_databases_and_globals(target, backups, tmp_path):
    module = FakeModule(
        check_mode=True,
        dest=str(tmp_path),
        databases=["mplp", "app"],
        globals=True,
        prefix="nightly",
        login_host="db01",
    )
    result = run(module)
    assert [os.path.basename(b["path"]) for b in result["backups"]] == [
        "nightly-mplp-20261122T020000Z.dump.zst",
        "nightly-app-20261122T020000Z.dump.zst",
        "nightly-globals-20261122T020000Z.globals.sql.zst",
    ]
    assert result["backups"][2]["kind"] == "postgresql-globals"
    assert result["backups"][2]["target"] == "nightly-globals"
    assert backups[0] == []


@pytest.mark.parametrize(
    "params,name",
    [
        ({"login_host": "db01.example"}, "db01.example-globals-20261122T020000Z.globals.sql.zst"),
        (
            {"mode": "in_cluster", "namespace": "mplp-prod"},
            "mplp-prod-globals-20261122T020000Z.globals.sql.zst",
        ),
        ({"prefix": "p"}, "p-globals-20261122T020000Z.globals.sql.zst"),
    ],
)
def test_globals_names(target, backups, tmp_path, params, name):
    result = run(FakeModule(check_mode=True, dest=str(tmp_path), globals=True, **params))
    assert [os.path.basename(b["path"]) for b in result["backups"]] == [name]
    assert result["databases"] == []


def test_a_single_database_with_a_prefix_uses_the_prefix_alone(target, backups, tmp_path):
    result = run(FakeModule(check_mode=True, dest=str(tmp_path), databases=["mplp"], prefix="prod"))
    assert os.path.basename(result["backups"][0]["path"]) == "prod-20261122T020000Z.dump.zst"


def test_all_databases_lists_them_minus_the_excluded(target, backups, tmp_path):
    module = FakeModule(
        check_mode=True,
        dest=str(tmp_path),
        databases=["reporting"],
        all_databases=True,
        exclude_databases=["postgres"],
        maintenance_db="template_maint",
    )
    result = run(module)
    assert result["databases"] == ["reporting", "app", "mplp"]
    assert target.sessions == ["template_maint"]
    session = target._session
    assert session.closed
    assert "datallowconn AND NOT datistemplate" in session.queries[0]


def test_a_failure_to_list_the_databases_is_named(monkeypatch, tmp_path):
    fake = FakeTarget(
        ListSession(error=pgsql.SqlError("cannot connect to PostgreSQL at h:5432 as u: refused"))
    )
    monkeypatch.setattr(pg_session, "make_target", lambda params, kubernetes: fake)
    result = run(FakeModule(dest=str(tmp_path), all_databases=True))
    assert result["failed"] is True
    assert result["msg"] == "cannot list the databases: cannot connect to PostgreSQL at h:5432 as u: refused"
    assert fake._session.closed


# -- real runs (pgbackup replaced) ---------------------------------------------------------


def test_a_run_creates_a_private_destination_and_summarises(target, backups, tmp_path):
    dest = tmp_path / "new" / "pg"
    module = FakeModule(
        dest=str(dest),
        databases=["mplp"],
        globals=True,
        globals_no_role_passwords=True,
        compression_level=9,
        threads=2,
        checksums=False,
        exclude_table_data=["public.audit"],
        dump_args=["--no-comments"],
        label="nightly",
        login_host="db01",
    )
    result = run(module)
    assert result["failed"] is False and result["changed"] is True
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    path = str(dest / "mplp-20261122T020000Z.dump.zst")
    assert result["backups"][0] == {
        "kind": "postgresql",
        "target": "mplp",
        "path": path,
        "manifest_path": path + ".manifest.json",
        "url": path,
        "size": 10,
        "sha256": "a" * 64,
        "manifest": {
            "kind": "postgresql",
            "target": "mplp",
            "size": 10,
            "sha256": "a" * 64,
            "tables": {"public.a": {"rows": 3}, "public.b": {"rows": 4}},
            "duration_seconds": 1.5,
        },
        "duration_seconds": 1.5,
        "tables": 2,
        "rows": 7,
    }
    assert result["backups"][1]["kind"] == "postgresql-globals"
    assert result["backups"][1]["tables"] == 0 and result["backups"][1]["rows"] == 0
    calls, _failing = backups
    assert calls[0] == (
        "database",
        "mplp",
        str(dest),
        "mplp",
        {
            "level": 9,
            "threads": 2,
            "checksums": False,
            "exclude_table_data": ["public.audit"],
            "extra_args": ["--no-comments"],
            "label": "nightly",
        },
    )
    assert calls[1] == (
        "globals",
        "db01-globals",
        str(dest),
        {"level": 9, "no_role_passwords": True, "label": "nightly"},
    )


def test_a_failure_says_what_was_completed_before_it(target, backups, tmp_path):
    calls, failing = backups
    failing["app"] = BackupError("pg_dump of app failed (exit code 1): FATAL: password authentication failed")
    result = run(FakeModule(dest=str(tmp_path), databases=["mplp", "app", "reporting"], globals=True))
    first = str(tmp_path / "mplp-20261122T020000Z.dump.zst")
    assert result["failed"] is True
    assert result["changed"] is True  # the first archive was written: it stays
    assert result["msg"] == (
        "backup failed: pg_dump of app failed (exit code 1): FATAL: password authentication failed; "
        "completed before the failure: %s" % first
    )
    assert [b["path"] for b in result["backups"]] == [first]
    assert [c[1] for c in calls] == ["mplp", "app"]  # stops at the first failure
    assert result["databases"] == ["mplp", "app", "reporting"]


def test_a_first_failure_has_nothing_completed(target, backups, tmp_path):
    _calls, failing = backups
    failing["mplp"] = pgsql.SqlError(
        "cannot connect to PostgreSQL at localhost:5432 as None (database mplp): refused"
    )
    result = run(FakeModule(dest=str(tmp_path), databases=["mplp"]))
    assert result["msg"] == (
        "backup failed: cannot connect to PostgreSQL at localhost:5432 as None (database mplp): refused; "
        + NOTHING_CHANGED
    )
    assert result["backups"] == [] and result["changed"] is False


def test_a_failure_in_a_directory_the_run_made_is_a_change(target, backups, tmp_path):
    _calls, failing = backups
    failing["mplp"] = BackupError("pg_dump of mplp failed (exit code 1): FATAL")
    result = run(FakeModule(dest=str(tmp_path / "new"), databases=["mplp"]))
    assert result["failed"] is True and result["changed"] is True  # the directory stays
    assert result["msg"] == "backup failed: pg_dump of mplp failed (exit code 1): FATAL"
    assert (tmp_path / "new").is_dir()


class Bucket:
    """An S3 location that takes the first ``room`` archives."""

    def __init__(self, room):
        self.room = room
        self.stored = []

    def list(self):
        return []


def test_an_archive_whose_upload_failed_stays_in_dest_and_is_a_change(target, backups, tmp_path, monkeypatch):
    bucket = Bucket(room=1)

    def publish(remote, path):
        if len(remote.stored) >= remote.room:
            raise stores.StoreError("bucket b: AccessDenied")
        remote.stored.append(path)
        return "s3://b/" + os.path.basename(path)

    monkeypatch.setattr(stores, "open_store", lambda location: bucket)
    monkeypatch.setattr(stores, "publish", publish)
    for name in ("mplp", "app"):  # what the real backup_database leaves in dest
        path = tmp_path / ("%s-20261122T020000Z.dump.zst" % name)
        path.write_bytes(b"x")
        (tmp_path / (path.name + ".manifest.json")).write_text("{}")
    result = run(FakeModule(dest=str(tmp_path), databases=["mplp", "app"], s3={"bucket": "b"}))
    first, second = (str(tmp_path / ("%s-20261122T020000Z.dump.zst" % name)) for name in ("mplp", "app"))
    assert result["failed"] is True and result["changed"] is True
    assert [b["url"] for b in result["backups"]] == ["s3://b/" + os.path.basename(first)]
    assert result["msg"] == (
        "backup failed: uploading %s failed, it was not stored in the bucket (the archive and its manifest "
        "stay in %s): bucket b: AccessDenied; completed before the failure: %s" % (second, tmp_path, first)
    )
    assert not os.path.exists(first) and os.path.exists(second)  # uploaded and removed; kept


def test_a_destination_that_cannot_be_created_is_named(target, backups, tmp_path):
    (tmp_path / "file").write_text("")
    result = run(FakeModule(dest=str(tmp_path / "file" / "pg"), databases=["mplp"]))
    assert result["failed"] is True
    assert result["msg"] == "cannot create the backup directory %s: Not a directory" % (
        tmp_path / "file" / "pg"
    )


# -- through AnsibleModule (argument spec, no_log) -------------------------------------------


def fake_bin(directory, names=pg_session.TOOLS):
    directory.mkdir(exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return str(directory)


def call_main(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_main_check_mode_never_shows_the_password(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(artifact, "utcnow", lambda: T0)
    args = {
        "databases": ["mplp"],
        "dest": str(tmp_path / "b"),
        "login_user": "mplp",
        "login_password": PASSWORD,
        "bin_dir": fake_bin(tmp_path / "bin"),
        "_ansible_check_mode": True,
    }
    result, out = call_main(postgresql_backup, args, capsys)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["backups"][0]["path"] == str(tmp_path / "b" / "mplp-20261122T020000Z.dump.zst")
    assert PASSWORD not in out
    assert result["invocation"]["module_args"]["login_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        ({"databases": ["mplp"]}, "missing required arguments: dest"),
        (
            {"databases": ["mplp"], "dest": "/b", "mode": "ssh"},
            "value of mode must be one of: direct, in_cluster",
        ),
        ({"databases": ["mplp"], "dest": "/b", "ssl_mode": "on"}, "value of ssl_mode must be one of"),
        ({"databases": ["mplp"], "dest": "/b", "login_port": "five"}, "login_port"),
        ({"databases": ["mplp"], "dest": "/b", "compresion_level": 3}, "Unsupported parameters"),
    ],
)
def test_main_rejects_bad_arguments(capsys, args, message):
    result, _out = call_main(postgresql_backup, dict(args, login_password=PASSWORD), capsys)
    assert result["failed"] is True and message in result["msg"]


def test_secrets_are_no_log():
    spec = postgresql_backup.argspec()
    assert spec["login_password"].get("no_log") is True
    assert spec["api_key"].get("no_log") is True
    assert postgresql_restore.argspec()["login_password"].get("no_log") is True


def test_a_missing_tool_in_bin_dir_is_named(tmp_path, capsys):
    bin_dir = fake_bin(tmp_path / "bin", names=("pg_dump",))
    args = {"databases": ["mplp"], "dest": str(tmp_path), "bin_dir": bin_dir}
    result, _out = call_main(postgresql_backup, args, capsys)
    assert result["failed"] is True
    assert result["msg"] == (
        "pg_dumpall not found in %s; install the PostgreSQL client (postgresql-client) or set bin_dir"
        % bin_dir
    )


# -- postgresql_restore refuses before touching anything --------------------------------------


def write_backup(directory, kind="postgresql", **changes):
    path = directory / "mplp-20261122T020000Z.dump.zst"
    artifact.write_bytes(str(path), b"archive")
    manifest = artifact.new_manifest(kind, "mplp", str(path), "custom", "zstd", database="mplp")
    manifest.update(
        size=7,
        sha256=artifact.sha256_file(str(path))[0],
        started="2026-11-22T02:00:00Z",
        finished="2026-11-22T02:00:03Z",
        status="complete",
        tables={"public.a": {"rows": 3}},
    )
    manifest.update(changes)
    artifact.write_manifest(str(path), manifest)
    return path


def test_restore_refuses_a_corrupt_archive_without_connecting(no_target, tmp_path):
    path = write_backup(tmp_path)
    path.write_bytes(b"archivX")
    module = FakeModule(module=postgresql_restore, archive=str(path))
    result = run(module, runner=pgrestore.run)
    assert result["failed"] is True
    assert result["msg"].startswith("refusing %s: sha256 is " % path)
    assert result["msg"].endswith("; " + NOTHING_CHANGED)


def test_restore_refuses_an_archive_without_manifest(no_target, tmp_path):
    path = tmp_path / "x.dump.zst"
    path.write_bytes(b"x")
    result = run(FakeModule(module=postgresql_restore, archive=str(path)), runner=pgrestore.run)
    assert result["msg"] == (
        "refusing %s: no manifest %s.manifest.json: the backup is incomplete or not ours; nothing was changed"
        % (path, path)
    )


def test_restore_of_globals_in_check_mode_changes_nothing(monkeypatch, tmp_path):
    path = write_backup(tmp_path, kind="postgresql-globals")
    monkeypatch.setattr(pg_session, "make_target", lambda params, kubernetes: FakeTarget())

    def never(*args, **kwargs):
        raise AssertionError("check mode must not restore")

    monkeypatch.setattr(pgrestore, "restore_globals", never)
    module = FakeModule(
        module=postgresql_restore, check_mode=True, archive=str(path), maintenance_db="postgres"
    )
    result = run(module, runner=pgrestore.run)
    assert result["changed"] is False and result["failed"] is False
    assert result["database"] == "postgres"
    assert result["manifest"]["kind"] == "postgresql-globals"


IMPORTS_PROBE = """
import contextlib, json, sys
from ansible.module_utils import basic
try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": json.loads(sys.argv[1])}).encode()
    patch_module_args = lambda args: contextlib.nullcontext()
from ansible_collections.multiagent.ops.plugins.modules import postgresql_backup
with patch_module_args(json.loads(sys.argv[1])):
    try:
        postgresql_backup.main()
    except SystemExit:
        pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")
sys.stderr.write("\\nLOADED=%s\\n" % json.dumps(loaded))
"""


def test_direct_mode_never_loads_the_kubernetes_library(tmp_path):
    """A direct backup talks to no cluster: the kubernetes library (0.7 s to import) stays out,
    also through kubernetes.core's requirement checks."""
    args = {
        "databases": ["mplp"],
        "dest": str(tmp_path / "b"),
        "bin_dir": fake_bin(tmp_path / "bin"),
        "_ansible_check_mode": True,
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert '"changed": true' in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.rsplit("LOADED=", 1)[1].strip() == "[]"
