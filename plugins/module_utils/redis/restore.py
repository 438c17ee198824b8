# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis restores: the checks of the target and of its user's permissions, the copy of every
key from a scratch server into the target, and the runner of multiagent.ops.redis_restore.

The archive is verified against its manifest (size and SHA-256, then the raw RDB's size and
SHA-256 while it is unpacked) before anything else, and loaded by a scratch server
(scratch.py); what it loaded is compared with the manifest. The target is checked (a
primary, not in cluster mode, every needed database selectable, able to take the scratch
server's DUMP payload version), its user's permissions are checked for every key of the
backup (``check_permissions``: ``ACL DRYRUN`` where allowed, else an ``EXISTS`` probe of
each key), then it is flushed (``flush``), and every key is copied with ``DUMP``/``PTTL``
from the scratch server and ``RESTORE key ttl payload REPLACE`` into the target, pipelined
in batches, database by database; function libraries with ``FUNCTION DUMP``/``FUNCTION
RESTORE``. No access to the target's filesystem is needed, and every key keeps its
remaining time to live. Finally the target's key counts are compared with what was
restored.
"""

from __future__ import annotations

import queue
import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import (
    NOTHING_CHANGED,
    OpsError,
    nothing_changed,
)
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos
from ansible_collections.multiagent.ops.plugins.module_utils.redis import rdb, snapshot
from ansible_collections.multiagent.ops.plugins.module_utils.redis import wire as wires
from ansible_collections.multiagent.ops.plugins.module_utils.redis.scratch import ScratchServer
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import (
    RedisBackupError,
    ServerReply,
    bulk,
    connect,
    reason,
)


def compare_counts(expected, got, what_expected, what_got):
    """Why two keyspaces (``{"0": {"keys", "expires"}}``) disagree, allowing for expiry.

    Keys without a time to live never vanish, so their number (keys - expires) must be equal
    in every database; keys with one may have expired in between, so ``got`` may have fewer
    of them but never more.
    """
    problems = []
    for db in sorted(set(expected) | set(got), key=int):
        want = expected.get(db) or {"keys": 0, "expires": 0}
        have = got.get(db) or {"keys": 0, "expires": 0}
        want_persistent = int(want["keys"]) - int(want.get("expires", 0))
        have_persistent = int(have["keys"]) - int(have.get("expires", 0))
        if have_persistent != want_persistent or int(have.get("expires", 0)) > int(want.get("expires", 0)):
            problems.append(
                "db%s: %s has %d keys (%d without a TTL), %s %d (%d without a TTL)"
                % (
                    db,
                    what_got,
                    int(have["keys"]),
                    have_persistent,
                    what_expected,
                    int(want["keys"]),
                    want_persistent,
                )
            )
    return problems


def compare_with_manifest(manifest, loaded):
    """Why what the scratch server loaded is not what the manifest describes (empty: it is).

    Only for counts taken from the RDB itself (``keyspace_source: rdb``); counts read from a
    live server beside the snapshot (``info``) are informative. Redis drops the keys whose
    time to live has passed when it loads an RDB; with the load counters of Redis >= 7,
    loaded plus expired-at-load must also equal the manifest's total.
    """
    if manifest.get("keyspace_source") != "rdb":
        return []
    problems = compare_counts(manifest.get("keyspace") or {}, loaded["keyspace"], "the manifest", "the RDB")
    if (
        isinstance(loaded.get("loaded"), int)
        and isinstance(loaded.get("expired_at_load"), int)
        and manifest.get("keys_total") is not None
        and loaded["loaded"] + loaded["expired_at_load"] != int(manifest["keys_total"])
    ):
        problems.append(
            "%s keys loaded and %s expired at load, the manifest has %s"
            % (loaded["loaded"], loaded["expired_at_load"], manifest["keys_total"])
        )
    return problems


def target_problems(facts, payload_version, libraries=()):
    """Why a target of these facts (INFO) cannot take a restore of DUMP payloads of
    ``payload_version`` and of function ``libraries`` (empty: it can)."""
    problems = []
    version = infos.parse_version(facts["redis_version"])
    if libraries and version is not None and version < (7, 0):
        problems.append(
            "it runs Redis %s, which has no functions, and the backup has function libraries (%s)"
            % (facts["redis_version"], ", ".join(libraries))
        )
    if facts["role"] not in (None, "master"):
        problems.append("it is a %s, not a primary (restore into its primary)" % facts["role"])
    if facts["cluster_enabled"]:
        problems.append(
            "it runs in cluster mode, which this restore does not support (keys need slot routing)"
        )
    target_rdb = rdb.rdb_version_of(facts["redis_version"])
    if payload_version and target_rdb and payload_version > target_rdb:
        problems.append(
            "it runs Redis %s (RDB %d), which cannot RESTORE the scratch server's payloads (RDB %d): give a "
            "redis-server of the target's version" % (facts["redis_version"], target_rdb, payload_version)
        )
    return problems


def check_target(conn, facts, databases, payload_version, libraries=()):
    """Why the target cannot take this restore (empty: it can): target_problems(), then
    whether every database is selectable; reads only."""
    problems = target_problems(facts, payload_version, libraries)
    if databases and not problems:
        with connect(conn, what="restore into") as wire:
            for db in databases:
                try:
                    wire.call("SELECT", int(db))
                except ServerReply as exc:
                    problems.append("it cannot select database %s: %s" % (db, exc))
                    break
    return problems


def key_denial(reply):
    """Whether a reply to a probe of a key says the user may not touch it.

    Returns ``"denied"`` (the reply, ``ACL DRYRUN``'s answer or an ``EXISTS``' NOPERM, is about
    the key), ``"unknown"`` (the probe itself was refused: nothing learnt) or None (allowed).
    """
    if isinstance(reply, ServerReply):
        text = str(reply)
        if text.startswith("NOPERM") and "key" in text:
            return "denied"
        return "unknown"
    if isinstance(reply, bytes) and reply != b"OK":
        return "denied"  # ACL DRYRUN answers a denial with a bulk string saying why
    return None


def dryrun(wire, user, *command):
    """``ACL DRYRUN user command...``: None when the user may run it, the reason when not;
    raises ServerReply when the server will not tell (Redis < 7, or no permission for it)."""
    answer = wire.call("ACL", "DRYRUN", user, *command)
    if answer == b"OK":
        return None
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def acl_user(wire, conn):
    """The ACL user this connection runs as (``ACL WHOAMI``, else the given user or default)."""
    try:
        name = wire.call("ACL", "WHOAMI")
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    except ServerReply:
        return conn.get("username") or "default"


def describe_denials(user, denied, total, how):
    """The message of keys the user may not write: how many, the first few, the reason."""
    first = denied[0]
    names = ", ".join("'%s' (db %s)" % (_short(key), db) for db, key, _reason_text in denied[:3])
    return (
        "user '%s' may not write %d of the backup's %d key(s) (checked with %s), e.g. %s: %s; RESTORE "
        "needs write access to every key of the backup" % (user, len(denied), total, how, names, first[2])
    )


def check_permissions(conn, scratch, keyspace, flush=True, libraries=(), batch=1000):
    """Whether the target's user may do what the restore will do, found out before it does it
    and without changing anything: ``(problems, report)``.

    With ``ACL DRYRUN`` (Redis >= 7, a user allowed to run it) the commands (FLUSHALL,
    FUNCTION RESTORE) and a ``RESTORE`` of every key of the backup are checked against the
    user's ACL, key write permissions included. Without it every key is probed with
    ``EXISTS``, which a key pattern that does not match the key refuses (NOPERM) but which
    cannot tell a read-only pattern; command permissions then stay unknown. Keys are read
    from the scratch server with SCAN and probed pipelined, ``batch`` at a time.
    """
    report = {"user": None, "method": None, "commands": "unknown", "keys_checked": 0, "keys_denied": 0}
    problems = []
    with connect(conn, what="restore into") as target:
        user = acl_user(target, conn)
        report["user"] = user
        try:
            dryrun(target, user, "INFO")
            use_dryrun = True
        except ServerReply:
            use_dryrun = False
        if use_dryrun:
            report["method"] = "acl dryrun"
            commands = []
            if flush:
                commands.append(("FLUSHALL",))
            if libraries:
                commands.append(("FUNCTION", "RESTORE", "x", "FLUSH" if flush else "REPLACE"))
            for command in commands:
                why = dryrun(target, user, *command)
                if why:
                    problems.append("user '%s' may not run %s: %s" % (user, " ".join(command[:2]), why))
            report["commands"] = "checked"
        else:
            report["method"] = "exists"
        denied = []
        total = 0
        for db in sorted(keyspace, key=int):
            try:
                target.call("SELECT", int(db))
            except ServerReply as exc:
                problems.append("user '%s' cannot select database %s: %s" % (user, db, exc))
                continue
            with scratch.connect(int(db)) as source:
                cursor = b"0"
                while True:
                    cursor, keys = source.call("SCAN", cursor, "COUNT", batch)
                    if keys:
                        if use_dryrun:
                            target.send(
                                *[("ACL", "DRYRUN", user, "RESTORE", key, 0, "x", "REPLACE") for key in keys]
                            )
                        else:
                            target.send(*[("EXISTS", key) for key in keys])
                        replies = [target.reply() for _key in keys]
                        for key, reply in zip(keys, replies, strict=True):
                            verdict = key_denial(reply)
                            if verdict == "denied":
                                text = (
                                    str(reply)
                                    if isinstance(reply, ServerReply)
                                    else reply.decode("utf-8", "replace")
                                )
                                denied.append((db, key, text))
                            elif verdict == "unknown":
                                # the probe itself was refused: the keys stay unchecked
                                report.update(method=None, keys_checked=total, unknown_reason=str(reply))
                                return problems, report
                        total += len(keys)
                    if cursor == b"0":
                        break
        report["keys_checked"] = total
        report["keys_denied"] = len(denied)
        if denied:
            problems.append(
                describe_denials(user, denied, total, "ACL DRYRUN RESTORE" if use_dryrun else "EXISTS")
            )
    return problems, report


def _read_batches(source, batch, out, stop):
    """The scratch server's side of copy_database(), in its own thread: SCAN, then DUMP and
    PTTL of the keys pipelined; puts ``(keys, replies)`` on ``out``, then None (or the error)."""
    try:
        cursor = b"0"
        while not stop.is_set():
            answer = source.call("SCAN", cursor, "COUNT", batch)
            cursor, keys = answer[0], answer[1]
            if keys:
                request = b"".join(
                    b"*2\r\n$4\r\nDUMP\r\n%s*2\r\n$4\r\nPTTL\r\n%s" % (bulk(k), bulk(k)) for k in keys
                )
                source.send_raw(request)
                out.put((keys, [source.reply() for _x in range(2 * len(keys))]))
            if cursor == b"0":
                break
        out.put(None)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
        out.put(exc)


def copy_database(source, target, batch=1000, progress=None):
    """Copy every key of the selected database: DUMP/PTTL pipelined from ``source`` (the
    scratch server, read by a second thread so that both servers work at once), RESTORE ...
    REPLACE pipelined into ``target``, ``batch`` keys a round.

    Returns ``{"keys", "with_ttl", "expired_during_copy"}``; ``progress["restored"]`` (when
    given) counts restored keys as they go, for the message of a restore that stops half way.
    """
    counts = {"keys": 0, "with_ttl": 0, "expired_during_copy": 0}
    batches = queue.Queue(maxsize=4)
    stop = threading.Event()
    reader = threading.Thread(target=_read_batches, args=(source, batch, batches, stop), daemon=True)
    reader.start()
    try:
        while True:
            item = batches.get()
            if item is None:
                return counts
            if isinstance(item, BaseException):
                raise item
            keys, values = item
            request = []
            sent = []
            for index, key in enumerate(keys):
                payload, ttl = values[2 * index], values[2 * index + 1]
                if isinstance(payload, ServerReply) or isinstance(ttl, ServerReply):
                    raise RedisBackupError(
                        "the scratch server cannot DUMP key %r: %s" % (_short(key), payload), cause="load"
                    )
                if payload is None or ttl == -2 or ttl == 0:
                    # expired since the load: Redis would not have it either (and a TTL of 0
                    # would make RESTORE keep it forever)
                    counts["expired_during_copy"] += 1
                    continue
                if ttl > 0:
                    counts["with_ttl"] += 1
                ttl_text = b"%d" % max(ttl, 0)
                request.append(
                    b"*5\r\n$7\r\nRESTORE\r\n%s%s%s$7\r\nREPLACE\r\n"
                    % (bulk(key), bulk(ttl_text), bulk(payload))
                )
                sent.append(key)
            if sent:
                target.send_raw(b"".join(request))
                for key in sent:
                    reply = target.reply()
                    if isinstance(reply, ServerReply):
                        raise RedisBackupError(
                            "RESTORE of key %r failed: %s" % (_short(key), reply), cause="restore"
                        )
                counts["keys"] += len(sent)
                if progress is not None:
                    progress["restored"] += len(sent)
    finally:
        stop.set()
        while reader.is_alive():
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()


def _short(key):
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    return text if len(text) <= 80 else text[:77] + "..."


def restore(
    conn,
    archive,
    manifest=None,
    flush=True,
    batch=1000,
    server_binary=None,
    zstd_binary=None,
    tmp_dir=None,
    load_timeout=600,
    stall_timeout=60,
    check_mode=False,
    clock=time.monotonic,
    modules=(),
):
    """Restore a verified archive into the target; returns a result dict (see redis_restore's RETURN).

    ``modules``: module files the scratch server loads (``--loadmodule``), for backups of a
    server whose keys include module data types.
    """
    if manifest is None:
        manifest = snapshot.verify_archive(archive)
    binary = snapshot.find_tool("redis-server", server_binary)
    where = wires.describe(conn)
    tick = clock()
    before = wires.server_facts(conn, "restore into")
    highest = max([int(db) for db in (manifest.get("keyspace") or {})] or [0])
    result = {
        "changed": False,
        "archive": archive,
        "manifest": manifest,
        "target": where,
        "flush": flush,
        "keyspace_before": before["keyspace"],
    }
    with ScratchServer(
        binary,
        databases=highest + 1,
        tmp_dir=tmp_dir,
        timeout=load_timeout,
        stall_timeout=stall_timeout,
        modules=modules,
    ) as scratch:
        raw = scratch.prepare()
        try:
            snapshot.extract_rdb(archive, manifest, raw, zstd_binary)
        except OSError as exc:
            raise RedisBackupError(
                nothing_changed("cannot unpack %s into %s: %s" % (archive, scratch.dir, reason(exc))),
                cause="storage",
            )
        try:
            scratch.start()
        except RedisBackupError as exc:
            if "module_type" not in exc.details:
                raise
            source = manifest.get("modules")
            raise RedisBackupError(
                nothing_changed(
                    "cannot restore %s: %s%s"
                    % (
                        archive,
                        exc,
                        "; the backed-up server had the modules %s" % infos.describe_modules(source)
                        if source
                        else "",
                    )
                ),
                cause=exc.cause,
                **exc.details,
            )
        with scratch.connect() as wire:
            info = wires.read_info(wire, "read")
            libraries = wires.function_libraries(wire)
            scratch_modules = (wires.module_list(wire) or []) if modules else []
        loaded = {
            "keyspace": infos.keyspace_from_info(info),
            "loaded": info.get("rdb_last_load_keys_loaded"),
            "expired_at_load": info.get("rdb_last_load_keys_expired"),
        }
        problems = compare_with_manifest(manifest, loaded)
        if problems:
            raise RedisBackupError(
                nothing_changed(
                    "the RDB in %s does not hold what its manifest says: %s" % (archive, "; ".join(problems))
                ),
                cause="verify",
                problems=problems,
            )
        problems = check_target(
            conn,
            before,
            sorted(loaded["keyspace"], key=int),
            _payload_version(scratch, loaded["keyspace"]),
            libraries,
        )
        if not problems and scratch_modules:
            problems = check_target_modules(conn, scratch_modules)
        if problems:
            raise RedisBackupError(
                nothing_changed("redis %s cannot take this restore: %s" % (where, "; ".join(problems))),
                cause="target",
            )
        # before anything is flushed: may this user write every key of the backup?
        problems, permissions = check_permissions(conn, scratch, loaded["keyspace"], flush, libraries, batch)
        result["permissions"] = permissions
        if problems:
            raise RedisBackupError(
                nothing_changed(
                    "redis %s cannot take this restore as user '%s': %s"
                    % (where, permissions["user"], "; ".join(problems))
                ),
                cause="permission",
                problems=problems,
            )
        result.update(
            verified=True,
            loaded=loaded["keyspace"],
            scratch_version=str(info.get("redis_version") or ""),
            functions=libraries,
            changed=True,
        )
        if check_mode:
            return result
        progress = {"flushed": False, "restored": 0}
        try:
            result["restored"] = _copy_all(
                conn, scratch, loaded["keyspace"], flush, batch, libraries, progress, load_timeout
            )
        except cancel.Cancelled as exc:
            exc.left = _state(progress, flush)
            raise
        except RedisBackupError as exc:
            state, changed = _state(progress, flush)
            raise RedisBackupError(
                "the restore into redis %s stopped: %s. State: %s" % (where, exc, state),
                cause=exc.cause,
                changed=changed,
            )
        with scratch.connect() as wire:
            loaded_now = infos.keyspace_from_info(wires.read_info(wire, "read"))
    after = wires.server_facts(conn, "read back")
    result["keyspace_after"] = after["keyspace"]
    result["duration_seconds"] = round(clock() - tick, 3)
    # After a flush the target must hold every key without a TTL the scratch server holds,
    # and at most the keys with one that were restored. A merge leaves other keys in place:
    # nothing exact to compare.
    expected = {}
    for db, counts in result["restored"].items():
        now_db = loaded_now.get(db) or {"keys": 0, "expires": 0}
        persistent = now_db["keys"] - now_db["expires"]
        expected[db] = {"keys": persistent + counts["with_ttl"], "expires": counts["with_ttl"]}
    problems = compare_counts(expected, after["keyspace"], "the backup", "the target") if flush else []
    result["problems"] = problems
    if problems:
        raise RedisBackupError(
            "the restore into redis %s finished but the key counts do not match (was it written to during "
            "the restore?): %s" % (where, "; ".join(problems)),
            cause="compare",
            **result,
        )
    return result


def check_target_modules(conn, modules):
    """Why the target cannot take the module data the scratch server loaded (empty: it can,
    or it will not say which modules it has)."""
    with connect(conn, what="restore into") as wire:
        have = wires.module_list(wire)
    if have is None:
        return []
    names = {item["name"] for item in have}
    missing = [item for item in modules if item["name"] not in names]
    if not missing:
        return []
    return [
        "it has not loaded the module(s) %s that the scratch server loaded for the backup's data, so it "
        "could not RESTORE their keys" % infos.describe_modules(missing)
    ]


def _state(progress, flush):
    """What a restore that stopped half way left behind: ``(words, changed)``. A FLUSHALL that
    was sent but not confirmed may have emptied the target: that counts as a change."""
    if progress["flushed"] is None:
        return "FLUSHALL was sent but not confirmed, so the target may be empty; a re-run starts over", True
    if progress["flushed"]:
        return (
            "the target was flushed and %d key(s) restored so far, so it is incomplete; a re-run starts over"
            % progress["restored"],
            True,
        )
    if progress["restored"]:
        return "%d key(s) were merged in so far; a re-run merges them again" % progress["restored"], True
    if flush:
        return nothing_changed("the target was not flushed"), False
    return NOTHING_CHANGED, False


def _payload_version(scratch, keyspace):
    for db in keyspace:
        with scratch.connect(int(db)) as wire:
            key = wire.call("RANDOMKEY")
            if key is not None:
                return rdb.dump_payload_version(wire.call("DUMP", key))
    return None


def _copy_all(conn, scratch, keyspace, flush, batch, libraries, progress, slow_timeout=600):
    restored = {}
    with connect(conn, what="restore into") as target:
        try:
            if flush:
                # a synchronous FLUSHALL of a large dataset takes a while; ASYNC would let the
                # old and the restored data share the memory for a moment
                usual = target.sock.gettimeout()
                target.sock.settimeout(max(usual or 0, slow_timeout))
                progress["flushed"] = None  # sent: from here on it may have happened
                try:
                    target.call("FLUSHALL")
                except ServerReply as exc:
                    progress["flushed"] = False  # refused (NOPERM, a renamed command...): not flushed
                    raise RedisBackupError("FLUSHALL was refused: %s" % exc, cause="permission")
                target.sock.settimeout(usual)
                progress["flushed"] = True
            for db in sorted(keyspace, key=int):
                target.call("SELECT", int(db))
                with scratch.connect(int(db)) as source:
                    restored[db] = copy_database(source, target, batch, progress)
            if libraries:
                with scratch.connect() as source:
                    payload = source.call("FUNCTION", "DUMP")
                target.call("FUNCTION", "RESTORE", payload, "FLUSH" if flush else "REPLACE")
        except ServerReply as exc:
            raise RedisBackupError(str(exc), cause="restore")
    return restored


# -- the runner --------------------------------------------------------------------------------


def run(request, clock=time.monotonic):
    """multiagent.ops.redis_restore: the archive given, or the newest verified one in ``src``."""
    p = request.params
    if p["batch_size"] < 1:
        raise OpsError(
            "batch_size must be at least 1, got %d" % p["batch_size"], changed=False, cause="input"
        )
    extra = {}
    archive = p["archive"] or p["src"]
    try:
        if p["archive"]:
            archive = p["archive"]
            manifest = snapshot.verify_archive(archive)
        else:
            archive, manifest, extra["unverified"] = snapshot.find_latest(p["src"], p["name"])
        result = restore(
            wires.connection(p),
            archive,
            manifest,
            flush=p["flush"],
            batch=p["batch_size"],
            server_binary=p["redis_server_binary"],
            zstd_binary=p["zstd_binary"],
            tmp_dir=p["tmp_dir"],
            load_timeout=p["load_timeout"],
            check_mode=request.check_mode,
            clock=clock,
            modules=p["load_modules"] or (),
        )
    except RedisBackupError as exc:
        exc.result.update(extra)
        raise
    except cancel.Cancelled as exc:
        # Before the copy the target is not touched; during it, _state() says what it holds.
        state, changed = getattr(exc, "left", None) or (NOTHING_CHANGED, False)
        message = "the restore of %s was %s" % (archive, exc)
        message = nothing_changed(message) if state == NOTHING_CHANGED else "%s. State: %s" % (message, state)
        raise RedisBackupError(message, cause="cancelled", changed=changed, **extra) from None
    result.update(extra)
    if request.diff:
        result["diff"] = {
            "before": {"keyspace": result["keyspace_before"]},
            "after": {"keyspace": result["loaded"]},
        }
    return result
