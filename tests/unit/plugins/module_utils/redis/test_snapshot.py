"""Redis backup and restore: the protocol pieces against scripted servers, the decisions as
tables, and backup()/restore() against private redis-server processes on loopback."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.redis import snapshot as rb

REDIS_SERVER = shutil.which("redis-server")


# --- private servers ---------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server this test starts on a free loopback port and stops (by its own handle);
    with ``tls`` (a directory with ca.crt, server.crt and server.key) it serves TLS only."""

    def __init__(self, directory, password="unit-pw-7f3a", tls=None):
        self.port = free_port()
        self.password = password
        args = [REDIS_SERVER, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--requirepass", password, "--dir", str(directory), "--repl-diskless-sync-delay", "0"]
        self.conn = {"host": "127.0.0.1", "port": self.port, "password": password, "timeout": 10}
        self.tls = {}
        if tls is None:
            args += ["--port", str(self.port)]
        else:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            args += ["--tls-cert-file", str(tls / "server.crt"), "--tls-key-file", str(tls / "server.key")]
            args += ["--tls-ca-cert-file", str(tls / "ca.crt")]
            self.conn.update(tls=True, tls_ca_cert=str(tls / "ca.crt"))
            self.tls = {"ssl": True, "ssl_ca_certs": str(tls / "ca.crt")}
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.db(0)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def db(self, number):
        return redis.Redis(port=self.port, password=self.password, db=number, **self.tls)

    def stop(self):
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path):
    instance = PrivateRedis(tmp_path)
    yield instance
    instance.stop()


@pytest.fixture
def target(tmp_path):
    directory = tmp_path / "target"
    directory.mkdir()
    instance = PrivateRedis(directory, password="unit-target-pw")
    yield instance
    instance.stop()


def fill(server):
    """Every kind of value, two databases, TTLs, binary keys and values."""
    c0, c3 = server.db(0), server.db(3)
    c0.set("plain", "value")
    c0.set(b"bin\x00key\xff", bytes(range(256)))
    c0.set("ttl", "soon", ex=3000)
    c0.hset("hash", mapping={"a": "1", "b": "2"})
    c0.rpush("list", *[str(i) for i in range(50)])
    c0.sadd("set", "x", "y", "z")
    c0.zadd("zset", {"a": 1.5, "b": -2})
    c0.xadd("stream", {"f": "v"})
    c0.pexpire("hash", 2_000_000)
    c3.set("other-db", "x" * 5000)


READERS = {
    "string": lambda cli, key: cli.get(key),
    "hash": lambda cli, key: cli.hgetall(key),
    "list": lambda cli, key: cli.lrange(key, 0, -1),
    "set": lambda cli, key: sorted(cli.smembers(key)),
    "zset": lambda cli, key: cli.zrange(key, 0, -1, withscores=True),
    "stream": lambda cli, key: cli.xrange(key),
}


def snapshot(server, databases=(0, 3)):
    state = {}
    for db in databases:
        cli = server.db(db)
        for key in cli.scan_iter(count=1000):
            kind = cli.type(key).decode()
            state[(db, key)] = (kind, READERS[kind](cli, key), cli.pttl(key))
    return state


def same_data(before, after, slack_ms=60_000):
    assert set(before) == set(after)
    for key, (kind, value, ttl) in before.items():
        kind2, value2, ttl2 = after[key]
        assert (kind, value) == (kind2, value2), key
        assert (ttl < 0) == (ttl2 < 0), key
        assert abs(ttl - ttl2) <= slack_ms, key


# --- pure decisions ----------------------------------------------------------------------
INFO = (
    b"# Server\r\nredis_version:7.0.15\r\nrole:master\r\n# Cluster\r\ncluster_enabled:0\r\n"
    b"# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=1000\r\ndb10:keys=1,expires=0,avg_ttl=0\r\n"
)


def test_info_text_becomes_facts():
    facts = rb.facts_from_info(rb.parse_info(INFO))
    assert facts == {
        "redis_version": "7.0.15",
        "role": "master",
        "cluster_enabled": False,
        "used_memory": None,
        "keyspace": {"0": {"keys": 12, "expires": 3}, "10": {"keys": 1, "expires": 0}},
    }


CHECK_OK = """[offset 0] Checking RDB file x.rdb
[offset 27] AUX FIELD redis-ver = '7.0.15'
[offset 165] Selecting DB ID 0
[offset 251] Selecting DB ID 3
[offset 282] Checksum OK
[offset 282] \\o/ RDB looks OK! \\o/
[info] 4 keys read
[info] 1 expires
[info] 0 already expired
"""
CHECK_BAD = """[offset 0] Checking RDB file trunc.rdb
[offset 86] AUX FIELD repl-stream-db = '0'
--- RDB ERROR DETECTED ---
[offset 96] Unexpected EOF reading RDB file
[additional info] While doing: read-aux
[info] 0 keys read
[info] 0 expires
[info] 0 already expired
"""


