"""The RDB: versions, headers, redis-check-rdb's verdict, RESIZEDB counts (literal data), and
the snapshot stream against scripted servers."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.redis import rdb
from ansible_collections.multiagent.ops.plugins.module_utils.redis.wire import RedisBackupError

from .servers import MARK, RDB, Scripted, Sink

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
    ok = rdb.parse_check_output(CHECK_OK)
    assert ok["ok"] and (ok["keys"], ok["expires"], ok["already_expired"]) == (4, 1, 0)
    assert ok["databases"] == [(0, 165), (3, 251)]
    bad = rdb.parse_check_output(CHECK_BAD)
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
    assert rdb.read_length(data, 0) == expected


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
    assert rdb.resizedb_counts(str(path), [(0, first), (3, second)], 260) == {
        "0": {"keys": 258, "expires": 1},
        "3": {"keys": 2, "expires": 0},
    }
    assert rdb.resizedb_counts(str(path), [(0, first), (3, second)], 261) is None  # must add up
    assert rdb.resizedb_counts(str(path), [(0, first + 1)], 258) is None  # not a RESIZEDB there
    assert rdb.resizedb_counts(str(path), [], 0) == {}
    assert rdb.resizedb_counts(str(path), [], 5) is None


@pytest.mark.parametrize(
    "version, number",
    [("7.4.1", 12), ("7.2.4", 11), ("7.0.15", 10), ("6.2.14", 9), ("5.0.7", 9), ("4.0.9", 8), ("3.2.1", 7),
     ("8.0.0", 12), ("2.4.0", None), ("", None), ("unknown", None)],
)  # fmt: skip
def test_rdb_versions_of_releases(version, number):
    assert rdb.rdb_version_of(version) == number


def test_payload_version_is_read_from_the_footer():
    assert rdb.dump_payload_version(b"\x00\x03abc" + b"\x0a\x00" + b"\x11" * 8) == 10
    assert rdb.dump_payload_version(b"short") is None


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
    assert rdb.stream_rdb(server.conn, sink) == {"bytes": len(RDB), "transfer": "diskless"}
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
    assert rdb.stream_rdb(server.conn, sink, diskless=False) == {"bytes": len(RDB), "transfer": "disk"}
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
    with pytest.raises(RedisBackupError, match=message) as caught:
        rdb.stream_rdb(server.conn, Sink())
    assert caught.value.cause == cause
    assert "s3cret" not in str(caught.value)
    server.close()


@pytest.mark.parametrize(
    "header, announced",
    [
        (b"$EOF:" + MARK, ("diskless", MARK, None)),
        (b"$3018", ("disk", None, 3018)),
        (b"$0", ("disk", None, 0)),
        (b"$EOF:short", None),  # a mark is 40 bytes
        (b"+FULLRESYNC 8d1c 0", None),
        (b"$-1", None),
    ],
)
def test_sync_headers_are_read(header, announced):
    assert rdb.parse_sync_header(header) == announced


def test_refusals_of_replication_say_what_to_do():
    assert "needs the replconf and sync commands" in rdb.refusal_hint("NOPERM this user has no permissions")
    assert "use the provider's snapshots" in rdb.refusal_hint("ERR unknown command 'SYNC'")
    assert rdb.refusal_hint("ERR something else") == ""


def test_rdb_headers_are_read(tmp_path):
    (tmp_path / "a.rdb").write_bytes(b"REDIS0011\xfa")
    (tmp_path / "b.rdb").write_bytes(b"REDIS")
    (tmp_path / "c.rdb").write_bytes(b"PGDMP0001")
    assert [rdb.rdb_header_version(str(tmp_path / n)) for n in ("a.rdb", "b.rdb", "c.rdb")] == [
        11,
        None,
        None,
    ]
