# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scratch server of a restore: a private ``redis-server`` on a Unix socket in a 0700
temporary directory (no TCP port, no password, no persistence) that loads the RDB. Redis
itself parses every type (streams, module-free encodings, function libraries), and a file it
cannot load stops the restore before the target is touched (keys of a module data type need
the module: ``modules``, the server's ``--loadmodule``). Its log says why it failed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import (
    RedisBackupError,
    ServerReply,
    Wire,
    reason,
)

_MODULE_TYPE = re.compile(r"no matching module type '([^']*)'")
_MODULE_FAILED = re.compile(r"(?:Can't load module from|Module) (\S+)(?: failed to load|: server aborting)")
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] [^*#]+[*#] ")


def log_tail(text, lines=4):
    """The last lines of a redis-server log, without the prefixes and the host warnings."""
    picked = [
        _LOG_PREFIX.sub("", line)
        for line in text.strip().splitlines()
        if "overcommit" not in line and "WARNING" not in line
    ]
    return " | ".join(picked[-lines:]) or "no log"


def load_failure(text, returncode):
    """The error of a scratch server that exited, from its log ``text``: a module type it has
    no module for, a module it could not load, else the RDB it could not load."""
    tail = log_tail(text[-16384:])
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
            % (module.group(1), returncode, tail),
            cause="tool",
        )
    return RedisBackupError(
        "the scratch redis-server could not load the RDB (exit %d): %s" % (returncode, tail), cause="load"
    )


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
            self.proc = cancel.popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            raise RedisBackupError("cannot start %s: %s" % (self.binary, reason(exc)), cause="tool")
        # Loading is watched through INFO (served while loading): a server that reads no more
        # bytes for stall_timeout seconds is stuck (Redis 7.0 can spin on some damaged files),
        # one that exits failed; the log says why.
        started = self.clock()
        progress_at, loaded = started, None
        while True:
            if self.proc.poll() is not None:
                raise load_failure(self.log_text(), self.proc.returncode)
            if os.path.exists(self.socket):
                try:
                    with Wire.open_unix(self.socket, min(5.0, self.stall_timeout)) as wire:
                        info = infos.parse_info(wire.call("INFO", "persistence"))
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
                    % (loaded if loaded is not None else "no", log_tail(self.log_text()[-16384:])),
                    cause="load",
                )
            if now - started > self.timeout:
                raise RedisBackupError(
                    "the scratch redis-server did not finish loading the RDB within %ds" % self.timeout,
                    cause="load",
                )
            time.sleep(0.05)

    def log_text(self):
        """The end of the server's log (empty when there is none)."""
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as handle:
                return handle.read()[-65536:].decode("utf-8", "replace")
        except OSError:
            return ""

    def connect(self, db=0):
        wire = Wire.open_unix(self.socket, self.timeout)
        if db:
            try:
                wire.call("SELECT", int(db))
            except BaseException:
                wire.close()
                raise
        return wire

    def stop(self, cause=None):
        """Stop the server and remove its directory; a Cancelled ``cause`` is told so."""
        if self.proc is not None and self.proc.poll() is None:
            cancel.note_stopped(cause, self.proc)
            self.proc.terminate()  # a server still loading only schedules its shutdown
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            cancel.note_removed(cause, self.dir)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(exc)
        return False
