# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL restores: the archive checked against its manifest before anything is touched,
``zstd -d | pg_restore`` in one transaction with its lock waits bounded (LockWatch), the
restored content compared with the manifest; the databases and sessions a restore handles;
and the runner of multiagent.ops.postgresql_restore.

**What a restore changes** (its ``changed``): the target database when pg_restore committed
(``restored``), and the database when the module created it (``database_created``), also
when the restore then failed. A restore in one transaction that failed (an error, a lock
wait cancelled, the connection lost) rolled back: nothing of it persisted, so it changed
nothing unless it created the database. Without one transaction a failed restore may have
left part of the archive: that is a change. Ending the other sessions of the database is
not one: nothing of it persists. A verify changes nothing unless its scratch database is
left behind (``keep_scratch``, or a drop that failed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common.pipeline import (
    PipelineError,
    ProducerError,
)
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content, session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

KINDS = ("postgresql", "postgresql-globals")
MAX_LOCK_TIMEOUT = 86400


def manifest_content_problems(archive_path, manifest):
    """Why a PostgreSQL manifest's contents cannot be used for ``archive_path`` (empty: they
    can): its ``file`` names another archive, or its ``tables`` cannot be checked against."""
    return artifact.file_problems(manifest, os.path.basename(archive_path)) + content.tables_problems(
        manifest
    )


def verified_manifest(archive_path, manifest=None):
    """The archive's manifest when the archive matches it and its contents can be checked
    against; BackupError naming what is wrong otherwise (raised before anything changes)."""
    manifest, problems = artifact.verify_file(archive_path, manifest)
    if problems:
        raise BackupError("refusing %s: %s" % (archive_path, "; ".join(problems)))
    if manifest.get("kind") not in KINDS:
        raise BackupError(
            "refusing %s: a %s backup, not a PostgreSQL one" % (archive_path, manifest.get("kind"))
        )
    problems = manifest_content_problems(archive_path, manifest)
    if problems:
        raise BackupError("refusing %s: %s" % (archive_path, "; ".join(problems)))
    return manifest


LOCK_WAIT_SQL = """
SELECT jsonb_build_object(
  'pid', a.pid,
  'blockers', (SELECT coalesce(jsonb_agg(jsonb_build_object(
      'pid', b.pid, 'user', b.usename, 'application', b.application_name,
      'client', host(b.client_addr), 'state', b.state, 'query', left(b.query, 200))), '[]'::jsonb)
    FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))))::text
FROM pg_stat_activity a
WHERE a.application_name = %s AND a.datname = %s AND a.wait_event_type = 'Lock'
LIMIT 1
"""


class LockWatch:
    """Bounds how long a restore waits for a lock. pg_restore's archive sets
    ``lock_timeout = 0`` itself, so a session that holds a table the restore must drop or fill
    (one that connected again after the others were ended) would hang it for ever, with the
    application stopped. While the restore runs, a thread looks every ``interval`` seconds,
    through ``session`` (another connection), for the restore's server session (by its
    ``application_name``) waiting on a lock; past ``timeout`` seconds of waiting it cancels
    it (``pg_cancel_backend``: pg_restore fails and its transaction rolls back) and keeps who
    held the lock for the message. ``timeout`` None or 0: no watch."""

    def __init__(self, session, dbname, application_name, timeout, interval=1.0, clock=time.monotonic):
        self.session = session
        self.dbname = dbname
        self.application_name = application_name
        self.timeout = float(timeout or 0)
        self.interval = min(interval, self.timeout / 3) if self.timeout else interval
        self.clock = clock
        self.cancelled = None
        self.error = None
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if self.timeout > 0:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return False

    def _watch(self):
        sql = LOCK_WAIT_SQL % (
            content.quote_literal(self.application_name),
            content.quote_literal(self.dbname),
        )
        since = None
        while not self._stop.wait(self.interval):
            try:
                waiting = self.session.value(sql)
                if not waiting:
                    since = None
                    continue
                now = self.clock()
                since = now if since is None else since
                if now - since >= self.timeout:
                    self.session.text("SELECT pg_cancel_backend(%d)" % int(waiting["pid"]))
                    self.cancelled = waiting
                    return
            except Exception as exc:  # noqa: BLE001 - the restore goes on unwatched; reported
                self.error = exc
                return

    def describe(self):
        """Why the restore was cancelled: how long it waited and who held the lock."""
        blockers = (self.cancelled or {}).get("blockers") or []
        held = "; ".join(
            "pid %s (user %s, application %s, client %s, %s: %s)"
            % (
                b.get("pid"),
                b.get("user"),
                b.get("application") or "-",
                b.get("client") or "local",
                b.get("state"),
                (b.get("query") or "").strip(),
            )
            for b in blockers
        )
        return "pg_restore waited more than %gs for a lock on %s%s and was cancelled" % (
            self.timeout,
            self.dbname,
            ", held by " + held if held else "",
        )


# -- databases and sessions ----------------------------------------------------------------


def terminate_sessions(admin, dbname):
    """End every other session on ``dbname``; returns how many were ended."""
    return int(
        admin.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()" % content.quote_literal(dbname)
        )
        or 0
    )


