"""pg/stats.py: the in-pod probe's command and answers, the activity and statements readers."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import stats


def test_probe_runs_a_fixed_script_with_the_timeout_as_its_only_parameter():
    argv = stats.probe_argv(4.6)
    assert argv[:3] == ["sh", "-c", stats.PROBE_SCRIPT] and argv[3:] == ["sh", "5"]
    # the pod's own credentials: nothing of a connection, no password, on the command line
    assert "pg_isready" in argv[2] and "SELECT 1" in argv[2] and "PGPASSWORD=" in argv[2]
    assert "POSTGRES_PASSWORD" in argv[2] and "-w" in argv[2]
    assert stats.probe_argv(0.2)[-1] == "1"  # pg_isready takes whole seconds, at least 1


def test_query_passes_the_sql_as_a_parameter_not_in_the_script():
    argv = stats.query_argv("SELECT 'x'", 3)
    assert argv[-2:] == ["3", "SELECT 'x'"] and "SELECT 'x'" not in argv[2]


def test_probe_answer_accepting_and_select_1():
    out = b"pg_isready_exit=0\n1\n15.4 (Debian)\n"
    assert stats.parse_probe(0, out, b"") == {
        "ok": True,
        "ready": "accepting connections",
        "error": None,
        "server_version": "15.4 (Debian)",
    }


@pytest.mark.parametrize(
    "code, meaning",
    [(1, "rejecting connections (starting up or shutting down)"), (2, "no response"), (3, "no attempt")],
)
def test_probe_answer_pg_isready_failing_is_down_with_its_meaning(code, meaning):
    out = ("pg_isready_exit=%d\n" % code).encode()
    err = b'psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
    result = stats.parse_probe(2, out, err)
    assert result["ok"] is False and result["error"].startswith("pg_isready: " + meaning)
    assert "Connection refused" in result["error"]


def test_probe_answer_ready_but_select_1_refused_names_the_cause():
    err = b'psql: error: FATAL:  password authentication failed for user "mplp"\n'
    result = stats.parse_probe(2, b"pg_isready_exit=0\n", err)
    assert result["ok"] is False and result["ready"] == "accepting connections"
    assert (
        result["error"]
        == 'SELECT 1 failed: psql: error: FATAL:  password authentication failed for user "mplp"'
    )


def test_probe_answer_without_the_marker_says_pg_isready_did_not_run():
    result = stats.parse_probe(127, b"", b"sh: pg_isready: not found\n")
    assert result["ok"] is False and result["ready"] == "not run"
    assert result["error"] == "SELECT 1 failed: sh: pg_isready: not found"


def test_activity_counts_by_state_and_the_share_of_the_limit():
    doc = stats.parse_json_line(
        b'\n{"by_state": {"idle": 4, "active": 1, "background": 5}, "total": 5, "max_connections": 100,'
        b' "longest_transaction_seconds": 12.5, "pg_stat_statements": false}\n'
    )
    assert stats.activity(doc) == {
        "by_state": {"active": 1, "background": 5, "idle": 4},
        "total": 5,
        "max_connections": 100,
        "usage_percent": 5.0,
        "longest_transaction_seconds": 12.5,
        "pg_stat_statements": False,
    }
    assert stats.activity({})["usage_percent"] is None and stats.parse_json_line(b"\n") is None


def test_slow_queries_slowest_first():
    rows = [
        {"query": "SELECT 1", "calls": 9, "mean_ms": 0.01, "total_ms": 0.09, "rows": 9},
        {"query": "UPDATE t", "calls": "2", "mean_ms": "120.5", "total_ms": 241, "rows": 2},
    ]
    assert [q["query"] for q in stats.slow_queries(rows)] == ["UPDATE t", "SELECT 1"]
    assert stats.slow_queries(rows)[0] == {
        "query": "UPDATE t",
        "calls": 2,
        "mean_ms": 120.5,
        "total_ms": 241.0,
        "rows": 2,
    }


def test_statements_note_says_missing_or_unreadable():
    assert "not installed" in stats.no_statements_note(False)
    assert stats.no_statements_note(True, "must be loaded via shared_preload_libraries").endswith(
        "must be loaded via shared_preload_libraries"
    )


# -- the performance analysis --------------------------------------------------------------


def test_cache_hit_ratio_of_the_block_counters():
    assert stats.hit_ratio(990, 10) == 0.99
    assert stats.hit_ratio("3", "1") == 0.75
    assert stats.hit_ratio(0, 0) is None and stats.hit_ratio(None, None) is None


def test_performance_estimates_bloat_from_dead_rows():
    doc = {
        "database": "mplp",
        "size_bytes": 8192000,
        "blks_hit": 9900,
        "blks_read": 100,
        "xact_commit": 5,
        "xact_rollback": 1,
        "deadlocks": 2,
        "temp_files": 1,
        "temp_bytes": 4096,
        "tables": [
            {"schema": "public", "table": "small", "live": 10, "dead": 10, "size_bytes": 8192},
            {
                "schema": "app",
                "table": "tasks",
                "live": 750,
                "dead": 250,
                "size_bytes": 1000000,
                "last_vacuum": "2026-12-01T00:00:00+00:00",
            },
            {"schema": "public", "table": "empty", "live": 0, "dead": 0, "size_bytes": 0},
        ],
    }
    result = stats.performance(doc)
    assert result["cache_hit_ratio"] == 0.99 and result["deadlocks"] == 2 and result["temp_bytes"] == 4096
    assert [t["table"] for t in result["tables"]] == ["app.tasks", "public.small", "public.empty"]
    assert result["tables"][0] == {
        "table": "app.tasks",
        "live_rows": 750,
        "dead_rows": 250,
        "dead_ratio": 0.25,
        "size_bytes": 1000000,
        "estimated_bloat_bytes": 250000,
        "last_vacuum": "2026-12-01T00:00:00+00:00",
    }
    assert result["tables"][2]["dead_ratio"] == 0.0
    assert result["estimated_bloat_bytes"] == 250000 + 4096
    assert stats.performance(None)["tables"] == [] and stats.performance({})["cache_hit_ratio"] is None


def test_top_statements_most_total_time_first():
    rows = [
        {
            "query": "SELECT 1",
            "calls": 1000,
            "total_ms": 50,
            "mean_ms": 0.05,
            "max_ms": 1,
            "rows": 1000,
            "blks_hit": 10,
            "blks_read": 0,
        },
        {
            "query": "UPDATE t",
            "calls": "2",
            "total_ms": "241",
            "mean_ms": "120.5",
            "max_ms": 200,
            "rows": 2,
            "blks_hit": 1,
            "blks_read": 3,
        },
    ]
    result = stats.top_statements(rows)
    assert [s["query"] for s in result] == ["UPDATE t", "SELECT 1"]
    assert result[0] == {
        "query": "UPDATE t",
        "calls": 2,
        "total_ms": 241.0,
        "mean_ms": 120.5,
        "max_ms": 200.0,
        "rows": 2,
        "cache_hit_ratio": 0.25,
    }


def test_the_performance_queries_are_one_json_document_each():
    for sql in (stats.PERFORMANCE_SQL, stats.TOP_STATEMENTS_SQL):
        assert sql.startswith("SELECT ") and "%" not in sql and ";" not in sql
    assert "LIMIT %d" % stats.TOP_LIMIT in stats.TOP_STATEMENTS_SQL
    assert "ORDER BY total_exec_time DESC" in stats.TOP_STATEMENTS_SQL
