"""The RESP connection: replies of every kind, AUTH, connection failures named."""

import os
import socket
import threading

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.redis import wire as wires


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
    assert wires.auth_command(username, password) == command


def test_replies_of_every_kind_and_large_bulks():
    big = os.urandom(3 * wires.CHUNK + 17)
    left, right = socket.socketpair()
    payload = (
        b"+OK\r\n:-2\r\n$-1\r\n-ERR no\r\n*2\r\n$1\r\na\r\n*1\r\n:5\r\n"
        + b"$%d\r\n" % len(big)
        + big
        + b"\r\n"
    )
    sender = threading.Thread(target=right.sendall, args=(payload,))
    sender.start()
    wire = wires.Wire(left, "pair")
    assert wire.reply() == b"OK"
    assert wire.reply() == -2
    assert wire.reply() is None
    error = wire.reply()
    assert isinstance(error, wires.ServerReply) and str(error) == "ERR no"
    assert wire.reply() == [b"a", [5]]
    assert wire.reply() == big
    sender.join()
    left.close()
    right.close()


def test_server_down_and_timeouts_are_named():
    with pytest.raises(
        wires.RedisBackupError, match="cannot connect to redis 127.0.0.1:%d: Connection refused" % 1
    ) as caught:
        wires.server_facts({"host": "127.0.0.1", "port": 1, "timeout": 2})
    assert caught.value.cause == "connection"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    with pytest.raises(wires.RedisBackupError, match="did not answer within the timeout") as caught:
        wires.server_facts({"host": "127.0.0.1", "port": silent.getsockname()[1], "timeout": 0.3})
    assert caught.value.cause == "timeout"
    silent.close()


def test_commands_are_encoded_as_resp():
    assert b"".join(wires.encode(("SET", b"k\x00", 12))) == b"*3\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$2\r\n12\r\n"
    assert wires.bulk(b"ab") == b"$2\r\nab\r\n"


def test_the_connection_is_taken_from_the_options():
    params = {key: "v-%s" % key for key in wires.CONNECTION}
    params.update(dest="/b", name="cache")
    assert wires.connection(params) == {key: "v-%s" % key for key in wires.CONNECTION}
    assert (
        wires.describe({"host": "h"}) == "h:6379" and wires.describe({"host": "h", "port": 6380}) == "h:6380"
    )


def test_a_failure_is_the_task_result_it_makes():
    plain = wires.RedisBackupError("cannot connect", cause="connection")
    assert (plain.msg, plain.result) == ("cannot connect", {"changed": False, "cause": "connection"})
    flushed = wires.RedisBackupError("stopped", cause="restore", changed=True, problems=["p"])
    assert flushed.result == {"changed": True, "cause": "restore", "problems": ["p"]}
    assert flushed.details == {"changed": True, "problems": ["p"]} and flushed.cause == "restore"