def test_check_output_is_read():
    ok = rb.parse_check_output(CHECK_OK)
    assert ok["ok"] and (ok["keys"], ok["expires"], ok["already_expired"]) == (4, 1, 0)
    assert ok["databases"] == [(0, 165), (3, 251)]
    bad = rb.parse_check_output(CHECK_BAD)
    assert not bad["ok"]
    assert bad["problems"] == [
        "[offset 96] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-aux",
    ]


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\x05", (5, 1)),
        (b"\x41\x02", (258, 2)),
        (b"\x80\x00\x01\x00\x00", (65536, 5)),
        (b"\x81" + (2**40).to_bytes(8, "big"), (2**40, 9)),
        (b"\xc0\x01", None),  # an integer encoding, not a length
        (b"\x41", None),  # cut short
        (b"", None),
    ],
)
def test_rdb_lengths(data, expected):
    assert rb._read_length(data, 0) == expected


def test_resizedb_counts_are_read_at_the_offsets_and_must_add_up(tmp_path):
    path = tmp_path / "x.rdb"
    body = bytearray(b"REDIS0010" + b"\x00" * 40)
    body += b"\xfe\x00"
    first = len(body)
    body += b"\xfb\x41\x02\x01"  # 258 keys, 1 with a TTL
    body += b"\x00" * 10 + b"\xfe\x03"
    second = len(body)
    body += b"\xfb\x02\x00"
    path.write_bytes(bytes(body))
    assert rb.resizedb_counts(str(path), [(0, first), (3, second)], 260) == {
        "0": {"keys": 258, "expires": 1},
        "3": {"keys": 2, "expires": 0},
    }
    assert rb.resizedb_counts(str(path), [(0, first), (3, second)], 261) is None  # must add up
    assert rb.resizedb_counts(str(path), [(0, first + 1)], 258) is None  # not a RESIZEDB there
    assert rb.resizedb_counts(str(path), [], 0) == {}
    assert rb.resizedb_counts(str(path), [], 5) is None


@pytest.mark.parametrize(
    "version, rdb",
    [("7.4.1", 12), ("7.2.4", 11), ("7.0.15", 10), ("6.2.14", 9), ("5.0.7", 9), ("4.0.9", 8), ("3.2.1", 7),
     ("8.0.0", 12), ("2.4.0", None), ("", None), ("unknown", None)],
)  # fmt: skip
def test_rdb_versions_of_releases(version, rdb):
    assert rb.rdb_version_of(version) == rdb


@pytest.mark.parametrize(
    "expected, got, problem",
    [
        ({"0": {"keys": 10, "expires": 4}}, {"0": {"keys": 10, "expires": 4}}, None),
        ({"0": {"keys": 10, "expires": 4}}, {"0": {"keys": 7, "expires": 1}}, None),  # TTL keys expired
        (
            {"0": {"keys": 10, "expires": 4}},
            {"0": {"keys": 9, "expires": 4}},
            "db0",
        ),  # a key without TTL lost
        ({"0": {"keys": 10, "expires": 4}}, {"0": {"keys": 11, "expires": 5}}, "db0"),  # a TTL key appeared
        ({"0": {"keys": 1, "expires": 0}}, {}, "db0"),
        ({}, {"2": {"keys": 1, "expires": 0}}, "db2"),
        ({"1": {"keys": 3, "expires": 3}}, {}, None),  # all of them expired
    ],
)
def test_counts_compared_allowing_for_expiry(expected, got, problem):
    problems = rb.compare_counts(expected, got, "the backup", "the target")
    assert (problems[0].split(":")[0] if problems else None) == problem


def test_loaded_rdb_compared_with_its_manifest():
    manifest = {"keyspace_source": "rdb", "keyspace": {"0": {"keys": 5, "expires": 2}}, "keys_total": 5}
    loaded = {"keyspace": {"0": {"keys": 4, "expires": 1}}, "loaded": 4, "expired_at_load": 1}
    assert rb.compare_with_manifest(manifest, loaded) == []
    assert rb.compare_with_manifest(manifest, dict(loaded, expired_at_load=0)) == [
        "4 keys loaded and 0 expired at load, the manifest has 5"
    ]
    info_only = dict(manifest, keyspace_source="info")
    assert rb.compare_with_manifest(info_only, {"keyspace": {}, "loaded": 0, "expired_at_load": 0}) == []