def database_exists(admin, dbname):
    return bool(
        admin.text("SELECT count(*) FROM pg_database WHERE datname = %s" % content.quote_literal(dbname))
        not in ("0", 0)
    )


def create_database(admin, dbname, owner=None):
    sql = "CREATE DATABASE %s TEMPLATE template0" % content.quote_ident(dbname)
    if owner:
        sql += " OWNER %s" % content.quote_ident(owner)
    admin.execute(sql)


def drop_database(admin, dbname):
    terminate_sessions(admin, dbname)
    admin.execute("DROP DATABASE IF EXISTS %s" % content.quote_ident(dbname))


def scratch_name(dbname, now=None):
    """The default scratch database of a verify: ``<database>_verify_<time>``, the database
    name cut to 40 bytes of UTF-8 (whole characters) so the name stays within PostgreSQL's
    63 bytes."""
    stem = dbname.encode("utf-8")[:40].decode("utf-8", "ignore")
    return "%s_verify_%s" % (stem, (now or artifact.utcnow()).strftime("%Y%m%d%H%M%S"))


# -- restoring -----------------------------------------------------------------------------


def check_restored(target, dbname, manifest):
    """Row counts and checksums of ``dbname`` now, against the manifest's."""
    expected = manifest.get("tables") or {}
    checking = target.session(dbname)
    try:
        checking.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found, extra = content.table_checks(checking, expected, content.key_format(manifest))
        checking.execute("COMMIT")
    finally:
        checking.close()
    return {
        "tables_checked": len(expected),
        "rows_checked": sum(int(v["rows"]) for v in found.values() if v),
        "problems": content.compare_content(expected, found),
        "extra_tables": extra,
    }


def restore_database(target, archive_path, manifest, dbname, **options):
    """restore_into() (``options`` are its keywords), then check against the manifest."""
    restore_into(target, archive_path, dbname, **options)
    return check_restored(target, dbname, manifest)


def restore_into(
    target,
    archive_path,
    dbname,
    single_transaction=True,
    clean=True,
    no_owner=False,
    extra_args=(),
    lock_timeout=None,
    watch_session=None,
):
    """zstd -d | pg_restore into ``dbname``, its lock waits watched (LockWatch) when
    ``lock_timeout`` and ``watch_session`` are given. Returns why the watch stopped early (an
    exception of its session: the restore went on unwatched), else None."""
    name = "multiagent.ops-restore-%s" % os.urandom(4).hex()
    argv = pg_argv.pg_restore_argv(
        target.tools["pg_restore"], dbname, single_transaction, clean, no_owner, extra_args, name
    )
    timeout = lock_timeout if watch_session is not None else None
    with LockWatch(watch_session, dbname, name, timeout) as watch:
        try:
            target.restore_from(archive_path, argv, target.tools["zstd"], "pg_restore into %s" % dbname)
        except ProducerError:
            raise
        except (BackupError, PipelineError) as exc:
            if watch.cancelled:
                raise BackupError("%s: %s" % (watch.describe(), exc)) from exc
            raise
    return watch.error


def restore_globals(target, archive_path):
    argv = pg_argv.psql_script_argv(target.tools["psql"], target.conn.get("maintenance_db") or "postgres")
    target.restore_from(archive_path, argv, target.tools["zstd"], "psql (globals)")


# -- the runner of multiagent.ops.postgresql_restore -------------------------------------------


