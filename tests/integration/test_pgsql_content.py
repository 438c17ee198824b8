"""Row counts and content checksums (pg/content.py) and the backup plumbing (pg/dump.py,
pg/restore.py, pg/session.py) against
the real PostgreSQL of the local stack, as its superuser, in private databases that are
dropped afterwards. No Kubernetes and no playbook: these check what PostgreSQL computes."""

import os
import shutil
import subprocess
import time
import uuid

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
from ansible_collections.multiagent.ops.plugins.module_utils.pg import restore as pgrestore
from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

pytestmark = [pytest.mark.integration, pytest.mark.parallel]


@pytest.fixture(scope="module")
def pg(stack_facts):
    facts = stack_facts["postgresql"]
    with open(facts["superuser_password_file"]) as handle:
        password = handle.read().strip()
    conn = {"host": facts["host"], "port": facts["port"], "user": "postgres", "password": password}
    bin_dir = facts["bin_dir"]
    tools = {name: os.path.join(bin_dir, name) for name in ("pg_dump", "pg_dumpall", "pg_restore", "psql")}
    tools["zstd"] = shutil.which("zstd")
    return {"conn": conn, "tools": tools}


def connect(pg, dbname):
    return pg_session.PsycopgSession(pg_argv.psycopg_params(pg["conn"], dbname), autocommit=True)


@pytest.fixture(scope="module")
def admin(pg):
    session = connect(pg, "postgres")
    yield session
    session.close()


@pytest.fixture(scope="module")
def database(pg, admin):
    """A private database for this module (unique name), dropped at the end."""
    name = "maops_content_%s" % uuid.uuid4().hex[:10]
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(name))
    yield name
    admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % pgsql.quote_ident(name))


@pytest.fixture
def db(pg, database):
    """A session on the private database, emptied after each test."""
    session = connect(pg, database)
    yield session
    session.close()
    cleanup = connect(pg, database)
    schemas = cleanup.value(
        "SELECT coalesce(jsonb_agg(nspname), '[]')::text FROM pg_namespace "
        "WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') "
        "AND nspname NOT LIKE 'pg\\_%'"
    )
    for schema in schemas:
        cleanup.execute("DROP SCHEMA %s CASCADE" % pgsql.quote_ident(schema))
    cleanup.execute("DROP EXTENSION IF EXISTS hstore CASCADE")
    cleanup.execute("DROP SCHEMA public CASCADE")
    cleanup.execute("CREATE SCHEMA public")
    cleanup.close()


@pytest.fixture
def scratch_names(admin):
    """Unique database names for a test; dropped afterwards whatever happened."""
    names = []

    def make(stem):
        names.append("%s_%s" % (stem, uuid.uuid4().hex[:8]))
        return names[-1]

    yield make
    for name in names:
        admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % pgsql.quote_ident(name))


ROWS = [
    (
        i,
        "name %d" % i,
        "%d.%02d" % (i * 7, i % 100),
        '{"k": %d, "tags": ["a", "b"]}' % i,
        "\\x%02x00ff" % (i % 256),
    )
    for i in range(1, 201)
]


def fill(session, table, rows, columns="id int, name text, amount numeric, doc jsonb, data bytea"):
    session.execute("CREATE TABLE %s (%s)" % (table, columns))
    for row in rows:
        session.execute(
            "INSERT INTO %s VALUES (%s)" % (table, ", ".join(pgsql.quote_literal(value) for value in row))
        )


def measures(snapshot, key):
    return {k: v for k, v in snapshot[key].items() if k != "method"}


# -- checksums -----------------------------------------------------------------------------


def test_the_checksum_does_not_depend_on_row_order_or_storage(db):
    fill(db, "ascending", ROWS)
    fill(db, "descending", list(reversed(ROWS)))
    # move rows around physically as well: updates write new tuple versions elsewhere
    db.execute("UPDATE descending SET name = name || 'x' WHERE id % 3 = 0")
    db.execute("UPDATE descending SET name = left(name, -1) WHERE id % 3 = 0")
    db.execute("VACUUM FULL descending")
    snapshot = pgsql.content_snapshot(db)
    assert snapshot["public.ascending"]["rows"] == 200
    assert snapshot["public.ascending"] == snapshot["public.descending"]
    assert snapshot["public.ascending"]["method"] == "record"
    assert snapshot["public.ascending"]["checksum"] != "0000000000000000"


