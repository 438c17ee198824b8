# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis backups: the plan, the snapshot compressed and written, the manifest, and what a
restore needs of them (verify an archive, find the newest verified one, unpack it); the
runner of multiagent.ops.redis_backup.

The RDB streamed over the replication protocol (rdb.py) goes straight into an
``artifact.AtomicWriter`` (hashed as it is written) and, with compression, at the same time
into ``zstd`` whose output a thread writes into a second AtomicWriter: the server sets the
pace, so compressing costs little extra time. ``redis-check-rdb`` then checks the raw RDB
*before* anything is committed; a rejected snapshot leaves nothing behind. The manifest is
written last.

The manifest's key counts are the RDB's own RESIZEDB records when ``redis-check-rdb``'s
count confirms them (``keyspace_source: rdb``), else ``INFO keyspace`` just before the
snapshot (``keyspace_source: info``, informative only).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel, pipeline, tools
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos
from ansible_collections.multiagent.ops.plugins.module_utils.redis import rdb
from ansible_collections.multiagent.ops.plugins.module_utils.redis import wire as wires
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import CHUNK, RedisBackupError, reason

KIND = "redis"
FORMAT = "rdb"
COMPRESSIONS = ("zstd", "none")
EXTENSIONS = {"zstd": ".rdb.zst", "none": ".rdb"}
TOOL_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/opt/redis/bin")
PACKAGES = {"redis-check-rdb": "redis-tools", "redis-server": "redis-server", "zstd": "zstd"}


# -- tools ---------------------------------------------------------------------------------


def find_tool(name, given=None):
    """The path of a tool: the one given, else PATH, else the usual directories."""
    try:
        found = tools.given_tool(given, name) if given else tools.find_tool(name, fallback=TOOL_DIRS)
    except tools.ToolError as exc:
        raise RedisBackupError(str(exc), cause="tool") from None
    if found is None:
        raise RedisBackupError(
            "%s was not found on the controller (PATH, %s): install the %s package or give its path"
            % (name, ", ".join(TOOL_DIRS), PACKAGES.get(name, name)),
            cause="tool",
        )
    return found


# -- writing -------------------------------------------------------------------------------


class _Writer(artifact.AtomicWriter):
    """AtomicWriter whose buffered bytes can be pushed to its temporary file before the
    commit, so that redis-check-rdb reads all of it."""

    def flush(self):
        self._file.flush()


class _Tee:
    def __init__(self, *outs):
        self.outs = outs

    def write(self, data):
        for out in self.outs:
            out.write(data)


# -- backup --------------------------------------------------------------------------------


def archive_prefix(name):
    return "redis-%s" % artifact.safe_part(name)


def plan_backup(conn, directory, name=None, compression="zstd", moment=None):
    """``(archive file name, absolute path)`` the backup gets; validates the inputs."""
    if compression not in COMPRESSIONS:
        raise RedisBackupError(
            "compression must be one of %s, not %r" % (", ".join(COMPRESSIONS), compression), cause="input"
        )
    label = name or ("%s_%s" % (conn.get("host"), conn.get("port") or 6379))
    archive = artifact.archive_name(
        archive_prefix(label), moment or artifact.utcnow(), EXTENSIONS[compression]
    )
    return archive, os.path.join(os.path.abspath(os.path.expanduser(directory)), archive)


def modules_warning(what, modules):
    """The warning of a backup of a server with modules loaded (None without)."""
    if not modules:
        return None
    # redis-check-rdb skips module data; a scratch redis-server without the modules refuses
    # the whole RDB, so the restore needs them (redis_restore's load_modules)
    return (
        "%s has modules loaded (%s): keys of their data types can only be restored by a scratch "
        "redis-server that loads the same modules (redis_restore's load_modules), into a target that "
        "has them too" % (what, infos.describe_modules(modules))
    )


