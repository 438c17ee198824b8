"""The scratch server: its log read into a reason (literal logs), and a real one loading an RDB."""

import os
import stat

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.redis import scratch
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import RedisBackupError

from .servers import REDIS_SERVER

LOG = """4711:C 22 Nov 2026 02:00:00.001 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo
4711:M 22 Nov 2026 02:00:00.002 # WARNING Memory overcommit must be enabled!
4711:M 22 Nov 2026 02:00:00.003 * Server initialized
4711:M 22 Nov 2026 02:00:00.004 * Loading RDB produced by version 7.0.15
4711:M 22 Nov 2026 02:00:00.005 # Short read or OOM loading DB. Unrecoverable error, aborting now.
4711:M 22 Nov 2026 02:00:00.006 # Internal error in RDB reading offset 0, function at rdb.c:3055
"""


def test_the_log_tail_drops_prefixes_and_host_warnings():
    assert scratch.log_tail(LOG, lines=3) == (
        "Loading RDB produced by version 7.0.15 | Short read or OOM loading DB. Unrecoverable error, "
        "aborting now. | Internal error in RDB reading offset 0, function at rdb.c:3055"
    )
    assert scratch.log_tail("") == "no log"


def test_why_the_scratch_server_exited_is_read_from_its_log():
    unloadable = scratch.load_failure(LOG, 1)
    assert (unloadable.cause, unloadable.details) == ("load", {})
    assert str(unloadable).startswith("the scratch redis-server could not load the RDB (exit 1): ")
    module_type = scratch.load_failure(
        LOG + "4711:M 22 Nov 2026 02:00:00.007 # The RDB file contains module data I can't load: no matching "
        "module type 'ReJSON-RL'\n",
        1,
    )
    assert (module_type.cause, module_type.details) == ("load", {"module_type": "ReJSON-RL"})
    assert "give that module's file in load_modules" in str(module_type)
    no_module = scratch.load_failure(
        "4711:M 22 Nov 2026 02:00:00.001 # Module /m/rejson.so failed to load: No such file\n"
        "4711:M 22 Nov 2026 02:00:00.002 # Can't load module from /m/rejson.so: server aborting\n",
        1,
    )
    assert no_module.cause == "tool"
    assert str(no_module).startswith(
        "the scratch redis-server could not load the module /m/rejson.so (exit 1)"
    )


def test_a_scratch_server_serves_the_rdb_privately_and_leaves_nothing(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("scratch")  # a Unix socket path has at most 107 bytes
    server = scratch.ScratchServer(REDIS_SERVER, tmp_dir=str(tmp_path), timeout=10)
    with server:
        path = server.prepare()
        with open(path, "wb") as handle:  # one database holding k = v, checksum not written
            handle.write(b"REDIS0010\xfe\x00\xfb\x01\x00\x00\x01k\x01v\xff" + b"\x00" * 8)
        assert stat.S_IMODE(os.stat(server.dir).st_mode) == 0o700
        server.start()
        with server.connect() as wire:
            assert wire.call("GET", "k") == b"v"
            assert wire.call("CONFIG", "GET", "port") == [b"port", b"0"]
    assert not os.path.exists(server.dir) and server.proc.poll() is not None


def test_a_scratch_server_that_cannot_load_says_why(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("scratch")
    with scratch.ScratchServer(REDIS_SERVER, tmp_dir=str(tmp_path), timeout=10) as server:
        with open(server.prepare(), "wb") as handle:
            handle.write(b"REDIS0010\xfe\x00\xfb\x01\x00\x00\x01k")  # cut short
        with pytest.raises(RedisBackupError, match="could not load the RDB \\(exit 1\\): ") as caught:
            server.start()
    assert caught.value.cause == "load" and os.listdir(tmp_path) == []