def test_the_row_of_live_columns_hashes_as_the_whole_row(db):
    """The snapshot hashes ROW(col, ...) of the live columns; the documented definition is
    the whole-row reference. They must agree, dropped columns, odd names and all."""
    fill(db, "dropped", ROWS)
    db.execute("ALTER TABLE dropped DROP COLUMN amount")
    db.execute("ALTER TABLE dropped ADD COLUMN extra text DEFAULT 'x'")
    db.execute('CREATE TABLE "odd ""names""" (t int, "T" text, "select" date)')
    db.execute(
        'INSERT INTO "odd ""names""" SELECT i, i::text, DATE \'2026-01-01\' + i FROM generate_series(1, 30) i'
    )
    db.execute("CREATE TABLE single (v text)")
    db.execute("INSERT INTO single SELECT md5(i::text) FROM generate_series(1, 30) i")
    db.execute("CREATE TABLE nothing ()")
    db.execute("INSERT INTO nothing DEFAULT VALUES")
    snapshot = pgsql.content_snapshot(db)
    assert {key for key, value in snapshot.items() if value["method"] == "record"} == {
        "public.dropped",
        'public."odd ""names"""',
        "public.single",
        "public.nothing",
    }
    for table in ("dropped", 'odd "names"', "single", "nothing"):
        key = pgsql.table_key("public", table)
        for method in ("record", "text"):
            whole_row = db.value(pgsql.checksum_sql("public", table, method))  # hashes t.*
            found, _extra = pgsql.table_checks(db, {key: {"checksum": "x", "method": method}})
            assert found[key]["checksum"] == pgsql.fold(whole_row["sum"]), (table, method)
            if method == "record":
                assert snapshot[key]["checksum"] == pgsql.fold(whole_row["sum"]), table
        assert snapshot[key]["rows"] == int(whole_row["rows"])
    assert snapshot["public.nothing"]["rows"] == 1


def test_the_text_method_is_order_independent_too(db):
    json_rows = [(i, '{"n": %d}' % i) for i in range(50)]
    fill(db, "j1", json_rows, "id int, doc json")
    fill(db, "j2", list(reversed(json_rows)), "id int, doc json")
    snapshot = pgsql.content_snapshot(db)
    assert snapshot["public.j1"]["method"] == "text"
    assert snapshot["public.j1"] == snapshot["public.j2"]


@pytest.mark.parametrize(
    "change,problem",
    [
        ("UPDATE t SET amount = amount + 0.01 WHERE id = 17", "content checksum"),
        ("UPDATE t SET name = 'Name 17' WHERE id = 17", "content checksum"),
        ('UPDATE t SET doc = \'{"k": 17, "tags": ["b", "a"]}\' WHERE id = 17', "content checksum"),
        ("UPDATE t SET data = '\\x00' WHERE id = 17", "content checksum"),
        ("UPDATE t SET name = NULL WHERE id = 17", "content checksum"),
        # a row duplicated in place of another: same count, different content
        ("DELETE FROM t WHERE id = 18; INSERT INTO t SELECT * FROM t WHERE id = 17", "content checksum"),
        # two rows swapping a value: every column's multiset is the same, the rows are not
        (
            "UPDATE t SET name = CASE id WHEN 1 THEN 'name 2' ELSE 'name 1' END WHERE id IN (1, 2)",
            "content checksum",
        ),
        ("INSERT INTO t SELECT * FROM t WHERE id = 17", "has 201 rows, the backup had 200"),
        ("DELETE FROM t WHERE id = 200", "has 199 rows, the backup had 200"),
    ],
)
def test_a_change_is_detected(db, change, problem):
    fill(db, "t", ROWS)
    expected = pgsql.content_snapshot(db)
    db.execute("BEGIN")
    try:
        db.execute(change)
        found, extra = pgsql.table_checks(db, expected)
        problems = pgsql.compare_content(expected, found)
    finally:
        db.execute("ROLLBACK")
    assert extra == []
    assert len(problems) == 1 and problems[0].startswith("public.t ") and problem in problems[0]
    assert pgsql.compare_content(expected, pgsql.table_checks(db, expected)[0]) == []


