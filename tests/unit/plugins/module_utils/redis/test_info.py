"""INFO, MODULE LIST and FUNCTION LIST replies read into facts; versions."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as infos

INFO = (
    b"# Server\r\nredis_version:7.0.15\r\nrole:master\r\n# Cluster\r\ncluster_enabled:0\r\n"
    b"# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=1000\r\ndb10:keys=1,expires=0,avg_ttl=0\r\n"
)


def test_info_text_becomes_facts():
    facts = infos.facts_from_info(infos.parse_info(INFO))
    assert facts == {
        "redis_version": "7.0.15",
        "role": "master",
        "cluster_enabled": False,
        "used_memory": None,
        "keyspace": {"0": {"keys": 12, "expires": 3}, "10": {"keys": 1, "expires": 0}},
    }


def test_module_lists_are_read():
    reply = [
        [b"name", b"search", b"ver", 20809, b"path", b"/m/redisearch.so", b"args", []],
        [b"name", b"ReJSON", b"ver", 20609, b"path", b"/m/rejson.so", b"args", []],
    ]
    modules = infos.parse_module_list(reply)
    assert modules == [{"name": "ReJSON", "version": 20609}, {"name": "search", "version": 20809}]
    assert infos.describe_modules(modules) == "ReJSON 20609, search 20809"
    assert infos.parse_module_list([]) == [] and infos.parse_module_list(None) == []


def test_function_libraries_are_read():
    reply = [
        [b"library_name", b"zlib", b"engine", b"LUA", b"functions", []],
        [b"library_name", b"alib", b"engine", b"LUA", b"functions", []],
    ]
    assert infos.parse_function_list(reply) == ["alib", "zlib"]
    assert infos.parse_function_list([]) == [] and infos.parse_function_list(None) == []


@pytest.mark.parametrize(
    "text, version",
    [("7.0.15", (7, 0)), ("6.2.14", (6, 2)), ("255.255.255", (255, 255)), ("", None), (None, None),
     ("unknown", None)],
)  # fmt: skip
def test_versions_are_read(text, version):
    assert infos.parse_version(text) == version


def test_memory_facts_of_info_memory():
    text = (
        b"# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_peak:2097152\r\n"
        b"maxmemory:4194304\r\nmaxmemory_human:4.00M\r\nmaxmemory_policy:allkeys-lru\r\n"
        b"mem_fragmentation_ratio:1.25\r\n"
    )
    assert infos.memory_facts(infos.parse_info(text)) == {
        "used_memory": 1048576,
        "used_memory_human": "1.00M",
        "used_memory_peak": 2097152,
        "maxmemory": 4194304,
        "maxmemory_human": "4.00M",
        "maxmemory_policy": "allkeys-lru",
        "mem_fragmentation_ratio": 1.25,
        "usage_percent": 25.0,
    }


def test_memory_facts_without_a_limit_have_no_share():
    facts = infos.memory_facts({"used_memory": 10, "maxmemory": 0, "mem_fragmentation_ratio": "7.41"})
    assert facts["usage_percent"] is None and facts["mem_fragmentation_ratio"] == 7.41


def test_stats_facts_hit_rate_and_load():
    info = infos.parse_info(
        b"# Stats\r\ntotal_commands_processed:1200\r\ninstantaneous_ops_per_sec:15\r\nkeyspace_hits:90\r\n"
        b"keyspace_misses:10\r\nevicted_keys:3\r\nexpired_keys:7\r\nrejected_connections:0\r\n"
        b"# Clients\r\nconnected_clients:4\r\nblocked_clients:1\r\n"
    )
    facts = infos.stats_facts(info)
    assert facts["hit_rate"] == 0.9 and facts["instantaneous_ops_per_sec"] == 15
    assert (facts["evicted_keys"], facts["expired_keys"], facts["connected_clients"]) == (3, 7, 4)
    # before any lookup there is no hit rate (not 0 %)
    assert infos.stats_facts({"keyspace_hits": 0, "keyspace_misses": 0})["hit_rate"] is None
    assert infos.stats_facts({})["total_commands_processed"] is None


def test_memory_against_an_unlimited_maxmemory_has_no_percentage():
    assert infos.memory_facts({"used_memory": 100, "maxmemory": 0})["usage_percent"] is None
    assert infos.memory_facts({"used_memory": 100, "maxmemory": 400})["usage_percent"] == 25.0


def test_slowlog_from_redis_cli_json_and_from_redis_py():
    cli_reply = [
        [0, 1796571408, 50533, ["EVAL", "local i=0", "0"], "127.0.0.1:44278", ""],
        [1, 1796571409, 120000, ["KEYS", "*"], "10.0.0.1:5000", "app"],
        "not an entry",
    ]
    assert infos.parse_slowlog(cli_reply) == [
        {
            "id": 1,
            "start_time": 1796571409,
            "duration_ms": 120.0,
            "command": "KEYS *",
            "client": "10.0.0.1:5000",
        },
        {
            "id": 0,
            "start_time": 1796571408,
            "duration_ms": 50.533,
            "command": "EVAL local i=0 0",
            "client": "127.0.0.1:44278",
        },
    ]
    py_reply = [
        {
            "id": 4,
            "start_time": 1,
            "duration": 15000,
            "command": b"HGETALL " + b"x" * 300,
            "client_address": b"c:1",
        }
    ]
    [entry] = infos.parse_slowlog(py_reply)
    assert entry["duration_ms"] == 15.0 and entry["client"] == "c:1"
    assert entry["command"].startswith("HGETALL x") and len(entry["command"]) == 200
    assert infos.parse_slowlog(None) == []
