# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content of a database (row counts and checksums of its tables), and the manifest's
record of it: its table keys and the checks of its ``tables``.

Everything here talks to the server through a session's small interface (session.py):
``value(sql)`` (one JSON value back), ``text(sql)`` and ``execute(sql)``; nothing here opens
one, so the logic is tested with literal answers.

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

**Table keys**: the manifest's ``tables`` are keyed by the table's name, written as SQL
writes a qualified name: ``schema.table``, each part double-quoted (``"`` doubled) when it is
not a plain lower-case identifier (``[a-z_][a-z0-9_$]*``): ``public.orders``,
``public."Orders"``, ``"a.b".c``, ``a."b.c"``. Every key names one table, and the keys of
ordinary names read as they always did. Quoting only where it is needed keeps those keys
(what the runbooks, reports and diffs show) unchanged, and every key is an entry
exclude_table_data takes as it is, naming the same table (``to_regclass`` reads names the
same way; a part that is a reserved word needs no quotes there). The manifest says which
form its keys have
(``table_key_format``: 2). Manifests of 0.1.0 have no such field: their keys are the two
names joined by a bare dot (format 1), in which ``"a.b".c`` and ``a."b.c"`` are one key;
such a key stands for the table 0.1.0 recorded under it, the last of them in the server's
order, and the others are reported as tables the manifest does not describe.
"""

from __future__ import annotations

import re
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


TABLE_KEY_FORMAT = 2
LEGACY_KEY_FORMAT = 1  # manifests of 0.1.0, which have no table_key_format field
KEY_FORMAT_FIELD = "table_key_format"
PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
CHECKSUM_HEX = re.compile(r"^[0-9a-f]{16}$")


def quote_ident(name):
    return '"%s"' % str(name).replace('"', '""')


def quote_literal(text):
    return "'%s'" % str(text).replace("'", "''")


def qualified(schema, table):
    return "%s.%s" % (quote_ident(schema), quote_ident(table))


def key_part(name):
    """A part of a table key: the name as it is when it is a plain lower-case identifier,
    else quoted."""
    name = str(name)
    return name if PLAIN_IDENTIFIER.match(name) else quote_ident(name)


def table_key(schema, table, key_format=TABLE_KEY_FORMAT):
    """The manifest's key of a table (see the module doc); ``key_format`` 1 is 0.1.0's."""
    if key_format == LEGACY_KEY_FORMAT:
        return "%s.%s" % (schema, table)
    return "%s.%s" % (key_part(schema), key_part(table))


def key_format(manifest):
    """The form of a manifest's table keys (1 when it does not say: written by 0.1.0)."""
    return manifest.get(KEY_FORMAT_FIELD, LEGACY_KEY_FORMAT)


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
    """``{table key: {"rows": n, "checksum": hex, "method": m}}`` as the session sees it
    (inside a REPEATABLE READ transaction: exactly the snapshot the dump took); the keys are
    of the current format (table_key())."""
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


def table_checks(session, expected, key_format=TABLE_KEY_FORMAT):
    """The same measures, taken now for the tables of ``expected`` (a manifest's tables, keys
    of ``key_format``) with the methods it names, plus the tables that exist now and that no
    key of it describes (keys of the current format)."""
    tables = list_tables(session)
    current = {}
    for table in tables:
        # In the server's order: a 0.1.0 key shared by several tables stands for the last,
        # the one 0.1.0 recorded under it.
        current[table_key(table.schema, table.name, key_format)] = table
    if any(want.get("checksum") is not None for want in expected.values()):
        pin_settings(session)
    found = {}
    described = set()
    for key, want in sorted(expected.items()):
        table = current.get(key)
        if table is None:
            found[key] = None
            continue
        described.add((table.schema, table.name))
        method = None if want.get("checksum") is None else (want.get("method") or "text")
        found[key] = measure(session, table, method)
    extra = sorted(table_key(t.schema, t.name) for t in tables if (t.schema, t.name) not in described)
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


# -- the manifest's tables -----------------------------------------------------------------


def table_entry_problems(key, entry):
    """Why one entry of a manifest's ``tables`` cannot be checked against (empty: it can)."""
    if not isinstance(entry, dict):
        return ["tables[%s] is not an object" % key]
    problems = []
    rows = entry.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        problems.append("tables[%s] rows %r is not a count of rows" % (key, rows))
    checksum = entry.get("checksum")
    if checksum is not None and not (isinstance(checksum, str) and CHECKSUM_HEX.match(checksum)):
        problems.append("tables[%s] checksum %r is not 16 hex digits" % (key, checksum))
    method = entry.get("method")
    if method is not None and method not in ("record", "text"):
        problems.append("tables[%s] method %r is neither record nor text" % (key, method))
    return problems


def tables_problems(manifest):
    """Why a database manifest's ``tables`` cannot be checked against (empty: they can, or
    there are none): not an object, a malformed entry, a key format this collection does not
    read."""
    if manifest.get("kind") != "postgresql" or "tables" not in manifest:
        return []
    problems = []
    version = manifest.get(KEY_FORMAT_FIELD)
    if version is not None:
        if not isinstance(version, int) or isinstance(version, bool) or version < LEGACY_KEY_FORMAT:
            problems.append("%s %r is not a format number" % (KEY_FORMAT_FIELD, version))
        elif version > TABLE_KEY_FORMAT:
            problems.append("%s %s is newer than this collection reads" % (KEY_FORMAT_FIELD, version))
    tables = manifest["tables"]
    if not isinstance(tables, dict):
        problems.append("tables is not an object of table names")
    else:
        for key in sorted(tables, key=str):
            problems.extend(table_entry_problems(key, tables[key]))
    return problems


def has_tables(manifest):
    """Whether a database manifest records its tables (row counts, checksums) to check against."""
    return manifest.get("kind") != "postgresql" or isinstance(manifest.get("tables"), dict)