def backup(
    conn,
    directory,
    name=None,
    compression="zstd",
    level=1,
    diskless=True,
    check_binary=None,
    zstd_binary=None,
    check_mode=False,
    warn=None,
    now=artifact.utcnow,
    clock=time.monotonic,
):
    """Take an RDB snapshot into ``directory``; returns the task's result (see redis_backup's
    RETURN): ``backups`` holds the one artifact.backup_entry(), without size, checksum and
    manifest in check mode. ``warn(text)`` is told about modules the server has loaded."""
    check_tool = find_tool("redis-check-rdb", check_binary)
    zstd = find_tool("zstd", zstd_binary) if compression == "zstd" else None
    label = name or wires.describe(conn)
    what = "redis %s" % label if name is None else "redis %s (%s)" % (label, wires.describe(conn))
    with wires.connect(conn, what="back up") as wire:
        facts = infos.facts_from_info(wires.read_info(wire, "back up"))
        modules = wires.module_list(wire)
    started = now()
    _archive, path = plan_backup(conn, directory, name, compression, started)
    result = {
        "changed": True,
        "backups": [artifact.backup_entry(path, kind=KIND, target=label)],
        "target": label,
        "server": facts,
        "compression": compression,
        "modules": modules,
    }
    warning = modules_warning(what, modules)
    if warning and warn is not None:
        warn(warning)
    if os.path.lexists(path):
        raise RedisBackupError("%s already exists; refusing to overwrite a backup" % path, cause="storage")
    if check_mode:
        return result
    try:
        store = stores.LocalStore(os.path.dirname(path), create=True)
    except stores.StoreError as exc:
        raise RedisBackupError("cannot back up %s: %s" % (what, exc), cause="storage")
    stale = artifact.remove_stale_partials(store.path)
    if stale and warn is not None:
        warn("removed the temporary file(s) of backups whose writer was killed: %s" % ", ".join(stale))

    tick = clock()
    try:
        with _Writer(path if compression == "none" else path[: -len(".zst")]) as raw:
            if compression == "none":
                transfer = rdb.stream_rdb(conn, raw, diskless=diskless)
                check, keyspace, rdb_version = _check(raw, check_tool, what)
                raw.commit()
                final = raw
            else:
                # threads=1: zstd's default; the snapshot arrives as fast as the server sends it
                argv = pipeline.zstd_argv(zstd, level, threads=1)
                with artifact.AtomicWriter(path) as final:
                    transfer = _compress(conn, raw, argv, final, diskless, what)
                    check, keyspace, rdb_version = _check(raw, check_tool, what)
                    final.commit()
    except RedisBackupError:
        raise
    except cancel.Cancelled as exc:
        message = "the backup of %s was %s" % (what, exc)
        raise RedisBackupError(
            message if stale else nothing_changed(message), cause="cancelled", changed=bool(stale)
        ) from None
    except (OSError, artifact.ArtifactError) as exc:
        raise RedisBackupError(
            nothing_changed(
                "cannot write the backup of %s to %s: %s (the partial file was removed)"
                % (what, store.path, reason(exc))
            ),
            cause="storage",
        )
    source = "rdb"
    if keyspace is None:
        keyspace, source = facts["keyspace"], "info"
    manifest = artifact.new_manifest(
        KIND,
        label,
        path,
        FORMAT,
        compression,
        size=final.size,
        sha256=final.sha256,
        started=artifact.iso(started),
        finished=artifact.iso(now()),
        duration_seconds=round(clock() - tick, 3),
        redis_version=facts["redis_version"],
        rdb_version=rdb_version,
        rdb_size=raw.size,
        rdb_sha256=raw.sha256,
        keyspace=keyspace,
        keyspace_source=source,
        modules=modules,
        keys_total=sum(item["keys"] for item in keyspace.values()),
        expires_total=sum(item["expires"] for item in keyspace.values()),
        server={
            "address": wires.describe(conn),
            "role": facts["role"],
            "cluster_enabled": facts["cluster_enabled"],
            "transfer": transfer["transfer"],
        },
        check={
            "tool": os.path.basename(check_tool),
            "keys": check["keys"],
            "expires": check["expires"],
            "already_expired": check["already_expired"],
        },
    )
    if compression == "zstd":
        manifest["compression_level"] = level
    manifest["status"] = "complete"
    try:
        artifact.write_manifest(path, manifest)
    except (OSError, artifact.ArtifactError) as exc:
        _unlink(path)
        raise RedisBackupError(
            nothing_changed(
                "cannot write the manifest of the backup of %s in %s: %s (the archive was removed)"
                % (what, store.path, reason(exc))
            ),
            cause="storage",
        )
    result["backups"] = [artifact.backup_entry(path, manifest, kind=KIND, target=label)]
    return result


def _compress(conn, raw, argv, out, diskless, what):
    """Stream the snapshot into ``raw`` and, through zstd, into ``out``; returns the
    transfer's facts."""
    try:
        with pipeline.Compressor(argv, out) as packer:
            transfer = rdb.stream_rdb(conn, _Tee(raw, packer), diskless=diskless)
            packer.finish()
    except pipeline.PipelineError as exc:
        raise RedisBackupError(
            "compressing the snapshot of %s failed: %s" % (what, exc), cause="tool"
        ) from None
    return transfer


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _check(raw, check_tool, what):
    """redis-check-rdb on the not yet committed raw RDB: ``(check, keyspace or None, rdb version)``."""
    raw.flush()
    check = rdb.check_rdb(raw.temp_path, check_tool)
    if not check["ok"]:
        hint = ""
        if any("Can't handle RDB format version" in problem for problem in check["problems"]):
            hint = (
                " (%s is older than the server: give check_rdb_binary of the server's release)" % check_tool
            )
        raise RedisBackupError(
            nothing_changed(
                "redis-check-rdb rejected the snapshot of %s (%d bytes received): %s%s"
                % (what, raw.size, "; ".join(check["problems"]), hint)
            ),
            cause="check",
        )
    keyspace = rdb.resizedb_counts(raw.temp_path, check["databases"], check["keys"])
    return check, keyspace, rdb.rdb_header_version(raw.temp_path)


# -- what a restore needs of a backup --------------------------------------------------------