@pytest.mark.parametrize(
    "columns,values,method",
    [
        ("a int, b text", "1, 'x'", "record"),
        ("a jsonb", "'{\"a\": 1}'", "record"),
        ("a int[], r int4range, m tstzmultirange", "'{1,2}', '[1,5)', '{[2026-01-01,2026-02-01)}'", "record"),
        (
            "a uuid, b inet, c interval, d timestamptz",
            "gen_random_uuid(), '10.0.0.1', '1 day', now()",
            "record",
        ),
        ("a json", "'{}'", "text"),
        ("a point", "'(1,2)'", "text"),
        ("a int, b xml", "1, '<x/>'", "text"),
        ("a point[]", "ARRAY[point(1,2)]", "text"),
        ("a json_domain", "'[1]'", "text"),
        ("a pair", "ROW(1, 'x')", "text"),
    ],
)
def test_the_method_follows_the_column_types(db, columns, values, method):
    db.execute("CREATE DOMAIN json_domain AS json")
    db.execute("CREATE TYPE pair AS (n int, s text)")
    db.execute("CREATE TABLE t (%s)" % columns)
    db.execute("INSERT INTO t VALUES (%s)" % values)
    snapshot = pgsql.content_snapshot(db)
    assert snapshot["public.t"]["method"] == method
    assert snapshot["public.t"]["rows"] == 1
    # the manifest's method is what a later check uses, and it gives the same answer
    found, _extra = pgsql.table_checks(db, snapshot)
    assert found == snapshot


# -- which tables count ----------------------------------------------------------------------


def test_missing_and_extra_tables(db):
    fill(db, "kept", ROWS[:3])
    fill(db, "dropped", ROWS[:2])
    expected = pgsql.content_snapshot(db)
    db.execute("DROP TABLE dropped")
    db.execute("CREATE SCHEMA audit")
    db.execute("CREATE TABLE audit.added (a int)")
    found, extra = pgsql.table_checks(db, expected)
    assert found["public.dropped"] is None
    assert found["public.kept"] == expected["public.kept"]
    assert extra == ["audit.added"]
    assert pgsql.compare_content(expected, found) == ["public.dropped is missing"]


def test_partitioned_tables_are_counted_through_their_leaves(db):
    db.execute("CREATE TABLE events (at date NOT NULL, kind text, n int) PARTITION BY RANGE (at)")
    db.execute(
        "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
    )
    db.execute(
        "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') "
        "PARTITION BY LIST (kind)"
    )
    db.execute("CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES IN ('a')")
    db.execute("CREATE TABLE events_2026_rest PARTITION OF events_2026 DEFAULT")
    db.execute(
        "INSERT INTO events SELECT d::date, CASE WHEN n % 2 = 0 THEN 'a' ELSE 'b' END, n "
        "FROM generate_series(1, 100) n, LATERAL (SELECT date '2025-12-01' + n AS d) x"
    )
    snapshot = pgsql.content_snapshot(db)
    assert sorted(snapshot) == ["public.events_2025", "public.events_2026_a", "public.events_2026_rest"]
    assert snapshot["public.events_2025"]["rows"] == 30
    assert snapshot["public.events_2026_a"]["rows"] == 35
    assert snapshot["public.events_2026_rest"]["rows"] == 35
    assert sum(v["rows"] for v in snapshot.values()) == 100


def test_extension_owned_and_temporary_tables_are_left_out(db):
    db.execute("CREATE EXTENSION hstore")
    db.execute("CREATE TABLE extension_config (k text)")
    db.execute("ALTER EXTENSION hstore ADD TABLE extension_config")
    db.execute("CREATE TEMP TABLE session_scratch (a int)")
    db.execute("INSERT INTO session_scratch VALUES (1)")
    db.execute("CREATE UNLOGGED TABLE cache (a int)")  # dumped by pg_dump, so counted
    db.execute("CREATE TABLE kv (h hstore)")  # hstore has a hash opclass
    db.execute("INSERT INTO kv VALUES ('a=>1')")
    db.execute("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a")
    db.execute("CREATE VIEW v AS SELECT 1 AS a")
    snapshot = pgsql.content_snapshot(db)
    assert sorted(snapshot) == ["public.cache", "public.kv"]
    assert snapshot["public.kv"]["method"] == "record"


def test_exclude_data_is_honoured(db):
    db.execute("CREATE SCHEMA audit")
    for table in ("public.keep", "public.big", "audit.log", "audit.big"):
        db.execute("CREATE TABLE %s (a int)" % table)
    snapshot = pgsql.content_snapshot(db, exclude_data=["big", "audit.log"])
    assert sorted(snapshot) == ["audit.big", "public.keep"]


