# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Redis server says about itself, read from its replies: INFO (server facts, key
counts per database), MODULE LIST, FUNCTION LIST, and its version. Pure: the replies come
from wire.py."""

from __future__ import annotations

import re

_DB = re.compile(r"^db(\d+)$")


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _number(text):
    try:
        return int(text)
    except ValueError:
        return text


def parse_info(text):
    """INFO text as a dict: ``key: value`` (ints where they are ints), ``dbN`` as dicts."""
    text = _text(text)
    info = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if _DB.match(key):
            info[key] = {
                name: _number(item) for name, item in (part.split("=", 1) for part in value.split(","))
            }
        else:
            info[key] = _number(value)
    return info


def keyspace_from_info(info):
    """``{"0": {"keys": n, "expires": m}}`` from a parsed INFO."""
    keyspace = {}
    for name, value in info.items():
        match = _DB.match(str(name))
        if match and isinstance(value, dict):
            keyspace[match.group(1)] = {
                "keys": int(value.get("keys", 0)),
                "expires": int(value.get("expires", 0)),
            }
    return dict(sorted(keyspace.items(), key=lambda item: int(item[0])))


def facts_from_info(info):
    """Version, role, cluster mode, memory and key counts of a parsed INFO."""
    return {
        "redis_version": str(info.get("redis_version") or ""),
        "role": info.get("role"),
        "cluster_enabled": bool(int(info.get("cluster_enabled") or 0)),
        "used_memory": info.get("used_memory"),
        "keyspace": keyspace_from_info(info),
    }


def parse_module_list(reply):
    """``MODULE LIST``'s reply as ``[{"name", "version"}]``, sorted by name."""
    modules = []
    for entry in reply or []:
        if not isinstance(entry, list):
            continue
        fields = {
            str(_text(name)): _text(value) for name, value in zip(entry[::2], entry[1::2], strict=False)
        }
        if fields.get("name") is not None:
            modules.append({"name": str(fields["name"]), "version": fields.get("ver")})
    return sorted(modules, key=lambda item: item["name"])


def describe_modules(modules):
    """``ReJSON 20609, search 20809``."""
    return ", ".join(
        "%s %s" % (item["name"], item["version"]) if item.get("version") is not None else item["name"]
        for item in modules
    )


def parse_function_list(reply):
    """The library names of ``FUNCTION LIST``'s reply, sorted."""
    names = []
    for library in reply or []:
        fields = dict(zip(library[::2], library[1::2], strict=False))
        names.append(str(_text(fields.get(b"library_name"))))
    return sorted(names)


def parse_version(text):
    """``(major, minor)`` of a Redis version, None when it is not one."""
    match = re.match(r"^(\d+)\.(\d+)", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def memory_facts(info):
    """What ``INFO memory`` says (parsed, or redis-py's dict): used and peak memory, the
    limit and its policy, fragmentation; ``usage_percent`` of ``maxmemory`` when one is set."""
    used = info.get("used_memory")
    limit = info.get("maxmemory")
    ratio = info.get("mem_fragmentation_ratio")
    facts = {
        "used_memory": int(used) if used is not None else None,
        "used_memory_human": info.get("used_memory_human"),
        "used_memory_peak": int(info["used_memory_peak"])
        if info.get("used_memory_peak") is not None
        else None,
        "maxmemory": int(limit) if limit is not None else None,
        "maxmemory_human": info.get("maxmemory_human"),
        "maxmemory_policy": info.get("maxmemory_policy"),
        "mem_fragmentation_ratio": float(ratio) if ratio is not None else None,
    }
    facts["usage_percent"] = (
        round(100.0 * facts["used_memory"] / facts["maxmemory"], 1)
        if facts["maxmemory"] and facts["used_memory"] is not None
        else None
    )
    return facts


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def stats_facts(info):
    """What ``INFO`` (its stats and clients sections, parsed or redis-py's dict) says about the
    load: commands and operations per second, the keyspace hit rate (None before any lookup),
    evictions, expirations, clients and rejected connections."""
    hits, misses = _int(info.get("keyspace_hits")), _int(info.get("keyspace_misses"))
    lookups = (hits or 0) + (misses or 0)
    return {
        "total_commands_processed": _int(info.get("total_commands_processed")),
        "instantaneous_ops_per_sec": _int(info.get("instantaneous_ops_per_sec")),
        "total_connections_received": _int(info.get("total_connections_received")),
        "rejected_connections": _int(info.get("rejected_connections")),
        "connected_clients": _int(info.get("connected_clients")),
        "blocked_clients": _int(info.get("blocked_clients")),
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "hit_rate": round(hits / float(lookups), 4) if lookups else None,
        "evicted_keys": _int(info.get("evicted_keys")),
        "expired_keys": _int(info.get("expired_keys")),
        "uptime_in_seconds": _int(info.get("uptime_in_seconds")),
    }


def parse_slowlog(entries):
    """``SLOWLOG GET``'s entries - redis-cli's ``--json`` arrays ``[id, time, microseconds,
    [command...], client, name]`` or redis-py's dicts - as ``[{id, start_time, duration_ms,
    command, client}]``, the slowest first. Commands are cut at 200 characters (an argument
    may be a value)."""
    result = []
    for entry in entries or []:
        if isinstance(entry, dict):
            command = entry.get("command")
            command = _text(command) if isinstance(command, bytes) else command
            item = (
                entry.get("id"),
                entry.get("start_time"),
                entry.get("duration"),
                command,
                entry.get("client_address"),
            )
        elif isinstance(entry, list) and len(entry) >= 4:
            args = entry[3] if isinstance(entry[3], list) else [entry[3]]
            item = (
                entry[0],
                entry[1],
                entry[2],
                " ".join(str(_text(a)) for a in args),
                entry[4] if len(entry) > 4 else None,
            )
        else:
            continue
        ident, start, micros, command, client = item
        result.append(
            {
                "id": _int(ident),
                "start_time": _int(start),
                "duration_ms": round((_int(micros) or 0) / 1000.0, 3),
                "command": str(command or "")[:200],
                "client": _text(client) if client else None,
            }
        )
    return sorted(result, key=lambda e: e["duration_ms"], reverse=True)
