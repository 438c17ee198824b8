"""postgresql_restore's runner (pg/restore.run) through the module contract: what it refuses
before touching anything, and what it reports (restored, database_created, changed) when a
restore fails."""

import threading

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.pipeline import (
    PipelineError,
    ProducerError,
)
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import NOTHING_CHANGED
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content
from ansible_collections.multiagent.ops.plugins.module_utils.pg import restore as pgrestore
from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError
from ansible_collections.multiagent.ops.plugins.modules import postgresql_restore

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


def no_kubernetes():
    raise AssertionError("these tests run in direct mode: no Kubernetes client")


def run(module):
    with pytest.raises(Exit):
        finish(module, pgrestore.run, no_kubernetes)
    return module.result


def use(monkeypatch, target, checks=None):
    monkeypatch.setattr(pg_session, "make_target", lambda params, kubernetes: target)
    monkeypatch.setattr(
        pgrestore,
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
    assert "line break" in result["msg"] and result["msg"].endswith(NOTHING_CHANGED)


@pytest.mark.parametrize(
    "tables",
    [{"public.a": 5}, {"public.a": {"rows": "3"}}, {"public.a": {"rows": 3, "checksum": "zz"}}, [1]],
)
def test_malformed_tables_are_refused_before_connecting(no_target, tmp_path, tables):
    result = run(FakeModule(archive=str(write_backup(tmp_path, tables=tables))))
    assert result["failed"] is True and result["msg"].endswith("; " + NOTHING_CHANGED)
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


def test_a_scratch_name_over_63_bytes_is_refused(monkeypatch, tmp_path):
    target = Target(Admin(exists=False))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path)), state="verified", scratch_database="é" * 32))
    assert result["failed"] is True and "63 bytes" in result["msg"]
    assert target.restored == [] and target.admin.executed == []


# -- what a failed restore reports ---------------------------------------------------------


def test_a_restore_that_failed_in_pg_restore_was_rolled_back(monkeypatch, tmp_path):
    target = Target(Admin(), error=BackupError("pg_restore into mplp failed (exit code 1): ERROR"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "rolled back: mplp is as it was before" in result["msg"]
    assert result["restored"] is False and result["database_created"] is False
    assert result["database_exists"] is True
    assert result["changed"] is False  # rolled back: nothing persisted


def test_a_restore_into_a_new_database_that_failed_says_it_was_created(monkeypatch, tmp_path):
    target = Target(Admin(exists=False), error=BackupError("pg_restore failed"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "mplp was created and is empty" in result["msg"]
    assert result["restored"] is False and result["database_created"] is True
    assert result["changed"] is True  # the database it created stays


def test_a_restore_whose_pg_restore_succeeded_is_not_reported_as_rolled_back(monkeypatch, tmp_path):
    target = Target(Admin(), error=ProducerError("decompressing the archive failed: x"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "rolled back" not in result["msg"]
    assert "succeeded and committed" in result["msg"] and result["restored"] is True
    assert result["changed"] is True


def test_a_content_check_that_fails_after_the_commit_says_restored(monkeypatch, tmp_path):
    checks = {"tables_checked": 1, "rows_checked": 0, "problems": ["public.a has 0 rows"], "extra_tables": []}
    target = Target(Admin())
    use(monkeypatch, target, checks)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and "content differs" in result["msg"]
    assert result["restored"] is True and result["database_created"] is False
    assert result["changed"] is True


def test_the_check_mode_plan_says_whether_the_database_exists(monkeypatch, tmp_path):
    for exists in (True, False):
        target = Target(Admin(exists=exists))
        use(monkeypatch, target)
        result = run(FakeModule(check_mode=True, archive=str(write_backup(tmp_path))))
        assert result["failed"] is False and result["database_exists"] is exists
        assert result["database"] == "mplp" and result["changed"] is True
        assert target.restored == [] and target.admin.executed == []
        (tmp_path / "mplp-20261122T020000Z.dump.zst").unlink()
        (tmp_path / "mplp-20261122T020000Z.dump.zst.manifest.json").unlink()


class LockedAdmin(Admin):
    """The maintenance session the lock watch looks through: the restore's server session
    waits on a lock held by pid 77 until it is cancelled."""

    def __init__(self):
        super().__init__()
        self.cancelled = threading.Event()

    def value(self, sql):
        assert "pg_blocking_pids" in sql
        blocker = {"pid": 77, "user": "app", "application": "worker", "client": "10.0.0.9"}
        blocker.update(state="idle in transaction", query="SELECT 1")
        return {"pid": 4242, "blockers": [blocker]}

    def text(self, sql):
        if "pg_cancel_backend" in sql:
            self.cancelled.set()
            return "t"
        return super().text(sql)


class LockedTarget(Target):
    def restore_from(self, archive, argv, zstd, what):
        self.restored.append(argv)
        assert self.admin.cancelled.wait(30), "the lock watch never cancelled the restore"
        raise PipelineError("%s failed (exit code 1): ERROR: canceling statement due to user request" % what)


def test_a_restore_cancelled_by_its_lock_timeout_changed_nothing(monkeypatch, tmp_path):
    target = LockedTarget(LockedAdmin())
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path)), lock_timeout=0.05))
    assert result["failed"] is True
    assert result["msg"].startswith(
        "the restore failed (it ran in one transaction, which was rolled back: mplp is as it was before): "
        "pg_restore waited more than 0.05s for a lock on mplp, held by pid 77 (user app, application worker"
    )
    assert result["restored"] is False and result["database_created"] is False
    assert result["changed"] is False
    assert result["sessions_terminated"] == 2  # ending sessions is no change: nothing of it persists


def test_a_failed_restore_outside_one_transaction_may_have_left_part(monkeypatch, tmp_path):
    target = Target(Admin(), error=PipelineError("pg_restore into mplp failed (exit code 1): ERROR"))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path)), single_transaction=False))
    assert result["failed"] is True and "mplp may be partly restored" in result["msg"]
    assert result["restored"] is False and result["changed"] is True


def test_a_restore_that_commits_is_a_change(monkeypatch, tmp_path):
    target = Target(Admin())
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is False and result["changed"] is True and result["restored"] is True
    assert result["checks"]["problems"] == []


class FailingAdmin(Admin):
    def text(self, sql):
        if "pg_terminate_backend" in sql:
            raise content.SqlError("permission denied to terminate")
        return super().text(sql)


@pytest.mark.parametrize("exists", [True, False])
def test_a_restore_that_cannot_end_the_sessions_says_what_it_did(monkeypatch, tmp_path, exists):
    target = Target(FailingAdmin(exists=exists))
    use(monkeypatch, target)
    result = run(FakeModule(archive=str(write_backup(tmp_path))))
    assert result["failed"] is True and target.restored == []
    if exists:
        assert result["msg"] == (
            "cannot prepare mplp for the restore: permission denied to terminate; " + NOTHING_CHANGED
        )
        assert result["changed"] is False
    else:
        assert result["msg"].endswith("; mplp was created and is empty, nothing was restored")
        assert result["changed"] is True and result["database_created"] is True


@pytest.mark.parametrize("keep", [False, True])
def test_a_verify_changes_something_only_when_it_keeps_its_scratch_database(monkeypatch, tmp_path, keep):
    admin = Admin(exists=False)
    use(monkeypatch, Target(admin))
    result = run(FakeModule(archive=str(write_backup(tmp_path)), state="verified", keep_scratch=keep))
    assert result["failed"] is False and result["restored"] is True
    assert result["changed"] is keep
    assert any(sql.startswith("DROP DATABASE") for sql in admin.executed) is not keep
