"""The tools' argument lists, the connection they get, and the password, which never appears
in an argument list (pg/argv.py); the pgpass wrapper script run here in real shells."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv

PASSWORD = "s3cr:et\\pa ss'word"


@pytest.mark.parametrize(
    "args,line",
    [
        (("db.example", 5432, "mplp", "mplp", "pw"), "db.example:5432:*:mplp:pw"),
        (("h", 5432, "*", "u", "a:b"), "h:5432:*:u:a\\:b"),
        (("h", 5432, "*", "u", "a\\b"), "h:5432:*:u:a\\\\b"),
        (("h", 5432, "*", "u", "\\:"), "h:5432:*:u:\\\\\\:"),
        (("::1", 5432, "*", "us:er", "pw"), "\\:\\:1:5432:*:us\\:er:pw"),
        ((None, None, "*", None, "pw"), "*:*:*:*:pw"),
        (("", "", "*", "", "pw"), "*:*:*:*:pw"),
    ],
)
def test_pgpass_line(args, line):
    assert pg_argv.pgpass_line(*args) == line


CONN = {"host": "db.example", "port": 5433, "user": "mplp", "password": PASSWORD, "sslmode": "require"}


def _temp_entries():
    top = tempfile.gettempdir()
    return {os.path.join(root, name) for root, _dirs, files in os.walk(top) for name in files}


def test_pgpass_env_hands_the_password_in_a_file_no_path_names():
    base = {"PATH": "/usr/bin", "PGPASSWORD": "inherited", "PGSERVICE": "x", "PGOPTIONS": "-c a=b"}
    before = _temp_entries()
    with pg_argv.pgpass_env(CONN, base_env=base) as env:
        path = env["PGPASSFILE"]
        # a memfd: the tool opens /dev/fd/N of the descriptor it inherits (pass_fds)
        assert path == "/dev/fd/%d" % env.pass_fds[0]
        info = os.fstat(env.pass_fds[0])
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600  # libpq wants 0600
        assert os.readlink("/proc/self/fd/%d" % env.pass_fds[0]).startswith("/memfd:maops-pgpass")
        with open(path) as handle:
            assert handle.read() == "*:*:*:mplp:s3cr\\:et\\\\pa ss'word\n"
        # what a tool sees: the descriptor is inherited, the file read by its path
        read = subprocess.run(
            ["cat", path], capture_output=True, text=True, check=True, pass_fds=env.pass_fds
        )
        assert read.stdout == "*:*:*:mplp:s3cr\\:et\\\\pa ss'word\n"
        # no file holds the password anywhere under the temporary directory
        assert not any(PASSWORD in _read(entry) for entry in _temp_entries() - before)
    with pytest.raises(OSError):
        os.fstat(env.pass_fds[0])  # closed: the memory goes with the last holder
    assert "PGPASSWORD" not in env and "PGSERVICE" not in env and "PGOPTIONS" not in env
    assert PASSWORD not in env.values()
    assert env["PATH"] == "/usr/bin"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGSSLMODE"]) == (
        "db.example",
        "5433",
        "mplp",
        "require",
    )
    assert env["PGCONNECT_TIMEOUT"] == "10"
    assert base["PGPASSWORD"] == "inherited"  # the caller's environment is not changed


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def test_pgpass_env_closes_the_file_when_the_tool_fails():
    with pytest.raises(RuntimeError):
        with pg_argv.pgpass_env(CONN, base_env={}) as env:
            raise RuntimeError("pg_dump failed")
    with pytest.raises(OSError):
        os.fstat(env.pass_fds[0])


def test_pgpass_env_without_memfd_uses_a_private_file_removed_on_exit(monkeypatch):
    monkeypatch.delattr(os, "memfd_create")
    with pytest.raises(RuntimeError):
        with pg_argv.pgpass_env(CONN, base_env={}) as env:
            path = env["PGPASSFILE"]
            assert env.pass_fds == ()
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
            raise RuntimeError("pg_dump failed")
    assert not os.path.exists(os.path.dirname(path))


def test_pgpass_env_drops_an_inherited_password_from_os_environ(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "from-the-controller")
    monkeypatch.setenv("PGPASSFILE", "/home/someone/.pgpass")
    with pg_argv.pgpass_env({"host": "h", "user": "u", "connect_timeout": 3}) as env:
        assert "PGPASSWORD" not in env
        # no password given: libpq must not fall back to a pgpass of the user running ansible
        assert env["PGPASSFILE"] == os.devnull
        assert env["PGCONNECT_TIMEOUT"] == "3"
        assert "PGPORT" not in env
    assert os.environ["PGPASSWORD"] == "from-the-controller"


def test_psycopg_params():
    assert pg_argv.psycopg_params(CONN, "mplp") == {
        "host": "db.example",
        "port": 5433,
        "user": "mplp",
        "dbname": "mplp",
        "connect_timeout": 10,
        "application_name": "multiagent.ops",
        "password": PASSWORD,
        "sslmode": "require",
    }
    params = pg_argv.psycopg_params({"host": "h", "user": None, "password": None, "connect_timeout": 4}, "d")
    assert params == {"host": "h", "dbname": "d", "connect_timeout": 4, "application_name": "multiagent.ops"}


# -- argument lists ------------------------------------------------------------------------


def test_pg_dump_argv():
    assert pg_argv.pg_dump_argv(
        "/usr/lib/postgresql/15/bin/pg_dump",
        "mplp",
        snapshot="00000003-0000001B-1",
        exclude_table_data=["public.audit", "big"],
        extra=["--no-comments"],
    ) == [
        "/usr/lib/postgresql/15/bin/pg_dump",
        "--format=custom",
        "--compress=0",
        "--no-password",
        "--dbname=mplp",
        "--snapshot=00000003-0000001B-1",
        "--exclude-table-data=public.audit",
        "--exclude-table-data=big",
        "--no-comments",
    ]
    assert pg_argv.pg_dump_argv("pg_dump", "x") == [
        "pg_dump",
        "--format=custom",
        "--compress=0",
        "--no-password",
        "--dbname=x",
    ]


@pytest.mark.parametrize(
    "name,arg",
    [
        ("mplp_production", "mplp_production"),
        ("Weird name; rm -rf /", "Weird name; rm -rf /"),
        ("a=b", "dbname='a=b'"),
        ("host=evil dbname=x", "dbname='host=evil dbname=x'"),
        ("it's=\\", "dbname='it\\'s=\\\\'"),
        ("postgresql://evil/x", "dbname='postgresql://evil/x'"),
        ("postgres://evil/x", "dbname='postgres://evil/x'"),
    ],
)
def test_database_names_are_never_read_as_connection_strings(name, arg):
    assert pg_argv.dbname_arg(name) == arg
    assert "--dbname=" + arg in pg_argv.pg_dump_argv("pg_dump", name)
    assert "--dbname=" + arg in pg_argv.pg_restore_argv("pg_restore", name)


def test_pg_dumpall_and_pg_restore_argv():
    assert pg_argv.pg_dumpall_globals_argv("pg_dumpall") == ["pg_dumpall", "--globals-only", "--no-password"]
    assert pg_argv.pg_dumpall_globals_argv("pg_dumpall", no_role_passwords=True, extra=["-v"]) == [
        "pg_dumpall",
        "--globals-only",
        "--no-password",
        "--no-role-passwords",
        "-v",
    ]
    assert pg_argv.pg_restore_argv("pg_restore", "mplp") == [
        "pg_restore",
        "--no-password",
        "--exit-on-error",
        "--dbname=mplp",
        "--single-transaction",
        "--clean",
        "--if-exists",
    ]
    assert pg_argv.pg_restore_argv(
        "pg_restore", "s", single_transaction=False, clean=False, no_owner=True, extra=["-j", "1"]
    ) == [
        "pg_restore",
        "--no-password",
        "--exit-on-error",
        "--dbname=s",
        "--no-owner",
        "--no-privileges",
        "-j",
        "1",
    ]


@pytest.mark.parametrize(
    "name,app,arg",
    [
        (
            "mplp",
            "multiagent.ops-restore-1a2b",
            "dbname='mplp' application_name='multiagent.ops-restore-1a2b'",
        ),
        ("it's=\\", "x", "dbname='it\\'s=\\\\' application_name='x'"),
        ("mplp", None, "mplp"),
    ],
)
def test_pg_restore_names_its_session_through_the_connection_string(name, app, arg):
    argv = pg_argv.pg_restore_argv("pg_restore", name, application_name=app)
    assert argv[3] == "--dbname=" + arg


def test_in_cluster_without_password_runs_the_tool_itself():
    conn = {"user": "postgres", "password": None}
    assert pg_argv.pod_argv(["pg_dump", "--dbname=x"], conn) == [
        "pg_dump",
        "--username=postgres",
        "--dbname=x",
    ]
    assert pg_argv.pgpass_stdin(conn) is None
    assert pg_argv.pod_argv(["psql", "-X"], {"user": None, "password": None}) == ["psql", "-X"]


def test_in_cluster_password_goes_through_stdin_never_argv():
    conn = {"user": "postgres", "password": PASSWORD}
    argv = pg_argv.pod_argv(["pg_dump", "--dbname=x"], conn)
    assert argv == ["sh", "-c", pg_argv.PGPASS_WRAPPER, "sh", "pg_dump", "--username=postgres", "--dbname=x"]
    assert not any("s3cr" in part for part in argv)
    assert (
        pg_argv.pgpass_stdin(conn)
        == (pg_argv.pgpass_line("*", "*", "*", "postgres", PASSWORD) + "\n").encode()
    )


def test_psql_argv():
    assert pg_argv.psql_session_argv("psql", "a=b") == [
        "psql",
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "--dbname=dbname='a=b'",
    ]
    assert pg_argv.psql_script_argv("psql", "postgres") == [
        "psql",
        "-X",
        "-q",
        "--no-password",
        "-v",
        "ON_ERROR_STOP=0",
        "--dbname=postgres",
        "-f",
        "-",
    ]


# -- the pgpass wrapper script (in the pod), run here -----------------------------------------

SHELLS = [name for name in ("sh", "dash", "bash") if shutil.which(name)]
PROBE = (
    'stat -c %a "$PGPASSFILE" > "$1/mode"; cat "$PGPASSFILE" > "$1/pgpass"; '
    'printf %s "$PGPASSFILE" > "$1/path"; printf %s "${PGPASSWORD-unset}" > "$1/pgpassword"; '
    'cat > "$1/rest"; exit "$2"'
)


def run_wrapper(shell, tmp_path, stdin, code=0):
    argv = [shell, "-c", pg_argv.PGPASS_WRAPPER, "sh", shell, "-c", PROBE, "probe", str(tmp_path), str(code)]
    env = dict(os.environ, PGPASSWORD="must-not-be-seen", TMPDIR=str(tmp_path))
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=60, check=False)
    return proc, {
        name: (tmp_path / name).read_bytes() for name in ("mode", "pgpass", "path", "pgpassword", "rest")
    }


@pytest.mark.parametrize("shell", SHELLS)
def test_wrapper_takes_one_line_and_leaves_the_rest_to_the_command(shell, tmp_path):
    line = pg_argv.pgpass_line("*", "*", "*", "postgres", "  pa:ss\\word ").encode()
    rest = bytes(range(256)) * 2000 + b"\nlast line without newline"
    proc, seen = run_wrapper(shell, tmp_path, line + b"\n" + rest, code=7)
    assert proc.returncode == 7, proc.stderr
    assert seen["pgpass"] == line + b"\n"
    assert seen["mode"] == b"600\n"
    assert seen["pgpassword"] == b"unset"
    assert seen["rest"] == rest
    assert not os.path.exists(seen["path"].decode())
    assert os.path.dirname(seen["path"].decode()) == str(tmp_path)


@pytest.mark.parametrize("shell", SHELLS)
def test_wrapper_propagates_success_and_copes_with_no_stdin(shell, tmp_path):
    proc, seen = run_wrapper(shell, tmp_path, b"", code=0)
    assert proc.returncode == 0, proc.stderr
    assert seen["pgpass"] == b"\n" and seen["rest"] == b""
    assert not os.path.exists(seen["path"].decode())


def test_wrapper_passes_arguments_without_interpreting_them(tmp_path):
    out = tmp_path / "args"
    tricky = ["$(touch %s/pwned)" % tmp_path, "a b", "*", ";exit 3"]
    argv = ["sh", "-c", pg_argv.PGPASS_WRAPPER, "sh", sys.executable, "-c"]
    argv += ["import sys; open(%r, 'w').write(repr(sys.argv[1:]))" % str(out)] + tricky
    proc = subprocess.run(argv, input=b"x\n", capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == repr(tricky)
    assert not (tmp_path / "pwned").exists()


# -- dump_args, login ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,narrowing",
    [
        (["--no-comments", "--lock-wait-timeout=10", "-O", "-x", "--no-owner"], []),
        (["-t", "x"], ["-t"]),
        (["-tx"], ["-tx"]),
        (["--table=x", "--exclude-table", "y"], ["--table=x", "--exclude-table"]),
        (["-n", "s", "-N", "t", "-T", "u"], ["-n", "-N", "-T"]),
        (["-a"], ["-a"]),
        (["-Oa"], ["-Oa"]),
        (["-s"], ["-s"]),
        (["--data-only", "--schema-only", "--schema=x", "--exclude-schema=y"], None),
        (["--exclude-table-data=big"], ["--exclude-table-data=big"]),
        (["--schema-o"], ["--schema-o"]),  # getopt takes an unambiguous prefix
        (["--section=pre-data", "--extension=x", "--filter=f"], None),
        (["-Z0", "-fout"], []),  # the value of -Z / -f is not a cluster of options
        (["--compress=0"], []),
    ],
)
def test_narrowing_dump_args(args, narrowing):
    assert pg_argv.narrowing_dump_args(args) == (args if narrowing is None else narrowing)


def test_check_login_refuses_a_line_break_before_anything_is_done():
    pg_argv.check_login({"user": "u", "password": "p:w\\"})
    pg_argv.check_login({"user": None, "password": None})
    for conn in ({"user": "u", "password": "a\nb"}, {"user": "u\r", "password": "p"}):
        with pytest.raises(pg_argv.BackupError, match="line break"):
            pg_argv.check_login(conn)


# -- verified_manifest ---------------------------------------------------------------------
