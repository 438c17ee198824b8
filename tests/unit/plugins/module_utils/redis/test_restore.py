"""Redis restores: the decisions as tables, and restore() and its runner against private
redis-server processes on loopback (backups made by snapshot.backup())."""

import json
import os

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.redis import restore, snapshot
from ansible_collections.multiagent.ops.plugins.module_utils.redis import wire as wires
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import RedisBackupError, ServerReply
from ansible_collections.multiagent.ops.plugins.modules import redis_restore

from .servers import PrivateRedis, data_of, fill, same_data, write_archive


def backed_up(conn, directory, **kwargs):
    """A backup of the server of ``conn``: its one backup entry (path, manifest...)."""
    (entry,) = snapshot.backup(conn, directory, **kwargs)["backups"]
    return entry


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
    problems = restore.compare_counts(expected, got, "the backup", "the target")
    assert (problems[0].split(":")[0] if problems else None) == problem


def test_loaded_rdb_compared_with_its_manifest():
    manifest = {"keyspace_source": "rdb", "keyspace": {"0": {"keys": 5, "expires": 2}}, "keys_total": 5}
    loaded = {"keyspace": {"0": {"keys": 4, "expires": 1}}, "loaded": 4, "expired_at_load": 1}
    assert restore.compare_with_manifest(manifest, loaded) == []
    assert restore.compare_with_manifest(manifest, dict(loaded, expired_at_load=0)) == [
        "4 keys loaded and 0 expired at load, the manifest has 5"
    ]
    info_only = dict(manifest, keyspace_source="info")
    assert restore.compare_with_manifest(info_only, {"keyspace": {}, "loaded": 0, "expired_at_load": 0}) == []


def test_target_checks():
    facts = {"role": "master", "cluster_enabled": False, "redis_version": "7.0.15", "keyspace": {}}
    assert restore.target_problems(facts, 10) == []
    assert "not a primary" in restore.target_problems(dict(facts, role="slave"), 10)[0]
    assert "cluster mode" in restore.target_problems(dict(facts, cluster_enabled=True), 10)[0]
    older = restore.target_problems(dict(facts, redis_version="6.2.14"), 10)
    assert older and "Redis 6.2.14 (RDB 9)" in older[0] and "(RDB 10)" in older[0]
    assert (
        "has no functions" in restore.target_problems(dict(facts, redis_version="6.2.14"), None, ["lib"])[0]
    )


@pytest.mark.parametrize(
    "reply, verdict",
    [
        (0, None),  # EXISTS answered: the key pattern matches
        (1, None),
        (b"OK", None),  # ACL DRYRUN: allowed
        (b"This user has no permissions to access the 'k1' key", "denied"),
        (b"This user has no permissions to run the 'restore' command", "denied"),
        (ServerReply("NOPERM this user has no permissions to access one of the keys used as "
                     "arguments"), "denied"),
        (ServerReply("NOPERM this user has no permissions to run the 'exists' command"), "unknown"),
        (ServerReply("ERR unknown command 'EXISTS'"), "unknown"),
    ],
)  # fmt: skip
def test_key_probes_are_read(reply, verdict):
    assert restore.key_denial(reply) == verdict


def test_denied_keys_are_named_with_the_user_and_the_permission():
    denied = [
        ("0", b"k%d" % i, "NOPERM this user has no permissions to access one of the keys") for i in range(5)
    ]
    text = restore.describe_denials("appuser", denied, 12, "EXISTS")
    assert text.startswith(
        "user 'appuser' may not write 5 of the backup's 12 key(s) (checked with EXISTS), e.g. 'k0' (db 0), "
        "'k1' (db 0), 'k2' (db 0): NOPERM this user has no permissions to access one of the keys; RESTORE "
        "needs write access to every key of the backup"
    )


