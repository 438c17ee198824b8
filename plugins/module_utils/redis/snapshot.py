# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis backups: an RDB snapshot taken over the replication protocol, and its restore.

**Backup.** The snapshot is taken the way ``redis-cli --rdb`` takes it, over a socket:
``AUTH``, ``REPLCONF capa eof`` (the server may stream the RDB straight from its fork,
without writing it to its own disk), ``REPLCONF rdb-only 1`` (Redis >= 7: the RDB and
nothing after it), ``SYNC``; the server answers ``$<length>`` or ``$EOF:<40-byte mark>`` and
streams a fresh RDB of the moment it forked. That works where the server's filesystem is
not ours (a managed Redis, a port-forward into a pod), where ``BGSAVE`` and waiting would
leave the file on the server. The stream goes straight into an ``artifact.AtomicWriter``
(hashed as it is written) and, with compression, at the same time into ``zstd`` whose
output a thread writes into a second AtomicWriter: the server sets the pace, so
compressing costs little extra time. ``redis-check-rdb`` then checks the raw RDB *before*
anything is committed; a rejected snapshot leaves nothing behind. The manifest is written
last.

The manifest's key counts are exact at the snapshot: they are the ``RESIZEDB`` sizes the
server writes after each ``SELECTDB`` of the RDB, read at the offsets ``redis-check-rdb``
reports and accepted only when they add up to the number of keys it read
(``keyspace_source: rdb``). Otherwise they come from ``INFO keyspace`` just before the
snapshot (``keyspace_source: info``, informative only).

**Restore.** The archive is verified against its manifest (size and SHA-256, then the raw
RDB's size and SHA-256 while it is unpacked) before anything else. A scratch
``redis-server`` is started on a Unix socket in a private 0700 temporary directory (no TCP
port, no password, no persistence) and loads the RDB: Redis itself parses every type
(streams, module-free encodings, function libraries), and a file it cannot load stops the
restore before the target is touched (keys of a module data type need the module:
``modules``, the scratch server's ``--loadmodule``). What it loaded is compared with the manifest. The
target is checked (a primary, not in cluster mode, every needed database selectable, able
to take the scratch server's DUMP payload version), its user's permissions are checked
for every key of the backup (``check_permissions``: ``ACL DRYRUN`` where allowed, else an
``EXISTS`` probe of each key), then it is flushed (``flush``), and every key is
copied with ``DUMP``/``PTTL`` from the scratch server and ``RESTORE key ttl payload
REPLACE`` into the target, pipelined in batches, database by database; function libraries
with ``FUNCTION DUMP``/``FUNCTION RESTORE``. No access to the target's filesystem is
needed, and every key keeps its remaining time to live. Finally the target's key counts
are compared with what was restored.

Both directions speak RESP through the small client below (``Wire``) rather than a client
library: a restore is hundreds of thousands of tiny commands and replies, and a lean
pipelined client spends a few microseconds on each where a general one spends a hundred.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores

KIND = "redis"
FORMAT = "rdb"
EOF_MARK_SIZE = 40
CHUNK = 1 << 20
COMPRESSIONS = ("zstd", "none")
EXTENSIONS = {"zstd": ".rdb.zst", "none": ".rdb"}
TOOL_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/opt/redis/bin")
PACKAGES = {"redis-check-rdb": "redis-tools", "redis-server": "redis-server", "zstd": "zstd"}
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
_DB = re.compile(r"^db(\d+)$")
_MODULE_TYPE = re.compile(r"no matching module type '([^']*)'")
_MODULE_FAILED = re.compile(r"(?:Can't load module from|Module) (\S+)(?: failed to load|: server aborting)")


class RedisBackupError(Exception):
    """A backup or restore that cannot go on; the message names the target, the step and the cause.

    ``cause`` classifies it: connection, timeout, auth, permission, protocol, tool, check,
    storage, verify, load, target, restore, compare.
    """

    def __init__(self, message, cause="error", **details):
        super().__init__(message)
        self.cause = cause
        self.details = details


class ServerReply(Exception):
    """An error reply of the server, in its own words."""


# -- a small RESP client ------------------------------------------------------------------


def connection_argspec():
    """The connection options both modules share (documented in each)."""
    return dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=6379),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tls=dict(type="bool", default=False),
        tls_ca_cert=dict(type="path"),
        tls_client_cert=dict(type="path"),
        tls_client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=30),
    )


