"""SQL quoting, the checksum arithmetic and the content snapshot's logic, on fake sessions.

What PostgreSQL itself computes (order independence, methods, partitions, extension and temp
tables) is tested against the real server in tests/integration/test_pgsql_content.py.
"""

import queue
import re

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql


class FakeSession:
    """Answers the queries of pgsql.py the way PostgreSQL would, from a table of facts.

    ``tables``: {"schema.table": {"oid": 16384, "rows": n, "sum": {"record": s, "text": s}}}.
    The oids come back as strings, as jsonb renders the oid type.
    """

    def __init__(self, tables, unhashable=(), version=150008):
        self.tables = tables
        self.unhashable = list(unhashable)
        self.version = version
        self.queries = []
        self.executed = []

    def execute(self, sql):
        self.executed.append(sql)
        self.queries.append(sql)

    def _table(self, sql):
        match = re.search(r'FROM "((?:[^"]|"")*)"\."((?:[^"]|"")*)"( t)?$', sql.strip())
        schema, table = (part.replace('""', '"') for part in match.group(1, 2))
        return self.tables["%s.%s" % (schema, table)]

    def value(self, sql):
        self.queries.append(sql)
        if sql == pgsql.TABLES_SQL:
            return [
                {
                    "schema": key.split(".", 1)[0],
                    "table": key.split(".", 1)[1],
                    "oid": str(t["oid"]),
                    "columns": t.get("columns", ["id"]),
                }
                for key, t in sorted(self.tables.items())
            ]
        if sql == pgsql.UNHASHABLE_SQL:
            return self.unhashable
        table = self._table(sql)
        if "'sum'" not in sql:
            return {"rows": table["rows"]}
        method = "record" if "hash_record_extended(" in sql else "text"
        if method == "record" and table["oid"] in self.unhashable:
            raise pgsql.SqlError("could not identify an extended hash function for type json")
        return {"rows": table["rows"], "sum": str(table["sum"][method])}

    def text(self, sql):
        self.queries.append(sql)
        assert sql == "SELECT current_setting('server_version_num')"
        return str(self.version)

    def checksum_queries(self):
        return [q for q in self.queries if "'sum'" in q]


TABLES = {
    "public.orders": {
        "oid": 16390,
        "rows": 3,
        "sum": {"record": 10, "text": -1},
        "columns": ["id", "total", "Note"],
    },
    "public.events": {"oid": 16400, "rows": 2, "sum": {"record": 1 << 64, "text": 7}},
    "audit.log": {"oid": 16410, "rows": 0, "sum": {"record": 0, "text": 0}},
}


# -- quoting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,quoted",
    [
        ("orders", '"orders"'),
        ("Orders", '"Orders"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("order items", '"order items"'),
        ("tâble_ü_日本", '"tâble_ü_日本"'),
        ("a.b", '"a.b"'),
        ("x'; DROP TABLE t; --", '"x\'; DROP TABLE t; --"'),
    ],
)
def test_quote_ident(name, quoted):
    assert pgsql.quote_ident(name) == quoted


def test_quote_literal_and_qualified():
    assert pgsql.quote_literal("it's") == "'it''s'"
    assert pgsql.quote_literal("plain") == "'plain'"
    assert pgsql.qualified('my "schema"', "t 1") == '"my ""schema"""."t 1"'
    assert pgsql.table_key("audit", "log") == "audit.log"


def test_checksum_sql_names_its_method_and_the_quoted_table():
    record = pgsql.checksum_sql("s", 'we"ird', "record")
    text = pgsql.checksum_sql("s", 'we"ird', "text")
    # the record hash is linear in the column hashes: it is hashed again before the sum
    assert "sum(hashint8extended(hash_record_extended(t.*, 0), 0))" in record
    assert "sum(hashtextextended((t.*)::text, 0))" in text and "hash_record" not in text
    for sql in (record, text):
        assert sql.endswith('FROM "s"."we""ird" t')
        assert "count(*)" in sql


