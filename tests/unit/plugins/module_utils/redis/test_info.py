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
