# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PromQL queries as data: checked before anything is sent, turned into the HTTP API's
parameters, and the API's answers turned into plain results (pure; client.py sends them).

A query: ``{name, query, type: instant|range, time, start, end, step}``. Times are Unix
seconds, RFC 3339 strings, ``now`` or ``now-<duration>``; durations are seconds or
Prometheus durations (``90s``, ``5m``, ``1h30m``, ``7d``). A result:
``{query, type, result_type, series | value, warnings}`` where a vector's series are
``{metric, value, time}``, a matrix's ``{metric, values: [[time, value], ...]}``, and every
value is a float (``NaN`` and ``+Inf`` included).
"""

from __future__ import annotations

import datetime
import json
import math
import re

# Prometheus refuses a range query of more than 11,000 points per series.
MAX_POINTS = 11000
TYPES = ("instant", "range")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


class QueryError(Exception):
    """A query that failed or cannot be sent; the message names the query and the cause.
    ``kind``: invalid, http, prometheus, timeout, unreachable, response."""

    def __init__(self, name, cause, kind="invalid", status=None, error_type=None):
        super().__init__("Query '%s' failed: %s" % (name, cause))
        self.name = name
        self.cause = cause
        self.kind = kind
        self.status = status
        self.error_type = error_type


def duration(value, what="duration"):
    """Seconds of ``value``: a number, or a Prometheus duration such as ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError("%s must be seconds or a duration such as 5m, not %r" % (what, value))
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError("%s %r is not seconds or a duration such as 5m or 1h30m" % (what, value))
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0 or math.isinf(seconds) or math.isnan(seconds):
        raise ValueError("%s must be positive, not %r" % (what, value))
    return seconds


