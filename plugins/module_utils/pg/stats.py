# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a PostgreSQL server says about its health and load: the readiness probe run inside
its pod, the connections by state (``pg_stat_activity``) and the slowest statements
(``pg_stat_statements``, when the extension is there). Pure: the SQL, the commands and the
parsers of their output. Where they run (a psycopg connection, ``psql`` in the pod through
the exec API) is the caller's: health/probes.py today, the performance analysis tomorrow.

**In the pod** the probe uses the pod's own credentials, as the in-cluster backup does: the
libpq variables of the container's environment (``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGPASSWORD``, ``PGDATABASE``), else the official image's ``POSTGRES_USER``,
``POSTGRES_PASSWORD`` and ``POSTGRES_DB``, over the local socket. Nothing of the inventory's
connection (and no password) is passed in: the pod knows how to reach its own server.
"""

from __future__ import annotations

import json

# The probe in the pod: pg_isready, then SELECT 1 and the version through psql. A fixed
# script; the timeout is its one positional parameter (never interpolated). The exit code
# of pg_isready is printed on a line of its own (0 accepting, 1 rejecting, 2 no response,
# 3 not attempted); psql's lines follow; the script's exit code is psql's.
PROBE_MARK = "pg_isready_exit="
PROBE_SCRIPT = (
    'u="${PGUSER:-${POSTGRES_USER:-postgres}}"; d="${PGDATABASE:-${POSTGRES_DB:-$u}}"; '
    'if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then '
    'PGPASSWORD="$POSTGRES_PASSWORD"; export PGPASSWORD; fi; '
    'PGCONNECT_TIMEOUT="$1"; export PGCONNECT_TIMEOUT; '
    'pg_isready -q -t "$1" -U "$u" -d "$d"; echo "' + PROBE_MARK + '$?"; '
    'exec psql -X -q -A -t -w -v ON_ERROR_STOP=1 -U "$u" -d "$d" '
    "-c 'SELECT 1' -c 'SHOW server_version'"
)
# The same connection for one query (the statistics): the SQL is the second parameter.
QUERY_SCRIPT = (
    'u="${PGUSER:-${POSTGRES_USER:-postgres}}"; d="${PGDATABASE:-${POSTGRES_DB:-$u}}"; '
    'if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then '
    'PGPASSWORD="$POSTGRES_PASSWORD"; export PGPASSWORD; fi; '
    'PGCONNECT_TIMEOUT="$1"; export PGCONNECT_TIMEOUT; '
    'exec psql -X -q -A -t -w -v ON_ERROR_STOP=1 -U "$u" -d "$d" -c "$2"'
)
PG_ISREADY = {
    0: "accepting connections",
    1: "rejecting connections (starting up or shutting down)",
    2: "no response",
    3: "no attempt was made (bad connection parameters)",
}

# Connections by state, the limit, and whether pg_stat_statements is installed in the
# database the probe connects to. One JSON document (a psql line, a psycopg value).
ACTIVITY_SQL = """
SELECT json_build_object(
  'by_state', (SELECT coalesce(json_object_agg(state, n), '{}'::json) FROM (
      SELECT coalesce(state, 'background') AS state, count(*) AS n
      FROM pg_stat_activity GROUP BY 1 ORDER BY 1) s),
  'total', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
  'max_connections', current_setting('max_connections')::int,
  'longest_transaction_seconds', (SELECT round(extract(epoch FROM max(now() - xact_start))::numeric, 1)
      FROM pg_stat_activity WHERE backend_type = 'client backend' AND xact_start IS NOT NULL),
  'pg_stat_statements', EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'))
""".strip()

SLOW_LIMIT = 10
# The slowest statements by mean time (PostgreSQL 13 and later name the columns *_exec_time).
STATEMENTS_SQL = (
    """
SELECT coalesce(json_agg(s), '[]'::json) FROM (
  SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls,
         round(mean_exec_time::numeric, 2) AS mean_ms, round(total_exec_time::numeric, 2) AS total_ms,
         rows
  FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT %d) s
"""
    % SLOW_LIMIT
).strip()


def probe_argv(timeout):
    """The probe as it runs in the pod (``sh -c PROBE_SCRIPT sh TIMEOUT``)."""
    return ["sh", "-c", PROBE_SCRIPT, "sh", str(max(1, int(round(float(timeout)))))]


def query_argv(sql, timeout):
    """One query through psql in the pod, with the pod's credentials."""
    return ["sh", "-c", QUERY_SCRIPT, "sh", str(max(1, int(round(float(timeout))))), sql]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def parse_probe(exit_code, stdout, stderr):
    """The probe's answer: ``{ok, ready, error, server_version}``. ``ready``: what
    pg_isready said; ``ok`` only when psql answered SELECT 1 as well."""
    ready_code = None
    rest = []
    for line in _text(stdout).splitlines():
        if line.startswith(PROBE_MARK):
            try:
                ready_code = int(line[len(PROBE_MARK) :])
            except ValueError:
                ready_code = None
        elif line.strip():
            rest.append(line.strip())
    ready = PG_ISREADY.get(ready_code, "not run") if ready_code is not None else "not run"
    err = _text(stderr).strip()
    if ready_code not in (None, 0):
        return {
            "ok": False,
            "ready": ready,
            "error": "pg_isready: %s%s" % (ready, _tail(err)),
            "server_version": None,
        }
    if exit_code == 0 and rest[:1] == ["1"]:
        return {
            "ok": True,
            "ready": ready,
            "error": None,
            "server_version": rest[1] if len(rest) > 1 else None,
        }
    reason = _first_line(err) or ("exit code %s" % exit_code)
    return {"ok": False, "ready": ready, "error": "SELECT 1 failed: %s" % reason, "server_version": None}


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _tail(text):
    line = _first_line(text)
    return " (%s)" % line if line else ""


def parse_json_line(text):
    """The last non-empty line of psql's unaligned output as JSON (None when there is none)."""
    lines = [line for line in _text(text).splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def activity(doc):
    """The connections of ACTIVITY_SQL's document: ``{by_state, total, max_connections,
    usage_percent, longest_transaction_seconds, pg_stat_statements}``."""
    doc = doc or {}
    by_state = {str(k): int(v) for k, v in sorted((doc.get("by_state") or {}).items())}
    total = int(doc.get("total") or 0)
    limit = doc.get("max_connections")
    longest = doc.get("longest_transaction_seconds")
    return {
        "by_state": by_state,
        "total": total,
        "max_connections": int(limit) if limit is not None else None,
        "usage_percent": round(100.0 * total / int(limit), 1) if limit else None,
        "longest_transaction_seconds": float(longest) if longest is not None else None,
        "pg_stat_statements": bool(doc.get("pg_stat_statements")),
    }


def slow_queries(rows):
    """STATEMENTS_SQL's rows: ``[{query, calls, mean_ms, total_ms, rows}]``, slowest first."""
    result = []
    for row in rows or []:
        result.append(
            {
                "query": str(row.get("query") or ""),
                "calls": int(row.get("calls") or 0),
                "mean_ms": float(row.get("mean_ms") or 0),
                "total_ms": float(row.get("total_ms") or 0),
                "rows": int(row.get("rows") or 0),
            }
        )
    return sorted(result, key=lambda r: r["mean_ms"], reverse=True)


def no_statements_note(installed, error=None):
    """Why there are no slow queries: the extension is missing, or cannot be read."""
    if not installed:
        return (
            "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements, "
            "with shared_preload_libraries = 'pg_stat_statements'): no slow queries to show"
        )
    return "pg_stat_statements could not be read: %s" % error


# -- the performance analysis (multiagent.ops.performance_analysis) -------------------------

TOP_LIMIT = 10
# The database's own figures: the buffer cache hit ratio's counters, its size, transactions,
# deadlocks and temporary files, and the tables with the most dead rows (the bloat estimate).
PERFORMANCE_SQL = (
    """
SELECT json_build_object(
  'database', current_database(),
  'size_bytes', pg_database_size(current_database()),
  'blks_hit', d.blks_hit, 'blks_read', d.blks_read,
  'xact_commit', d.xact_commit, 'xact_rollback', d.xact_rollback,
  'deadlocks', d.deadlocks, 'temp_files', d.temp_files, 'temp_bytes', d.temp_bytes,
  'tables', (SELECT coalesce(json_agg(t), '[]'::json) FROM (
      SELECT schemaname AS schema, relname AS table, n_live_tup AS live, n_dead_tup AS dead,
             pg_table_size(relid) AS size_bytes,
             greatest(last_vacuum, last_autovacuum) AS last_vacuum
      FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, pg_table_size(relid) DESC LIMIT %d) t))
FROM pg_stat_database d WHERE d.datname = current_database()
"""
    % TOP_LIMIT
).strip()

# The statements that cost the most time in total (PostgreSQL 13 and later), with their own
# buffer cache hit ratio's counters.
TOP_STATEMENTS_SQL = (
    """
SELECT coalesce(json_agg(s), '[]'::json) FROM (
  SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls,
         round(total_exec_time::numeric, 2) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
         round(max_exec_time::numeric, 2) AS max_ms, rows,
         shared_blks_hit AS blks_hit, shared_blks_read AS blks_read
  FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %d) s
"""
    % TOP_LIMIT
).strip()


def hit_ratio(hit, read):
    """Share of block reads the buffer cache answered; None before any read."""
    hit, read = int(hit or 0), int(read or 0)
    return round(hit / float(hit + read), 4) if hit + read else None


def performance(doc):
    """PERFORMANCE_SQL's document: ``{database, size_bytes, cache_hit_ratio, xact_commit,
    xact_rollback, deadlocks, temp_files, temp_bytes, tables}``. Each table has an estimate of
    its bloat: its size times its share of dead rows (what a VACUUM FULL would give back, as
    far as the statistics collector knows; ANALYZE keeps them current)."""
    doc = doc or {}
    tables = []
    for row in doc.get("tables") or []:
        live, dead, size = (
            int(row.get("live") or 0),
            int(row.get("dead") or 0),
            int(row.get("size_bytes") or 0),
        )
        ratio = round(dead / float(live + dead), 4) if live + dead else 0.0
        tables.append(
            {
                "table": "%s.%s" % (row.get("schema") or "public", row.get("table")),
                "live_rows": live,
                "dead_rows": dead,
                "dead_ratio": ratio,
                "size_bytes": size,
                "estimated_bloat_bytes": int(round(size * ratio)),
                "last_vacuum": row.get("last_vacuum"),
            }
        )
    tables.sort(key=lambda t: (t["estimated_bloat_bytes"], t["dead_rows"]), reverse=True)
    return {
        "database": doc.get("database"),
        "size_bytes": int(doc.get("size_bytes") or 0),
        "cache_hit_ratio": hit_ratio(doc.get("blks_hit"), doc.get("blks_read")),
        "xact_commit": int(doc.get("xact_commit") or 0),
        "xact_rollback": int(doc.get("xact_rollback") or 0),
        "deadlocks": int(doc.get("deadlocks") or 0),
        "temp_files": int(doc.get("temp_files") or 0),
        "temp_bytes": int(doc.get("temp_bytes") or 0),
        "tables": tables,
        "estimated_bloat_bytes": sum(t["estimated_bloat_bytes"] for t in tables),
    }


def top_statements(rows):
    """TOP_STATEMENTS_SQL's rows: ``[{query, calls, total_ms, mean_ms, max_ms, rows,
    cache_hit_ratio}]``, the most time in total first."""
    result = []
    for row in rows or []:
        result.append(
            {
                "query": str(row.get("query") or ""),
                "calls": int(row.get("calls") or 0),
                "total_ms": float(row.get("total_ms") or 0),
                "mean_ms": float(row.get("mean_ms") or 0),
                "max_ms": float(row.get("max_ms") or 0),
                "rows": int(row.get("rows") or 0),
                "cache_hit_ratio": hit_ratio(row.get("blks_hit"), row.get("blks_read")),
            }
        )
    return sorted(result, key=lambda r: r["total_ms"], reverse=True)
