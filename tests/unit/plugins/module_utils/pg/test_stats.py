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
