"""Redis backup and restore through ansible-playbook, against private redis-server processes on
loopback (never the shared stack Redis): round trip through the runbooks, refused archives,
wrong password, server down, a full disk, the gate, and no password in verbose output."""

import datetime
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from conftest import create_namespace, delete_namespace, forget_pushed_backup, pushed_backup_times

pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.usefixtures("demo_namespace")]
MODULES = "tests/integration/playbooks/redis_modules.yml"
REDIS_SERVER = shutil.which("redis-server")
HOST = "us-east-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server started by the test on a free loopback port, stopped by its own handle."""

    def __init__(self, directory, password, diskless_delay=0):
        self.port = free_port()
        self.password = password
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--requirepass", password, "--dir", str(directory)]
        args += ["--repl-diskless-sync-delay", str(diskless_delay)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.db(0).ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def db(self, number):
        return redis.Redis(port=self.port, password=self.password, db=number)

    def cache(self, name="redis"):
        """The inventory's platform_cache pointing at this server."""
        return {"name": name, "host": "127.0.0.1", "port": self.port, "password": self.password}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def make_redis(tmp_path):
    started = []

    def make(diskless_delay=0):
        directory = tmp_path / ("redis-%d" % len(started))
        directory.mkdir()
        server = PrivateRedis(directory, "it-redis-%s" % uuid.uuid4().hex, diskless_delay)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def lock_ns(kube):
    """A namespace for the Leases of the runbooks' locks; deleted afterwards."""
    namespace = create_namespace(kube, "it-redis")
    yield namespace
    delete_namespace(kube, namespace)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs; always unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(server):
    """Strings, binary keys and values, hashes, lists, sets, sorted sets, a stream with a
    consumer group, keys with a TTL, in three databases."""
    c0, c1, c9 = server.db(0), server.db(1), server.db(9)
    c0.set("session:1", json.dumps({"user": "u1", "state": "x" * 300}))
    c0.set(b"bin:\x00\xff", os.urandom(2048))
    c0.set("cache:answer", "forty-two", ex=7200)
    c0.hset("user:1", mapping={"name": "ada", "visits": "12"})
    c0.pexpire("user:1", 3_600_000)
    c0.rpush("conv:1", *["message %d" % i for i in range(200)])
    c0.sadd("tags", "a", "b", "c")
    c0.zadd("leaderboard", {"planner": 12.5, "critic": -1, "executor": 99})
    for i in range(20):
        c0.xadd("tasks", {"n": str(i)})
    c0.xgroup_create("tasks", "workers", id="0")
    c0.xreadgroup("workers", "w1", {"tasks": ">"}, count=5)
    c1.set("counter", 17)
    c1.set("rate:u1", 3, ex=5000)
    for i in range(300):
        c9.set("bulk:%d" % i, "v%d" % i)


def snapshot(server, databases=(0, 1, 9)):
    state = {}
    for number in databases:
        cli = server.db(number)
        for key in cli.scan_iter(count=1000):
            kind = cli.type(key).decode()
            if kind == "string":
                value = cli.get(key)
            elif kind == "hash":
                value = cli.hgetall(key)
            elif kind == "list":
                value = cli.lrange(key, 0, -1)
            elif kind == "set":
                value = sorted(cli.smembers(key))
            elif kind == "zset":
                value = cli.zrange(key, 0, -1, withscores=True)
            else:
                groups = [(g["name"], g["pending"], g["last-delivered-id"]) for g in cli.xinfo_groups(key)]
                value = (cli.xrange(key), groups)
            state[(number, key)] = (kind, value, cli.pttl(key))
    return state


def assert_same(before, after, slack_ms=120_000):
    assert set(after) == set(before)
    for key, (kind, value, ttl) in before.items():
        assert after[key][:2] == (kind, value), key
        assert (ttl < 0) == (after[key][2] < 0), key
        assert abs(after[key][2] - ttl) <= slack_ms, key


def module(ansible, call, server=None, args=(), **more):
    extra = {"redis_call": call}
    if server is not None:
        extra.update(redis_port=server.port, redis_password=server.password)
    extra.update({"redis_%s" % key: value for key, value in more.items()})
    run = ansible(MODULES, limit=HOST, extra_vars=extra, args=args)
    return run, run.results("Redis %s call" % call, HOST)


def files(directory):
    return sorted(os.listdir(directory))


def backup_of(result):
    """The one entry of a redis_backup result's ``backups``."""
    (entry,) = result["backups"]
    return entry


def backup_files(result):
    name = os.path.basename(backup_of(result)["path"])
    return [name, name + ".manifest.json"]


def test_round_trip_through_the_runbooks(ansible, make_redis, lock_ns, tmp_path, stack_facts):
    server = make_redis(diskless_delay=5)  # the server's default: the backup waits for it
    fill(server)
    before = snapshot(server)
    dest = tmp_path / "backups"
    common = {"platform_cache": server.cache(), "platform_namespace": lock_ns, "redis_backup_dest": str(dest)}

    # The backup tells the Pushgateway its time under backup="cache" (the BackupTooOld alert).
    gateway, platform = stack_facts["monitoring"]["pushgateway"], "it-push-%s" % lock_ns
    run = ansible(
        "playbooks/backup_redis.yml",
        extra_vars=dict(
            common, backup_pushgateway_url=gateway, platform_name=platform, backup_redis_name="mplp-redis"
        ),
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    assert [kind for kind, _at in pushed_backup_times(gateway, platform)] == ["cache"]
    forget_pushed_backup(gateway, platform, "cache")
    # the snapshot ran async (it has the lock): its result is collected by async_status
    backup = run.results("Async | the result of the snapshot of mplp-redis", HOST)
    assert run.data["stats"]["eu-west-1"]["changed"] == 0  # the primary cluster only
    manifest = json.loads(
        (dest / (os.path.basename(backup_of(backup)["path"]) + ".manifest.json")).read_text()
    )
    assert manifest["kind"] == "redis" and manifest["target"] == "mplp-redis"
    assert manifest["keyspace"] == {
        "0": {"keys": 8, "expires": 2},
        "1": {"keys": 2, "expires": 1},
        "9": {"keys": 300, "expires": 0},
    }
    assert manifest["keyspace_source"] == "rdb" and manifest["redis_version"] == "7.0.15"
    assert manifest["check"]["tool"] == "redis-check-rdb" and manifest["compression"] == "zstd"
    assert run.results("Apply the retention policy to the backups of mplp-redis", HOST)["kept"]

    server.db(0).flushall()
    server.db(0).set("written-after-the-backup", "gone after the restore")
    restore_vars = dict(common, ops_force=True)

    run = ansible("playbooks/restore_redis.yml", extra_vars=restore_vars, args=["--check"])
    assert run.rc == 0, run.failure_messages()
    assert server.db(0).dbsize() == 1 and server.db(9).dbsize() == 0  # check mode changed nothing

    run = ansible("playbooks/restore_redis.yml", extra_vars=restore_vars)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    restored = run.results("Restore %s" % os.path.basename(backup_of(backup)["path"]), HOST)
    assert restored["problems"] == [] and restored["restored"]["9"]["keys"] == 300
    assert_same(before, snapshot(server))
    safety = run.results("Safety backup of the current data", HOST)
    assert os.path.basename(backup_of(safety)["path"]).startswith("redis-mplp-redis-pre-restore-")
    assert backup_of(safety)["manifest"]["keyspace"] == {"0": {"keys": 1, "expires": 0}}
    assert os.path.exists(backup_of(safety)["path"] + ".manifest.json")


def test_corrupt_and_truncated_archives_are_refused_and_change_nothing(ansible, make_redis, tmp_path):
    source, target = make_redis(), make_redis()
    fill(source)
    target.db(0).set("precious", "untouched")
    run, backup = module(ansible, "backup", source, name="it", dest=str(tmp_path / "b"))
    assert run.rc == 0, run.failure_messages()
    archive = backup_of(backup)["path"]
    broken = tmp_path / "broken"
    broken.mkdir()
    corrupt = str(broken / os.path.basename(archive))
    shutil.copy(archive, corrupt)
    shutil.copy(archive + ".manifest.json", corrupt + ".manifest.json")
    with open(corrupt, "r+b") as handle:
        handle.seek(os.path.getsize(corrupt) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    truncated = str(broken / os.path.basename(archive).replace("redis-it-", "redis-cut-"))
    with open(archive, "rb") as source_file, open(truncated, "wb") as cut:
        cut.write(source_file.read(os.path.getsize(archive) - 100))
    shutil.copy(archive + ".manifest.json", truncated + ".manifest.json")

    run, refused = module(ansible, "restore", target, archive=corrupt)
    assert run.rc != 0 and refused["cause"] == "verify"
    assert refused["msg"].startswith("the archive %s cannot be trusted: sha256 is" % corrupt)
    assert refused["msg"].endswith("; nothing was changed")
    run, refused = module(ansible, "restore", target, archive=truncated)
    assert run.rc != 0 and refused["cause"] == "verify"
    assert (
        "bytes, the manifest says %d (truncated or replaced?)" % backup_of(backup)["size"] in refused["msg"]
    )
    run, refused = module(ansible, "restore", target, src=str(broken))
    assert run.rc != 0 and "no verified Redis backup in" in refused["msg"] and len(refused["unverified"]) == 2
    assert target.db(0).get("precious") == b"untouched" and target.db(0).dbsize() == 1


def test_wrong_password_fails_and_changes_nothing(ansible, make_redis, tmp_path):
    server = make_redis()
    fill(server)
    dest = tmp_path / "b"
    run, failed = module(ansible, "backup", server, name="it", dest=str(dest), password="not-the-password")
    assert run.rc != 0 and failed["cause"] == "auth"
    assert failed["msg"] == (
        "cannot back up redis 127.0.0.1:%d: authentication failed: WRONGPASS invalid username-password "
        "pair or user is disabled." % server.port
    )
    assert not dest.exists()
    run, backup = module(ansible, "backup", server, name="it", dest=str(dest))
    assert run.rc == 0
    before = snapshot(server)
    run, failed = module(
        ansible, "restore", server, archive=backup_of(backup)["path"], password="not-the-password"
    )
    assert run.rc != 0 and failed["cause"] == "auth"
    assert failed["msg"].startswith(
        "cannot restore into redis 127.0.0.1:%d: authentication failed" % server.port
    )
    assert_same(before, snapshot(server), slack_ms=60_000)


def test_server_down_is_named_and_nothing_is_written(ansible, make_redis, tmp_path):
    server = make_redis()
    fill(server)
    run, backup = module(ansible, "backup", server, name="it", dest=str(tmp_path / "b"))
    assert run.rc == 0
    server.stop()
    run, failed = module(ansible, "backup", server, name="it", dest=str(tmp_path / "b"))
    assert run.rc != 0 and failed["cause"] == "connection"
    assert "cannot connect to redis 127.0.0.1:%d: Connection refused" % server.port in failed["msg"]
    assert files(tmp_path / "b") == backup_files(backup)
    run, failed = module(ansible, "restore", server, archive=backup_of(backup)["path"])
    assert run.rc != 0 and failed["cause"] == "connection"


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_a_full_disk_leaves_no_partial_file_and_keeps_older_backups(
    ansible, make_redis, small_disk, compression
):
    server = make_redis()
    server.db(0).set("small", "x")
    run, older = module(ansible, "backup", server, name="it", dest=str(small_disk), compression=compression)
    assert run.rc == 0, run.failure_messages()
    kept = files(small_disk)
    for i in range(24):  # 2.4 MB that does not compress, for a 1 MiB filesystem
        server.db(0).set("random:%d" % i, os.urandom(100_000))
    time.sleep(1)  # a new archive name (one per second)
    run, failed = module(ansible, "backup", server, name="it", dest=str(small_disk), compression=compression)
    assert run.rc != 0 and failed["cause"] == "storage"
    assert "No space left on device (the partial file was removed); nothing was changed" in failed["msg"]
    assert files(small_disk) == kept  # hidden temporary files included
    run, ok = module(ansible, "restore", make_redis(), archive=backup_of(older)["path"], args=["--check"])
    assert run.rc == 0 and ok["verified"] is True


def test_the_gate_refuses_outside_the_window_without_touching_the_target(
    ansible, make_redis, lock_ns, tmp_path
):
    server = make_redis()
    fill(server)
    run, backup = module(ansible, "backup", server, name="mplp-redis", dest=str(tmp_path / "b"))
    server.db(0).set("after", "1")
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=12)).hour
    window = "%02d:00-%02d:00" % (later, (later + 1) % 24)
    run = ansible(
        "playbooks/restore_redis.yml",
        extra_vars={
            "platform_cache": server.cache(),
            "platform_namespace": lock_ns,
            "redis_backup_dest": str(tmp_path / "b"),
            "platform_maintenance_windows": {"daily": window},
        },
    )
    assert run.rc != 0
    assert any("outside the maintenance windows" in message for message in run.failure_messages())
    assert server.db(0).get("after") == b"1"  # not restored
    assert files(tmp_path / "b") == backup_files(backup)  # no safety backup either


def test_verbose_diff_output_never_contains_the_password(ansible, make_redis, lock_ns, tmp_path):
    server = make_redis()
    fill(server)
    common = {
        "platform_cache": server.cache(),
        "platform_namespace": lock_ns,
        "redis_backup_dest": str(tmp_path / "b"),
        "ops_force": True,
    }
    outputs = []
    for playbook, args in [
        ("playbooks/backup_redis.yml", ["-vvv", "--diff", "--check"]),
        ("playbooks/backup_redis.yml", ["-vvv", "--diff"]),
        ("playbooks/restore_redis.yml", ["-vvv", "--diff", "--check"]),
        ("playbooks/restore_redis.yml", ["-vvv", "--diff"]),
    ]:
        run = ansible(playbook, extra_vars=common, args=args, json_output=False)
        assert run.rc == 0, run.stdout[-3000:]
        outputs.append(run.stdout + run.stderr)
        if len(outputs) == 1:
            assert not (tmp_path / "b").exists()  # check mode wrote nothing
    run = ansible(
        "playbooks/backup_redis.yml",
        extra_vars=dict(common, platform_cache=dict(server.cache(), port=free_port())),
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert run.rc != 0
    outputs.append(run.stdout + run.stderr)
    for text in outputs:
        assert server.password not in text
    assert "would write" in outputs[0] and "restored" in outputs[3] and "Connection refused" in outputs[4]


ACL_PLAYBOOK = """---
- name: Redis modules as an ACL user
  hosts: all
  gather_facts: false
  tasks:
    - name: Redis backup call
      multiagent.ops.redis_backup:
        host: 127.0.0.1
        port: "{{ redis_port | int }}"
        username: "{{ redis_username }}"
        password: "{{ redis_password | default(omit) }}"
        name: "{{ redis_name | default(omit) }}"
        dest: "{{ redis_dest }}"
        timeout: 10
      when: redis_call == 'backup'
      register: redis_result

    - name: Redis restore call
      multiagent.ops.redis_restore:
        host: 127.0.0.1
        port: "{{ redis_port | int }}"
        username: "{{ redis_username }}"
        password: "{{ redis_password | default(omit) }}"
        archive: "{{ redis_archive }}"
        timeout: 10
      when: redis_call == 'restore'
      register: redis_result
"""


def acl_module(ansible, tmp_path, call, server, username, password=None, args=(), **more):
    """One module call as an ACL user (the shared playbook passes no username)."""
    playbook = tmp_path / "redis_acl_modules.yml"
    if not playbook.exists():
        playbook.write_text(ACL_PLAYBOOK)
    extra = {"redis_call": call, "redis_port": server.port, "redis_username": username}
    if password is not None:
        extra["redis_password"] = password
    extra.update({"redis_%s" % key: value for key, value in more.items()})
    run = ansible(str(playbook), limit=HOST, extra_vars=extra, args=args)
    return run, run.results("Redis %s call" % call, HOST)


def test_a_restore_as_a_user_limited_to_a_key_pattern_fails_before_the_flush(ansible, make_redis, tmp_path):
    source, target = make_redis(), make_redis()
    fill(source)
    source.db(0).set("app:config", "from the backup")
    run, backup = module(ansible, "backup", source, name="it", dest=str(tmp_path / "b"))
    assert run.rc == 0, run.failure_messages()
    target.db(0).set("app:config", "current")
    target.db(0).set("precious", "untouched")
    target.db(9).set("other", "untouched")
    target.db(0).acl_setuser(
        "appuser",
        enabled=True,
        passwords=["+app-pass"],
        keys=["app:*"],
        commands=["+@all", "-@admin", "+flushall"],
    )
    before = snapshot(target)
    for args in (["--check"], []):
        run, failed = acl_module(
            ansible,
            tmp_path,
            "restore",
            target,
            "appuser",
            "app-pass",
            args=args,
            archive=backup_of(backup)["path"],
        )
        assert run.rc != 0 and failed["cause"] == "permission", failed
        assert failed["msg"].startswith(
            "redis 127.0.0.1:%d cannot take this restore as user 'appuser': user "
            "'appuser' may not write 310 of the backup's 311 key(s) (checked with EXISTS), e.g. "
            % target.port
        )
        assert (
            "NOPERM this user has no permissions to access one of the keys used as arguments" in failed["msg"]
        )
        assert_same(before, snapshot(target), slack_ms=60_000)  # not flushed, nothing restored


def test_a_nopass_acl_user_backs_up_and_restores(ansible, make_redis, tmp_path):
    source, target = make_redis(), make_redis()
    fill(source)
    before = snapshot(source)
    for server in (source, target):
        server.db(0).acl_setuser("ops", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
        # the default user may do nothing: a module that ignored the username would fail
        server.db(0).acl_setuser(
            "default", enabled=True, passwords=["+" + server.password], commands=["-@all"]
        )
    run, backup = acl_module(ansible, tmp_path, "backup", source, "ops", name="it", dest=str(tmp_path / "b"))
    assert run.rc == 0, run.failure_messages()
    assert backup_of(backup)["manifest"]["keys_total"] == 310 and backup["modules"] == []
    run, restored = acl_module(ansible, tmp_path, "restore", target, "ops", archive=backup_of(backup)["path"])
    assert run.rc == 0, run.failure_messages()
    assert restored["permissions"]["user"] == "ops" and restored["problems"] == []
    target.password = None  # the default user can no longer read: read back as ops

    def as_ops(number, port=target.port):
        return redis.Redis(port=port, username="ops", password="", db=number)

    target.db = as_ops
    assert_same(before, snapshot(target))
