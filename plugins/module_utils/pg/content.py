# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL sessions and the content snapshot (row counts and checksums) of a database.

Two kinds of session answer the same small interface, ``value(sql)`` (one JSON value back)
and ``execute(sql)``: a direct psycopg connection, and ``psql`` running inside the database
pod through the exec API (in-cluster mode, where the controller cannot reach the server).

**The content checksum** of a table (recorded in backup manifests and compared after a
restore) is order-independent: the sum, modulo 2^64, of a 64-bit hash of every row, written
as 16 hex digits; with the row count it detects lost, added, duplicated or changed rows
whatever order the rows come back in. Two row hashes are used, named in the manifest:

- ``record``: ``hashint8extended(hash_record_extended(row, 0), 0)`` (PostgreSQL 14 and
  later): hash_record_extended hashes each column with its type's own extended hash function
  — the functions hash partitioning relies on, stable across releases — without converting
  to text; about two to three times cheaper. Its result is linear in the column hashes
  (``h = 31 * h + column``), so summed as is it would only see each column's multiset of
  values (two rows swapping a value would go unnoticed); hashing it once more breaks that.
  The row is written ``ROW(col1, col2, ...)``, the table's live columns in order: the same
  value as the whole-row reference ``t`` (hash_record_extended skips dropped columns), about
  a fifth cheaper, because the server does not build a copy of every tuple for it;
- ``text``: ``hashtextextended(row::text, 0)``, the hash of the row's text form (the same
  ``ROW(...)``), for
  tables with a column type that has no hash function (json, xml, point…) and for servers
  before 14.

The text form of a value depends on session settings (a timestamptz on TimeZone, dates on
DateStyle, intervals on IntervalStyle, floats on extra_float_digits, bytea on bytea_output),
which a database or role can set (``ALTER DATABASE ... SET timezone``, not carried by a dump
restored without ``--create``). Every session that computes or checks checksums first pins
them (``PINNED_SETTINGS``): TimeZone UTC, DateStyle ``ISO, MDY``, IntervalStyle postgres,
extra_float_digits 3, bytea_output hex.

