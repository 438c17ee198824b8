"""redis/cli.py: redis-cli in the pod, the password in REDISCLI_AUTH, and its answers."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.redis import cli


def test_the_password_is_never_an_argument():
    argv = cli.cli_argv("PING")
    assert argv[:3] == ["sh", "-c", cli.CLI_SCRIPT] and argv[3:] == ["sh", "PING"]
    assert "-a" not in argv and " -a " not in cli.CLI_SCRIPT
    assert "REDISCLI_AUTH" in cli.CLI_SCRIPT and "REDIS_PASSWORD" in cli.CLI_SCRIPT
    # host and port only when the pod names them (a real Redis pod: localhost:6379)
    assert '${REDISCLI_HOST:+-h "$REDISCLI_HOST"}' in cli.CLI_SCRIPT and "REDIS_PORT" not in cli.CLI_SCRIPT


@pytest.mark.parametrize(
    "code, out, err, expected",
    [
        (0, b"PONG\n", b"", {"ok": True, "error": None}),
        (
            0,
            b"NOAUTH Authentication required.\n",
            b"AUTH failed: WRONGPASS invalid username-password pair\n",
            {"ok": False, "error": "PING: NOAUTH Authentication required."},
        ),
        (
            1,
            b"",
            b"Could not connect to Redis at 127.0.0.1:6379: Connection refused\n",
            {"ok": False, "error": "PING: Could not connect to Redis at 127.0.0.1:6379: Connection refused"},
        ),
        (127, b"", b"", {"ok": False, "error": "PING: exit code 127"}),
    ],
)
def test_ping_is_ok_only_on_pong(code, out, err, expected):
    assert cli.parse_ping(code, out, err) == expected


def test_reply_error_of_a_data_reply():
    assert cli.reply_error(0, b"# Memory\r\nused_memory:10\r\n", b"") is None
    assert cli.reply_error(0, b"NOAUTH Authentication required.\n", b"") == "NOAUTH Authentication required."
    assert cli.reply_error(1, b"", b"Could not connect\n") == "Could not connect"


def test_json_replies_and_why_there_is_none():
    assert cli.parse_json_reply(0, b'[[0,1,2,["GET","k"],"c",""]]\n', b"") == (
        [[0, 1, 2, ["GET", "k"], "c", ""]],
        None,
    )
    reply, error = cli.parse_json_reply(1, b"", b"Unrecognized option or bad number of args for: '--json'\n")
    assert reply is None and error.endswith("(redis-cli 7 or later is needed for --json)")
    assert cli.parse_json_reply(0, b"NOAUTH Authentication required.\n", b"") == (
        None,
        "NOAUTH Authentication required.",
    )
    assert cli.parse_json_reply(0, b"[1,\n", b"")[1].startswith("not JSON")
