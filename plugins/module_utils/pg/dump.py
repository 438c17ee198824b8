# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups: pg_dump streamed through zstd into atomic, checksummed archives with a
manifest, and the runner of multiagent.ops.postgresql_backup.

**Format and compression, by measurement** (bench/backup_bench.py): ``pg_dump -Fc -Z0``
(custom format: pg_restore can restore it in one transaction, select objects, list its
contents) piped through ``zstd -1 -T0`` (multi-threaded). On 1 GB of varied data zstd -1
makes a smaller archive than ``pg_dump | gzip`` (gzip -6: 53 CPU seconds, single-threaded;
zstd -1: 7, on every core); levels above 1 cost twice the CPU or more for under 1%.
The globals (roles, tablespaces, grants; ``pg_dumpall --globals-only``) are plain SQL,
compressed the same way.

**Consistency**: the backup opens a REPEATABLE READ transaction, exports its snapshot
(``pg_export_snapshot()``) and runs ``pg_dump --snapshot=…``; the row counts and content
checksums of the manifest (content.py) are computed in that same transaction, so they
describe exactly the dumped data, while the dump runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel, pipeline
from ansible_collections.multiagent.ops.plugins.module_utils.common.pipeline import describe_oserror
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content, session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

EXT = {"custom": ".dump.zst", "globals": ".globals.sql.zst"}
KIND_EXT = {"postgresql": EXT["custom"], "postgresql-globals": EXT["globals"]}
CREATED_BY = "multiagent.ops.postgresql_backup"
CHECKSUM_DEFINITION = (
    "per table: rows, and the sum modulo 2^64 of a 64-bit hash of every row (method record: "
    "hashint8extended(hash_record_extended(row, 0), 0); text: hashtextextended(row::text, 0)), "
    "as 16 hex digits; computed with TimeZone=UTC, DateStyle='ISO, MDY', IntervalStyle=postgres, "
    "extra_float_digits=3, bytea_output=hex (the text form does not depend on the session)"
)


class SnapshotHolder:
    """A REPEATABLE READ, READ ONLY transaction with its snapshot exported; the content
    snapshot is computed in it (in a thread) while pg_dump runs with ``--snapshot``."""

    def __init__(self, session, exclude_data=(), checksums=True):
        self.session = session
        self.exclude_data = exclude_data
        self.checksums = checksums
        self.snapshot_id = None
        self.server_version = None
        self.database_size = None
        self.content = None
        self.error = None
        self._thread = None

    def begin(self):
        self.session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        self.snapshot_id = self.session.text("SELECT pg_export_snapshot()")
        self.server_version = self.session.text("SELECT current_setting('server_version')")
        self.database_size = int(self.session.text("SELECT pg_database_size(current_database())"))
        return self.snapshot_id

    def start_content(self):
        def work():
            try:
                self.content = content.content_snapshot(self.session, self.exclude_data, self.checksums)
            except Exception as exc:  # noqa: BLE001 - reported by finish()
                self.error = exc

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def abort(self):
        """Stop the content queries if they still run (the dump failed) and end the transaction."""
        if self._thread is not None and self._thread.is_alive():
            self.session.cancel()
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self.session.execute("ROLLBACK")

    def finish(self):
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            self.session.execute("COMMIT")
        if self.error:
            raise BackupError("cannot take the row counts and checksums: %s" % self.error)
        return self.content


def timed_manifest(manifest, started, writer):
    finished = artifact.utcnow()
    manifest.update(
        size=writer.size,
        sha256=writer.sha256,
        started=artifact.iso(started),
        finished=artifact.iso(finished),
        duration_seconds=round((finished - started).total_seconds(), 3),
        status="complete",
    )
    return manifest


def backup_database(
    target,
    dbname,
    directory,
    prefix=None,
    level=1,
    threads=0,
    checksums=True,
    exclude_table_data=(),
    extra_args=(),
    now=None,
    label=None,
):
    """Dump one database into ``directory``: archive then manifest. Returns the manifest and
    the archive path. On any failure nothing is left under the final names."""
    started = now or artifact.utcnow()
    clock = time.monotonic()
    name = artifact.archive_name(prefix or dbname, started, EXT["custom"])
    path = os.path.join(directory, name)
    pg_argv.refuse_narrowing_dump_args(extra_args)
    snapshot_session = target.session(dbname)
    try:
        # Each entry names exactly one table, resolved here (quoting, case folding, search_path):
        # pg_dump gets it quoted (taken literally) and the content snapshot leaves out the same.
        excluded = content.resolve_tables(snapshot_session, exclude_table_data)
    except BaseException:
        snapshot_session.close()
        raise
    holder = SnapshotHolder(snapshot_session, excluded, checksums)
    try:
        snapshot_id = holder.begin()
        argv = pg_argv.pg_dump_argv(target.tools["pg_dump"], dbname, snapshot_id, excluded, extra_args)
        manifest = artifact.new_manifest(
            "postgresql",
            dbname,
            path,
            "custom",
            "zstd",
            compression_level=int(level),
            database=dbname,
            label=label,
            source=target.source(),
            server_version=holder.server_version,
            client_version=target.tool_version("pg_dump"),
            database_size=holder.database_size,
            snapshot=snapshot_id,
            exclude_table_data=[content.qualified(schema, table) for schema, table in excluded],
            checksum_definition=CHECKSUM_DEFINITION,
            table_key_format=content.TABLE_KEY_FORMAT,
            created_by=CREATED_BY,
        )

        def produce(writer):
            holder.start_content()
            zstd = pipeline.zstd_argv(target.tools["zstd"], level, threads)
            target.dump_into(argv, writer, zstd, "pg_dump of %s" % dbname)
            manifest["tables"] = holder.finish()
            timed_manifest(manifest, started, writer)
            manifest["duration_seconds"] = round(time.monotonic() - clock, 3)

        _write_archive(path, "backup", produce)
    finally:
        holder.abort()
        snapshot_session.close()
    _write_manifest(path, manifest)
    return manifest, path