A restore is checked on a server of the same major version with the method the manifest
names. Only ordinary tables and leaf partitions are counted (a partitioned parent's rows are
its partitions'); materialized views, views and foreign tables have no data in a dump.
"""

from __future__ import annotations

import json
import queue
from collections import namedtuple

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
MOD = 1 << 64

TABLES_SQL = """
SELECT coalesce(jsonb_agg(jsonb_build_object(
           'schema', n.nspname, 'table', c.relname, 'oid', c.oid,
           'columns', (SELECT coalesce(jsonb_agg(a.attname ORDER BY a.attnum), '[]'::jsonb)
                         FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
                          ORDER BY n.nspname, c.relname), '[]'::jsonb)::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""

# Tables with a column whose type (through domains, arrays and ranges) has no default hash
# operator class cannot use hash_record_extended. Composite-typed columns go to ``text``.
UNHASHABLE_SQL = """
WITH RECURSIVE cols AS (
    SELECT a.attrelid AS rel, a.atttypid AS typ
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
), resolved(rel, typ, depth) AS (
    SELECT rel, typ, 0 FROM cols
    UNION ALL
    SELECT r.rel, CASE WHEN t.typtype = 'd' THEN t.typbasetype
                       WHEN t.typtype = 'r' THEN (SELECT rngsubtype FROM pg_range WHERE rngtypid = t.oid)
                       ELSE t.typelem END, r.depth + 1
      FROM resolved r JOIN pg_type t ON t.oid = r.typ
     WHERE r.depth < 8 AND (t.typtype IN ('d', 'r') OR (t.typelem <> 0 AND t.typlen = -1))
)
SELECT coalesce(jsonb_agg(DISTINCT r.rel::bigint), '[]'::jsonb)::text
  FROM resolved r JOIN pg_type t ON t.oid = r.typ
 WHERE t.typtype = 'c'
    OR (t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typlen = -1)
        AND NOT EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am am ON am.oid = o.opcmethod
                         WHERE am.amname = 'hash' AND o.opcdefault
                           AND (o.opcintype = t.oid
                                OR (o.opcintype = 'anyenum'::regtype AND t.typtype = 'e'))))
"""


# Settings the text form of values depends on, pinned before any checksum (see the module doc).
PINNED_SETTINGS = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, MDY"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
)
PIN_SQL = "SELECT " + ", ".join(
    "set_config('%s', '%s', false)" % (name, value) for name, value in PINNED_SETTINGS
)

RESOLVE_SQL = (
    "SELECT coalesce((SELECT jsonb_build_array(n.nspname, c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)), 'null'::jsonb)::text"
)

# A table whose data a dump carries; ``columns`` are its live columns in order.
Table = namedtuple("Table", "schema name oid columns")


class SqlError(Exception):
    """A query that failed; the message names it."""


def quote_ident(name):
    return '"%s"' % str(name).replace('"', '""')


def quote_literal(text):
    return "'%s'" % str(text).replace("'", "''")


def qualified(schema, table):
    return "%s.%s" % (quote_ident(schema), quote_ident(table))


def table_key(schema, table):
    return "%s.%s" % (schema, table)


def checksum_sql(schema, table, method, columns=None):
    """The query of one table's row count and checksum sum. With ``columns`` (the live
    columns in order) the row is ``ROW(t.col, ...)``: the same value as the whole-row
    reference, computed without a copy of every tuple (see the module doc). Without, it is
    ``t.*``, which stays the whole row even when a column is named ``t``."""
    if columns is None:
        row = "t.*"
    else:
        row = "ROW(%s)" % ", ".join("t." + quote_ident(column) for column in columns)
    if method == "record":
        row_hash = "hashint8extended(hash_record_extended(%s, 0), 0)" % row  # see the module doc
    else:
        row_hash = "hashtextextended((%s)::text, 0)" % row
    return (
        "SELECT jsonb_build_object('rows', count(*), 'sum', coalesce(sum(%s), 0)::text)::text FROM %s t"
        % (row_hash, qualified(schema, table))
    )


def count_sql(schema, table):
    """The query of one table's row count alone (no checksum asked for, or none recorded)."""
    return "SELECT jsonb_build_object('rows', count(*))::text FROM %s" % qualified(schema, table)


def measure(session, table, method=None):
    """One table's measures (``table`` a Table): its rows, and with a ``method`` its checksum."""
    if method is None:
        return {"rows": int(session.value(count_sql(table.schema, table.name))["rows"])}
    result = session.value(checksum_sql(table.schema, table.name, method, table.columns))
    return {"rows": int(result["rows"]), "checksum": fold(result["sum"]), "method": method}


def fold(total):
    """The manifest form of a checksum: the sum modulo 2^64 as 16 hex digits."""
    return "%016x" % (int(total) % MOD)


class PsycopgSession:
    """A direct connection (psycopg 3). ``params`` are libpq keywords; the password is passed
    to libpq directly, never on a command line."""

    def __init__(self, params, autocommit=False):
        import psycopg

        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(autocommit=autocommit, **params)
        except psycopg.Error as exc:
            raise SqlError(
                "cannot connect to PostgreSQL at %s:%s as %s (database %s): %s"
                % (
                    params.get("host"),
                    params.get("port"),
                    params.get("user"),
                    params.get("dbname"),
                    str(exc).strip(),
                )
            ) from exc

    def execute(self, sql):
        try:
            self.conn.execute(sql)
        except self._psycopg.Error as exc:
            raise SqlError("%s: %s" % (sql.split("\n")[0][:120], str(exc).strip())) from exc

    def value(self, sql):
        try:
            row = self.conn.execute(sql).fetchone()
        except self._psycopg.Error as exc:
            raise SqlError("%s: %s" % (sql.strip().split("\n")[0][:120], str(exc).strip())) from exc
        return None if row is None else (json.loads(row[0]) if isinstance(row[0], str) else row[0])

    def text(self, sql):
        try:
            row = self.conn.execute(sql).fetchone()
        except self._psycopg.Error as exc:
            raise SqlError("%s: %s" % (sql.strip().split("\n")[0][:120], str(exc).strip())) from exc
        return None if row is None else row[0]

    def cancel(self):
        try:
            self.conn.cancel()
        except Exception:  # noqa: BLE001 - nothing to cancel
            pass

    def close(self):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass


class PsqlSession:
    """``psql`` reading statements from stdin through a PodExec; each answer is followed by
    a marker line so the reader knows where it ends."""

    MARK = "__multiagent_ops_end__"

    def __init__(self, pod_exec):
        import queue
        import threading

        self.exec = pod_exec
        self._lines = queue.Queue()
        self._buffer = b""
        self._error = None
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        def feed(data):
            self._buffer += data
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                self._lines.put(line.decode("utf-8", "replace"))

        try:
            self.exec.pump(feed)
        except Exception as exc:  # noqa: BLE001 - reported to the waiting query
            self._error = exc
        self._lines.put(None)

    def _ask(self, sql):
        self.exec.write((sql.strip().rstrip(";") + ";\n\\echo %s\n" % self.MARK).encode("utf-8"))
        out = []
        while True:
            try:
                line = self._lines.get(timeout=self.exec.timeout or 3600)
            except queue.Empty as exc:
                raise SqlError(
                    "%s: no answer from psql for %s s" % (sql.strip().split("\n")[0][:120], self.exec.timeout)
                ) from exc
            if line is None:
                cause = self._error or self.exec.failure("psql")
                raise SqlError("%s: psql ended: %s" % (sql.strip().split("\n")[0][:120], cause))
            if line == self.MARK:
                return out
            out.append(line)

    def execute(self, sql):
        self._ask(sql)

    def value(self, sql):
        lines = [line for line in self._ask(sql) if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def text(self, sql):
        lines = [line for line in self._ask(sql) if line.strip()]
        return lines[-1] if lines else None

    def cancel(self):
        self.exec.close()

    def close(self):
        try:
            self.exec.write(b"\\q\n")
            self.exec.close_stdin()
        except Exception:  # noqa: BLE001 - closing a session that already ended
            pass
        self._thread.join(timeout=10)
        self.exec.close()


def pin_settings(session):
    """Pin the settings the text form of values depends on (``PINNED_SETTINGS``)."""
    session.execute(PIN_SQL)


def resolve_tables(session, names):
    """The ``(schema, table)`` each name (``table``, ``schema.table``, quoted as in SQL:
    ``"Mixed Case"."t"``) stands for on the server, as ``to_regclass`` reads it (search_path,
    case folding, quoting). Wildcards are refused, and so is a name that matches nothing: a
    typo must not silently dump data meant to be left out."""
    resolved = []
    for name in names or ():
        name = str(name)
        if any(ch in name for ch in "*?"):
            raise SqlError(
                "exclude_table_data entry %r has a pattern character (* or ?): name each table" % name
            )
        try:
            found = session.value(RESOLVE_SQL % quote_literal(name))
        except SqlError as exc:
            raise SqlError("exclude_table_data entry %r is not a table name: %s" % (name, exc)) from exc
        if not found:
            raise SqlError("exclude_table_data entry %r matches no table in the database" % name)
        pair = (found[0], found[1])
        if pair not in resolved:
            resolved.append(pair)
    return resolved


def _excluded_keys(exclude_data):
    excluded = set()
    for name in exclude_data or ():
        if isinstance(name, (tuple, list)):
            excluded.add((name[0], name[1]))
        elif "." in name:
            excluded.add(tuple(name.split(".", 1)))
        else:
            excluded.add(("public", name))
    return excluded


def list_tables(session, exclude_data=()):
    """Tables whose data a dump carries: ``[Table(schema, name, oid, columns)]``, minus
    ``exclude_data``: ``(schema, table)`` pairs (as resolve_tables gives them), or
    ``schema.table`` names or bare table names of the public schema."""
    excluded = _excluded_keys(exclude_data)
    rows = session.value(TABLES_SQL) or []
    # jsonb renders an oid as a string; UNHASHABLE_SQL returns numbers.
    return [
        Table(row["schema"], row["table"], int(row["oid"]), tuple(row.get("columns") or ()))
        for row in rows
        if (row["schema"], row["table"]) not in excluded
    ]


def server_version_num(session):
    return int(session.text("SELECT current_setting('server_version_num')"))


def content_snapshot(session, exclude_data=(), checksums=True):
    """``{"schema.table": {"rows": n, "checksum": hex, "method": m}}`` as the session sees it
    (inside a REPEATABLE READ transaction: exactly the snapshot the dump took)."""
    tables = list_tables(session, exclude_data)
    if not tables:
        return {}
    if checksums:
        pin_settings(session)
    record_ok = server_version_num(session) >= 140000
    unhashable = set(session.value(UNHASHABLE_SQL) or []) if record_ok and checksums else set()
    snapshot = {}
    for found in tables:
        method = None
        if checksums:
            method = "record" if record_ok and found.oid not in unhashable else "text"
        snapshot[table_key(found.schema, found.name)] = measure(session, found, method)
    return snapshot


def table_checks(session, expected):
    """The same measures, taken now for the tables of ``expected`` (a manifest's tables) with
    the methods it names, plus the tables that exist now and are not in it."""
    current = {table_key(t.schema, t.name): t for t in list_tables(session)}
    if any(want.get("checksum") is not None for want in expected.values()):
        pin_settings(session)
    found = {}
    for key, want in sorted(expected.items()):
        if key not in current:
            found[key] = None
            continue
        method = None if want.get("checksum") is None else (want.get("method") or "text")
        found[key] = measure(session, current[key], method)
    extra = sorted(set(current) - set(expected))
    return found, extra


def compare_content(expected, found):
    """Mismatches between a manifest's tables and what a restored database holds."""
    problems = []
    for key, want in sorted(expected.items()):
        got = found.get(key)
        if got is None:
            problems.append("%s is missing" % key)
            continue
        if int(got["rows"]) != int(want["rows"]):
            problems.append("%s has %s rows, the backup had %s" % (key, got["rows"], want["rows"]))
        elif want.get("checksum") and got.get("checksum") != want["checksum"]:
            problems.append(
                "%s content checksum %s differs from the backup's %s (same row count)"
                % (key, got.get("checksum"), want["checksum"])
            )
    return problems