def connection(params):
    """The connection dict of a module's parameters."""
    return {key: params.get(key) for key in connection_argspec()}


def describe(conn):
    return "%s:%s" % (conn.get("host"), conn.get("port") or 6379)


def _encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, (bytes, bytearray)) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return parts


class Wire:
    """One RESP2 connection: commands, pipelined requests, and the raw stream after SYNC.

    Socket failures raise RedisBackupError (cause connection or timeout) naming the server;
    error replies raise ServerReply from call() and are returned as ServerReply objects by
    reply() (so a pipelined batch can name the key whose command failed).
    """

    def __init__(self, sock, where):
        self.sock = sock
        self.where = where
        self.buf = b""
        self.pos = 0

    @classmethod
    def open(cls, conn):
        where = describe(conn)
        timeout = float(conn.get("timeout") or 30)
        try:
            sock = socket.create_connection((conn["host"], int(conn.get("port") or 6379)), timeout=timeout)
        except OSError as exc:
            raise RedisBackupError(
                "cannot connect to redis %s: %s" % (where, _reason(exc)),
                cause="timeout" if isinstance(exc, TimeoutError) else "connection",
            )
        if conn.get("tls"):
            try:
                context = ssl.create_default_context(cafile=conn.get("tls_ca_cert") or None)
                if conn.get("validate_certs", True) is False:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if conn.get("tls_client_cert"):
                    context.load_cert_chain(conn["tls_client_cert"], conn.get("tls_client_key") or None)
                sock = context.wrap_socket(sock, server_hostname=conn["host"])
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise RedisBackupError(
                    "cannot set up TLS with redis %s: %s" % (where, _reason(exc)), cause="connection"
                )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        return cls(sock, where)

    @classmethod
    def open_unix(cls, path, timeout):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise RedisBackupError("cannot connect to %s: %s" % (path, _reason(exc)), cause="connection")
        return cls(sock, path)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _io(self, call, *args):
        try:
            return call(*args)
        except TimeoutError:
            raise RedisBackupError("redis %s did not answer within the timeout" % self.where, cause="timeout")
        except OSError as exc:
            raise RedisBackupError(
                "the connection to redis %s failed: %s" % (self.where, _reason(exc)), cause="connection"
            )

    def _recv(self, size=CHUNK):
        data = self._io(self.sock.recv, size)
        if not data:
            raise RedisBackupError("redis %s closed the connection" % self.where, cause="connection")
        return data

    def _fill(self):
        data = self._recv()
        self.buf = self.buf[self.pos :] + data if self.pos < len(self.buf) else data
        self.pos = 0

    def send(self, *commands):
        """Send commands (tuples of arguments) in one write."""
        parts = []
        for args in commands:
            parts.extend(_encode(args))
        self._io(self.sock.sendall, b"".join(parts))

    def send_raw(self, data):
        self._io(self.sock.sendall, data)

    def line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos : end]
                self.pos = end + 2
                return line
            self._fill()

    def raw_line(self):
        """A line ended by a bare newline (the SYNC preamble and its keep-alives)."""
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos : end]
                self.pos = end + 1
                return line.rstrip(b"\r")
            self._fill()

    def _exact(self, size):
        available = len(self.buf) - self.pos
        if available >= size:
            data = self.buf[self.pos : self.pos + size]
            self.pos += size
            return data
        parts = [self.buf[self.pos :]]
        need = size - available
        while need > 0:
            data = self._recv(min(max(need, CHUNK), 16 * CHUNK))
            parts.append(data)
            need -= len(data)
        joined = b"".join(parts)
        self.buf, self.pos = joined[size:], 0
        return joined[:size]

    def reply(self):
        line = self.line()
        kind = line[:1]
        if kind == b"$":
            size = int(line[1:])
            if size < 0:
                return None
            data = self._exact(size + 2)
            return data[:-2]
        if kind == b":":
            return int(line[1:])
        if kind == b"+":
            return line[1:]
        if kind == b"-":
            return ServerReply(line[1:].decode("utf-8", "replace"))
        if kind == b"*":
            size = int(line[1:])
            return None if size < 0 else [self.reply() for _x in range(size)]
        raise RedisBackupError(
            "redis %s sent an unexpected reply %r" % (self.where, line[:40]), cause="protocol"
        )

    def call(self, *args):
        self.send(args)
        answer = self.reply()
        if isinstance(answer, ServerReply):
            raise answer
        return answer

    def chunks(self):
        """The rest of the stream: what is buffered, then what arrives."""
        if self.pos < len(self.buf):
            data = self.buf[self.pos :]
            self.buf, self.pos = b"", 0
            yield data
        while True:
            yield self._recv()