def test_checksum_sql_with_columns_hashes_a_row_of_the_quoted_columns():
    record = pgsql.checksum_sql("s", "x", "record", ("id", 'a "b"', "t"))
    # every column qualified: a column named like the alias is still the column
    assert 'hash_record_extended(ROW(t."id", t."a ""b""", t."t"), 0)' in record
    assert pgsql.checksum_sql("s", "x", "record", ()).count("hash_record_extended(ROW(), 0)") == 1
    assert 'hashtextextended((ROW(t."id"))::text, 0)' in pgsql.checksum_sql("s", "x", "text", ("id",))


# -- fold ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total,folded",
    [
        (0, "0000000000000000"),
        (255, "00000000000000ff"),
        (-1, "ffffffffffffffff"),
        ((1 << 64) + 5, "0000000000000005"),
        ("-15749809616222850573", "%016x" % (-15749809616222850573 % (1 << 64))),
        ("1248563905121608597", "1153ca41ac25e395"),
    ],
)
def test_fold(total, folded):
    assert pgsql.fold(total) == folded
    assert len(pgsql.fold(total)) == 16


def test_fold_of_a_sum_does_not_depend_on_the_order_of_the_rows():
    hashes = [(-1) ** i * (i * 0x9E3779B97F4A7C15) for i in range(50)]
    assert pgsql.fold(sum(hashes)) == pgsql.fold(sum(reversed(hashes)))
    assert pgsql.fold(sum(hashes)) != pgsql.fold(sum(hashes[:-1]) + hashes[0])  # one row duplicated


# -- compare_content -----------------------------------------------------------------------


EXPECTED = {
    "public.a": {"rows": 3, "checksum": "00000000000000aa", "method": "record"},
    "public.b": {"rows": 2, "checksum": "00000000000000bb", "method": "text"},
    "public.c": {"rows": 5},
}


def test_compare_equal_content():
    found = {key: dict(value) for key, value in EXPECTED.items()}
    assert pgsql.compare_content(EXPECTED, found) == []


def test_compare_content_messages():
    found = {
        "public.a": {"rows": 4, "checksum": "00000000000000ff", "method": "record"},
        "public.b": {"rows": 2, "checksum": "00000000000000cc", "method": "text"},
        "public.c": None,
    }
    assert pgsql.compare_content(EXPECTED, found) == [
        "public.a has 4 rows, the backup had 3",
        "public.b content checksum 00000000000000cc differs from the backup's 00000000000000bb "
        "(same row count)",
        "public.c is missing",
    ]


def test_compare_without_a_checksum_compares_rows_only():
    assert pgsql.compare_content({"public.c": {"rows": 5}}, {"public.c": {"rows": 5, "checksum": "x"}}) == []
    assert pgsql.compare_content({"public.c": {"rows": 5}}, {}) == ["public.c is missing"]


# -- list_tables, content_snapshot, table_checks (logic) -----------------------------------


def test_list_tables_gives_integer_oids_and_honours_exclude_data():
    session = FakeSession(TABLES)
    assert pgsql.list_tables(session) == [
        ("audit", "log", 16410, ("id",)),
        ("public", "events", 16400, ("id",)),
        ("public", "orders", 16390, ("id", "total", "Note")),
    ]
    assert pgsql.list_tables(session, ["events", "audit.log"]) == [
        ("public", "orders", 16390, ("id", "total", "Note"))
    ]
    # a bare name means the public schema only
    assert [t.name for t in pgsql.list_tables(session, ["log"])] == ["log", "events", "orders"]


def test_snapshot_uses_text_only_for_the_unhashable_tables():
    session = FakeSession(TABLES, unhashable=[16400])
    snapshot = pgsql.content_snapshot(session)
    assert snapshot == {
        "audit.log": {"rows": 0, "checksum": "0000000000000000", "method": "record"},
        "public.events": {"rows": 2, "checksum": "0000000000000007", "method": "text"},
        "public.orders": {"rows": 3, "checksum": "000000000000000a", "method": "record"},
    }
    # each table's own live columns, not the whole-row reference
    assert sum('ROW(t."id", t."total", t."Note")' in q for q in session.checksum_queries()) == 1


