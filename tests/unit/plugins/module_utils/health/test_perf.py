"""The numbers of the performance analysis: percentiles, an endpoint's summary, the load
check's arrival schedule, rate and verdict, and what stands out (health/perf.py)."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.health import perf


def test_percentiles_interpolate_between_the_closest_ranks():
    values = [0.4, 0.1, 0.3, 0.2, 0.5]
    assert perf.percentile(values, 50) == pytest.approx(0.3)
    assert perf.percentile(values, 0) == 0.1 and perf.percentile(values, 100) == 0.5
    assert perf.percentile(values, 95) == pytest.approx(0.48)  # rank 3.8: 0.4 + 0.8 x 0.1
    assert perf.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert perf.percentile([7.0], 99) == 7.0
    assert perf.percentile([], 50) is None
    with pytest.raises(ValueError):
        perf.percentile([1], 101)


def test_summary_counts_errors_and_takes_every_request_into_the_times():
    samples = [
        (True, 200, None, 0.010),
        (True, 200, None, 0.020),
        (False, 500, "HTTP 500", 0.030),
        (False, None, "timed out", 5.0),
    ]
    summary = perf.summarize(samples)
    assert summary["requests"] == 4 and summary["errors"] == 2 and summary["error_rate"] == 0.5
    assert summary["statuses"] == {"200": 2, "500": 1}
    assert summary["error_reasons"] == {"HTTP 500": 1, "timed out": 1}
    assert summary["max_ms"] == 5000.0 and summary["min_ms"] == 10.0
    assert summary["p50_ms"] == 25.0  # between 20 and 30 ms
    assert summary["mean_ms"] == pytest.approx(1265.0)


def test_an_empty_summary_has_no_numbers():
    summary = perf.summarize([])
    assert summary["requests"] == 0 and summary["error_rate"] is None and summary["p95_ms"] is None


def test_requests_are_shared_among_the_workers():
    assert perf.split_requests(50, 10) == [5] * 10
    assert perf.split_requests(7, 3) == [3, 2, 2]
    assert perf.split_requests(2, 10) == [1, 1]


def test_the_arrival_schedule_is_open_and_constant():
    assert perf.arrival_schedule(4, 1) == [0.0, 0.25, 0.5, 0.75]
    assert perf.arrival_schedule(2, 1.6) == [0.0, 0.5, 1.0, 1.5]
    schedule = perf.arrival_schedule(50, 30)
    assert len(schedule) == 1500 and schedule[-1] == pytest.approx(29.98)


def test_the_rate_reached_counts_what_started_over_the_time_it_took():
    assert perf.achieved_rate(100, 2.0, 1.98, 50) == pytest.approx(50.0)
    # dropped starts lower it
    assert perf.achieved_rate(80, 2.0, 1.98, 50) == pytest.approx(40.0)
    # so does a client that fell behind: the last start came a second late
    assert perf.achieved_rate(100, 2.0, 2.98, 50) == pytest.approx(100 / 3.0)
    assert perf.achieved_rate(0, 2.0, 0, 50) == 0.0


def test_verdict_passed():
    verdict = perf.load_verdict(50, 49.9, 120.0, 0.0, max_p95_ms=500, max_error_rate=0.01)
    assert verdict["verdict"] == "passed" and all(c["ok"] for c in verdict["checks"])
    assert verdict["message"].startswith("passed: 49.9 requests/s (target 50/s)")


def test_verdict_failed_names_every_missed_threshold():
    verdict = perf.load_verdict(50, 50.0, 812.5, 0.2, max_p95_ms=500, max_error_rate=0.01)
    assert verdict["verdict"] == "failed"
    assert [c["name"] for c in verdict["checks"] if not c["ok"]] == ["p95_ms", "error_rate"]
    assert verdict["message"] == (
        "failed: p95_ms 812.5 above the threshold 500; error_rate 0.2 above the threshold 0.01"
    )


def test_verdict_invalid_below_95_percent_of_the_rate_even_when_thresholds_hold():
    verdict = perf.load_verdict(100, 94.9, 10.0, 0.0, max_p95_ms=500, max_error_rate=0.01)
    assert verdict["verdict"] == "invalid" and verdict["rate_ratio"] == pytest.approx(0.949)
    assert "reached 94.9 requests/s, 95 % of the target 100/s" in verdict["message"]
    assert perf.load_verdict(100, 95.0, 10.0, 0.0)["verdict"] == "passed"
    # invalid wins over failed: the thresholds judged a smaller load
    assert perf.load_verdict(100, 10.0, 900.0, 1.0, max_p95_ms=500)["verdict"] == "invalid"


def test_without_thresholds_only_the_rate_decides():
    assert perf.load_verdict(10, 10.0, None, None) == {
        "verdict": "passed",
        "checks": [],
        "message": "passed: 10.0 requests/s (target 10/s)",
        "rate_ratio": 1.0,
    }
    # no request answered: a p95 threshold is missed, not passed
    assert perf.load_verdict(10, 10.0, None, None, max_p95_ms=100)["verdict"] == "failed"


@pytest.mark.parametrize(
    "load, message",
    [
        ({"rate": 0, "duration": 10}, "load.rate must be a positive number"),
        ({"rate": 5, "duration": -1}, "load.duration must be a positive number"),
        ({"rate": 0.1, "duration": 5}, "less than one request"),
        ({"rate": 5, "duration": 5, "p95_ms": 0}, "load.p95_ms must be positive"),
        ({"rate": 5, "duration": 5, "max_error_rate": 1.5}, "load.max_error_rate must be within 0-1"),
        ({"rate": 5, "duration": 5, "max_in_flight": 0}, "load.max_in_flight must be at least 1"),
    ],
)
def test_a_load_that_cannot_run_is_refused(load, message):
    with pytest.raises(perf.LoadError, match=message):
        perf.validate_load(load)


def test_findings_name_what_stands_out():
    analysis = {
        "endpoints": [
            {"name": "core /health", "requests": 50, "error_rate": 0.1, "error_reasons": {"HTTP 500": 5}},
            {"name": "plan /health", "requests": 50, "error_rate": 0.0, "error_reasons": {}},
        ],
        "database": {
            "name": "postgresql",
            "cache_hit_ratio": 0.9,
            "connections": {"usage_percent": 85.0},
            "tables": [
                {
                    "table": "public.tasks",
                    "dead_ratio": 0.5,
                    "dead_rows": 5000,
                    "estimated_bloat_bytes": 4096,
                },
                {"table": "public.small", "dead_ratio": 0.5, "dead_rows": 10, "estimated_bloat_bytes": 8},
            ],
        },
        "cache": {"name": "redis", "memory": {"usage_percent": 95.0}, "stats": {"hit_rate": 0.5}},
        "load": {"verdict": "invalid", "message": "invalid: reached 3 requests/s"},
    }
    notes = perf.findings(analysis)
    assert notes == [
        "endpoint core /health: 10.0 % of 50 requests failed (HTTP 500)",
        "PostgreSQL postgresql: buffer cache hit ratio 90.0 % (below 99 %): shared_buffers may be too small "
        "or queries read much more than they need",
        "PostgreSQL postgresql: 85.0 % of max_connections in use",
        "PostgreSQL postgresql: table public.tasks is 50 % dead rows (about 4096 bytes of bloat): "
        "VACUUM it or tune autovacuum",
        "Redis redis: 95.0 % of maxmemory used",
        "Redis redis: keyspace hit rate 50.0 % (below 80 %)",
        "load check: invalid: reached 3 requests/s",
    ]


def test_a_healthy_look_and_unlimited_memory_have_no_findings():
    analysis = {
        "endpoints": [{"name": "a", "requests": 5, "error_rate": 0.0}],
        "database": {"name": "pg", "cache_hit_ratio": None, "connections": {"usage_percent": 1.0}},
        "cache": {"name": "redis", "memory": {"usage_percent": None}, "stats": {"hit_rate": None}},
        "load": {"verdict": "passed", "message": "passed"},
    }
    assert perf.findings(analysis) == []
    assert perf.findings({"database": {"name": "pg", "error": "connection refused"}}) == [
        "PostgreSQL pg: connection refused"
    ]