def test_tables_whose_names_join_alike_with_a_dot_are_told_apart(db):
    """0.1.0 keyed "a.b".c and a."b.c" both as a.b.c: one of them was never checked."""
    for schema, table, rows in (("a.b", "c", 2), ("a", "b.c", 3), ("a", "b", 1)):
        db.execute("CREATE SCHEMA IF NOT EXISTS %s" % pgsql.quote_ident(schema))
        db.execute("CREATE TABLE %s (n int)" % pgsql.qualified(schema, table))
        db.execute("INSERT INTO %s SELECT generate_series(1, %d)" % (pgsql.qualified(schema, table), rows))
    snapshot = pgsql.content_snapshot(db)
    assert {key: value["rows"] for key, value in snapshot.items()} == {'"a.b".c': 2, 'a."b.c"': 3, "a.b": 1}
    for schema, table in (("a.b", "c"), ("a", "b.c")):
        db.execute("BEGIN")
        try:
            db.execute("UPDATE %s SET n = n + 100 WHERE n = 1" % pgsql.qualified(schema, table))
            problems = pgsql.compare_content(snapshot, pgsql.table_checks(db, snapshot)[0])
        finally:
            db.execute("ROLLBACK")
        assert len(problems) == 1, problems
        assert problems[0].startswith(pgsql.table_key(schema, table) + " content checksum "), problems
    # a manifest of 0.1.0 (bare dotted keys, no table_key_format) still checks: its key
    # stands for the table it recorded, the last in the server's order; the other is named
    legacy = {"a.b.c": snapshot['"a.b".c'], "a.b": snapshot["a.b"]}
    found, extra = pgsql.table_checks(db, legacy, key_format=1)
    assert pgsql.compare_content(legacy, found) == [] and extra == ['a."b.c"']


def test_names_that_need_quoting(db):
    schema, table = 'Sch "ema"', 'tä ble "x"; --'
    db.execute("CREATE SCHEMA %s" % pgsql.quote_ident(schema))
    db.execute("CREATE TABLE %s (a int)" % pgsql.qualified(schema, table))
    db.execute("INSERT INTO %s VALUES (1), (2)" % pgsql.qualified(schema, table))
    snapshot = pgsql.content_snapshot(db)
    key = pgsql.table_key(schema, table)
    assert list(snapshot) == [key] and snapshot[key]["rows"] == 2
    assert pgsql.table_checks(db, snapshot) == (snapshot, [])


# -- through pg_dump and pg_restore ----------------------------------------------------------


def direct(pg):
    return pg_session.Target("direct", dict(pg["conn"], maintenance_db="postgres"), pg["tools"])


def test_backup_and_restore_keep_the_checksums(pg, admin, scratch_names, tmp_path):
    # names libpq tools would otherwise read as connection strings
    source = scratch_names("maops src=x'")
    restored = scratch_names("maops dst=y")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    session = connect(pg, source)
    try:
        fill(session, "t", ROWS)
        fill(session, "j", [(1, '{"a": [1, 2]}'), (2, "[]")], "id int, doc json")
        session.execute("CREATE TABLE p (at date, v float8) PARTITION BY RANGE (at)")
        session.execute("CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
        session.execute("INSERT INTO p SELECT '2026-01-01'::date + n, n / 3.0 FROM generate_series(0, 99) n")
        session.execute("CREATE TABLE skipped (a int)")
        session.execute("INSERT INTO skipped VALUES (1)")
        live = pgsql.content_snapshot(session, exclude_data=["skipped"])
    finally:
        session.close()

    target = direct(pg)
    manifest, path = pgbackup.backup_database(
        target, source, str(tmp_path), exclude_table_data=["public.skipped"]
    )
    assert artifact.verify_file(path) == (manifest, [])
    assert manifest["tables"] == live
    assert {v["method"] for v in live.values()} == {"record", "text"}

    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(restored))
    checks = pgrestore.restore_database(target, path, manifest, restored, no_owner=True)
    assert checks["problems"] == []
    assert checks["tables_checked"] == 3 and checks["rows_checked"] == 302
    assert checks["extra_tables"] == ["public.skipped"]  # its definition only

    session = connect(pg, restored)
    try:
        assert session.text("SELECT count(*) FROM skipped") == 0
        session.execute("UPDATE p_1 SET v = v + 1e-9 WHERE at = '2026-02-01'")
    finally:
        session.close()
    problems = pgrestore.check_restored(target, restored, manifest)["problems"]
    assert len(problems) == 1 and problems[0].startswith("public.p_1 content checksum")