def test_snapshot_before_postgresql_14_uses_text_everywhere():
    session = FakeSession(TABLES, version=130012)
    snapshot = pgsql.content_snapshot(session)
    assert {v["method"] for v in snapshot.values()} == {"text"}
    assert snapshot["public.orders"]["checksum"] == "ffffffffffffffff"
    assert pgsql.UNHASHABLE_SQL not in session.queries
    assert all("hash_record_extended" not in q for q in session.queries)


def test_snapshot_without_checksums_counts_rows_only():
    session = FakeSession(TABLES)
    assert pgsql.content_snapshot(session, checksums=False) == {
        "audit.log": {"rows": 0},
        "public.events": {"rows": 2},
        "public.orders": {"rows": 3},
    }
    assert session.checksum_queries() == []


def test_checksums_are_taken_with_the_text_settings_pinned():
    # A database-level "ALTER DATABASE ... SET timezone" (not in a -Fc dump restored without
    # --create) must not change the text form the checksums hash.
    for name, value in (
        ("TimeZone", "UTC"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("extra_float_digits", "3"),
        ("bytea_output", "hex"),
    ):
        assert "set_config('%s', '%s', false)" % (name, value) in pgsql.PIN_SQL
    session = FakeSession(TABLES, unhashable=[16400])
    pgsql.content_snapshot(session)
    first_checksum = min(i for i, q in enumerate(session.queries) if "'sum'" in q)
    assert pgsql.PIN_SQL in session.queries[:first_checksum]
    session = FakeSession(TABLES)
    pgsql.table_checks(
        session, {"public.events": {"rows": 2, "checksum": "0000000000000007", "method": "text"}}
    )
    first_checksum = min(i for i, q in enumerate(session.queries) if "'sum'" in q)
    assert pgsql.PIN_SQL in session.queries[:first_checksum]


class ResolveSession:
    def __init__(self, known):
        self.known = known
        self.asked = []

    def value(self, sql):
        assert sql.startswith(pgsql.RESOLVE_SQL.split("%s", maxsplit=1)[0])
        name = re.search(r"to_regclass\('((?:[^']|'')*)'\)", sql).group(1).replace("''", "'")
        self.asked.append(name)
        if name == "a.b.c.d":
            raise pgsql.SqlError("improper relation name (too many dotted names): a.b.c.d")
        return self.known.get(name)


def test_resolve_tables_names_exactly_the_tables_the_server_finds():
    session = ResolveSession(
        {"audit": ["public", "audit"], 'public."Audit"': ["public", "Audit"], "x.y": ["x", "y"]}
    )
    assert pgsql.resolve_tables(session, ["audit", 'public."Audit"', "x.y", "audit"]) == [
        ("public", "audit"),
        ("public", "Audit"),
        ("x", "y"),
    ]
    assert session.asked == ["audit", 'public."Audit"', "x.y", "audit"]
    assert pgsql.resolve_tables(session, []) == []


@pytest.mark.parametrize(
    "name,message",
    [
        ("public.audit_*", "has a pattern character"),
        ("audi?", "has a pattern character"),
        ("public.adit", "'public.adit' matches no table"),
        ("a.b.c.d", "'a.b.c.d' is not a table name: improper relation name"),
    ],
)
def test_resolve_tables_refuses_patterns_typos_and_bad_names(name, message):
    with pytest.raises(pgsql.SqlError, match=re.escape(message)):
        pgsql.resolve_tables(ResolveSession({}), [name])


def test_list_tables_excludes_resolved_pairs_exactly():
    tables = dict(TABLES, **{"a.b.c": {"oid": 16500, "rows": 1, "sum": {"record": 1, "text": 1}}})
    session = FakeSession(tables)
    # schema "a", table "b.c" is not schema "a.b", table "c"
    assert [(t.schema, t.name) for t in pgsql.list_tables(session, [("a.b", "c")])] == [
        ("a", "b.c"),
        ("audit", "log"),
        ("public", "events"),
        ("public", "orders"),
    ]
    assert [(t.schema, t.name) for t in pgsql.list_tables(session, [("a", "b.c"), ("public", "events")])] == [
        ("audit", "log"),
        ("public", "orders"),
    ]


def test_snapshot_of_a_database_without_tables_asks_nothing_more():
    session = FakeSession({})
    assert pgsql.content_snapshot(session) == {}
    assert session.queries == [pgsql.TABLES_SQL]


def test_snapshot_honours_exclude_data():
    snapshot = pgsql.content_snapshot(FakeSession(TABLES), exclude_data=["orders"])
    assert sorted(snapshot) == ["audit.log", "public.events"]


def test_table_checks_use_the_manifests_methods_and_name_missing_and_extra_tables():
    session = FakeSession(TABLES, unhashable=[16400])
    expected = {
        "public.orders": {"rows": 3, "checksum": "000000000000000a", "method": "record"},
        "public.events": {"rows": 2, "checksum": "0000000000000007", "method": "text"},
        "public.gone": {"rows": 1, "checksum": "0000000000000001", "method": "record"},
        "audit.log": {"rows": 0},
    }
    found, extra = pgsql.table_checks(session, expected)
    assert found == {
        "audit.log": {"rows": 0},
        "public.events": {"rows": 2, "checksum": "0000000000000007", "method": "text"},
        "public.gone": None,
        "public.orders": {"rows": 3, "checksum": "000000000000000a", "method": "record"},
    }
    assert extra == []
    assert pgsql.compare_content(expected, found) == ["public.gone is missing"]

    found, extra = pgsql.table_checks(session, {"public.orders": expected["public.orders"]})
    assert extra == ["audit.log", "public.events"]


def test_table_checks_default_to_text_when_the_manifest_names_no_method():
    session = FakeSession(TABLES)
    found, _extra = pgsql.table_checks(session, {"public.orders": {"rows": 3, "checksum": "x"}})
    assert found["public.orders"]["method"] == "text"
    assert found["public.orders"]["checksum"] == "ffffffffffffffff"


# -- PsqlSession (in-cluster) on a fake exec -----------------------------------------------


class FakePsqlExec:
    """psql in a pod: answers each statement written to stdin, then the marker line. The
    output arrives in odd-sized pieces, as websocket frames do."""

    timeout = 5

    def __init__(self, answers, die_on=None):
        self.answers = answers
        self.die_on = die_on
        self.inbox = queue.Queue()
        self.written = []
        self.closed = False

    def write(self, data):
        self.written.append(data)
        self.inbox.put(data)

    def close_stdin(self):
        self.inbox.put(None)

    def close(self):
        self.closed = True

    def failure(self, what):
        return "%s in pod db/pg-0 failed (exit code 3): no message; stderr: FATAL: bad" % what

    def pump(self, feed):
        while True:
            data = self.inbox.get()
            if data is None or data == b"\\q\n":
                return 0
            text = data.decode()
            statement, mark = text.split(";\n\\echo ")
            if statement == self.die_on:
                return 3
            out = "".join(line + "\n" for line in self.answers[statement]) + mark
            encoded = out.encode()
            for start in range(0, len(encoded), 7):
                feed(encoded[start : start + 7])


def test_psql_session_reads_each_answer_up_to_its_marker():
    fake = FakePsqlExec(
        {
            "SELECT 1": ["1"],
            "SELECT '[1, 2]'": ["", '{"rows": 2, "sum": "-5"}'],
            "CREATE TABLE x (a int)": [],
        }
    )
    session = pgsql.PsqlSession(fake)
    assert session.text("SELECT 1;") == "1"
    assert session.value("SELECT '[1, 2]'") == {"rows": 2, "sum": "-5"}
    session.execute("CREATE TABLE x (a int)")
    assert fake.written[0] == ("SELECT 1;\n\\echo %s\n" % pgsql.PsqlSession.MARK).encode()
    session.close()
    assert fake.written[-1] == b"\\q\n" and fake.closed


def test_psql_session_that_ends_raises_naming_the_statement_and_cause():
    fake = FakePsqlExec({}, die_on="SELECT broken")
    session = pgsql.PsqlSession(fake)
    with pytest.raises(pgsql.SqlError) as info:
        session.value("SELECT broken")
    assert str(info.value) == (
        "SELECT broken: psql ended: psql in pod db/pg-0 failed (exit code 3): no message; stderr: FATAL: bad"
    )
