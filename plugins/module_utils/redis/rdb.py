# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RDB: a fresh one streamed over the replication protocol, its format versions, its
header, ``redis-check-rdb``'s verdict on it and the exact key counts of its RESIZEDB records.

**The stream.** The snapshot is taken the way ``redis-cli --rdb`` takes it, over a socket:
``AUTH``, ``REPLCONF capa eof`` (the server may stream the RDB straight from its fork,
without writing it to its own disk), ``REPLCONF rdb-only 1`` (Redis >= 7: the RDB and
nothing after it), ``SYNC``; the server answers ``$<length>`` or ``$EOF:<40-byte mark>`` and
streams a fresh RDB of the moment it forked. That works where the server's filesystem is
not ours (a managed Redis, a port-forward into a pod), where ``BGSAVE`` and waiting would
leave the file on the server.

**The counts.** They are exact at the snapshot: the ``RESIZEDB`` sizes the server writes
after each ``SELECTDB``, read at the offsets ``redis-check-rdb`` reports and accepted only
when they add up to the number of keys it read.
"""

from __future__ import annotations

import re

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import (
    RedisBackupError,
    ServerReply,
    connect,
    reason,
)

EOF_MARK_SIZE = 40
# The RDB format version each Redis release writes; DUMP payloads carry the same number and
# RESTORE refuses a payload newer than its own.
RDB_VERSIONS = (
    ((7, 4), 12),
    ((7, 2), 11),
    ((7, 0), 10),
    ((5, 0), 9),
    ((4, 0), 8),
    ((3, 2), 7),
    ((2, 6), 6),
)
_CHECK_DB = re.compile(r"^\[offset (\d+)\] Selecting DB ID (\d+)\s*$", re.M)
_CHECK_INFO = re.compile(r"^\[info\] (\d+) (keys read|expires|already expired)\s*$", re.M)


# -- versions --------------------------------------------------------------------------------


def rdb_version_of(redis_version):
    """The RDB (and DUMP payload) version a Redis release writes, None when unknown."""
    version = infos.parse_version(redis_version)
    if version is None:
        return None
    for since, rdb in RDB_VERSIONS:
        if version >= since:
            return rdb
    return None


def rdb_header_version(path):
    """The format version in an RDB file's header (``REDIS0010`` -> 10), None if not an RDB."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) == 9 and head[:5] == b"REDIS" and head[5:].isdigit():
        return int(head[5:])
    return None


def dump_payload_version(payload):
    """The RDB version in a DUMP payload's footer (2 bytes little-endian before the CRC64)."""
    if not payload or len(payload) < 10:
        return None
    return int.from_bytes(payload[-10:-8], "little")


# -- the stream ------------------------------------------------------------------------------


def parse_sync_header(header):
    """What the server's answer to SYNC announces: ``("diskless", mark, None)`` for
    ``$EOF:<mark>``, ``("disk", None, size)`` for ``$<size>``, None for anything else."""
    if header.startswith(b"$EOF:") and len(header) >= 5 + EOF_MARK_SIZE:
        return "diskless", header[5 : 5 + EOF_MARK_SIZE], None
    if header.startswith(b"$") and header[1:].isdigit():
        return "disk", None, int(header[1:])
    return None


def refusal_hint(text):
    """What to do about the server's refusal of a replication command (empty: nothing to add)."""
    if text.startswith("NOPERM"):
        return " (the user needs the replconf and sync commands, e.g. +@admin or +sync +replconf)"
    if "unknown command" in text.lower():
        return " (this service does not offer replication to clients: use the provider's snapshots)"
    return ""


def stream_rdb(conn, out, diskless=True):
    """Stream a fresh RDB from the server into ``out`` (anything with ``write``).

    Returns ``{"bytes": n, "transfer": "diskless"|"disk"}``. Raises RedisBackupError naming
    the server and the cause: refused, authentication, a permission the user lacks, a cut
    transfer (with the byte count).
    """
    wire = connect(conn, what="back up")
    try:
        step = "REPLCONF capa eof"
        try:
            if diskless:
                wire.call("REPLCONF", "capa", "eof")
            step = "REPLCONF rdb-only"
            try:
                wire.call("REPLCONF", "rdb-only", "1")
            except ServerReply:
                pass  # Redis < 7: the replication stream follows the RDB; we stop reading before it
            step = "SYNC"
            wire.send(("SYNC",))
            header = b""
            while not header:  # empty lines are the server's keep-alives while it forks
                header = wire.raw_line()
            if header.startswith(b"-"):
                raise ServerReply(header[1:].decode("utf-8", "replace"))
        except ServerReply as exc:
            raise RedisBackupError(
                "redis %s refused %s: %s%s" % (wire.where, step, exc, refusal_hint(str(exc))),
                cause="permission",
            )
        announced = parse_sync_header(header)
        if announced is None:
            raise RedisBackupError(
                "redis %s answered SYNC with %r, not an RDB transfer" % (wire.where, header[:80]),
                cause="protocol",
            )
        transfer, mark, size = announced
        counter = _Counter(out)
        try:
            if mark is not None:
                _copy_until_mark(wire, counter, mark)
            else:
                _copy_exact(wire, counter, size)
        except RedisBackupError as exc:
            raise RedisBackupError(
                "the snapshot of redis %s stopped after %d bytes: %s" % (wire.where, counter.received, exc),
                cause=exc.cause,
            )
        return {"bytes": counter.count, "transfer": transfer}
    finally:
        wire.close()