def _write_archive(path, what, produce):
    """``produce(writer)`` writes the archive under a temporary name, renamed into place when
    it returns; BackupError naming the cause otherwise (nothing is left)."""
    try:
        with artifact.AtomicWriter(path) as writer:
            produce(writer)
            writer.commit()
    except OSError as exc:
        raise BackupError(
            "writing the %s failed, nothing kept: %s" % (what, describe_oserror(exc, path))
        ) from exc
    except artifact.ArtifactError as exc:
        raise BackupError(str(exc)) from exc


def _write_manifest(path, manifest):
    """The manifest beside the archive, last: a backup counts only with it; the archive is
    removed when it cannot be written."""
    try:
        artifact.write_manifest(path, manifest)
    except cancel.Cancelled as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
            cancel.note_removed(exc, path)
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise BackupError(
            "writing the manifest failed, the archive was removed: %s" % describe_oserror(exc, path)
        ) from exc


def backup_globals(target, directory, prefix, level=1, no_role_passwords=False, now=None, label=None):
    started = now or artifact.utcnow()
    name = artifact.archive_name(prefix, started, EXT["globals"])
    path = os.path.join(directory, name)
    argv = pg_argv.pg_dumpall_globals_argv(target.tools["pg_dumpall"], no_role_passwords) + [
        "--database=" + pg_argv.dbname_arg(target.conn.get("maintenance_db") or "postgres")
    ]
    manifest = artifact.new_manifest(
        "postgresql-globals",
        prefix,
        path,
        "sql",
        "zstd",
        compression_level=int(level),
        label=label,
        source=target.source(),
        client_version=target.tool_version("pg_dumpall"),
        role_passwords=not no_role_passwords,
        created_by=CREATED_BY,
    )

    def produce(writer):
        zstd = pipeline.zstd_argv(target.tools["zstd"], level)
        target.dump_into(argv, writer, zstd, "pg_dumpall --globals-only")
        timed_manifest(manifest, started, writer)

    _write_archive(path, "globals", produce)
    _write_manifest(path, manifest)
    return manifest, path


def list_databases(target, maintenance_db, exclude):
    """The databases that accept connections (templates excluded), minus ``exclude``."""
    listing = target.session(maintenance_db)
    try:
        names = listing.value(
            "SELECT coalesce(jsonb_agg(datname ORDER BY datname), '[]'::jsonb)::text FROM pg_database "
            "WHERE datallowconn AND NOT datistemplate"
        )
    finally:
        listing.close()
    return [name for name in names or [] if name not in set(exclude)]


def entry(manifest, path, url=None):
    """One entry of the ``backups`` result (artifact.backup_entry) for a written archive."""
    tables = manifest.get("tables") or {}
    return artifact.backup_entry(
        path,
        manifest,
        url,
        kind=manifest["kind"],
        target=manifest["target"],
        duration_seconds=manifest.get("duration_seconds"),
        tables=len(tables),
        rows=sum(int(t.get("rows") or 0) for t in tables.values()),
    )


# -- the runner of multiagent.ops.postgresql_backup --------------------------------------------


def _validate(p):
    if not 1 <= p["compression_level"] <= 19:
        raise OpsError("compression_level must be between 1 and 19, not %s" % p["compression_level"])
    if not (p["databases"] or p["all_databases"] or p["globals"]):
        raise OpsError("nothing to back up: give databases, all_databases=true or globals=true")
    try:
        pg_argv.refuse_narrowing_dump_args(p["dump_args"])
        pg_argv.check_login(session.conn_params(p))
    except BackupError as exc:
        raise OpsError(nothing_changed(str(exc))) from None


