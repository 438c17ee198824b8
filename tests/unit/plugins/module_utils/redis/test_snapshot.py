"""Redis backups: names, tools, archives verified and found, and backup() and its runner
against private redis-server processes on loopback."""

import json
import os

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.common import tools
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.redis import snapshot
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import RedisBackupError
from ansible_collections.multiagent.ops.plugins.modules import redis_backup

from .servers import RDB, fill, free_port, write_archive


def entry(result):
    """The one entry of a backup's ``backups``."""
    (only,) = result["backups"]
    return only


def test_archive_names():
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    name, path = snapshot.plan_backup({"host": "h", "port": 6380}, "/b", None, "zstd", moment)
    assert (name, path) == (
        "redis-h_6380-20261122T020000Z.rdb.zst",
        "/b/redis-h_6380-20261122T020000Z.rdb.zst",
    )
    assert (
        snapshot.plan_backup({}, "/b", "mplp cache", "none", moment)[0]
        == "redis-mplp_cache-20261122T020000Z.rdb"
    )
    with pytest.raises(RedisBackupError, match="compression must be one of zstd, none"):
        snapshot.plan_backup({}, "/b", "x", "gzip", moment)


def test_tools_are_found_or_named(tmp_path, monkeypatch):
    assert snapshot.find_tool("redis-check-rdb").endswith("redis-check-rdb")
    with pytest.raises(RedisBackupError, match="is not an executable file"):
        snapshot.find_tool("zstd", str(tmp_path / "nothing"))
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(snapshot, "TOOL_DIRS", (str(tmp_path),))
    with pytest.raises(
        RedisBackupError, match="redis-check-rdb was not found .* install the redis-tools package"
    ):
        snapshot.find_tool("redis-check-rdb")