def test_a_restore_checks_each_of_two_tables_whose_names_join_alike(pg, admin, scratch_names, tmp_path):
    source = scratch_names("maops_dots")
    restored = scratch_names("maops_dots_r")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    session = connect(pg, source)
    try:
        for schema, table, rows in (("a.b", "c", 2), ("a", "b.c", 3)):
            session.execute("CREATE SCHEMA IF NOT EXISTS %s" % pgsql.quote_ident(schema))
            session.execute("CREATE TABLE %s (n int)" % pgsql.qualified(schema, table))
            session.execute(
                "INSERT INTO %s SELECT generate_series(1, %d)" % (pgsql.qualified(schema, table), rows)
            )
    finally:
        session.close()
    target = direct(pg)
    manifest, path = pgbackup.backup_database(target, source, str(tmp_path))
    assert manifest["table_key_format"] == 2 and sorted(manifest["tables"]) == ['"a.b".c', 'a."b.c"']
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(restored))
    checks = pgrestore.restore_database(target, path, manifest, restored, no_owner=True)
    assert checks["problems"] == [] and checks["tables_checked"] == 2 and checks["rows_checked"] == 5
    session = connect(pg, restored)
    try:
        session.execute('UPDATE a."b.c" SET n = n + 100 WHERE n = 1')  # the table 0.1.0 never checked
    finally:
        session.close()
    problems = pgrestore.check_restored(target, restored, manifest)["problems"]
    assert len(problems) == 1 and problems[0].startswith('a."b.c" content checksum'), problems


def test_a_pgpass_line_with_separators_logs_in(pg, admin, tmp_path):
    role = "maops_pgpass_%s" % uuid.uuid4().hex[:8]
    password = "a:b\\c d'e*"
    admin.execute(
        "CREATE ROLE %s LOGIN PASSWORD %s" % (pgsql.quote_ident(role), pgsql.quote_literal(password))
    )
    try:
        conn = dict(pg["conn"], user=role, password=password)
        argv = [
            pg["tools"]["psql"],
            "-X",
            "-A",
            "-t",
            "--no-password",
            "-d",
            "postgres",
            "-c",
            "SELECT current_user",
        ]
        with pg_argv.pgpass_env(conn) as env:
            ok = subprocess.run(
                argv, capture_output=True, text=True, env=env, pass_fds=env.pass_fds, timeout=60, check=False
            )
        with pg_argv.pgpass_env(dict(conn, password="a:b\\c d'f*")) as env:
            wrong = subprocess.run(
                argv, capture_output=True, text=True, env=env, pass_fds=env.pass_fds, timeout=60, check=False
            )
    finally:
        admin.execute("DROP ROLE %s" % pgsql.quote_ident(role))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == role
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr


def test_a_database_level_timezone_does_not_change_the_checksums(pg, admin, scratch_names, tmp_path):
    # ALTER DATABASE ... SET is not in a -Fc dump restored without --create: the scratch
    # database of a verify runs with the server's settings, the source with its own.
    source = scratch_names("maops_tz_src")
    scratch = scratch_names("maops_tz_verify")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    admin.execute(
        "ALTER DATABASE %s SET timezone = 'Pacific/Chatham'; " % pgsql.quote_ident(source)
        + "ALTER DATABASE %s SET datestyle = 'SQL, DMY'; " % pgsql.quote_ident(source)
        + "ALTER DATABASE %s SET intervalstyle = 'iso_8601'; " % pgsql.quote_ident(source)
        + "ALTER DATABASE %s SET extra_float_digits = 0; " % pgsql.quote_ident(source)
        + "ALTER DATABASE %s SET bytea_output = 'escape'" % pgsql.quote_ident(source)
    )
    session = connect(pg, source)
    try:
        session.execute(
            "CREATE TABLE events (id int, doc json, at timestamptz, d date, span interval, f float8, b bytea)"
        )
        session.execute(
            "INSERT INTO events SELECT n, '{\"n\": 1}', "
            "'2026-03-01 12:00:00+00'::timestamptz + n * interval '1 h', "
            "'2026-03-01'::date + n, n * interval '90 min', n / 3.0, '\\x00ff'::bytea "
            "FROM generate_series(1, 50) n"
        )
    finally:
        session.close()
    target = direct(pg)
    manifest, path = pgbackup.backup_database(target, source, str(tmp_path))
    assert manifest["tables"]["public.events"]["method"] == "text"
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(scratch))
    checks = pgrestore.restore_database(target, path, manifest, scratch, no_owner=True)
    assert checks["problems"] == [] and checks["rows_checked"] == 50
    # and checked in the source database itself (its own settings), it matches too
    assert pgrestore.check_restored(target, source, manifest)["problems"] == []


