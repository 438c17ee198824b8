"""SQL quoting, the checksum arithmetic and the content snapshot's logic, on fake sessions.

What PostgreSQL itself computes (order independence, methods, partitions, extension and temp
tables) is tested against the real server in tests/integration/test_pgsql_content.py.
"""

import re

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql


class FakeSession:
    """Answers the queries of content.py the way PostgreSQL would, from a table of facts.

    ``tables``: {"schema.table": {"oid": 16384, "rows": n, "sum": {"record": s, "text": s}}},
    or keyed by ``(schema, table)`` for names with a dot. The oids come back as strings, as
    jsonb renders the oid type; the tables in the server's order (by schema, then name).
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

    def _pairs(self):
        return sorted(
            ((key if isinstance(key, tuple) else tuple(key.split(".", 1))), t)
            for key, t in self.tables.items()
        )

    def _table(self, sql):
        match = re.search(r'FROM "((?:[^"]|"")*)"\."((?:[^"]|"")*)"( t)?$', sql.strip())
        schema, table = (part.replace('""', '"') for part in match.group(1, 2))
        return dict(self._pairs())[(schema, table)]

    def value(self, sql):
        self.queries.append(sql)
        if sql == pgsql.TABLES_SQL:
            return [
                {"schema": schema, "table": table, "oid": str(t["oid"]), "columns": t.get("columns", ["id"])}
                for (schema, table), t in self._pairs()
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


# -- table keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema,table,key",
    [
        ("audit", "log", "audit.log"),
        ("public", "order_items$2", "public.order_items$2"),
        ("_x", "_1", "_x._1"),
        ("public", "Orders", 'public."Orders"'),
        ("a.b", "c", '"a.b".c'),
        ("a", "b.c", 'a."b.c"'),
        ("public", 'odd "names"', 'public."odd ""names"""'),
        ("public", "1st", 'public."1st"'),
        ("public", "tâble", 'public."tâble"'),
        ("public", "", 'public.""'),
    ],
)
def test_table_keys_quote_a_part_only_when_it_is_not_a_plain_identifier(schema, table, key):
    assert pgsql.table_key(schema, table) == key
    assert pgsql.table_key(schema, table, key_format=1) == "%s.%s" % (schema, table)


def test_every_table_has_its_own_key():
    names = [("a.b", "c"), ("a", "b.c"), ("a", 'b"."c'), ('a"."b', "c"), ('a"', '"b'), ("a", "b")]
    keys = [pgsql.table_key(schema, table) for schema, table in names]
    assert len(set(keys)) == len(names)
    assert len({pgsql.table_key(schema, table, 1) for schema, table in names[:2]}) == 1  # 0.1.0's


def test_the_key_format_of_a_manifest():
    assert pgsql.key_format({"kind": "postgresql", "tables": {}}) == 1  # written by 0.1.0
    assert pgsql.key_format({"table_key_format": 2}) == pgsql.TABLE_KEY_FORMAT == 2


DOTTED = {
    ("a", "b.c"): {"oid": 16601, "rows": 1, "sum": {"record": 11, "text": 11}},
    ("a.b", "c"): {"oid": 16602, "rows": 2, "sum": {"record": 22, "text": 22}},
}


def test_tables_whose_dotted_names_join_alike_are_measured_and_checked_apart():
    expected = pgsql.content_snapshot(FakeSession(DOTTED))
    assert expected == {
        'a."b.c"': {"rows": 1, "checksum": "000000000000000b", "method": "record"},
        '"a.b".c': {"rows": 2, "checksum": "0000000000000016", "method": "record"},
    }
    changed = {key: dict(value, sum={"record": 99, "text": 99}) for key, value in DOTTED.items()}
    for key in DOTTED:
        tables = {**DOTTED, key: changed[key]}
        found, extra = pgsql.table_checks(FakeSession(tables), expected)
        assert extra == []
        problems = pgsql.compare_content(expected, found)
        assert len(problems) == 1 and "content checksum" in problems[0]
        assert problems[0].startswith(pgsql.table_key(*key) + " ")


def test_a_manifest_of_0_1_0_still_checks_and_names_what_it_does_not_describe():
    # 0.1.0 joined the names with a bare dot: both tables had the key "a.b.c", and its
    # manifest kept the last in the server's order, "a.b".c
    legacy = {
        "public.orders": {"rows": 3, "checksum": "000000000000000a", "method": "record"},
        "public.Mixed": {"rows": 2},
        "a.b.c": {"rows": 2, "checksum": "0000000000000016", "method": "record"},
    }
    tables = {
        **DOTTED,
        "public.orders": TABLES["public.orders"],
        "public.Mixed": {"oid": 16700, "rows": 2, "sum": {"record": 0, "text": 0}},
    }
    found, extra = pgsql.table_checks(FakeSession(tables), legacy, key_format=1)
    assert pgsql.compare_content(legacy, found) == []
    assert found["a.b.c"]["rows"] == 2
    assert extra == ['a."b.c"']  # measured by no one: it is named, not passed over
    tables[("a.b", "c")] = dict(DOTTED[("a.b", "c")], rows=5)
    found, _extra = pgsql.table_checks(FakeSession(tables), legacy, key_format=1)
    assert pgsql.compare_content(legacy, found) == ["a.b.c has 5 rows, the backup had 2"]


# -- the manifest's tables -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"tables": [1]}, "tables is not an object"),
        ({"tables": {"public.a": 5}}, "tables[public.a] is not an object"),
        ({"tables": {"public.a": {}}}, "tables[public.a] rows None is not a count of rows"),
        ({"tables": {"public.a": {"rows": "5"}}}, "tables[public.a] rows '5' is not a count"),
        ({"tables": {"public.a": {"rows": True}}}, "tables[public.a] rows True is not a count"),
        ({"tables": {"public.a": {"rows": -1}}}, "tables[public.a] rows -1 is not a count"),
        ({"tables": {"public.a": {"rows": 1, "checksum": "xyz"}}}, "checksum 'xyz' is not 16 hex digits"),
        (
            {"tables": {"public.a": {"rows": 1, "checksum": "00000000000000aa", "method": "md5"}}},
            "method 'md5'",
        ),
        ({"table_key_format": 3}, "table_key_format 3 is newer than this collection reads"),
        ({"table_key_format": "2"}, "table_key_format '2' is not a format number"),
        ({"table_key_format": 0}, "table_key_format 0 is not a format number"),
        ({"table_key_format": True}, "table_key_format True is not a format number"),
    ],
)
def test_tables_problems(changes, problem):
    manifest = dict(
        {"kind": "postgresql", "table_key_format": 2, "tables": {"public.a": {"rows": 1}}}, **changes
    )
    assert problem in "; ".join(pgsql.tables_problems(manifest))


def test_well_formed_tables_have_no_problems():
    good = {
        "public.a": {"rows": 3, "checksum": "00000000000000aa", "method": "record"},
        'public."B"': {"rows": 0, "checksum": "00000000000000bb", "method": "text"},
        "public.c": {"rows": 5},
    }
    assert pgsql.tables_problems({"kind": "postgresql", "table_key_format": 2, "tables": good}) == []
    assert pgsql.tables_problems({"kind": "postgresql", "tables": good}) == []  # 0.1.0
    assert pgsql.tables_problems({"kind": "postgresql-globals", "tables": 5}) == []


def test_has_tables():
    assert not pgsql.has_tables({"kind": "postgresql"})
    assert pgsql.has_tables({"kind": "postgresql", "tables": {}})
    assert pgsql.has_tables({"kind": "postgresql-globals"})
