# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RESP connection to a Redis server: connect (TCP, TLS or a Unix socket), AUTH, SELECT,
commands and pipelined requests, the raw stream after SYNC, and the reads both the backup
and the restore make of a server (INFO, MODULE LIST, FUNCTION LIST).

Both directions speak RESP through this small client rather than a client library: a restore
is hundreds of thousands of tiny commands and replies, and a lean pipelined client spends a
few microseconds on each where a general one spends a hundred.
"""

from __future__ import annotations

import socket
import ssl

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos

CHUNK = 1 << 20
# The options of a connection, as the modules take them (module.connection_argspec()).
CONNECTION = (
    "host",
    "port",
    "username",
    "password",
    "tls",
    "tls_ca_cert",
    "tls_client_cert",
    "tls_client_key",
    "validate_certs",
    "timeout",
)


class RedisBackupError(OpsError):
    """A backup or restore that cannot go on; the message names the target, the step and the cause.

    ``cause`` classifies it: connection, timeout, auth, permission, protocol, tool, check,
    storage, verify, load, target, restore, compare, input. ``details`` are what the task
    returns beside the message (problems, module_type, ...); with ``cause`` and ``changed``
    (false unless the details say otherwise) they are the failed task's result.
    """

    def __init__(self, message, cause="error", **details):
        super().__init__(message, **dict({"changed": False, "cause": cause}, **details))
        self.cause = cause
        self.details = details


class ServerReply(Exception):
    """An error reply of the server, in its own words."""


def connection(params):
    """The connection dict of a module's parameters."""
    return {key: params.get(key) for key in CONNECTION}


def describe(conn):
    return "%s:%s" % (conn.get("host"), conn.get("port") or 6379)


def reason(exc):
    """The first line of what an OSError (or any exception) says."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def encode(args):
    """A command as RESP: the parts to join."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, (bytes, bytearray)) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return parts


def bulk(data):
    """One RESP bulk string (requests built by hand where the pipeline is hot)."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


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
                "cannot connect to redis %s: %s" % (where, reason(exc)),
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
                    "cannot set up TLS with redis %s: %s" % (where, reason(exc)), cause="connection"
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
            raise RedisBackupError("cannot connect to %s: %s" % (path, reason(exc)), cause="connection")
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
                "the connection to redis %s failed: %s" % (self.where, reason(exc)), cause="connection"
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
            parts.extend(encode(args))
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


def auth_command(username, password):
    """The AUTH a connection sends: ``AUTH user password`` whenever a user is named (a
    ``nopass`` user takes any password, so an empty one when none is given), ``AUTH
    password`` for the default user, nothing without either."""
    if username:
        return ["AUTH", username, password or ""]
    if password:
        return ["AUTH", password]
    return None


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


# -- what the backup and the restore read of a server -----------------------------------------


def read_info(wire, what):
    """INFO, parsed (info.parse_info); a refusal names the server and whether it was the password."""
    try:
        return infos.parse_info(wire.call("INFO"))
    except ServerReply as exc:
        cause = "auth" if str(exc).startswith(("NOAUTH", "WRONGPASS")) else "permission"
        raise RedisBackupError("cannot %s redis %s: INFO failed: %s" % (what, wire.where, exc), cause=cause)


def server_facts(conn, what="connect to"):
    """Version, role, cluster mode and key counts of a Redis server (INFO)."""
    with connect(conn, what=what) as wire:
        info = read_info(wire, what)
    return infos.facts_from_info(info)


def module_list(wire):
    """The modules a server has loaded, None when it will not say (no permission, no command)."""
    try:
        return infos.parse_module_list(wire.call("MODULE", "LIST"))
    except ServerReply:
        return None


def function_libraries(wire):
    """Names of the function libraries on a server (empty before Redis 7)."""
    try:
        return infos.parse_function_list(wire.call("FUNCTION", "LIST"))
    except ServerReply:
        return []