def test_exclude_table_data_names_exactly_one_table(pg, admin, scratch_names, tmp_path):
    source = scratch_names("maops_excl")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    session = connect(pg, source)
    try:
        for table in ("audit", "Audit", "audit_x", "auditxlog"):
            session.execute("CREATE TABLE %s (a int)" % pgsql.quote_ident(table))
            session.execute("INSERT INTO %s VALUES (1), (2)" % pgsql.quote_ident(table))
    finally:
        session.close()
    target = direct(pg)
    # "Audit" unquoted folds to audit; "audit_x" is not a pattern for audit.x or auditxlog
    manifest, path = pgbackup.backup_database(
        target, source, str(tmp_path), exclude_table_data=["Audit", 'public."Audit"', "audit_x"]
    )
    assert sorted(manifest["tables"]) == ["public.auditxlog"]
    scratch = scratch_names("maops_excl_v")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(scratch))
    checks = pgrestore.restore_database(target, path, manifest, scratch, no_owner=True)
    assert checks["problems"] == []
    session = connect(pg, scratch)
    try:
        assert session.text('SELECT (SELECT count(*) FROM "Audit") + (SELECT count(*) FROM audit)') == 0
        assert session.text("SELECT count(*) FROM auditxlog") == 2
    finally:
        session.close()
    for bad, message in (("audit*", "pattern character"), ("audti", "matches no table")):
        with pytest.raises(pgsql.SqlError, match=message):
            pgbackup.backup_database(target, source, str(tmp_path), exclude_table_data=[bad])
    with pytest.raises(BackupError, match="would change what is dumped"):
        pgbackup.backup_database(target, source, str(tmp_path), extra_args=["--table=audit"])


def test_a_partial_restore_that_committed_is_not_a_failure(pg, admin, scratch_names, tmp_path):
    source = scratch_names("maops_part")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    session = connect(pg, source)
    try:
        session.execute("CREATE TABLE a_small (id int)")
        session.execute("INSERT INTO a_small SELECT generate_series(1, 10)")
        session.execute("CREATE TABLE z_big (id int, pad text)")
        session.execute(
            "INSERT INTO z_big SELECT n, md5(n::text) || random()::text FROM generate_series(1, 300000) n"
        )
    finally:
        session.close()
    target = direct(pg)
    _manifest, path = pgbackup.backup_database(target, source, str(tmp_path), checksums=False)
    scratch = scratch_names("maops_part_r")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(scratch))
    for extra in (["--schema-only"], ["--table=a_small"]):
        argv = pg_argv.pg_restore_argv(pg["tools"]["pg_restore"], scratch, extra=extra)
        target.restore_from(path, argv, pg["tools"]["zstd"], "pg_restore into %s" % scratch)
    session = connect(pg, scratch)
    try:
        assert session.text("SELECT count(*) FROM a_small") == 10
    finally:
        session.close()


def test_a_session_holding_a_table_fails_the_restore_after_its_lock_timeout(
    pg, admin, scratch_names, tmp_path
):
    """pg_restore --clean must drop the table; a session that keeps it open (connected again
    after the others were ended) would hang the restore for ever: with lock_timeout it fails,
    rolled back, and the database is as it was."""
    source = scratch_names("maops_lockwait")
    admin.execute("CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(source))
    session = connect(pg, source)
    try:
        session.execute("CREATE TABLE t (id int)")
        session.execute("INSERT INTO t SELECT generate_series(1, 5)")
    finally:
        session.close()
    target = direct(pg)
    manifest, path = pgbackup.backup_database(target, source, str(tmp_path))
    holder = connect(pg, source)
    try:
        holder_pid = holder.text("SELECT pg_backend_pid()")
        holder.execute("INSERT INTO t VALUES (6)")
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM t")  # ACCESS SHARE until the transaction ends
        started = time.monotonic()
        with pytest.raises(BackupError) as info:
            pgrestore.restore_database(target, path, manifest, source, lock_timeout=1.5, watch_session=admin)
        assert time.monotonic() - started < 60
        message = str(info.value)
        assert message.startswith("pg_restore waited more than 1.5s for a lock on %s" % source)
        assert (
            "held by pid %s (user postgres, application multiagent.ops, client 127.0.0.1" % holder_pid
            in message
        )
        assert "idle in transaction: SELECT count(*) FROM t" in message
        holder.execute("COMMIT")
        assert holder.text("SELECT count(*) FROM t") == 6  # rolled back: the row added after the backup
    finally:
        holder.close()