def _open_remote(p):
    if not p["s3"]:
        return None
    try:
        remote = stores.open_store({"s3": p["s3"]})
        remote.list()  # fails now, naming the bucket, when it cannot be used
    except stores.StoreError as exc:
        raise OpsError(nothing_changed("cannot use the S3 location: %s" % exc)) from None
    return remote


def _databases(p, target):
    databases = list(p["databases"])
    if p["all_databases"]:
        try:
            found = list_databases(target, p["maintenance_db"], p["exclude_databases"])
        except content.SqlError as exc:
            raise OpsError("cannot list the databases: %s" % exc) from None
        databases.extend(name for name in found if name not in databases)
    return databases


def _plan(p, databases, now):
    """``[(kind, target, prefix, path)]`` of the archives to write, in order."""
    several = len(databases) > 1
    plan = []
    for db in databases:
        prefix = (("%s-%s" % (p["prefix"], db)) if several else p["prefix"]) if p["prefix"] else db
        plan.append(("postgresql", db, prefix))
    if p["globals"]:
        host = p["login_host"] if p["mode"] == "direct" else p["namespace"]
        prefix = "%s-globals" % (p["prefix"] or host)
        plan.append(("postgresql-globals", prefix, prefix))
    return [
        (kind, name, prefix, os.path.join(p["dest"], artifact.archive_name(prefix, now, KIND_EXT[kind])))
        for kind, name, prefix in plan
    ]


def run(request, kubernetes):
    """Back up the databases and globals the options name (multiagent.ops.postgresql_backup).
    ``kubernetes()`` gives a k8s Client, asked for in in-cluster mode only."""
    p = request.params
    _validate(p)
    remote = _open_remote(p)
    try:
        target = session.make_target(p, kubernetes)
    except BackupError as exc:
        raise OpsError(str(exc)) from None
    databases = _databases(p, target)
    plan = _plan(p, databases, artifact.utcnow())
    if request.check_mode:
        backups = [artifact.backup_entry(path, kind=kind, target=name) for kind, name, _prefix, path in plan]
        return {"changed": True, "backups": backups, "databases": databases}

    created = not os.path.isdir(p["dest"])
    if created:
        try:
            os.makedirs(p["dest"], mode=0o700, exist_ok=True)
        except OSError as exc:
            raise OpsError("cannot create the backup directory %s: %s" % (p["dest"], exc.strerror)) from None
    stale = artifact.remove_stale_partials(p["dest"])
    if stale:
        request.warn(
            "removed the temporary file(s) of backups whose writer was killed: %s" % ", ".join(stale)
        )
    written = []
    kept_locally = []  # archives written but not uploaded (the upload failed)
    try:
        for kind, name, prefix, _path in plan:
            with cancel.step("the backup of %s" % (name if kind == "postgresql" else "the globals")):
                written.append(_backup_one(request, target, remote, kind, name, prefix, kept_locally))
    except session.FAILURES as exc:
        # What persisted: the archives written (and uploaded), one whose upload failed (kept
        # in dest), the directory made for them, the stale files removed.
        changed = bool(written or kept_locally or created or stale)
        message = "backup failed: %s" % exc
        if written:
            message += "; completed before the failure: %s" % ", ".join(item["path"] for item in written)
        elif not changed:
            message = nothing_changed(message)
        raise OpsError(message, changed=changed, backups=written, databases=databases) from None
    return {"changed": True, "backups": written, "databases": databases}


def _backup_one(request, target, remote, kind, name, prefix, kept_locally):
    """Write (and upload) one archive of the plan; its ``backups`` entry."""
    p = request.params
    if kind == "postgresql":
        manifest, path = backup_database(
            target,
            name,
            p["dest"],
            prefix=prefix,
            level=p["compression_level"],
            threads=p["threads"],
            checksums=p["checksums"],
            exclude_table_data=p["exclude_table_data"],
            extra_args=p["dump_args"],
            label=p["label"],
        )
    else:
        manifest, path = backup_globals(
            target,
            p["dest"],
            prefix,
            level=p["compression_level"],
            no_role_passwords=p["globals_no_role_passwords"],
            label=p["label"],
        )
    return _keep(request, remote, manifest, path, kept_locally)


def _keep(request, remote, manifest, path, kept_locally):
    """The ``backups`` entry of a written archive, uploaded first with ``s3`` (and the local
    copy removed unless ``keep_local``)."""
    if remote is None:
        return entry(manifest, path)
    try:
        url = stores.publish(remote, path)
    except (stores.StoreError, artifact.ArtifactError, OSError) as exc:
        kept_locally.append(path)
        raise BackupError(
            "uploading %s failed, it was not stored in the bucket (the archive and its manifest stay "
            "in %s): %s" % (path, os.path.dirname(path), exc)
        ) from exc
    if not request.params["keep_local"]:
        for local in (path, artifact.manifest_name(path)):
            try:
                os.unlink(local)
            except OSError as exc:
                request.warn("%s is uploaded, but its local copy could not be removed: %s" % (local, exc))
    return entry(manifest, path, url)