class _Counter:
    """Counts what is written and what was received (the end of the stream is held back
    until it is known not to be the EOF mark)."""

    def __init__(self, out):
        self.out = out
        self.count = 0
        self.received = 0

    def write(self, data):
        self.out.write(data)
        self.count += len(data)


def _copy_until_mark(wire, out, mark):
    tail = b""
    for chunk in wire.chunks():
        out.received += len(chunk)
        data = tail + chunk if tail else chunk
        end = data.find(mark)
        if end >= 0:
            out.write(data[:end])
            return
        cut = len(data) - min(len(data), EOF_MARK_SIZE - 1)
        if cut:
            out.write(data[:cut])
        tail = data[cut:]


def _copy_exact(wire, out, size):
    left = size
    if not left:
        return
    for chunk in wire.chunks():
        out.received += len(chunk)
        part = chunk[:left]
        out.write(part)
        left -= len(part)
        if not left:
            return


# -- redis-check-rdb and the counts ------------------------------------------------------------


def parse_check_output(text):
    """What ``redis-check-rdb`` said: ok, key counts, the databases it selected (with offsets)."""
    counts = {label: int(number) for number, label in _CHECK_INFO.findall(text)}
    problems = []
    if "--- RDB ERROR DETECTED ---" in text:
        after = text.split("--- RDB ERROR DETECTED ---", 1)[1]
        problems = [
            line.strip() for line in after.splitlines() if line.strip() and not line.startswith("[info]")
        ]
    return {
        "ok": "RDB looks OK" in text and not problems,
        "keys": counts.get("keys read"),
        "expires": counts.get("expires"),
        "already_expired": counts.get("already expired"),
        "databases": [(int(db), int(offset)) for offset, db in _CHECK_DB.findall(text)],
        "problems": problems[:8],
    }


def check_rdb(path, binary):
    """Run ``redis-check-rdb`` on a file; returns parse_check_output() plus ``rc``."""
    try:
        proc = cancel.run([binary, path], capture_output=True, check=False)
    except OSError as exc:
        raise RedisBackupError("cannot run %s: %s" % (binary, reason(exc)), cause="tool")
    text = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    result = parse_check_output(text)
    result["rc"] = proc.returncode
    if proc.returncode != 0:
        result["ok"] = False
        if not result["problems"]:
            result["problems"] = text.strip().splitlines()[-4:] or ["exit %d" % proc.returncode]
    return result


def read_length(data, pos):
    """An RDB length at ``pos``: ``(value, next_pos)``, or None when it is not a plain length."""
    if pos >= len(data):
        return None
    first = data[pos]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, pos + 1
    if kind == 1:
        if pos + 1 >= len(data):
            return None
        return ((first & 0x3F) << 8) | data[pos + 1], pos + 2
    if first == 0x80 and pos + 5 <= len(data):
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    if first == 0x81 and pos + 9 <= len(data):
        return int.from_bytes(data[pos + 1 : pos + 9], "big"), pos + 9
    return None


def resizedb_counts(path, databases, total_keys):
    """Exact key counts per database from the RDB's RESIZEDB records.

    ``databases`` are ``(db, offset)`` pairs from redis-check-rdb: the offset just after each
    SELECTDB, where the server writes RESIZEDB (0xFB) with the database's key and expiry
    counts. None unless every record is there and they add up to ``total_keys``.
    """
    if total_keys is None:
        return None
    if not databases:
        return {} if total_keys == 0 else None
    counts = {}
    with open(path, "rb") as handle:
        for db, offset in databases:
            handle.seek(offset)
            data = handle.read(20)
            if not data or data[0] != 0xFB:
                return None
            keys = read_length(data, 1)
            expires = read_length(data, keys[1]) if keys else None
            if expires is None:
                return None
            counts[str(db)] = {"keys": keys[0], "expires": expires[0]}
    if sum(item["keys"] for item in counts.values()) != total_keys:
        return None
    return counts