def _reason(exc):
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def connect(conn, db=0, what="connect to"):
    """An authenticated Wire to the server of ``conn`` (database ``db`` selected)."""
    wire = Wire.open(conn)
    try:
        args = auth_command(conn.get("username"), conn.get("password"))
        if args:
            try:
                wire.call(*args)
            except ServerReply as exc:
                raise RedisBackupError(
                    "cannot %s redis %s: authentication%s failed: %s"
                    % (what, wire.where, " as %s" % conn["username"] if conn.get("username") else "", exc),
                    cause="auth",
                )
        if db:
            try:
                wire.call("SELECT", int(db))
            except ServerReply as exc:
                raise RedisBackupError(
                    "cannot select database %s on redis %s: %s" % (db, wire.where, exc), cause="target"
                )
    except BaseException:
        wire.close()
        raise
    return wire


def auth_command(username, password):
    """The AUTH a connection sends: ``AUTH user password`` whenever a user is named (a
    ``nopass`` user takes any password, so an empty one when none is given), ``AUTH
    password`` for the default user, nothing without either."""
    if username:
        return ["AUTH", username, password or ""]
    if password:
        return ["AUTH", password]
    return None


def parse_info(text):
    """INFO text as a dict: ``key: value`` (ints where they are ints), ``dbN`` as dicts."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    info = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if _DB.match(key):
            info[key] = {
                name: _number(item) for name, item in (part.split("=", 1) for part in value.split(","))
            }
        else:
            info[key] = _number(value)
    return info


def _number(text):
    try:
        return int(text)
    except ValueError:
        return text


def keyspace_from_info(info):
    """``{"0": {"keys": n, "expires": m}}`` from a parsed INFO."""
    keyspace = {}
    for name, value in info.items():
        match = _DB.match(str(name))
        if match and isinstance(value, dict):
            keyspace[match.group(1)] = {
                "keys": int(value.get("keys", 0)),
                "expires": int(value.get("expires", 0)),
            }
    return dict(sorted(keyspace.items(), key=lambda item: int(item[0])))


def read_info(wire, what):
    try:
        return parse_info(wire.call("INFO"))
    except ServerReply as exc:
        cause = "auth" if str(exc).startswith(("NOAUTH", "WRONGPASS")) else "permission"
        raise RedisBackupError("cannot %s redis %s: INFO failed: %s" % (what, wire.where, exc), cause=cause)


def server_facts(conn, what="connect to"):
    """Version, role, cluster mode and key counts of a Redis server (INFO)."""
    with connect(conn, what=what) as wire:
        info = read_info(wire, what)
    return facts_from_info(info)


def facts_from_info(info):
    return {
        "redis_version": str(info.get("redis_version") or ""),
        "role": info.get("role"),
        "cluster_enabled": bool(int(info.get("cluster_enabled") or 0)),
        "used_memory": info.get("used_memory"),
        "keyspace": keyspace_from_info(info),
    }


def parse_module_list(reply):
    """``MODULE LIST``'s reply as ``[{"name", "version"}]``, sorted by name."""
    modules = []
    for entry in reply or []:
        if not isinstance(entry, list):
            continue
        fields = {}
        for name, value in zip(entry[::2], entry[1::2], strict=False):
            key = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            fields[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if fields.get("name") is not None:
            modules.append({"name": str(fields["name"]), "version": fields.get("ver")})
    return sorted(modules, key=lambda item: item["name"])


def module_list(wire):
    """The modules a server has loaded, None when it will not say (no permission, no command)."""
    try:
        return parse_module_list(wire.call("MODULE", "LIST"))
    except ServerReply:
        return None


def describe_modules(modules):
    return ", ".join(
        "%s %s" % (item["name"], item["version"]) if item.get("version") is not None else item["name"]
        for item in modules
    )


def parse_version(text):
    match = re.match(r"^(\d+)\.(\d+)", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def rdb_version_of(redis_version):
    """The RDB (and DUMP payload) version a Redis release writes, None when unknown."""
    version = parse_version(redis_version)
    if version is None:
        return None
    for since, rdb in RDB_VERSIONS:
        if version >= since:
            return rdb
    return None


# -- the snapshot stream ------------------------------------------------------------------


def stream_rdb(conn, out, diskless=True):
    """Stream a fresh RDB from the server into ``out`` (anything with ``write``).

    Returns ``{"bytes": n, "transfer": "diskless"|"disk"}``. Raises RedisBackupError naming
    the server and the cause: refused, authentication, a permission the user lacks, a cut
    transfer (with the byte count).
    """
    wire = connect(conn, what="back up")
    received = 0
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
            text = str(exc)
            hint = ""
            if text.startswith("NOPERM"):
                hint = " (the user needs the replconf and sync commands, e.g. +@admin or +sync +replconf)"
            elif "unknown command" in text.lower():
                hint = " (this service does not offer replication to clients: use the provider's snapshots)"
            raise RedisBackupError(
                "redis %s refused %s: %s%s" % (wire.where, step, text, hint), cause="permission"
            )
        if header.startswith(b"$EOF:") and len(header) >= 5 + EOF_MARK_SIZE:
            mark = header[5 : 5 + EOF_MARK_SIZE]
            transfer = "diskless"
            size = None
        elif header.startswith(b"$") and header[1:].isdigit():
            mark = None
            transfer = "disk"
            size = int(header[1:])
        else:
            raise RedisBackupError(
                "redis %s answered SYNC with %r, not an RDB transfer" % (wire.where, header[:80]),
                cause="protocol",
            )
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
        received = counter.count
        return {"bytes": received, "transfer": transfer}
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


# -- tools ---------------------------------------------------------------------------------


def find_tool(name, given=None):
    """The path of a tool: the one given, else PATH, else the usual directories."""
    if given:
        if os.path.isfile(given) and os.access(given, os.X_OK):
            return given
        raise RedisBackupError("%s is not an executable file (given for %s)" % (given, name), cause="tool")
    found = shutil.which(name)
    if found:
        return found
    for directory in TOOL_DIRS:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RedisBackupError(
        "%s was not found on the controller (PATH, %s): install the %s package or give its path"
        % (name, ", ".join(TOOL_DIRS), PACKAGES.get(name, name)),
        cause="tool",
    )


def rdb_header_version(path):
    """The format version in an RDB file's header (``REDIS0010`` -> 10), None if not an RDB."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) == 9 and head[:5] == b"REDIS" and head[5:].isdigit():
        return int(head[5:])
    return None


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
        proc = subprocess.run([binary, path], capture_output=True, check=False)
    except OSError as exc:
        raise RedisBackupError("cannot run %s: %s" % (binary, _reason(exc)), cause="tool")
    text = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    result = parse_check_output(text)
    result["rc"] = proc.returncode
    if proc.returncode != 0:
        result["ok"] = False
        if not result["problems"]:
            result["problems"] = text.strip().splitlines()[-4:] or ["exit %d" % proc.returncode]
    return result


def _read_length(data, pos):
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
            keys = _read_length(data, 1)
            expires = _read_length(data, keys[1]) if keys else None
            if expires is None:
                return None
            counts[str(db)] = {"keys": keys[0], "expires": expires[0]}
    if sum(item["keys"] for item in counts.values()) != total_keys:
        return None
    return counts


# -- backup --------------------------------------------------------------------------------


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


class _Compressor:
    """``zstd`` fed through its stdin; a thread writes its output into an AtomicWriter."""

    def __init__(self, zstd, level, path, label):
        self.args = [zstd, "-q", "-c", "-%d" % int(level), "--no-progress", "-"]
        self.out = artifact.AtomicWriter(path)
        self.label = label
        self.proc = None
        self.thread = None
        self.error = None

    def __enter__(self):
        self.out.__enter__()
        try:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            self.out.abort()
            raise RedisBackupError("cannot run %s: %s" % (self.args[0], _reason(exc)), cause="tool")
        self.thread = threading.Thread(target=self._pump, name="zstd-writer", daemon=True)
        self.thread.start()
        return self

    def _pump(self):
        try:
            while True:
                data = self.proc.stdout.read(CHUNK)
                if not data:
                    return
                self.out.write(data)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
            self.proc.kill()

    def write(self, data):
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError):
            if self.error is not None:
                raise self.error
            raise RedisBackupError(
                "zstd stopped while compressing the snapshot of %s" % self.label, cause="tool"
            )

    def finish(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.thread.join()
        code = self.proc.wait()
        message = self.proc.stderr.read().decode("utf-8", "replace").strip()
        if self.error is not None:
            raise self.error
        if code != 0:
            raise RedisBackupError(
                "zstd failed compressing the snapshot of %s: %s" % (self.label, message or "exit %d" % code),
                cause="tool",
            )

    def commit(self):
        self.out.commit()

    def __exit__(self, *exc):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass
        if self.thread is not None:
            self.thread.join()
        self.out.abort()
        return False


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
    now=artifact.utcnow,
    clock=time.monotonic,
):
    """Take an RDB snapshot into ``directory``; returns a result dict (see redis_backup's RETURN)."""
    check_tool = find_tool("redis-check-rdb", check_binary)
    zstd = find_tool("zstd", zstd_binary) if compression == "zstd" else None
    label = name or describe(conn)
    what = "redis %s" % label if name is None else "redis %s (%s)" % (label, describe(conn))
    with connect(conn, what="back up") as wire:
        facts = facts_from_info(read_info(wire, "back up"))
        modules = module_list(wire)
    started = now()
    _archive, path = plan_backup(conn, directory, name, compression, started)
    result = {
        "changed": True,
        "archive": path,
        "manifest_path": artifact.manifest_name(path),
        "target": label,
        "server": facts,
        "compression": compression,
        "modules": modules,
        "warnings": [],
    }
    if modules:
        # redis-check-rdb skips module data; a scratch redis-server without the modules
        # refuses the whole RDB, so the restore needs them (redis_restore's load_modules)
        result["warnings"].append(
            "%s has modules loaded (%s): keys of their data types can only be restored by a scratch "
            "redis-server that loads the same modules (redis_restore's load_modules), into a target that "
            "has them too" % (what, describe_modules(modules))
        )
    if os.path.lexists(path):
        raise RedisBackupError("%s already exists; refusing to overwrite a backup" % path, cause="storage")
    if check_mode:
        return result
    try:
        store = stores.LocalStore(os.path.dirname(path), create=True)
    except stores.StoreError as exc:
        raise RedisBackupError("cannot back up %s: %s" % (what, exc), cause="storage")

    tick = clock()
    try:
        with _Writer(path if compression == "none" else path[: -len(".zst")]) as raw:
            if compression == "none":
                transfer = stream_rdb(conn, raw, diskless=diskless)
                check, keyspace, rdb_version = _check(raw, check_tool, what)
                raw.commit()
                final = raw
            else:
                with _Compressor(zstd, level, path, what) as packer:
                    transfer = stream_rdb(conn, _Tee(raw, packer), diskless=diskless)
                    packer.finish()
                    check, keyspace, rdb_version = _check(raw, check_tool, what)
                    packer.commit()
                final = packer.out
    except RedisBackupError:
        raise
    except (OSError, artifact.ArtifactError) as exc:
        raise RedisBackupError(
            "cannot write the backup of %s to %s: %s; the partial file was removed and older backups are "
            "untouched" % (what, store.path, _reason(exc)),
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
            "address": describe(conn),
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
            "cannot write the manifest of the backup of %s in %s: %s; the archive was removed and older "
            "backups are untouched" % (what, store.path, _reason(exc)),
            cause="storage",
        )
    result.update(manifest=manifest, size=final.size, sha256=final.sha256)
    return result


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _check(raw, check_tool, what):
    """redis-check-rdb on the not yet committed raw RDB: ``(check, keyspace or None, rdb version)``."""
    raw.flush()
    check = check_rdb(raw.temp_path, check_tool)
    if not check["ok"]:
        hint = ""
        if any("Can't handle RDB format version" in problem for problem in check["problems"]):
            hint = (
                " (%s is older than the server: give check_rdb_binary of the server's release)" % check_tool
            )
        raise RedisBackupError(
            "redis-check-rdb rejected the snapshot of %s (%d bytes received; nothing was kept): %s%s"
            % (what, raw.size, "; ".join(check["problems"]), hint),
            cause="check",
            check=check,
        )
    keyspace = resizedb_counts(raw.temp_path, check["databases"], check["keys"])
    return check, keyspace, rdb_header_version(raw.temp_path)


# -- restore: the archive --------------------------------------------------------------------


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
            "the archive %s cannot be trusted, nothing was restored: %s" % (path, "; ".join(problems)),
            cause="verify",
            problems=problems,
        )
    return manifest


def find_latest(directory, name=None):
    """The newest verified Redis archive in a directory (of ``name``'s prefix when given).

    Returns ``(path, manifest, skipped)``; ``skipped`` lists newer archives that failed
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
    skipped = []
    for _moment, file_name in sorted(candidates, reverse=True):
        path = store.local_path(file_name)
        try:
            return path, verify_archive(path), skipped
        except RedisBackupError as exc:
            skipped.append({"archive": path, "problems": exc.details.get("problems") or [str(exc)]})
    raise RedisBackupError(
        "no verified Redis backup%s in %s (%d candidate(s) failed verification)"
        % (" of %s" % name if name else "", store.path, len(skipped)),
        cause="verify",
        skipped=skipped,
    )


def extract_rdb(path, manifest, dest, zstd_binary=None):
    """Write the archive's raw RDB to ``dest``, checking it against the manifest's rdb_* fields."""
    digest = hashlib.sha256()
    size = 0
    proc = None
    with open(dest, "wb") as out:
        if manifest.get("compression") == "zstd":
            zstd = find_tool("zstd", zstd_binary)
            proc = subprocess.Popen(
                [zstd, "-d", "-q", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
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
        finally:
            source.close()
            if proc is not None:
                error = proc.stderr.read().decode("utf-8", "replace").strip()
                proc.stderr.close()
                if proc.wait() != 0:
                    raise RedisBackupError(
                        "the archive %s cannot be unpacked, nothing was restored: %s"
                        % (path, error or "zstd exit %d" % proc.returncode),
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
            "the archive %s cannot be trusted, nothing was restored: %s" % (path, "; ".join(problems)),
            cause="verify",
            problems=problems,
        )
    return size


# -- restore: the scratch server ---------------------------------------------------------------


class ScratchServer:
    """A private redis-server loading an RDB: a Unix socket in a 0700 temporary directory,
    no TCP port, no password, no persistence; stopped and removed on exit."""

    def __init__(
        self,
        binary,
        databases=16,
        tmp_dir=None,
        timeout=600,
        stall_timeout=60,
        clock=time.monotonic,
        modules=(),
    ):
        self.binary = binary
        self.modules = list(modules or ())
        self.stall_timeout = stall_timeout
        self.databases = max(16, int(databases))
        self.tmp_dir = tmp_dir
        self.timeout = timeout
        self.clock = clock
        self.dir = None
        self.proc = None
        self.socket = None

    def prepare(self):
        """Create the private directory; returns the path the RDB must be written to."""
        self.dir = tempfile.mkdtemp(prefix="maops-redis-restore-", dir=self.tmp_dir)
        os.chmod(self.dir, 0o700)
        self.socket = os.path.join(self.dir, "redis.sock")
        return os.path.join(self.dir, "dump.rdb")

    def start(self):
        args = [
            self.binary,
            "--port", "0",
            "--unixsocket", self.socket,
            "--unixsocketperm", "700",
            "--dir", self.dir,
            "--dbfilename", "dump.rdb",
            "--save", "",
            "--appendonly", "no",
            "--databases", str(self.databases),
            "--daemonize", "no",
            "--logfile", os.path.join(self.dir, "redis.log"),
            "--maxmemory", "0",
        ]  # fmt: skip
        for module in self.modules:
            args += ["--loadmodule", module]
        try:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            raise RedisBackupError("cannot start %s: %s" % (self.binary, _reason(exc)), cause="tool")
        # Loading is watched through INFO (served while loading): a server that reads no more
        # bytes for stall_timeout seconds is stuck (Redis 7.0 can spin on some damaged files),
        # one that exits failed; the log says why.
        started = self.clock()
        progress_at, loaded = started, None
        while True:
            if self.proc.poll() is not None:
                raise self.failure()
            if os.path.exists(self.socket):
                try:
                    with Wire.open_unix(self.socket, min(5.0, self.stall_timeout)) as wire:
                        info = parse_info(wire.call("INFO", "persistence"))
                    if not info.get("loading"):
                        return
                    if info.get("loading_loaded_bytes") != loaded:
                        progress_at, loaded = self.clock(), info.get("loading_loaded_bytes")
                except (RedisBackupError, ServerReply):
                    pass  # not listening yet, or too busy to answer
            now = self.clock()
            if now - progress_at > self.stall_timeout:
                raise RedisBackupError(
                    "the scratch redis-server stopped making progress loading the RDB (%s bytes read): %s"
                    % (loaded if loaded is not None else "no", self.log_tail()),
                    cause="load",
                )
            if now - started > self.timeout:
                raise RedisBackupError(
                    "the scratch redis-server did not finish loading the RDB within %ds" % self.timeout,
                    cause="load",
                )
            time.sleep(0.05)

    def failure(self):
        """The error of a scratch server that exited: a module type it has no module for, a
        module it could not load, else the RDB it could not load, with its log's last lines."""
        tail = self.log_tail()
        text = self.log_text()
        missing = _MODULE_TYPE.search(text)
        if missing:
            return RedisBackupError(
                "the RDB holds keys of the module data type '%s', which the scratch redis-server cannot "
                "load without the module that defines it: give that module's file in load_modules (the "
                "same module the backed-up server runs), or restore it with that server's own tools (%s)"
                % (missing.group(1), tail),
                cause="load",
                module_type=missing.group(1),
            )
        module = _MODULE_FAILED.search(text)
        if module:
            return RedisBackupError(
                "the scratch redis-server could not load the module %s (exit %d): %s"
                % (module.group(1), self.proc.returncode, tail),
                cause="tool",
            )
        return RedisBackupError(
            "the scratch redis-server could not load the RDB (exit %d): %s" % (self.proc.returncode, tail),
            cause="load",
        )

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as handle:
                return handle.read()[-65536:].decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=4):
        """The last lines of the scratch server's log, without the prefixes and the host warnings."""
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as handle:
                text = handle.read()[-16384:].decode("utf-8", "replace")
        except OSError:
            return "no log"
        picked = [
            re.sub(r"^\d+:[A-Z] [^*#]+[*#] ", "", line)
            for line in text.strip().splitlines()
            if "overcommit" not in line and "WARNING" not in line
        ]
        return " | ".join(picked[-lines:]) or "no log"

    def connect(self, db=0):
        wire = Wire.open_unix(self.socket, self.timeout)
        if db:
            try:
                wire.call("SELECT", int(db))
            except BaseException:
                wire.close()
                raise
        return wire

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # a server still loading only schedules its shutdown
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


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


def dump_payload_version(payload):
    """The RDB version in a DUMP payload's footer (2 bytes little-endian before the CRC64)."""
    if not payload or len(payload) < 10:
        return None
    return int.from_bytes(payload[-10:-8], "little")


# -- restore: the copy ------------------------------------------------------------------------


def check_target(conn, facts, databases, payload_version, libraries=()):
    """Why the target cannot take this restore (empty: it can); reads only."""
    problems = []
    version = parse_version(facts["redis_version"])
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
    target_rdb = rdb_version_of(facts["redis_version"])
    if payload_version and target_rdb and payload_version > target_rdb:
        problems.append(
            "it runs Redis %s (RDB %d), which cannot RESTORE the scratch server's payloads (RDB %d): give a "
            "redis-server of the target's version" % (facts["redis_version"], target_rdb, payload_version)
        )
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


def _bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


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
                    b"*2\r\n$4\r\nDUMP\r\n%s*2\r\n$4\r\nPTTL\r\n%s" % (_bulk(k), _bulk(k)) for k in keys
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
                    % (_bulk(key), _bulk(ttl_text), _bulk(payload))
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


def function_libraries(wire):
    """Names of the function libraries on a server (empty before Redis 7)."""
    try:
        libraries = wire.call("FUNCTION", "LIST")
    except ServerReply:
        return []
    names = []
    for library in libraries or []:
        fields = dict(zip(library[::2], library[1::2], strict=False))
        name = fields.get(b"library_name")
        names.append(name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name))
    return sorted(names)


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
        manifest = verify_archive(archive)
    binary = find_tool("redis-server", server_binary)
    where = describe(conn)
    tick = clock()
    before = server_facts(conn, "restore into")
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
        rdb = scratch.prepare()
        try:
            extract_rdb(archive, manifest, rdb, zstd_binary)
        except OSError as exc:
            raise RedisBackupError(
                "cannot unpack %s into %s: %s; nothing was restored" % (archive, scratch.dir, _reason(exc)),
                cause="storage",
            )
        try:
            scratch.start()
        except RedisBackupError as exc:
            if "module_type" not in exc.details:
                raise
            source = manifest.get("modules")
            raise RedisBackupError(
                "cannot restore %s: %s%s; nothing was restored"
                % (
                    archive,
                    exc,
                    "; the backed-up server had the modules %s" % describe_modules(source) if source else "",
                ),
                cause=exc.cause,
                **exc.details,
            )
        with scratch.connect() as wire:
            info = read_info(wire, "read")
            libraries = function_libraries(wire)
            scratch_modules = (module_list(wire) or []) if modules else []
        loaded = {
            "keyspace": keyspace_from_info(info),
            "loaded": info.get("rdb_last_load_keys_loaded"),
            "expired_at_load": info.get("rdb_last_load_keys_expired"),
        }
        problems = compare_with_manifest(manifest, loaded)
        if problems:
            raise RedisBackupError(
                "the RDB in %s does not hold what its manifest says, nothing was restored: %s"
                % (archive, "; ".join(problems)),
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
                "redis %s cannot take this restore, nothing was changed: %s" % (where, "; ".join(problems)),
                cause="target",
            )
        # before anything is flushed: may this user write every key of the backup?
        problems, permissions = check_permissions(conn, scratch, loaded["keyspace"], flush, libraries, batch)
        result["permissions"] = permissions
        if problems:
            raise RedisBackupError(
                "redis %s cannot take this restore as user '%s', nothing was changed: %s"
                % (where, permissions["user"], "; ".join(problems)),
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
        except RedisBackupError as exc:
            raise RedisBackupError(
                "the restore into redis %s stopped: %s. State: %s" % (where, exc, _state(progress, flush)),
                cause=exc.cause,
            )
        with scratch.connect() as wire:
            loaded_now = keyspace_from_info(read_info(wire, "read"))
    after = server_facts(conn, "read back")
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
            result=result,
        )
    return result