def test_archives_that_cannot_be_trusted_are_refused(tmp_path):
    good = write_archive(tmp_path, "redis-t-20261122T020000Z.rdb", RDB)
    assert snapshot.verify_archive(good)["size"] == len(RDB)
    truncated = write_archive(tmp_path, "redis-t-20261122T030000Z.rdb", RDB)
    with open(truncated, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(RedisBackupError, match="size is 100 bytes, the manifest says 3018") as caught:
        snapshot.verify_archive(truncated)
    assert caught.value.cause == "verify"
    corrupt = write_archive(tmp_path, "redis-t-20261122T040000Z.rdb", RDB)
    with open(corrupt, "r+b") as handle:
        handle.seek(50)
        handle.write(b"\x00" if RDB[50:51] != b"\x00" else b"\x01")
    with pytest.raises(RedisBackupError, match="sha256 is .*, the manifest says"):
        snapshot.verify_archive(corrupt)
    foreign = write_archive(tmp_path, "redis-t-20261122T050000Z.rdb", RDB, kind="postgresql")
    with pytest.raises(RedisBackupError, match="kind 'postgresql', not 'redis'"):
        snapshot.verify_archive(foreign)
    lonely = tmp_path / "redis-t-20261122T060000Z.rdb"
    lonely.write_bytes(RDB)
    with pytest.raises(RedisBackupError, match="no manifest"):
        snapshot.verify_archive(str(lonely))
    # the newest that verifies is chosen; the newer broken ones are reported
    path, manifest, skipped = snapshot.find_latest(str(tmp_path), "t")
    assert path == good and manifest["file"] == os.path.basename(good)
    assert [os.path.basename(item["archive"]) for item in skipped] == [
        "redis-t-20261122T060000Z.rdb",
        "redis-t-20261122T050000Z.rdb",
        "redis-t-20261122T040000Z.rdb",
        "redis-t-20261122T030000Z.rdb",
    ]
    with pytest.raises(RedisBackupError, match="no verified Redis backup of other in"):
        snapshot.find_latest(str(tmp_path), "other")


def test_a_disk_based_snapshot_is_the_same_data(server, tmp_path):
    fill(server)
    diskless = snapshot.backup(server.conn, str(tmp_path / "a"), name="unit", compression="none")
    disk = snapshot.backup(server.conn, str(tmp_path / "b"), name="unit", compression="none", diskless=False)
    assert (
        entry(diskless)["manifest"]["server"]["transfer"],
        entry(disk)["manifest"]["server"]["transfer"],
    ) == (
        "diskless",
        "disk",
    )
    assert entry(disk)["manifest"]["keyspace"] == entry(diskless)["manifest"]["keyspace"]


def test_an_acl_user_needs_sync(server, tmp_path):
    fill(server)
    server.client.acl_setuser(
        "backup", enabled=True, passwords=["+backup-pw"], keys=["*"], commands=["+@all", "-sync"]
    )
    conn = dict(server.conn, username="backup", password="backup-pw")
    with pytest.raises(
        RedisBackupError, match="refused SYNC: NOPERM .* needs the replconf and sync"
    ) as caught:
        snapshot.backup(conn, str(tmp_path / "b"), name="acl")
    assert caught.value.cause == "permission" and os.listdir(tmp_path / "b") == []
    server.client.execute_command("ACL", "SETUSER", "backup", "+sync")
    assert entry(snapshot.backup(conn, str(tmp_path / "b"), name="acl"))["manifest"]["keys_total"] == 9
    with pytest.raises(RedisBackupError, match="authentication as backup failed: WRONGPASS") as caught:
        snapshot.backup(dict(conn, password="wrong"), str(tmp_path / "b"), name="acl")
    assert caught.value.cause == "auth"


@pytest.mark.parametrize(
    "says, message",
    [
        (
            "[offset 9] Invalid object type: 77",
            "redis-check-rdb rejected .* Invalid object type: 77; nothing was changed$",
        ),
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
    with pytest.raises(RedisBackupError, match=message) as caught:
        snapshot.backup(server.conn, str(dest), name="unit", check_binary=str(fake))
    assert caught.value.cause == "check"
    assert os.listdir(dest) == []


def test_check_mode_of_a_backup_writes_nothing(server, tmp_path):
    dest = tmp_path / "new"
    result = snapshot.backup(server.conn, str(dest), name="unit", check_mode=True)
    assert result["changed"] and entry(result)["path"].startswith(str(dest) + "/redis-unit-")
    assert not dest.exists()


# --- the runner ----------------------------------------------------------------------------------
def run_module(server, check_mode=False, diff=False, **params):
    """redis_backup's runner through the module glue; the task's result."""
    module = fakes.FakeModule(
        redis_backup,
        check_mode,
        diff,
        **dict({key: server.conn.get(key) for key in ("host", "port", "password")}, **params),
    )
    with pytest.raises(fakes.Exit):
        finish(module, snapshot.run)
    return module.result


def test_a_backup_returns_one_backup_entry(server, tmp_path):
    fill(server)
    result = run_module(server, diff=True, name="unit", dest=str(tmp_path / "b"))
    path = entry(result)["path"]
    manifest = json.loads(open(path + ".manifest.json").read())
    assert result["changed"] and not result["failed"]
    assert result["backups"] == [artifact.backup_entry(path, manifest, kind="redis", target="unit")]
    assert entry(result)["size"] == os.path.getsize(path) == manifest["size"]
    # the keys the entry holds are not repeated beside it
    assert sorted(result) == [
        "backups",
        "changed",
        "compression",
        "diff",
        "failed",
        "modules",
        "server",
        "target",
    ]
    assert (result["target"], result["compression"], result["modules"]) == ("unit", "zstd", [])
    assert result["server"]["role"] == "master"
    assert result["diff"] == {
        "before": {"archive": path, "state": "absent"},
        "after": {"archive": path, "state": "file", "size": manifest["size"]},
    }


def test_check_mode_names_the_archive_it_would_write(server, tmp_path):
    result = run_module(server, check_mode=True, name="unit", dest=str(tmp_path / "b"), compression="none")
    planned = entry(result)
    assert result["changed"] and planned["path"].startswith(str(tmp_path / "b" / "redis-unit-"))
    assert planned["path"].endswith(".rdb")
    assert (planned["size"], planned["sha256"], planned["manifest"]) == (None, None, None)
    assert not (tmp_path / "b").exists()


def test_failures_name_the_cause_and_change_nothing(server, tmp_path):
    result = run_module(server, name="unit", dest=str(tmp_path / "b"), compression_level=20)
    assert result == {
        "msg": "compression_level must be between 1 and 19, got 20",
        "changed": False,
        "cause": "input",
        "failed": True,
    }
    down = run_module(server, name="unit", dest=str(tmp_path / "b"), port=free_port())
    assert (down["failed"], down["changed"], down["cause"]) == (True, False, "connection")
    assert down["msg"].startswith("cannot connect to redis 127.0.0.1:")
    assert not (tmp_path / "b").exists()


def test_modules_are_warned_about():
    assert snapshot.modules_warning("redis cache", []) is None
    assert snapshot.modules_warning("redis cache", None) is None
    assert snapshot.modules_warning("redis cache", [{"name": "ReJSON", "version": 20609}]).startswith(
        "redis cache has modules loaded (ReJSON 20609): keys of their data types can only be restored by a "
        "scratch redis-server that loads the same modules"
    )


def test_a_server_with_modules_is_backed_up_with_a_warning(server, tmp_path, monkeypatch):
    modules = [{"name": "ReJSON", "version": 20609}]
    monkeypatch.setattr(snapshot.wires, "module_list", lambda wire: modules)
    module = fakes.FakeModule(
        redis_backup,
        name="unit",
        dest=str(tmp_path),
        host="127.0.0.1",
        port=server.port,
        password=server.password,
    )
    with pytest.raises(fakes.Exit):
        finish(module, snapshot.run)
    assert module.result["modules"] == modules and entry(module.result)["manifest"]["modules"] == modules
    assert module.warnings == [snapshot.modules_warning("redis unit (127.0.0.1:%d)" % server.port, modules)]
