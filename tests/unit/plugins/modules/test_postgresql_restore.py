"""Module glue of postgresql_restore: what it refuses before touching anything, the scratch
name, and what it reports (restored, database_created) when a restore fails."""

import datetime

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module
from ansible_collections.multiagent.ops.plugins.modules import postgresql_restore

T0 = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.UTC)
GOOD_TABLES = {"public.a": {"rows": 3, "checksum": "00000000000000aa", "method": "record"}}


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(postgresql_restore, check_mode, diff, **params)


def write_backup(directory, **changes):
    changes = dict({"database": "mplp", "tables": GOOD_TABLES}, **changes)
    return fakes.write_backup(directory / "mplp-20261122T020000Z.dump.zst", **changes)


class Admin:
    def __init__(self, exists=True):
        self.exists = exists
        self.executed = []

    def text(self, sql):
        if "FROM pg_database" in sql:
            return "1" if self.exists else "0"
        if "pg_terminate_backend" in sql:
            return "2"
        raise AssertionError(sql)

    def execute(self, sql):
        self.executed.append(sql)

    def close(self):
        pass


class Target:
    tools = {"pg_restore": "/pg/bin/pg_restore", "zstd": "/usr/bin/zstd"}

    def __init__(self, admin, error=None):
        self.admin = admin
        self.error = error
        self.restored = []

    def session(self, dbname):
        return self.admin

    def restore_from(self, archive, argv, zstd, what):
        self.restored.append(argv)
        if self.error:
            raise self.error


def run(module):
    with pytest.raises(Exit):
        postgresql_restore.run(module)
    return module.result


def use(monkeypatch, target, checks=None):
    monkeypatch.setattr(pg_module, "make_target", lambda module: target)
    monkeypatch.setattr(
        pgbackup,
        "check_restored",
        lambda target, dbname, manifest: (
            checks or {"tables_checked": 1, "rows_checked": 3, "problems": [], "extra_tables": []}
        ),
    )


# -- refused before anything is touched ----------------------------------------------------


@pytest.mark.parametrize("timeout", [-1.0, 86401.0, float("inf"), float("nan")])
def test_a_lock_timeout_out_of_range_is_refused_before_connecting(no_target, tmp_path, timeout):
    result = run(FakeModule(archive=str(write_backup(tmp_path)), lock_timeout=timeout))
    assert result["failed"] is True
    assert result["msg"].startswith("lock_timeout must be between 0 and 86400 seconds")


@pytest.mark.parametrize("password", ["pa\nss", "pa\rss"])
def test_a_password_with_a_line_break_is_refused_before_connecting(no_target, tmp_path, password):
    result = run(FakeModule(archive=str(write_backup(tmp_path)), login_password=password))
    assert result["failed"] is True
    assert "line break" in result["msg"] and result["msg"].endswith("nothing was touched")


@pytest.mark.parametrize(
    "tables",
    [{"public.a": 5}, {"public.a": {"rows": "3"}}, {"public.a": {"rows": 3, "checksum": "zz"}}, [1]],
)
def test_malformed_tables_are_refused_before_connecting(no_target, tmp_path, tables):
    result = run(FakeModule(archive=str(write_backup(tmp_path, tables=tables))))
    assert result["failed"] is True and result["msg"].endswith("; nothing was touched")
    assert "tables" in result["msg"]


def test_a_manifest_without_tables_fails_verify_before_connecting(no_target, tmp_path):
    result = run(FakeModule(archive=str(write_backup(tmp_path, tables=None)), state="verified"))
    assert result["failed"] is True and "records no tables" in result["msg"]


def test_a_manifest_without_tables_restores_with_a_warning(monkeypatch, tmp_path):
    target = Target(Admin())
    use(monkeypatch, target)
    module = FakeModule(archive=str(write_backup(tmp_path, tables=None)))
    result = run(module)
    assert result["failed"] is False and result["restored"] is True
    assert any("records no tables" in text for text in module.warnings)


# -- scratch name --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mplp", "é" * 40, "a" + "é" * 40, "日本" * 20, "x" * 80])
def test_the_default_scratch_name_fits_in_63_bytes_and_keeps_whole_characters(name):
    scratch = postgresql_restore.scratch_name(name, T0)
    assert scratch.endswith("_verify_20261122020000")
    assert len(scratch.encode("utf-8")) <= 63
    stem = scratch[: -len("_verify_20261122020000")]
    assert name.startswith(stem) and len(stem.encode("utf-8")) >= min(37, len(name.encode("utf-8")))


def test_a_scratch_name_over_63_bytes_is_refused(monkeypatch, tmp_path):
    target = Target(Admin(exists=False))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path)), state="verified", scratch_database="é" * 32))
    assert result["failed"] is True and "63 bytes" in result["msg"]
    assert target.restored == [] and target.admin.executed == []


# -- what a failed restore reports ---------------------------------------------------------


def test_a_restore_that_failed_in_pg_restore_was_rolled_back(monkeypatch, tmp_path):
    target = Target(Admin(), error=pgbackup.BackupError("pg_restore into mplp failed (exit code 1): ERROR"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "rolled back: mplp is as it was before" in result["msg"]
    assert result["restored"] is False and result["database_created"] is False
    assert result["database_exists"] is True


def test_a_restore_into_a_new_database_that_failed_says_it_was_created(monkeypatch, tmp_path):
    target = Target(Admin(exists=False), error=pgbackup.BackupError("pg_restore failed"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "mplp was created and is empty" in result["msg"]
    assert result["restored"] is False and result["database_created"] is True


def test_a_restore_whose_pg_restore_succeeded_is_not_reported_as_rolled_back(monkeypatch, tmp_path):
    target = Target(Admin(), error=pgbackup.ProducerError("decompressing the archive failed: x"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "rolled back" not in result["msg"]
    assert "succeeded and committed" in result["msg"] and result["restored"] is True


def test_a_content_check_that_fails_after_the_commit_says_restored(monkeypatch, tmp_path):
    checks = {"tables_checked": 1, "rows_checked": 0, "problems": ["public.a has 0 rows"], "extra_tables": []}
    target = Target(Admin())
    use(monkeypatch, target, checks)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "content differs" in result["msg"]
    assert result["restored"] is True and result["database_created"] is False


def test_the_check_mode_plan_says_whether_the_database_exists(monkeypatch, tmp_path):
    for exists in (True, False):
        target = Target(Admin(exists=exists))
        use(monkeypatch, target)
        result = run(FakeModule(check_mode=True, archive=str(write_backup(tmp_path))))
        assert result["failed"] is False and result["database_exists"] is exists
        assert target.restored == [] and target.admin.executed == []
        (tmp_path / "mplp-20261122T020000Z.dump.zst").unlink()
        (tmp_path / "mplp-20261122T020000Z.dump.zst.manifest.json").unlink()
