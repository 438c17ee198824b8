"""What the Redis unit tests share: private redis-server processes on loopback, data of every
kind to back up and compare, a scripted one-connection server, and archives written by hand."""

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time

import redis

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact

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


def data_of(server, databases=(0, 3)):
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