def test_target_checks():
    facts = {"role": "master", "cluster_enabled": False, "redis_version": "7.0.15", "keyspace": {}}
    assert rb.check_target({}, facts, [], 10) == []
    assert "not a primary" in rb.check_target({}, dict(facts, role="slave"), [], 10)[0]
    assert "cluster mode" in rb.check_target({}, dict(facts, cluster_enabled=True), [], 10)[0]
    older = rb.check_target({}, dict(facts, redis_version="6.2.14"), [], 10)
    assert older and "Redis 6.2.14 (RDB 9)" in older[0] and "(RDB 10)" in older[0]
    assert (
        "has no functions" in rb.check_target({}, dict(facts, redis_version="6.2.14"), [], None, ["lib"])[0]
    )


@pytest.mark.parametrize(
    "username, password, command",
    [
        (None, None, None),
        (None, "", None),
        (None, "pw", ["AUTH", "pw"]),
        ("backup", None, ["AUTH", "backup", ""]),  # a nopass user: any password is accepted
        ("backup", "", ["AUTH", "backup", ""]),
        ("backup", "pw", ["AUTH", "backup", "pw"]),
    ],
)
def test_auth_is_sent_whenever_a_user_is_named(username, password, command):
    assert rb.auth_command(username, password) == command


@pytest.mark.parametrize(
    "reply, verdict",
    [
        (0, None),  # EXISTS answered: the key pattern matches
        (1, None),
        (b"OK", None),  # ACL DRYRUN: allowed
        (b"This user has no permissions to access the 'k1' key", "denied"),
        (b"This user has no permissions to run the 'restore' command", "denied"),
        (rb.ServerReply("NOPERM this user has no permissions to access one of the keys used as "
                        "arguments"), "denied"),
        (rb.ServerReply("NOPERM this user has no permissions to run the 'exists' command"), "unknown"),
        (rb.ServerReply("ERR unknown command 'EXISTS'"), "unknown"),
    ],
)  # fmt: skip
def test_key_probes_are_read(reply, verdict):
    assert rb.key_denial(reply) == verdict


def test_denied_keys_are_named_with_the_user_and_the_permission():
    denied = [
        ("0", b"k%d" % i, "NOPERM this user has no permissions to access one of the keys") for i in range(5)
    ]
    text = rb.describe_denials("appuser", denied, 12, "EXISTS")
    assert text.startswith(
        "user 'appuser' may not write 5 of the backup's 12 key(s) (checked with EXISTS), e.g. 'k0' (db 0), "
        "'k1' (db 0), 'k2' (db 0): NOPERM this user has no permissions to access one of the keys; RESTORE "
        "needs write access to every key of the backup"
    )


def test_module_lists_are_read():
    reply = [
        [b"name", b"search", b"ver", 20809, b"path", b"/m/redisearch.so", b"args", []],
        [b"name", b"ReJSON", b"ver", 20609, b"path", b"/m/rejson.so", b"args", []],
    ]
    modules = rb.parse_module_list(reply)
    assert modules == [{"name": "ReJSON", "version": 20609}, {"name": "search", "version": 20809}]
    assert rb.describe_modules(modules) == "ReJSON 20609, search 20809"
    assert rb.parse_module_list([]) == [] and rb.parse_module_list(None) == []


@pytest.mark.parametrize(
    "progress, flush, words",
    [
        ({"flushed": True, "restored": 7}, True, "the target was flushed and 7 key(s) restored so far"),
        ({"flushed": False, "restored": 7}, False, "7 key(s) were merged in so far"),
        ({"flushed": False, "restored": 0}, True, "the target was not flushed, nothing was changed"),
        ({"flushed": False, "restored": 0}, False, "nothing was changed"),
        ({"flushed": None, "restored": 0}, True, "FLUSHALL was sent but not confirmed"),
    ],
)
def test_a_stopped_restore_says_what_it_left(progress, flush, words):
    assert rb._state(progress, flush).startswith(words)


def test_payload_version_is_read_from_the_footer():
    assert rb.dump_payload_version(b"\x00\x03abc" + b"\x0a\x00" + b"\x11" * 8) == 10
    assert rb.dump_payload_version(b"short") is None


def test_archive_names():
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    name, path = rb.plan_backup({"host": "h", "port": 6380}, "/b", None, "zstd", moment)
    assert (name, path) == (
        "redis-h_6380-20261122T020000Z.rdb.zst",
        "/b/redis-h_6380-20261122T020000Z.rdb.zst",
    )
    assert (
        rb.plan_backup({}, "/b", "mplp cache", "none", moment)[0] == "redis-mplp_cache-20261122T020000Z.rdb"
    )
    with pytest.raises(rb.RedisBackupError, match="compression must be one of zstd, none"):
        rb.plan_backup({}, "/b", "x", "gzip", moment)