def timestamp(value, now, what="time"):
    """Unix seconds of ``value``: a number, an RFC 3339 string, ``now`` or ``now-<duration>``."""
    if isinstance(value, bool):
        raise ValueError("%s must be a time, not %r" % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text == "now":
        return float(now)
    if text.startswith("now-"):
        return float(now) - duration(text[4:], what)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("%s %r is not Unix seconds, an RFC 3339 time, now or now-<duration>" % (what, value))
    if parsed.tzinfo is None:
        raise ValueError("%s %r has no time zone (add Z or +00:00)" % (what, value))
    return parsed.timestamp()


def normalize(spec, now, index=0):
    """A checked query ``{name, query, type, time | start, end, step}`` with times in Unix
    seconds; raises QueryError naming the query for what cannot be sent."""
    if not isinstance(spec, dict):
        raise QueryError("#%d" % (index + 1), "a query must be a mapping with name and query")
    name = spec.get("name")
    if name in (None, ""):
        raise QueryError("#%d" % (index + 1), "the query has no name (results are keyed by name)")
    name = str(name)
    expr = spec.get("query")
    if not isinstance(expr, str) or not expr.strip():
        raise QueryError(name, "the PromQL expression (query) is empty")
    kind = spec.get("type") or "instant"
    if kind not in TYPES:
        raise QueryError(name, "type must be instant or range, not %r" % kind)
    out = {"name": name, "query": expr.strip(), "type": kind}
    try:
        if kind == "instant":
            for field in ("start", "end", "step"):
                if spec.get(field) not in (None, ""):
                    raise ValueError("%s is for range queries (type: range)" % field)
            if spec.get("time") not in (None, ""):
                out["time"] = timestamp(spec["time"], now, "time")
            return out
        if spec.get("time") not in (None, ""):
            raise ValueError("time is for instant queries; a range query has start, end and step")
        missing = [f for f in ("start", "step") if spec.get(f) in (None, "")]
        if missing:
            raise ValueError("a range query needs %s" % " and ".join(missing))
        start = timestamp(spec["start"], now, "start")
        end = timestamp(spec["end"], now, "end") if spec.get("end") not in (None, "") else float(now)
        step = duration(spec["step"], "step")
    except ValueError as exc:
        raise QueryError(name, str(exc)) from None
    if end < start:
        raise QueryError(name, "end (%s) is before start (%s)" % (end, start))
    points = int((end - start) // step) + 1
    if points > MAX_POINTS:
        raise QueryError(
            name,
            "%d points per series (from start to end every %gs): Prometheus answers at most %d; "
            "use a step of at least %ds"
            % (points, step, MAX_POINTS, math.ceil((end - start) / (MAX_POINTS - 1))),
        )
    out.update(start=start, end=end, step=step)
    return out


def normalize_all(specs, now):
    """normalize() every query; names must be unique (results are keyed by them)."""
    out, seen = [], set()
    for index, spec in enumerate(specs):
        query = normalize(spec, now, index)
        if query["name"] in seen:
            raise QueryError(query["name"], "two queries have this name (results are keyed by name)")
        seen.add(query["name"])
        out.append(query)
    return out


def api_path(query):
    """Prometheus's endpoint for the query, relative to its base URL (its path prefix, or
    the service proxy's path)."""
    return "api/v1/query_range" if query["type"] == "range" else "api/v1/query"


def _number(seconds):
    return ("%.3f" % seconds).rstrip("0").rstrip(".")


def api_params(query, timeout=None):
    """The HTTP API's parameters of a normalized query, as pairs. ``timeout`` also bounds
    the evaluation on the server, so a slow query ends there too."""
    pairs = [("query", query["query"])]
    if query["type"] == "range":
        pairs += [
            ("start", _number(query["start"])),
            ("end", _number(query["end"])),
            ("step", _number(query["step"])),
        ]
    elif "time" in query:
        pairs.append(("time", _number(query["time"])))
    if timeout:
        pairs.append(("timeout", "%gs" % timeout))
    return pairs


def value(text):
    """A sample value as a float (Prometheus sends them as strings: "1.5", "NaN", "+Inf")."""
    return float(text)


def _sample(pair):
    return float(pair[0]), value(pair[1])


def convert(data):
    """The plain result of the API's ``data``: ``result_type`` with ``series`` (vector,
    matrix) or ``value`` and ``time`` (scalar, string)."""
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "vector":
        series = []
        for item in result or []:
            at, val = _sample(item["value"])
            series.append({"metric": dict(item.get("metric") or {}), "value": val, "time": at})
        return {"result_type": kind, "series": series}
    if kind == "matrix":
        return {
            "result_type": kind,
            "series": [
                {
                    "metric": dict(item.get("metric") or {}),
                    "values": [list(_sample(p)) for p in item.get("values") or []],
                }
                for item in result or []
            ],
        }
    if kind == "scalar":
        at, val = _sample(result)
        return {"result_type": kind, "value": val, "time": at}
    if kind == "string":
        return {"result_type": kind, "value": result[1], "time": float(result[0])}
    raise ValueError("unknown resultType %r" % kind)


def answer(query, status, body):
    """The result of one query from the HTTP answer (status, body bytes); raises QueryError
    naming the query with the HTTP status and Prometheus's error type and message."""
    name = query["name"]
    try:
        doc = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        snippet = (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)).strip()[:200]
        cause = "HTTP %d, not a Prometheus API answer%s" % (status, (": %s" % snippet) if snippet else "")
        raise QueryError(name, cause, kind="http", status=status)
    if doc.get("kind") == "Status":  # the service proxy's own answer: Prometheus was not reached
        message = doc.get("message") or doc.get("reason") or "no message"
        raise QueryError(
            name, "HTTP %d from the Kubernetes API server: %s" % (status, message), kind="http", status=status
        )
    if doc.get("status") != "success" or not 200 <= status < 300:
        error_type = doc.get("errorType") or "unknown"
        message = doc.get("error") or doc.get("message") or "no error message"
        kind = "timeout" if error_type == "timeout" else "prometheus"
        cause = "HTTP %d, %s: %s" % (status, error_type, message)
        raise QueryError(name, cause, kind=kind, status=status, error_type=error_type)
    try:
        result = convert(doc.get("data") or {})
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise QueryError(name, "unreadable answer: %s" % exc, kind="response", status=status) from None
    out = {"query": query["query"], "type": query["type"]}
    out.update(result)
    out["warnings"] = list(doc.get("warnings") or [])
    return out