@pytest.mark.parametrize(
    "progress, flush, words, changed",
    [
        ({"flushed": True, "restored": 7}, True, "the target was flushed and 7 key(s) restored so far", True),
        ({"flushed": True, "restored": 0}, True, "the target was flushed and 0 key(s) restored so far", True),
        ({"flushed": False, "restored": 7}, False, "7 key(s) were merged in so far", True),
        ({"flushed": False, "restored": 0}, True, "the target was not flushed; nothing was changed", False),
        ({"flushed": False, "restored": 0}, False, "nothing was changed", False),
        ({"flushed": None, "restored": 0}, True, "FLUSHALL was sent but not confirmed", True),
    ],
)
def test_a_stopped_restore_says_what_it_left(progress, flush, words, changed):
    text, was_changed = restore._state(progress, flush)
    assert text.startswith(words) and was_changed is changed


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_backup_then_restore_into_another_server(server, target, tmp_path, compression):
    fill(server)
    server.client.function_load(
        "#!lua name=unitlib\nredis.register_function('unit_echo', function(keys, args) return args[1] end)"
    )
    before = data_of(server)
    target.client.set("stale", "to be flushed")
    dest = tmp_path / "backups"
    result = backed_up(server.conn, str(dest), name="unit", compression=compression)
    manifest = json.loads((dest / (os.path.basename(result["path"]) + ".manifest.json")).read_text())
    assert manifest == result["manifest"]
    assert manifest["keyspace_source"] == "rdb"
    assert manifest["keyspace"] == {"0": {"keys": 8, "expires": 2}, "3": {"keys": 1, "expires": 0}}
    assert manifest["kind"] == "redis" and manifest["target"] == "unit" and manifest["rdb_version"] == 10
    assert manifest["compression"] == compression
    name = os.path.basename(result["path"])
    assert sorted(os.listdir(dest)) == [name, name + ".manifest.json"]
    assert snapshot.verify_archive(result["path"]) == manifest

    checked = restore.restore(target.conn, result["path"], check_mode=True)
    assert checked["verified"] and checked["functions"] == ["unitlib"]
    assert target.client.get("stale") == b"to be flushed"  # check mode changed nothing

    restored = restore.restore(target.conn, result["path"])
    assert restored["problems"] == []
    assert restored["restored"]["0"]["keys"] == 8 and restored["restored"]["0"]["with_ttl"] == 2
    same_data(before, data_of(target))
    assert target.client.fcall("unit_echo", 0, "hi") == b"hi"


def test_an_empty_server_round_trip_empties_the_target(server, target, tmp_path):
    target.client.set("stale", "x")
    result = backed_up(server.conn, str(tmp_path / "b"), name="empty")
    assert result["manifest"]["keyspace"] == {} and result["manifest"]["keys_total"] == 0
    restored = restore.restore(target.conn, result["path"])
    assert restored["restored"] == {} and restored["keyspace_after"] == {}
    assert target.client.dbsize() == 0