def verify_archive(path):
    """The manifest of a verified Redis archive; raises naming every problem otherwise."""
    manifest, problems = artifact.verify_file(path)
    if manifest is not None and not problems:
        if manifest.get("kind") != KIND:
            problems.append("the manifest is of kind %r, not %r" % (manifest.get("kind"), KIND))
        if manifest.get("format") != FORMAT:
            problems.append("the format is %r, not %r" % (manifest.get("format"), FORMAT))
        if manifest.get("compression") not in COMPRESSIONS:
            problems.append("unknown compression %r" % manifest.get("compression"))
    if problems:
        raise RedisBackupError(
            nothing_changed("the archive %s cannot be trusted: %s" % (path, "; ".join(problems))),
            cause="verify",
            problems=problems,
        )
    return manifest


def find_latest(directory, name=None):
    """The newest verified Redis archive in a directory (of ``name``'s prefix when given).

    Returns ``(path, manifest, unverified)``; ``unverified`` lists newer archives that failed
    verification, with why. Raises when there is none.
    """
    store = stores.LocalStore(directory)
    try:
        entries = store.list()
    except stores.StoreError as exc:
        raise RedisBackupError(str(exc), cause="storage")
    wanted = archive_prefix(name) if name else None
    candidates = []
    for entry in entries:
        parsed = artifact.parse_archive_name(entry.name)
        if not parsed or artifact.is_manifest(entry.name) or parsed[2] not in EXTENSIONS.values():
            continue
        if (wanted and parsed[0] != wanted) or (not wanted and not parsed[0].startswith("redis-")):
            continue
        candidates.append((parsed[1], entry.name))
    unverified = []
    for _moment, file_name in sorted(candidates, reverse=True):
        path = store.local_path(file_name)
        try:
            return path, verify_archive(path), unverified
        except RedisBackupError as exc:
            unverified.append({"archive": path, "problems": exc.details.get("problems") or [str(exc)]})
    raise RedisBackupError(
        "no verified Redis backup%s in %s (%d candidate(s) failed verification)"
        % (" of %s" % name if name else "", store.path, len(unverified)),
        cause="verify",
        unverified=unverified,
    )


def extract_rdb(path, manifest, dest, zstd_binary=None):
    """Write the archive's raw RDB to ``dest``, checking it against the manifest's rdb_* fields."""
    digest = hashlib.sha256()
    size = 0
    proc = None
    with open(dest, "wb") as out:
        if manifest.get("compression") == "zstd":
            zstd = find_tool("zstd", zstd_binary)
            proc = cancel.popen(
                pipeline.zstd_argv(zstd, decompress=True) + [path],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            source = proc.stdout
        else:
            source = open(path, "rb")  # noqa: SIM115 - closed below with the process's pipe
        try:
            while True:
                data = source.read(CHUNK)
                if not data:
                    break
                digest.update(data)
                out.write(data)
                size += len(data)
        except BaseException as exc:
            # the copy's own error (a full disk, a cancel) is what is reported, not zstd's
            # broken pipe
            source.close()
            if proc is not None:
                pipeline.kill(proc, cause=exc)
                proc.stderr.close()
            raise
        else:
            source.close()
            if proc is not None:
                error = proc.stderr.read().decode("utf-8", "replace").strip()
                proc.stderr.close()
                if proc.wait() != 0:
                    raise RedisBackupError(
                        nothing_changed(
                            "the archive %s cannot be unpacked: %s"
                            % (path, error or "zstd exit %d" % proc.returncode)
                        ),
                        cause="verify",
                        problems=[error],
                    )
    problems = []
    if manifest.get("rdb_size") is not None and int(manifest["rdb_size"]) != size:
        problems.append("the RDB is %d bytes, the manifest says %s" % (size, manifest["rdb_size"]))
    if manifest.get("rdb_sha256") and manifest["rdb_sha256"] != digest.hexdigest():
        problems.append("the RDB's sha256 does not match the manifest")
    if problems:
        raise RedisBackupError(
            nothing_changed("the archive %s cannot be trusted: %s" % (path, "; ".join(problems))),
            cause="verify",
            problems=problems,
        )
    return size


# -- the runner --------------------------------------------------------------------------------


def run(request, now=artifact.utcnow, clock=time.monotonic):
    """multiagent.ops.redis_backup: one snapshot of the server into ``dest``."""
    p = request.params
    if not 1 <= p["compression_level"] <= 19:
        raise OpsError(
            "compression_level must be between 1 and 19, got %d" % p["compression_level"],
            changed=False,
            cause="input",
        )
    result = backup(
        wires.connection(p),
        p["dest"],
        name=p["name"],
        compression=p["compression"],
        level=p["compression_level"],
        diskless=p["diskless"],
        check_binary=p["check_rdb_binary"],
        zstd_binary=p["zstd_binary"],
        check_mode=request.check_mode,
        warn=request.warn,
        now=now,
        clock=clock,
    )
    if request.diff:
        entry = result["backups"][0]
        result["diff"] = {
            "before": {"archive": entry["path"], "state": "absent"},
            "after": {"archive": entry["path"], "state": "file", "size": entry["size"]},
        }
    return result
