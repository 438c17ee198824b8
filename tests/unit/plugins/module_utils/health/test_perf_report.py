"""The performance report in Markdown and HTML, from literal reports (health/perf_report.py)."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.health import perf_report

ENDPOINT = {
    "name": "core /api/v1/core/health",
    "component": "core",
    "requests": 50,
    "errors": 2,
    "error_rate": 0.04,
    "error_reasons": {"HTTP 500": 2},
    "p50_ms": 12.5,
    "p95_ms": 48.0,
    "p99_ms": 77.25,
    "max_ms": 80.0,
    "throughput_rps": 238.1,
}
DATABASE = {
    "name": "postgresql",
    "via": "exec",
    "pod": "mplp-postgresql-0",
    "connections": {"total": 12, "max_connections": 100, "usage_percent": 12.0, "by_state": {"active": 2}},
    "cache_hit_ratio": 0.9912,
    "database": "mplp_production",
    "size_bytes": 7675239,
    "xact_commit": 10,
    "xact_rollback": 1,
    "deadlocks": 0,
    "temp_files": 0,
    "temp_bytes": 0,
    "estimated_bloat_bytes": 2048,
    "tables": [
        {
            "table": "public.tasks",
            "live_rows": 900,
            "dead_rows": 100,
            "dead_ratio": 0.1,
            "size_bytes": 20480,
            "estimated_bloat_bytes": 2048,
            "last_vacuum": None,
        }
    ],
    "top_statements": [
        {
            "query": "SELECT a || b FROM t WHERE x = $1",
            "calls": 3,
            "total_ms": 30.0,
            "mean_ms": 10.0,
            "max_ms": 12.0,
            "rows": 3,
            "cache_hit_ratio": 1.0,
        }
    ],
}
CACHE = {
    "name": "redis",
    "via": "direct",
    "server_version": "7.0.15",
    "memory": {
        "used_memory": 1048576,
        "maxmemory": 0,
        "maxmemory_policy": "noeviction",
        "usage_percent": None,
    },
    "stats": {"hit_rate": 0.75, "keyspace_hits": 3, "keyspace_misses": 1},
    "slowlog": [{"command": "KEYS <script>*", "duration_ms": 50.5, "start_time": 1796571408, "client": None}],
}
LOAD = {
    "url": "http://ingress/health",
    "target_rate": 50.0,
    "duration": 30.0,
    "achieved_rate": 20.0,
    "rate_ratio": 0.4,
    "started": 600,
    "scheduled": 1500,
    "dropped": 900,
    "errors": 0,
    "error_rate": 0.0,
    "p50_ms": 1.0,
    "p95_ms": 2.0,
    "p99_ms": 3.0,
    "max_ms": 4.0,
    "max_in_flight": 2,
    "verdict": "invalid",
    "message": "invalid: reached 20.0 requests/s",
    "checks": [{"name": "p95_ms", "threshold": 500.0, "value": 2.0, "ok": True}],
}
REPORTS = {
    "us-east-1": {
        "namespace": "mplp",
        "requests": 50,
        "concurrency": 10,
        "findings": ["endpoint core: 4.0 % of 50 requests failed (HTTP 500)"],
        "endpoints": [ENDPOINT],
        "database": DATABASE,
        "cache": CACHE,
        "load": LOAD,
    },
    "eu-west-1": {"namespace": "mplp", "findings": [], "endpoints": [], "database": None, "cache": None},
}


def test_markdown_has_every_section_per_cluster_in_order():
    text = perf_report.render(REPORTS, "markdown", generated="2026-12-06 12:00 UTC")
    assert text.startswith("# Performance analysis\n\nGenerated 2026-12-06 12:00 UTC.\n")
    assert text.index("## eu-west-1 (namespace mplp)") < text.index("## us-east-1 (namespace mplp)")
    assert "- Nothing stands out." in text and "No endpoints were measured." in text
    assert "| core /api/v1/core/health | core | 50 | 2 (4.0 %) | 12.5 | 48 | 77.2 | 80 | 238.1 |" in text
    assert "- core /api/v1/core/health: HTTP 500 x2" in text
    assert "### PostgreSQL postgresql (exec in pod mplp-postgresql-0)" in text
    assert "- Connections: 12 of max_connections 100 (12 %); by state: active 2" in text
    assert "- Buffer cache hit ratio: 99.1 %" in text
    # a pipe in a statement does not split the table's row
    assert "| SELECT a \\|\\| b FROM t WHERE x = $1 | 3 | 30 | 10 | 12 | 3 | 100.0 % |" in text
    assert "| public.tasks | 900 | 100 | 10.0 % | 20.0 KiB | 2.0 KiB | never |" in text
    assert "### Redis redis (direct)" in text
    assert "1.0 MiB used (no maxmemory: unlimited, policy noeviction)" in text
    assert "- Keyspace hit rate: 75.0 % (3 hits, 1 misses)" in text
    assert "| KEYS <script>* | 50.5 | 1796571408 | - |" in text
    assert "**INVALID**: invalid: reached 20.0 requests/s" in text
    assert "| 50/s for 30s | 20/s (40.0 %) | 600 of 1500 | 900 | 0 (0.0 %) | 1 | 2 | 3 | 4 |" in text
    assert text.endswith("GET http://ingress/health, at most 2 in flight.\n")


def test_missing_parts_say_why():
    report = dict(
        REPORTS["us-east-1"],
        database={"name": "postgresql", "via": "exec", "pod": None, "error": "not analysed: no pod"},
        cache=dict(CACHE, slowlog=None, slowlog_note="SLOWLOG could not be read: ERR unknown"),
        load=None,
    )
    report["cache"]["memory"] = dict(CACHE["memory"], maxmemory=2097152, usage_percent=50.0)
    text = perf_report.render({"c": report})
    assert "### PostgreSQL postgresql (exec)\n\nNot read: not analysed: no pod" in text
    assert "1.0 MiB used of maxmemory 2.0 MiB (50 %), policy noeviction" in text
    assert "Slow log: SLOWLOG could not be read: ERR unknown" in text
    assert "Load check" not in text


def test_html_is_one_self_contained_page_with_everything_escaped():
    page = perf_report.render(REPORTS, "html", title="Perf <MPLP>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Perf &lt;MPLP&gt;</title>" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert "<td>KEYS &lt;script&gt;*</td>" in page
    assert "<td>SELECT a || b FROM t WHERE x = $1</td>" in page
    assert 'style="background:#9a6700">INVALID</span>' in page
    assert page.count("<table>") == 5  # endpoints, statements, tables, slow log, load (one cluster)


def test_both_formats_say_the_same():
    markdown = perf_report.render(REPORTS, "markdown")
    page = perf_report.render(REPORTS, "html")
    for text in ("Buffer cache hit ratio: 99.1 %", "Tables by estimated bloat", "600 of 1500"):
        assert text in markdown and text in page


def test_a_wrong_format_or_input_is_refused():
    with pytest.raises(ValueError, match="format must be one of markdown, html"):
        perf_report.render(REPORTS, "pdf")
    with pytest.raises(ValueError, match="reports must map clusters"):
        perf_report.render([REPORTS], "markdown")