def _brief(manifest):
    keys = ("kind", "target", "file", "started", "size", "sha256", "server_version", "database")
    return {k: manifest.get(k) for k in keys if k in manifest}


def _counts(target, dbname, manifest):
    """Exact row counts now of the backup's tables (for the diff)."""
    counting = target.session(dbname)
    try:
        expected = {key: {"rows": 0} for key in manifest.get("tables") or {}}
        found, extra = content.table_checks(counting, expected, content.key_format(manifest))
    finally:
        counting.close()
    now = {k: (v or {}).get("rows") for k, v in found.items()}
    now.update({k: "not in the backup" for k in extra})
    return now


def run(request, kubernetes):
    """Restore or verify the archive the options name (multiagent.ops.postgresql_restore),
    downloading it first from ``s3``. ``kubernetes()`` gives a k8s Client, asked for in
    in-cluster mode only."""
    p = request.params
    if not 0 <= p["lock_timeout"] <= MAX_LOCK_TIMEOUT:  # also refuses NaN
        raise OpsError(
            nothing_changed(
                "lock_timeout must be between 0 and %d seconds, not %s"
                % (MAX_LOCK_TIMEOUT, p["lock_timeout"])
            )
        )
    if not p["s3"]:
        return restore_archive(request, kubernetes, os.path.abspath(p["archive"]))
    try:
        staging = tempfile.mkdtemp(prefix="maops-restore-", dir=p["staging_dir"])
    except OSError as exc:
        raise OpsError(
            nothing_changed("cannot make a staging directory in %s: %s" % (p["staging_dir"], exc))
        ) from None
    try:
        try:
            archive = stores.fetch_backup(stores.open_store({"s3": p["s3"]}), p["archive"], staging)
        except (stores.StoreError, artifact.ArtifactError, OSError) as exc:
            raise OpsError(nothing_changed("cannot download the backup: %s" % exc)) from None
        return restore_archive(request, kubernetes, archive)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_archive(request, kubernetes, archive):
    """run() for a local archive."""
    p = request.params
    try:
        manifest = verified_manifest(archive)
        pg_argv.check_login(session.conn_params(p))
    except BackupError as exc:
        raise OpsError(nothing_changed(str(exc))) from None
    result = {"manifest": _brief(manifest), "changed": False}
    if not content.has_tables(manifest) and (p["check_content"] or p["state"] == "verified"):
        if p["state"] == "verified":
            raise OpsError(
                nothing_changed(
                    "the manifest of %s records no tables (row counts, checksums): a verify could "
                    "not check the restored content" % archive
                ),
                **result,
            )
        request.warn(
            "the manifest of %s records no tables (row counts, checksums): the restored content "
            "cannot be checked" % archive
        )
    try:
        target = session.make_target(p, kubernetes)
    except BackupError as exc:
        raise OpsError(str(exc), **result) from None

    if manifest["kind"] == "postgresql-globals":
        result["database"] = p["maintenance_db"]
        if request.check_mode or p["state"] == "verified":
            return result
        try:
            restore_globals(target, archive)
        except ProducerError as exc:
            # psql replayed what it got, and it stays: the roles and grants before the break
            result["changed"] = True
            raise OpsError("restoring the globals failed: %s" % exc, **result) from None
        except session.FAILURES as exc:
            raise OpsError("restoring the globals failed: %s" % exc, **result) from None
        result["changed"] = True
        return result

    dbname = p["database"] or manifest.get("database") or manifest["target"]
    try:
        admin = target.session(p["maintenance_db"])
    except content.SqlError as exc:
        raise OpsError(nothing_changed(str(exc)), **result) from None
    try:
        if p["state"] == "verified":
            _verify(request, target, admin, archive, manifest, dbname, result)
        else:
            _restore(request, target, admin, archive, manifest, dbname, result)
    finally:
        admin.close()
    return result