def test_a_nopass_acl_user_is_used(server, target, tmp_path):
    fill(server)
    server.client.acl_setuser("backup", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
    server.client.acl_setuser("default", enabled=True, passwords=["+unit-pw-7f3a"], commands=["-@all"])
    conn = dict(server.conn, username="backup", password=None)
    result = backed_up(conn, str(tmp_path / "b"), name="nopass")
    assert result["manifest"]["keys_total"] == 9 and result["manifest"]["modules"] == []
    target.client.acl_setuser("restorer", enabled=True, nopass=True, keys=["*"], commands=["+@all"])
    restored = restore.restore(dict(target.conn, username="restorer", password=None), result["path"])
    assert restored["permissions"]["user"] == "restorer" and restored["problems"] == []


def acl_restore_setup(server, target, tmp_path):
    fill(server)
    server.client.set("app:config", "x")
    result = backed_up(server.conn, str(tmp_path / "b"), name="acl")
    target.client.set("app:keep", "me")
    target.client.set("other", "untouched")
    return result["path"], {("app:keep", b"me"), ("other", b"untouched")}


def target_state(target):
    return {(key.decode(), target.client.get(key)) for key in target.client.keys("*")}


def test_a_user_limited_to_a_key_pattern_fails_before_the_flush(server, target, tmp_path):
    archive, state = acl_restore_setup(server, target, tmp_path)
    target.client.acl_setuser(
        "app", enabled=True, passwords=["+app-pw"], keys=["app:*"], commands=["+@all", "-@admin", "+flushall"]
    )
    conn = dict(target.conn, username="app", password="app-pw")
    for check_mode in (True, False):
        with pytest.raises(RedisBackupError) as caught:
            restore.restore(conn, archive, check_mode=check_mode)
        message = str(caught.value)
        assert caught.value.cause == "permission"
        assert message.startswith(
            "redis 127.0.0.1:%d cannot take this restore as user 'app': user 'app' may "
            "not write 9 of the backup's 10 key(s) (checked with EXISTS), e.g. " % target.port
        )
        assert "NOPERM this user has no permissions to access one of the keys" in message
        assert message.endswith("RESTORE needs write access to every key of the backup; nothing was changed")
        assert target_state(target) == state and caught.value.result["changed"] is False
    # the flush is allowed too, but the user may only read: ACL DRYRUN (when allowed) says so
    target.client.execute_command("ACL", "SETUSER", "app", "resetkeys", "%R~*", "+acl|dryrun")
    with pytest.raises(
        RedisBackupError,
        match="may not write 10 of the backup's 10 key\\(s\\) \\(checked "
        "with ACL DRYRUN RESTORE\\), e.g. .*This user has no permissions to access the '",
    ):
        restore.restore(conn, archive, check_mode=True)
    target.client.execute_command("ACL", "SETUSER", "app", "resetkeys", "~*", "-flushall")
    with pytest.raises(RedisBackupError, match="user 'app' may not run FLUSHALL: This user has no perm"):
        restore.restore(conn, archive)
    assert target_state(target) == state


def test_a_refused_flushall_says_the_target_was_not_changed(server, target, tmp_path):
    archive, state = acl_restore_setup(server, target, tmp_path)
    target.client.acl_setuser(
        "app", enabled=True, passwords=["+app-pw"], keys=["*"], commands=["+@all", "-@admin", "-flushall"]
    )
    conn = dict(target.conn, username="app", password="app-pw")
    checked = restore.restore(conn, archive, check_mode=True)  # no ACL DRYRUN: commands unknown
    assert checked["permissions"] == {
        "user": "app",
        "method": "exists",
        "commands": "unknown",
        "keys_checked": 10,
        "keys_denied": 0,
    }
    with pytest.raises(RedisBackupError) as caught:
        restore.restore(conn, archive)
    assert str(caught.value).endswith(
        "stopped: FLUSHALL was refused: NOPERM this user has no permissions to run the 'flushall' command. "
        "State: the target was not flushed; nothing was changed"
    )
    assert caught.value.cause == "permission" and target_state(target) == state
    assert caught.value.result["changed"] is False


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
    with pytest.raises(RedisBackupError) as caught:
        restore.restore(target.conn, archive, check_mode=True)
    assert caught.value.cause == "load" and caught.value.details["module_type"] == "ReJSON-RL"
    assert str(caught.value).startswith(
        "cannot restore %s: the RDB holds keys of the module data type 'ReJSON-RL', which the scratch "
        "redis-server cannot load without the module that defines it: give that module's file in "
        "load_modules" % archive
    )
    assert "; the backed-up server had the modules ReJSON 20609; nothing was changed" in str(caught.value)
    missing = str(tmp_path / "no-such-module.so")
    with pytest.raises(
        RedisBackupError, match="could not load the module %s \\(exit 1\\)" % missing
    ) as caught:
        restore.restore(target.conn, archive, modules=[missing])
    assert caught.value.cause == "tool"
    assert target.client.get("keep") == b"me" and target.client.dbsize() == 1


def test_a_target_that_dies_half_way_is_reported_with_the_state_left(server, target, tmp_path, monkeypatch):
    fill(server)
    server.client.mset({"bulk:%d" % i: i for i in range(500)})
    result = backed_up(server.conn, str(tmp_path / "b"), name="unit")
    sent = []
    original = wires.Wire.send_raw

    def send_raw(wire, data):
        if wire.where.startswith("127.0.0.1:") and data.startswith(b"*5\r\n$7\r\nRESTORE"):
            sent.append(len(data))
            if len(sent) == 3:
                target.proc.kill()  # the target dies after two batches were restored
                target.proc.wait()
        return original(wire, data)

    monkeypatch.setattr(wires.Wire, "send_raw", send_raw)
    with pytest.raises(RedisBackupError) as caught:
        restore.restore(target.conn, result["path"], batch=100)
    message = str(caught.value)
    assert message.startswith("the restore into redis 127.0.0.1:%d stopped: " % target.port)
    assert (
        "State: the target was flushed and " in message
        and "so it is incomplete; a re-run starts over" in message
    )
    restored = int(message.split("State: the target was flushed and ")[1].split(" ", maxsplit=1)[0])
    assert 0 < restored < 508 and caught.value.cause == "connection"
    assert caught.value.result["changed"] is True  # flushed and partly restored: the target changed


def test_an_rdb_redis_cannot_load_stops_before_the_target(server, target, tmp_path):
    # archives whose manifests match them, but whose RDB Redis refuses: nothing may change
    fill(server)
    raw = backed_up(server.conn, str(tmp_path / "b"), name="unit", compression="none")
    data = open(raw["path"], "rb").read()
    counts = {key: raw["manifest"][key] for key in ("keyspace", "keyspace_source", "keys_total")}
    cut = write_archive(tmp_path, "redis-t-20261122T020000Z.rdb", data[: len(data) * 2 // 3], **counts)
    garbage = b"REDIS0010\xfe\x00\xfb\x01\x00\x00\x03key" + b"\x07" * 50
    junk = write_archive(tmp_path, "redis-t-20261122T030000Z.rdb", garbage, **counts)
    target.client.set("keep", "me")
    with pytest.raises(
        RedisBackupError,
        match="could not load the RDB \\(exit 1\\): .*(Short read|rdb file reading failure)",
    ) as caught:
        restore.restore(target.conn, cut)
    assert caught.value.cause == "load"
    with pytest.raises(
        RedisBackupError, match="scratch redis-server (could not load|stopped making progress)"
    ):
        restore.restore(target.conn, junk, stall_timeout=2)
    assert target.client.get("keep") == b"me" and target.client.dbsize() == 1


def test_tls_backup_and_restore(tmp_path, certificates):
    plain = PrivateRedis(tmp_path)
    secure = PrivateRedis(tmp_path, password="unit-tls-pw", tls=certificates)
    try:
        fill(plain)
        before = data_of(plain)
        # the data reaches the TLS server by a restore over TLS and comes back by a backup over TLS
        first = backed_up(plain.conn, str(tmp_path / "plain"), name="plain")
        restore.restore(secure.conn, first["path"])
        second = backed_up(secure.conn, str(tmp_path / "tls"), name="tls")
        assert second["manifest"]["keyspace"] == first["manifest"]["keyspace"]
        plain.client.flushall()
        restore.restore(plain.conn, second["path"])
        same_data(before, data_of(plain))
        with pytest.raises(
            RedisBackupError, match="cannot set up TLS with redis .*CERTIFICATE_VERIFY_FAILED"
        ):
            wires.server_facts(dict(secure.conn, tls_ca_cert=None))
        assert (
            wires.server_facts(dict(secure.conn, tls_ca_cert=None, validate_certs=False))["role"] == "master"
        )
    finally:
        secure.stop()
        plain.stop()


# --- the runner ----------------------------------------------------------------------------------
def run_module(target, check_mode=False, diff=False, **params):
    """redis_restore's runner through the module glue; the task's result."""
    conn = {key: target.conn.get(key) for key in ("host", "port", "password")}
    module = fakes.FakeModule(redis_restore, check_mode, diff, **dict(conn, **params))
    with pytest.raises(fakes.Exit):
        finish(module, restore.run)
    return module.result


def test_the_newest_verified_backup_is_restored_and_newer_broken_ones_named(server, target, tmp_path):
    fill(server)
    before = data_of(server)
    good = backed_up(server.conn, str(tmp_path), name="unit")
    newer = write_archive(tmp_path, "redis-unit-29991122T020000Z.rdb", b"REDIS0010", keyspace={})
    with open(newer, "ab") as handle:
        handle.write(b"damage")
    checked = run_module(target, check_mode=True, diff=True, src=str(tmp_path), name="unit")
    assert checked["changed"] and checked["verified"] and checked["archive"] == good["path"]
    assert [item["archive"] for item in checked["unverified"]] == [newer]
    assert (
        checked["unverified"][0]["problems"][0]
        == "size is 15 bytes, the manifest says 9 (truncated or replaced?)"
    )
    assert checked["diff"] == {
        "before": {"keyspace": {}},
        "after": {"keyspace": good["manifest"]["keyspace"]},
    }
    assert target.client.dbsize() == 0 and "restored" not in checked
    restored = run_module(target, src=str(tmp_path), name="unit")
    assert restored["changed"] and not restored["failed"] and restored["problems"] == []
    assert restored["restored"]["0"]["keys"] == 8 and restored["unverified"] == checked["unverified"]
    same_data(before, data_of(target))


def test_a_restore_that_fails_after_the_flush_says_the_target_changed(server, target, tmp_path, monkeypatch):
    fill(server)
    archive = backed_up(server.conn, str(tmp_path / "b"), name="unit")["path"]
    target.client.set("stale", "x")

    def refuse(source, target_wire, batch=1000, progress=None):
        raise RedisBackupError("RESTORE of key 'plain' failed: ERR refused by the test", cause="restore")

    monkeypatch.setattr(restore, "copy_database", refuse)
    failed = run_module(target, archive=archive)
    assert failed["failed"] and failed["changed"] is True and failed["cause"] == "restore"
    assert failed["msg"].endswith(
        "stopped: RESTORE of key 'plain' failed: ERR refused by the test. State: the target was flushed and "
        "0 key(s) restored so far, so it is incomplete; a re-run starts over"
    )
    assert target.client.dbsize() == 0  # flushed: changed indeed
    target.client.set("stale", "x")
    merged = run_module(target, archive=archive, flush=False)
    assert merged["failed"] and merged["changed"] is False
    assert merged["msg"].endswith("ERR refused by the test. State: nothing was changed")
    assert target.client.get("stale") == b"x"


def test_counts_that_do_not_match_after_the_restore_fail_with_the_result(
    server, target, tmp_path, monkeypatch
):
    fill(server)
    archive = backed_up(server.conn, str(tmp_path / "b"), name="unit")["path"]
    compare = restore.compare_counts

    def written_meanwhile(expected, got, what_expected, what_got):
        if what_got == "the target":
            return ["db0: the target has 9 keys"]
        return compare(expected, got, what_expected, what_got)

    monkeypatch.setattr(restore, "compare_counts", written_meanwhile)
    failed = run_module(target, archive=archive)
    assert failed["failed"] and failed["changed"] is True and failed["cause"] == "compare"
    assert failed["msg"] == (
        "the restore into redis 127.0.0.1:%d finished but the key counts do not match (was it written to "
        "during the restore?): db0: the target has 9 keys" % target.port
    )
    assert failed["problems"] == ["db0: the target has 9 keys"] and failed["restored"]["0"]["keys"] == 8
    assert failed["keyspace_after"]["0"]["keys"] == 8 and failed["archive"] == archive


def test_bad_input_and_untrusted_archives_change_nothing(target, tmp_path):
    target.client.set("keep", "me")
    assert run_module(target, archive=str(tmp_path / "x.rdb"), batch_size=0) == {
        "msg": "batch_size must be at least 1, got 0",
        "changed": False,
        "cause": "input",
        "failed": True,
    }
    archive = write_archive(tmp_path, "redis-t-20261122T020000Z.rdb", b"REDIS0010", kind="postgresql")
    failed = run_module(target, archive=archive)
    assert failed == {
        "msg": "the archive %s cannot be trusted: the manifest is of kind 'postgresql', not 'redis'; nothing "
        "was changed" % archive,
        "changed": False,
        "cause": "verify",
        "problems": ["the manifest is of kind 'postgresql', not 'redis'"],
        "failed": True,
    }
    nothing = run_module(target, src=str(tmp_path / "empty-dir-that-is-not-there"))
    assert nothing["failed"] and nothing["changed"] is False and nothing["cause"] == "storage"
    assert target.client.get("keep") == b"me"