def test_tools_are_found_or_named(tmp_path, monkeypatch):
    assert rb.find_tool("redis-check-rdb").endswith("redis-check-rdb")
    with pytest.raises(rb.RedisBackupError, match="is not an executable file"):
        rb.find_tool("zstd", str(tmp_path / "nothing"))
    monkeypatch.setattr(rb.shutil, "which", lambda name: None)
    monkeypatch.setattr(rb, "TOOL_DIRS", (str(tmp_path),))
    with pytest.raises(
        rb.RedisBackupError, match="redis-check-rdb was not found .* install the redis-tools package"
    ):
        rb.find_tool("redis-check-rdb")


# --- the wire and the snapshot stream against scripted servers --------------------------------
class Scripted:
    """A one-connection server on loopback that reads commands and answers from a script:
    a list of (expected command prefix, answer bytes or a list of chunks sent with pauses)."""

    def __init__(self, script, close_after=True):
        self.script = script
        self.close_after = close_after
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.seen = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _addr = self.listener.accept()
        buffer = b""
        with conn:
            for expected, answer in self.script:
                while expected.encode() not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                self.seen.append(expected)
                buffer = buffer.split(expected.encode(), 1)[1]
                for chunk in answer if isinstance(answer, list) else [answer]:
                    conn.sendall(chunk)
                    time.sleep(0.01)
            if not self.close_after:
                time.sleep(5)

    @property
    def conn(self):
        return {"host": "127.0.0.1", "port": self.port, "password": "s3cret", "timeout": 5}

    def close(self):
        self.listener.close()


class Sink:
    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data


RDB = b"REDIS0010" + os.urandom(3000) + b"\xff" + b"\x00" * 8
MARK = b"0123456789abcdef0123456789abcdef01234567"


def test_diskless_stream_ends_at_the_mark_even_split_across_reads():
    stream = b"$EOF:" + MARK + b"\r\n" + RDB + MARK
    cut = len(stream) - 20  # the mark arrives in two pieces
    server = Scripted(
        [
            ("AUTH", b"+OK\r\n"),
            ("capa", b"+OK\r\n"),
            ("rdb-only", b"+OK\r\n"),
            ("SYNC", [b"\n", b"\n", stream[:1000], stream[1000:cut], stream[cut:]]),
        ]
    )
    sink = Sink()
    assert rb.stream_rdb(server.conn, sink) == {"bytes": len(RDB), "transfer": "diskless"}
    assert bytes(sink.data) == RDB
    server.close()


def test_disk_transfer_takes_exactly_the_announced_bytes():
    # a Redis < 7 refuses rdb-only and goes on with the replication stream after the RDB
    server = Scripted(
        [
            ("AUTH", b"+OK\r\n"),
            ("rdb-only", b"-ERR Unrecognized REPLCONF option: rdb-only\r\n"),
            ("SYNC", [b"\n$%d\r\n" % len(RDB) + RDB[:500], RDB[500:] + b"*1\r\n$4\r\nPING\r\n"]),
        ],
        close_after=False,
    )
    sink = Sink()
    assert rb.stream_rdb(server.conn, sink, diskless=False) == {"bytes": len(RDB), "transfer": "disk"}
    assert bytes(sink.data) == RDB
    assert server.seen == ["AUTH", "rdb-only", "SYNC"]  # no capa eof without diskless
    server.close()