def check_target_modules(conn, modules):
    """Why the target cannot take the module data the scratch server loaded (empty: it can,
    or it will not say which modules it has)."""
    with connect(conn, what="restore into") as wire:
        have = module_list(wire)
    if have is None:
        return []
    names = {item["name"] for item in have}
    missing = [item for item in modules if item["name"] not in names]
    if not missing:
        return []
    return [
        "it has not loaded the module(s) %s that the scratch server loaded for the backup's data, so it "
        "could not RESTORE their keys" % describe_modules(missing)
    ]


def _state(progress, flush):
    """What a restore that stopped half way left behind, in words."""
    if progress["flushed"] is None:
        return "FLUSHALL was sent but not confirmed, so the target may be empty; a re-run starts over"
    if progress["flushed"]:
        return (
            "the target was flushed and %d key(s) restored so far, so it is incomplete; a re-run starts over"
            % progress["restored"]
        )
    if progress["restored"]:
        return "%d key(s) were merged in so far; a re-run merges them again" % progress["restored"]
    if flush:
        return "the target was not flushed, nothing was changed"
    return "nothing was changed"


def _payload_version(scratch, keyspace):
    for db in keyspace:
        with scratch.connect(int(db)) as wire:
            key = wire.call("RANDOMKEY")
            if key is not None:
                return dump_payload_version(wire.call("DUMP", key))
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