def _verify(request, target, admin, archive, manifest, dbname, result):
    p = request.params
    scratch = p["scratch_database"] or scratch_name(dbname)
    result["database"] = scratch
    if len(scratch.encode("utf-8")) > 63:
        raise OpsError(
            nothing_changed("the scratch database name %s is longer than PostgreSQL's 63 bytes" % scratch),
            **result,
        )
    if request.check_mode:
        return
    result.update(restored=False, database_created=False)
    try:
        if database_exists(admin, scratch):
            raise OpsError(
                nothing_changed("the scratch database %s already exists; name another" % scratch), **result
            )
        create_database(admin, scratch)
        result["database_created"] = True
    except content.SqlError as exc:
        raise OpsError(
            nothing_changed("cannot create the scratch database %s: %s" % (scratch, exc)), **result
        ) from None
    failure = None
    try:
        restore_into(target, archive, scratch, no_owner=True, extra_args=p["restore_args"])
        result["restored"] = True
        result["checks"] = check_restored(target, scratch, manifest)
        if result["checks"]["problems"]:
            failure = "the backup restored into %s, but its content differs from the manifest: %s" % (
                scratch,
                "; ".join(result["checks"]["problems"]),
            )
    except session.FAILURES as exc:
        failure = "the backup does not restore: %s" % exc
    finally:
        # The scratch database is the only thing a verify writes: it changed something when
        # it is left behind.
        result["changed"] = True
        if not p["keep_scratch"]:
            try:
                drop_database(admin, scratch)
                result["changed"] = False
            except content.SqlError as exc:
                request.warn("could not drop the scratch database %s: %s" % (scratch, exc))
    if failure:
        raise OpsError(failure, **result)


def _restore(request, target, admin, archive, manifest, dbname, result):
    p = request.params
    result["database"] = dbname
    try:
        exists = database_exists(admin, dbname)
    except content.SqlError as exc:
        raise OpsError(nothing_changed(str(exc)), **result) from None
    result.update(database_exists=exists, restored=False, database_created=False)
    if not exists and not p["create"]:
        raise OpsError(nothing_changed("database %s does not exist (create=false)" % dbname), **result)
    if request.diff:
        try:
            before = _counts(target, dbname, manifest) if exists else {}
        except content.SqlError as exc:
            raise OpsError(
                nothing_changed("cannot count the rows of %s: %s" % (dbname, exc)), **result
            ) from None
        result["diff"] = {
            "before": {"database": dbname, "tables": before},
            "after": {
                "database": dbname,
                "tables": {k: v.get("rows") for k, v in (manifest.get("tables") or {}).items()},
            },
        }
    if request.check_mode:
        result["changed"] = True
        return
    try:
        if not exists:
            create_database(admin, dbname)
            result.update(database_created=True, changed=True)
        result["sessions_terminated"] = terminate_sessions(admin, dbname) if p["terminate_sessions"] else 0
    except content.SqlError as exc:
        message = "cannot prepare %s for the restore: %s" % (dbname, exc)
        if result["database_created"]:
            raise OpsError(
                "%s; %s was created and is empty, nothing was restored" % (message, dbname), **result
            )
        raise OpsError(nothing_changed(message), **result) from None
    try:
        unwatched = restore_into(
            target,
            archive,
            dbname,
            p["single_transaction"],
            p["clean"],
            p["no_owner"],
            p["restore_args"],
            p["lock_timeout"],
            admin,
        )
    except ProducerError as exc:
        # pg_restore itself succeeded: what it restored is committed.
        result.update(restored=True, changed=True)
        raise OpsError(
            "pg_restore into %s succeeded and committed, but the archive did not decompress "
            "to the end: %s" % (dbname, exc),
            **result,
        ) from None
    except session.FAILURES as exc:
        if p["single_transaction"]:
            # Rolled back: nothing of the restore persisted (changed stays whether the
            # database was created).
            state = "it ran in one transaction, which was rolled back: %s is as it was before" % dbname
            if result["database_created"]:
                state = "it ran in one transaction, which was rolled back: %s was created and is empty" % (
                    dbname
                )
        else:
            state = "single_transaction=false: %s may be partly restored" % dbname
            result["changed"] = True
        raise OpsError("the restore failed (%s): %s" % (state, exc), **result) from None
    result.update(restored=True, changed=True)
    if unwatched is not None:
        request.warn("the restore's lock waits could not be watched (lock_timeout): %s" % unwatched)
    if p["check_content"]:
        try:
            result["checks"] = check_restored(target, dbname, manifest)
        except content.SqlError as exc:
            raise OpsError(
                "restored into %s, but the content check failed: %s" % (dbname, exc), **result
            ) from None
        if result["checks"]["problems"]:
            raise OpsError(
                "restored into %s, but its content differs from the backup: %s"
                % (dbname, "; ".join(result["checks"]["problems"])),
                **result,
            )