@pytest.mark.parametrize(
    "script, message, cause",
    [
        ([("AUTH", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")],
         "authentication failed: WRONGPASS", "auth"),
        ([("AUTH", b"+OK\r\n"), ("capa", b"+OK\r\n"), ("rdb-only", b"+OK\r\n"),
          ("SYNC", b"-NOPERM this user has no permissions to run the 'sync' command\r\n")],
         "refused SYNC: NOPERM .* needs the replconf and sync commands", "permission"),
        ([("AUTH", b"+OK\r\n"), ("capa", b"-ERR unknown command 'REPLCONF'\r\n")],
         "refused REPLCONF capa eof: ERR unknown command .* provider's snapshots", "permission"),
        ([("AUTH", b"+OK\r\n"), ("capa", b"+OK\r\n"), ("rdb-only", b"+OK\r\n"),
          ("SYNC", [b"$EOF:" + MARK + b"\r\n" + RDB[:1234]])],
         "stopped after 1234 bytes: redis 127.0.0.1:\\d+ closed the connection", "connection"),
        ([("AUTH", b"+OK\r\n"), ("capa", b"+OK\r\n"), ("rdb-only", b"+OK\r\n"), ("SYNC", b"+FULL\r\n")],
         "answered SYNC with b'\\+FULL', not an RDB transfer", "protocol"),
    ],
)  # fmt: skip
def test_stream_failures_name_the_cause(script, message, cause):
    server = Scripted(script)
    with pytest.raises(rb.RedisBackupError, match=message) as caught:
        rb.stream_rdb(server.conn, Sink())
    assert caught.value.cause == cause
    assert "s3cret" not in str(caught.value)
    server.close()


def test_replies_of_every_kind_and_large_bulks():
    big = os.urandom(3 * rb.CHUNK + 17)
    left, right = socket.socketpair()
    payload = (
        b"+OK\r\n:-2\r\n$-1\r\n-ERR no\r\n*2\r\n$1\r\na\r\n*1\r\n:5\r\n"
        + b"$%d\r\n" % len(big)
        + big
        + b"\r\n"
    )
    sender = threading.Thread(target=right.sendall, args=(payload,))
    sender.start()
    wire = rb.Wire(left, "pair")
    assert wire.reply() == b"OK"
    assert wire.reply() == -2
    assert wire.reply() is None
    error = wire.reply()
    assert isinstance(error, rb.ServerReply) and str(error) == "ERR no"
    assert wire.reply() == [b"a", [5]]
    assert wire.reply() == big
    sender.join()
    left.close()
    right.close()


def test_server_down_and_timeouts_are_named():
    with pytest.raises(
        rb.RedisBackupError, match="cannot connect to redis 127.0.0.1:%d: Connection refused" % 1
    ) as caught:
        rb.server_facts({"host": "127.0.0.1", "port": 1, "timeout": 2})
    assert caught.value.cause == "connection"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    with pytest.raises(rb.RedisBackupError, match="did not answer within the timeout") as caught:
        rb.server_facts({"host": "127.0.0.1", "port": silent.getsockname()[1], "timeout": 0.3})
    assert caught.value.cause == "timeout"
    silent.close()


# --- archives ----------------------------------------------------------------------------------
def write_archive(directory, name, data, **fields):
    path = os.path.join(str(directory), name)
    with open(path, "wb") as handle:
        handle.write(data)
    digest = hashlib.sha256(data).hexdigest()
    manifest = artifact.new_manifest("redis", "t", path, "rdb", "none", size=len(data), sha256=digest)
    manifest.update(started="2026-11-22T02:00:00Z", finished="2026-11-22T02:00:01Z", status="complete")
    manifest.update(rdb_size=len(data), rdb_sha256=digest, **fields)
    artifact.write_manifest(path, manifest)
    return path


def test_archives_that_cannot_be_trusted_are_refused(tmp_path):
    good = write_archive(tmp_path, "redis-t-20261122T020000Z.rdb", RDB)
    assert rb.verify_archive(good)["size"] == len(RDB)
    truncated = write_archive(tmp_path, "redis-t-20261122T030000Z.rdb", RDB)
    with open(truncated, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(rb.RedisBackupError, match="size is 100 bytes, the manifest says 3018") as caught:
        rb.verify_archive(truncated)
    assert caught.value.cause == "verify"
    corrupt = write_archive(tmp_path, "redis-t-20261122T040000Z.rdb", RDB)
    with open(corrupt, "r+b") as handle:
        handle.seek(50)
        handle.write(b"\x00" if RDB[50:51] != b"\x00" else b"\x01")
    with pytest.raises(rb.RedisBackupError, match="sha256 is .*, the manifest says"):
        rb.verify_archive(corrupt)
    foreign = write_archive(tmp_path, "redis-t-20261122T050000Z.rdb", RDB, kind="postgresql")
    with pytest.raises(rb.RedisBackupError, match="kind 'postgresql', not 'redis'"):
        rb.verify_archive(foreign)
    lonely = tmp_path / "redis-t-20261122T060000Z.rdb"
    lonely.write_bytes(RDB)
    with pytest.raises(rb.RedisBackupError, match="no manifest"):
        rb.verify_archive(str(lonely))
    # the newest that verifies is chosen; the newer broken ones are reported
    path, manifest, skipped = rb.find_latest(str(tmp_path), "t")
    assert path == good and manifest["file"] == os.path.basename(good)
    assert [os.path.basename(item["archive"]) for item in skipped] == [
        "redis-t-20261122T060000Z.rdb",
        "redis-t-20261122T050000Z.rdb",
        "redis-t-20261122T040000Z.rdb",
        "redis-t-20261122T030000Z.rdb",
    ]
    with pytest.raises(rb.RedisBackupError, match="no verified Redis backup of other in"):
        rb.find_latest(str(tmp_path), "other")


# --- against real servers ------------------------------------------------------------------------
@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_backup_then_restore_into_another_server(server, target, tmp_path, compression):
    fill(server)
    server.client.function_load(
        "#!lua name=unitlib\nredis.register_function('unit_echo', function(keys, args) return args[1] end)"
    )
    before = snapshot(server)
    target.client.set("stale", "to be flushed")
    dest = tmp_path / "backups"
    result = rb.backup(server.conn, str(dest), name="unit", compression=compression)
    manifest = json.loads((dest / (os.path.basename(result["archive"]) + ".manifest.json")).read_text())
    assert manifest == result["manifest"]
    assert manifest["keyspace_source"] == "rdb"
    assert manifest["keyspace"] == {"0": {"keys": 8, "expires": 2}, "3": {"keys": 1, "expires": 0}}
    assert manifest["kind"] == "redis" and manifest["target"] == "unit" and manifest["rdb_version"] == 10
    assert manifest["compression"] == compression
    name = os.path.basename(result["archive"])
    assert sorted(os.listdir(dest)) == [name, name + ".manifest.json"]
    assert rb.verify_archive(result["archive"]) == manifest

    checked = rb.restore(target.conn, result["archive"], check_mode=True)
    assert checked["verified"] and checked["functions"] == ["unitlib"]
    assert target.client.get("stale") == b"to be flushed"  # check mode changed nothing

    restored = rb.restore(target.conn, result["archive"])
    assert restored["problems"] == []
    assert restored["restored"]["0"]["keys"] == 8 and restored["restored"]["0"]["with_ttl"] == 2
    same_data(before, snapshot(target))
    assert target.client.fcall("unit_echo", 0, "hi") == b"hi"


def test_a_disk_based_snapshot_is_the_same_data(server, tmp_path):
    fill(server)
    diskless = rb.backup(server.conn, str(tmp_path / "a"), name="unit", compression="none")
    disk = rb.backup(server.conn, str(tmp_path / "b"), name="unit", compression="none", diskless=False)
    assert (diskless["manifest"]["server"]["transfer"], disk["manifest"]["server"]["transfer"]) == (
        "diskless",
        "disk",
    )
    assert disk["manifest"]["keyspace"] == diskless["manifest"]["keyspace"]


def test_an_empty_server_round_trip_empties_the_target(server, target, tmp_path):
    target.client.set("stale", "x")
    result = rb.backup(server.conn, str(tmp_path / "b"), name="empty")
    assert result["manifest"]["keyspace"] == {} and result["manifest"]["keys_total"] == 0
    restored = rb.restore(target.conn, result["archive"])
    assert restored["restored"] == {} and restored["keyspace_after"] == {}
    assert target.client.dbsize() == 0


def test_an_acl_user_needs_sync(server, tmp_path):
    fill(server)
    server.client.acl_setuser(
        "backup", enabled=True, passwords=["+backup-pw"], keys=["*"], commands=["+@all", "-sync"]
    )
    conn = dict(server.conn, username="backup", password="backup-pw")
    with pytest.raises(
        rb.RedisBackupError, match="refused SYNC: NOPERM .* needs the replconf and sync"
    ) as caught:
        rb.backup(conn, str(tmp_path / "b"), name="acl")
    assert caught.value.cause == "permission" and os.listdir(tmp_path / "b") == []
    server.client.execute_command("ACL", "SETUSER", "backup", "+sync")
    assert rb.backup(conn, str(tmp_path / "b"), name="acl")["manifest"]["keys_total"] == 9
    with pytest.raises(rb.RedisBackupError, match="authentication as backup failed: WRONGPASS") as caught:
        rb.backup(dict(conn, password="wrong"), str(tmp_path / "b"), name="acl")
    assert caught.value.cause == "auth"


def test_a_nopass_acl_user_is_used(server, target, tmp_path):
    fill(server)
    server.client.acl_setuser("backup", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
    server.client.acl_setuser("default", enabled=True, passwords=["+unit-pw-7f3a"], commands=["-@all"])
    conn = dict(server.conn, username="backup", password=None)
    result = rb.backup(conn, str(tmp_path / "b"), name="nopass")
    assert result["manifest"]["keys_total"] == 9 and result["manifest"]["modules"] == []
    target.client.acl_setuser("restorer", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
    restored = rb.restore(dict(target.conn, username="restorer", password=None), result["archive"])
    assert restored["permissions"]["user"] == "restorer" and restored["problems"] == []


def acl_restore_setup(server, target, tmp_path):
    fill(server)
    server.client.set("app:config", "x")
    result = rb.backup(server.conn, str(tmp_path / "b"), name="acl")
    target.client.set("app:keep", "me")
    target.client.set("other", "untouched")
    return result["archive"], {("app:keep", b"me"), ("other", b"untouched")}


def target_state(target):
    return {(key.decode(), target.client.get(key)) for key in target.client.keys("*")}


def test_a_user_limited_to_a_key_pattern_fails_before_the_flush(server, target, tmp_path):
    archive, state = acl_restore_setup(server, target, tmp_path)
    target.client.acl_setuser(
        "app", enabled=True, passwords=["+app-pw"], keys=["app:*"], commands=["+@all", "-@admin", "+flushall"]
    )
    conn = dict(target.conn, username="app", password="app-pw")
    for check_mode in (True, False):
        with pytest.raises(rb.RedisBackupError) as caught:
            rb.restore(conn, archive, check_mode=check_mode)
        message = str(caught.value)
        assert caught.value.cause == "permission"
        assert message.startswith(
            "redis 127.0.0.1:%d cannot take this restore as user 'app', nothing was changed: user 'app' may "
            "not write 9 of the backup's 10 key(s) (checked with EXISTS), e.g. " % target.port
        )
        assert "NOPERM this user has no permissions to access one of the keys" in message
        assert target_state(target) == state
    # the flush is allowed too, but the user may only read: ACL DRYRUN (when allowed) says so
    target.client.execute_command("ACL", "SETUSER", "app", "resetkeys", "%R~*", "+acl|dryrun")
    with pytest.raises(
        rb.RedisBackupError,
        match="may not write 10 of the backup's 10 key\\(s\\) \\(checked "
        "with ACL DRYRUN RESTORE\\), e.g. .*This user has no permissions to access the '",
    ):
        rb.restore(conn, archive, check_mode=True)
    target.client.execute_command("ACL", "SETUSER", "app", "resetkeys", "~*", "-flushall")
    with pytest.raises(rb.RedisBackupError, match="user 'app' may not run FLUSHALL: This user has no perm"):
        rb.restore(conn, archive)
    assert target_state(target) == state


def test_a_refused_flushall_says_the_target_was_not_changed(server, target, tmp_path):
    archive, state = acl_restore_setup(server, target, tmp_path)
    target.client.acl_setuser(
        "app", enabled=True, passwords=["+app-pw"], keys=["*"], commands=["+@all", "-@admin", "-flushall"]
    )
    conn = dict(target.conn, username="app", password="app-pw")
    checked = rb.restore(conn, archive, check_mode=True)  # no ACL DRYRUN: commands unknown
    assert checked["permissions"] == {
        "user": "app",
        "method": "exists",
        "commands": "unknown",
        "keys_checked": 10,
        "keys_denied": 0,
    }
    with pytest.raises(rb.RedisBackupError) as caught:
        rb.restore(conn, archive)
    assert str(caught.value).endswith(
        "stopped: FLUSHALL was refused: NOPERM this user has no permissions to run the 'flushall' command. "
        "State: the target was not flushed, nothing was changed"
    )
    assert caught.value.cause == "permission" and target_state(target) == state


def module_rdb():
    """An RDB with a plain key and a key of RedisJSON's module type (RDB_TYPE_MODULE_2)."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    module_id = 0
    for char in "ReJSON-RL":
        module_id = (module_id << 6) | charset.index(char)
    module_id = (module_id << 10) | 3
    rdb = b"REDIS0010\xfe\x00\xfb\x02\x00" + b"\x00\x05plain\x01v"
    rdb += b"\x07\x03doc\x81" + module_id.to_bytes(8, "big") + b"\x02\x05\x00"
    return rdb + b"\xff" + b"\x00" * 8


def test_module_data_is_named_when_the_scratch_server_cannot_load_it(target, tmp_path):
    keyspace = {"0": {"keys": 2, "expires": 0}}
    archive = write_archive(
        tmp_path, "redis-t-20261122T020000Z.rdb", module_rdb(), keyspace=keyspace, keyspace_source="rdb",
        keys_total=2, modules=[{"name": "ReJSON", "version": 20609}],
    )  # fmt: skip
    target.client.set("keep", "me")
    with pytest.raises(rb.RedisBackupError) as caught:
        rb.restore(target.conn, archive, check_mode=True)
    assert caught.value.cause == "load" and caught.value.details["module_type"] == "ReJSON-RL"
    assert str(caught.value).startswith(
        "cannot restore %s: the RDB holds keys of the module data type 'ReJSON-RL', which the scratch "
        "redis-server cannot load without the module that defines it: give that module's file in "
        "load_modules" % archive
    )
    assert "; the backed-up server had the modules ReJSON 20609; nothing was restored" in str(caught.value)
    missing = str(tmp_path / "no-such-module.so")
    with pytest.raises(
        rb.RedisBackupError, match="could not load the module %s \\(exit 1\\)" % missing
    ) as caught:
        rb.restore(target.conn, archive, modules=[missing])
    assert caught.value.cause == "tool"
    assert target.client.get("keep") == b"me" and target.client.dbsize() == 1


def test_a_target_that_dies_half_way_is_reported_with_the_state_left(server, target, tmp_path, monkeypatch):
    fill(server)
    server.client.mset({"bulk:%d" % i: i for i in range(500)})
    result = rb.backup(server.conn, str(tmp_path / "b"), name="unit")
    sent = []
    original = rb.Wire.send_raw

    def send_raw(wire, data):
        if wire.where.startswith("127.0.0.1:") and data.startswith(b"*5\r\n$7\r\nRESTORE"):
            sent.append(len(data))
            if len(sent) == 3:
                target.proc.kill()  # the target dies after two batches were restored
                target.proc.wait()
        return original(wire, data)

    monkeypatch.setattr(rb.Wire, "send_raw", send_raw)
    with pytest.raises(rb.RedisBackupError) as caught:
        rb.restore(target.conn, result["archive"], batch=100)
    message = str(caught.value)
    assert message.startswith("the restore into redis 127.0.0.1:%d stopped: " % target.port)
    assert (
        "State: the target was flushed and " in message
        and "so it is incomplete; a re-run starts over" in message
    )
    restored = int(message.split("State: the target was flushed and ")[1].split(" ", maxsplit=1)[0])
    assert 0 < restored < 508 and caught.value.cause == "connection"


@pytest.mark.parametrize(
    "says, message",
    [
        ("[offset 9] Invalid object type: 77", "redis-check-rdb rejected .* Invalid object type: 77$"),
        (
            "[offset 9] Can't handle RDB format version 11",
            "version 11 \\(.* is older than the server: give check_rdb",
        ),
    ],
)
def test_a_snapshot_the_check_rejects_leaves_nothing(server, tmp_path, says, message):
    fill(server)
    fake = tmp_path / "redis-check-rdb"
    fake.write_text("#!/bin/sh\necho '--- RDB ERROR DETECTED ---'\necho \"%s\"\nexit 1\n" % says)
    fake.chmod(0o755)
    dest = tmp_path / "backups"
    with pytest.raises(rb.RedisBackupError, match=message) as caught:
        rb.backup(server.conn, str(dest), name="unit", check_binary=str(fake))
    assert caught.value.cause == "check"
    assert os.listdir(dest) == []


def test_an_rdb_redis_cannot_load_stops_before_the_target(server, target, tmp_path):
    # archives whose manifests match them, but whose RDB Redis refuses: nothing may change
    fill(server)
    raw = rb.backup(server.conn, str(tmp_path / "b"), name="unit", compression="none")
    data = open(raw["archive"], "rb").read()
    counts = {key: raw["manifest"][key] for key in ("keyspace", "keyspace_source", "keys_total")}
    cut = write_archive(tmp_path, "redis-t-20261122T020000Z.rdb", data[: len(data) * 2 // 3], **counts)
    garbage = b"REDIS0010\xfe\x00\xfb\x01\x00\x00\x03key" + b"\x07" * 50
    junk = write_archive(tmp_path, "redis-t-20261122T030000Z.rdb", garbage, **counts)
    target.client.set("keep", "me")
    with pytest.raises(
        rb.RedisBackupError,
        match="could not load the RDB \\(exit 1\\): .*(Short read|rdb file reading failure)",
    ) as caught:
        rb.restore(target.conn, cut)
    assert caught.value.cause == "load"
    with pytest.raises(
        rb.RedisBackupError, match="scratch redis-server (could not load|stopped making progress)"
    ):
        rb.restore(target.conn, junk, stall_timeout=2)
    assert target.client.get("keep") == b"me" and target.client.dbsize() == 1


def test_check_mode_of_a_backup_writes_nothing(server, tmp_path):
    dest = tmp_path / "new"
    result = rb.backup(server.conn, str(dest), name="unit", check_mode=True)
    assert result["changed"] and result["archive"].startswith(str(dest) + "/redis-unit-")
    assert not dest.exists()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    base = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=str(base))

    new_key = ["-newkey", "rsa:2048", "-nodes"]
    openssl(
        "req", "-x509", *new_key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=unit-ca"
    )
    openssl("req", *new_key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (base / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.cnf"]
    openssl("x509", "-req", "-in", "server.csr", "-out", "server.crt", *sign)
    return base


def test_tls_backup_and_restore(tmp_path, certificates):
    plain = PrivateRedis(tmp_path)
    secure = PrivateRedis(tmp_path, password="unit-tls-pw", tls=certificates)
    try:
        fill(plain)
        before = snapshot(plain)
        # the data reaches the TLS server by a restore over TLS and comes back by a backup over TLS
        first = rb.backup(plain.conn, str(tmp_path / "plain"), name="plain")
        rb.restore(secure.conn, first["archive"])
        second = rb.backup(secure.conn, str(tmp_path / "tls"), name="tls")
        assert second["manifest"]["keyspace"] == first["manifest"]["keyspace"]
        plain.client.flushall()
        rb.restore(plain.conn, second["archive"])
        same_data(before, snapshot(plain))
        with pytest.raises(
            rb.RedisBackupError, match="cannot set up TLS with redis .*CERTIFICATE_VERIFY_FAILED"
        ):
            rb.server_facts(dict(secure.conn, tls_ca_cert=None))
        assert rb.server_facts(dict(secure.conn, tls_ca_cert=None, validate_certs=False))["role"] == "master"
    finally:
        secure.stop()
        plain.stop()
