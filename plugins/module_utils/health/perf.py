# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The numbers of the performance analysis (multiagent.ops.performance_analysis). Pure.

Percentiles of response times, the summary of an endpoint's requests, the arrival schedule of
the load check (an open model: request ``i`` starts at ``i / rate`` seconds whether or not
earlier ones have finished, like k6's constant-arrival-rate executor), the load check's
verdict and the findings a reader should see first.
"""

from __future__ import annotations

import math

# A load check that started fewer than this share of its target rate measured a smaller
# load than asked for: its thresholds say nothing about the target (k6 calls the missing
# starts dropped iterations).
MIN_RATE_RATIO = 0.95
PASSED, FAILED, INVALID = "passed", "failed", "invalid"

# Thresholds of the findings (a reader's first look, not alerts).
CACHE_HIT_LOW = 0.99
CONNECTIONS_HIGH = 80.0
MEMORY_HIGH = 90.0
REDIS_HIT_LOW = 0.8
BLOAT_HIGH = 0.2


class LoadError(ValueError):
    """A load check that cannot be run as given; the message names the option."""


def percentile(values, q):
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between the closest
    ranks (numpy's default); None for no values."""
    data = sorted(values)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError("percentile must be within 0-100, got %r" % (q,))
    rank = (len(data) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 2)


def latency_ms(seconds):
    """``{p50_ms, p95_ms, p99_ms, min_ms, max_ms, mean_ms}`` of durations in seconds."""
    return {
        "p50_ms": _ms(percentile(seconds, 50)),
        "p95_ms": _ms(percentile(seconds, 95)),
        "p99_ms": _ms(percentile(seconds, 99)),
        "min_ms": _ms(min(seconds)) if seconds else None,
        "max_ms": _ms(max(seconds)) if seconds else None,
        "mean_ms": _ms(sum(seconds) / len(seconds)) if seconds else None,
    }


def summarize(samples):
    """Requests ``[(ok, status, error, seconds)]`` (probes.HttpProber.get's answers) as
    ``{requests, errors, error_rate, statuses, error_reasons}`` and the latency percentiles
    over every request, failed ones included (a request that timed out took its timeout)."""
    samples = list(samples)
    errors = [s for s in samples if not s[0]]
    statuses = {}
    reasons = {}
    for ok, status, error, _seconds in samples:
        if status is not None:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        if not ok:
            reasons[error or "failed"] = reasons.get(error or "failed", 0) + 1
    result = {
        "requests": len(samples),
        "errors": len(errors),
        "error_rate": round(len(errors) / float(len(samples)), 4) if samples else None,
        "statuses": dict(sorted(statuses.items())),
        "error_reasons": dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
    }
    result.update(latency_ms([s[3] for s in samples]))
    return result


def split_requests(requests, concurrency):
    """How many requests each of ``min(concurrency, requests)`` workers sends, one after
    another: ``requests`` shared as evenly as they go."""
    workers = max(1, min(concurrency, requests))
    share, extra = divmod(requests, workers)
    return [share + (1 if i < extra else 0) for i in range(workers)]


def validate_load(load):
    """The load check's options, checked: ``rate`` (requests per second) and ``duration``
    (seconds) positive and together at least one request, thresholds non-negative."""
    rate, duration = float(load.get("rate") or 0), float(load.get("duration") or 0)
    if rate <= 0:
        raise LoadError(
            "load.rate must be a positive number of requests per second, got %r" % load.get("rate")
        )
    if duration <= 0:
        raise LoadError("load.duration must be a positive number of seconds, got %r" % load.get("duration"))
    if int(rate * duration) < 1:
        raise LoadError(
            "load.rate x load.duration is less than one request (%g/s for %gs)" % (rate, duration)
        )
    if load.get("p95_ms") is not None and float(load["p95_ms"]) <= 0:
        raise LoadError("load.p95_ms must be positive, got %r" % load["p95_ms"])
    max_error_rate = load.get("max_error_rate")
    if max_error_rate is not None and not 0 <= float(max_error_rate) <= 1:
        raise LoadError("load.max_error_rate must be within 0-1, got %r" % max_error_rate)
    if load.get("max_in_flight") is not None and int(load["max_in_flight"]) < 1:
        raise LoadError("load.max_in_flight must be at least 1, got %r" % load.get("max_in_flight"))
    return rate, duration


def arrival_schedule(rate, duration):
    """When each request of a constant arrival rate starts, in seconds from the start:
    ``i / rate`` for every ``i`` with ``i / rate < duration``."""
    count = int(math.ceil(rate * duration - 1e-9))
    return [i / float(rate) for i in range(count)]


def achieved_rate(started, duration, last_start, rate):
    """Requests started per second over the time the schedule took: its ``duration``, or
    longer when the client started the last request late (``last_start`` seconds in) and
    so stretched the run."""
    if not started:
        return 0.0
    span = max(float(duration), float(last_start) + 1.0 / float(rate))
    return started / span


def load_verdict(target_rate, achieved, p95_ms, error_rate, max_p95_ms=None, max_error_rate=None):
    """``{verdict, checks, message}`` of a load check. ``invalid`` when it reached less than
    95 % of the target rate (the thresholds are still shown, but judge a smaller load), else
    ``failed`` when a threshold is missed, else ``passed``. A check: ``{name, threshold,
    value, ok}``."""
    checks = []
    if max_p95_ms is not None:
        checks.append(
            {
                "name": "p95_ms",
                "threshold": float(max_p95_ms),
                "value": p95_ms,
                "ok": p95_ms is not None and p95_ms <= float(max_p95_ms),
            }
        )
    if max_error_rate is not None:
        checks.append(
            {
                "name": "error_rate",
                "threshold": float(max_error_rate),
                "value": error_rate,
                "ok": error_rate is not None and error_rate <= float(max_error_rate),
            }
        )
    ratio = achieved / float(target_rate) if target_rate else 0.0
    missed = [c for c in checks if not c["ok"]]
    if ratio < MIN_RATE_RATIO:
        verdict = INVALID
        message = (
            "invalid: reached %.1f requests/s, %.0f %% of the target %g/s (at least %.0f %% is needed), "
            "so the thresholds judge a smaller load than asked for"
            % (achieved, 100 * ratio, target_rate, 100 * MIN_RATE_RATIO)
        )
    elif missed:
        verdict = FAILED
        message = "failed: " + "; ".join(
            "%s %s above the threshold %s" % (c["name"], _show(c["value"]), _show(c["threshold"]))
            for c in missed
        )
    else:
        verdict = PASSED
        message = "passed: %.1f requests/s (target %g/s)%s" % (
            achieved,
            target_rate,
            "".join(
                "; %s %s within %s" % (c["name"], _show(c["value"]), _show(c["threshold"])) for c in checks
            ),
        )
    return {"verdict": verdict, "checks": checks, "message": message, "rate_ratio": round(ratio, 4)}


def _show(value):
    if value is None:
        return "none"
    return ("%.4f" % value).rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def findings(analysis):
    """What a reader should look at first, as sentences: failing or slow endpoints, a low
    buffer cache or Redis hit rate, connections or memory near their limits, bloated tables,
    the load check's verdict when it did not pass."""
    notes = []
    for ep in analysis.get("endpoints") or []:
        if ep.get("error_rate"):
            notes.append(
                "endpoint %s: %.1f %% of %d requests failed (%s)"
                % (
                    ep["name"],
                    100 * ep["error_rate"],
                    ep["requests"],
                    ", ".join(ep.get("error_reasons") or {}),
                )
            )
    db = analysis.get("database") or {}
    ratio = db.get("cache_hit_ratio")
    if ratio is not None and ratio < CACHE_HIT_LOW:
        notes.append(
            "PostgreSQL %s: buffer cache hit ratio %.1f %% (below %.0f %%): shared_buffers may be too small "
            "or queries read much more than they need" % (db.get("name"), 100 * ratio, 100 * CACHE_HIT_LOW)
        )
    usage = (db.get("connections") or {}).get("usage_percent")
    if usage is not None and usage >= CONNECTIONS_HIGH:
        notes.append("PostgreSQL %s: %.1f %% of max_connections in use" % (db.get("name"), usage))
    for table in db.get("tables") or []:
        if table["dead_ratio"] >= BLOAT_HIGH and table["dead_rows"] >= 1000:
            notes.append(
                "PostgreSQL %s: table %s is %.0f %% dead rows (about %d bytes of bloat): "
                "VACUUM it or tune autovacuum"
                % (db.get("name"), table["table"], 100 * table["dead_ratio"], table["estimated_bloat_bytes"])
            )
    cache = analysis.get("cache") or {}
    memory = (cache.get("memory") or {}).get("usage_percent")
    if memory is not None and memory >= MEMORY_HIGH:
        notes.append("Redis %s: %.1f %% of maxmemory used" % (cache.get("name"), memory))
    hit_rate = (cache.get("stats") or {}).get("hit_rate")
    if hit_rate is not None and hit_rate < REDIS_HIT_LOW:
        notes.append(
            "Redis %s: keyspace hit rate %.1f %% (below %.0f %%)"
            % (cache.get("name"), 100 * hit_rate, 100 * REDIS_HIT_LOW)
        )
    for role, part in (("PostgreSQL", db), ("Redis", cache)):
        if part.get("error"):
            notes.append("%s %s: %s" % (role, part.get("name"), part["error"]))
    load = analysis.get("load")
    if load and load.get("verdict") != PASSED:
        notes.append("load check: %s" % load.get("message"))
    return notes
