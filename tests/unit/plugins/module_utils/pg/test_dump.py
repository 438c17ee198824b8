"""pg_dump/pg_restore plumbing: passwords, argument lists, the compressed streams and the
failure paths of a backup, with fake producers (small scripts) and the real zstd."""

import errno
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup

ZSTD = shutil.which("zstd") or "/usr/bin/zstd"
PASSWORD = "s3cr:et\\pa ss'word"


def py(code):
    """A producer: a Python script as an argument list."""
    return [sys.executable, "-c", code]


def unzstd(data):
    return subprocess.run([ZSTD, "-q", "-d", "-c"], input=data, capture_output=True, check=True).stdout


# -- pgpass --------------------------------------------------------------------------------


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
    assert pgbackup.pgpass_line(*args) == line


CONN = {"host": "db.example", "port": 5433, "user": "mplp", "password": PASSWORD, "sslmode": "require"}


def test_pgpass_env_writes_a_private_file_and_removes_it(tmp_path):
    base = {"PATH": "/usr/bin", "PGPASSWORD": "inherited", "PGSERVICE": "x", "PGOPTIONS": "-c a=b"}
    with pgbackup.pgpass_env(CONN, base_env=base) as env:
        path = env["PGPASSFILE"]
        directory = os.path.dirname(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        with open(path) as handle:
            assert handle.read() == "*:*:*:mplp:s3cr\\:et\\\\pa ss'word\n"
        assert os.listdir(directory) == ["pgpass"]
    assert not os.path.exists(directory)
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


def test_pgpass_env_removes_the_file_when_the_tool_fails():
    with pytest.raises(RuntimeError):
        with pgbackup.pgpass_env(CONN, base_env={}) as env:
            directory = os.path.dirname(env["PGPASSFILE"])
            raise RuntimeError("pg_dump failed")
    assert not os.path.exists(directory)


def test_pgpass_env_drops_an_inherited_password_from_os_environ(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "from-the-controller")
    monkeypatch.setenv("PGPASSFILE", "/home/someone/.pgpass")
    with pgbackup.pgpass_env({"host": "h", "user": "u", "connect_timeout": 3}) as env:
        assert "PGPASSWORD" not in env
        # no password given: libpq must not fall back to a pgpass of the user running ansible
        assert env["PGPASSFILE"] == os.devnull
        assert env["PGCONNECT_TIMEOUT"] == "3"
        assert "PGPORT" not in env
    assert os.environ["PGPASSWORD"] == "from-the-controller"


def test_psycopg_params():
    assert pgbackup.psycopg_params(CONN, "mplp") == {
        "host": "db.example",
        "port": 5433,
        "user": "mplp",
        "dbname": "mplp",
        "connect_timeout": 10,
        "application_name": "multiagent.ops",
        "password": PASSWORD,
        "sslmode": "require",
    }
    params = pgbackup.psycopg_params({"host": "h", "user": None, "password": None, "connect_timeout": 4}, "d")
    assert params == {"host": "h", "dbname": "d", "connect_timeout": 4, "application_name": "multiagent.ops"}


# -- argument lists ------------------------------------------------------------------------


def test_pg_dump_argv():
    assert pgbackup.pg_dump_argv(
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
    assert pgbackup.pg_dump_argv("pg_dump", "x") == [
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
    assert pgbackup.dbname_arg(name) == arg
    assert "--dbname=" + arg in pgbackup.pg_dump_argv("pg_dump", name)
    assert "--dbname=" + arg in pgbackup.pg_restore_argv("pg_restore", name)


def test_pg_dumpall_and_pg_restore_argv():
    assert pgbackup.pg_dumpall_globals_argv("pg_dumpall") == ["pg_dumpall", "--globals-only", "--no-password"]
    assert pgbackup.pg_dumpall_globals_argv("pg_dumpall", no_role_passwords=True, extra=["-v"]) == [
        "pg_dumpall",
        "--globals-only",
        "--no-password",
        "--no-role-passwords",
        "-v",
    ]
    assert pgbackup.pg_restore_argv("pg_restore", "mplp") == [
        "pg_restore",
        "--no-password",
        "--exit-on-error",
        "--dbname=mplp",
        "--single-transaction",
        "--clean",
        "--if-exists",
    ]
    assert pgbackup.pg_restore_argv(
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
    argv = pgbackup.pg_restore_argv("pg_restore", name, application_name=app)
    assert argv[3] == "--dbname=" + arg


class LockSession:
    """Answers LockWatch's look at pg_stat_activity from a script of replies."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.cancelled = []

    def value(self, sql):
        assert "pg_blocking_pids" in sql and "'app-1'" in sql and "'mplp'" in sql
        return self.replies.pop(0) if self.replies else None

    def text(self, sql):
        self.cancelled.append(sql)
        return "t"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_lock_watch_cancels_a_restore_that_waits_too_long_and_names_the_holder():
    blocker = {"pid": 77, "user": "app", "application": "worker", "client": "10.0.0.9"}
    blocker.update(state="idle in transaction", query="SELECT * FROM t")
    waiting = {"pid": 4242, "blockers": [blocker]}
    session = LockSession([None, waiting, waiting, waiting, waiting])
    with pgbackup.LockWatch(session, "mplp", "app-1", timeout=2, interval=0.01, clock=Clock()) as watch:
        deadline = time.monotonic() + 10
        while watch.cancelled is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert session.cancelled == ["SELECT pg_cancel_backend(4242)"]
    assert watch.describe() == (
        "pg_restore waited more than 2s for a lock on mplp, held by pid 77 (user app, application worker, "
        "client 10.0.0.9, idle in transaction: SELECT * FROM t) and was cancelled"
    )


def test_lock_watch_leaves_a_restore_alone_whose_waits_end_in_time():
    waiting = {"pid": 4242, "blockers": []}
    session = LockSession([waiting, None, waiting, None, waiting, None] * 3)
    with pgbackup.LockWatch(session, "mplp", "app-1", timeout=2, interval=0.01, clock=Clock()) as watch:
        deadline = time.monotonic() + 10
        while session.replies and time.monotonic() < deadline:
            time.sleep(0.01)
    assert session.cancelled == [] and watch.cancelled is None


def test_lock_watch_without_a_timeout_does_not_look():
    session = LockSession([])
    with pgbackup.LockWatch(session, "mplp", "app-1", timeout=0) as watch:
        assert watch.cancelled is None
    assert watch._thread is None and watch.error is None


def test_zstd_argv():
    assert pgbackup.zstd_argv("zstd") == ["zstd", "-q", "-c", "-1", "-T0"]
    assert pgbackup.zstd_argv("zstd", level="19", threads=2) == ["zstd", "-q", "-c", "-19", "-T2"]
    assert pgbackup.zstd_argv("zstd", decompress=True) == ["zstd", "-q", "-d", "-c"]


def in_cluster(password=PASSWORD, user="postgres"):
    conn = {"user": user, "password": password}
    return pgbackup.Target("in-cluster", conn, {}, pod="pg-0", namespace="db", container="postgres")


def test_in_cluster_without_password_runs_the_tool_itself():
    target = in_cluster(password=None)
    assert target._pod_argv(["pg_dump", "--dbname=x"]) == ["pg_dump", "--username=postgres", "--dbname=x"]
    assert target._pgpass_stdin() is None
    assert in_cluster(password=None, user=None)._pod_argv(["psql", "-X"]) == ["psql", "-X"]


def test_in_cluster_password_goes_through_stdin_never_argv():
    target = in_cluster()
    argv = target._pod_argv(["pg_dump", "--dbname=x"])
    assert argv == ["sh", "-c", pgbackup.PGPASS_WRAPPER, "sh", "pg_dump", "--username=postgres", "--dbname=x"]
    assert not any("s3cr" in part for part in argv)
    assert (
        target._pgpass_stdin() == (pgbackup.pgpass_line("*", "*", "*", "postgres", PASSWORD) + "\n").encode()
    )
    assert "s3cr" not in repr(target.source())
    assert target.source() == {
        "mode": "in-cluster",
        "namespace": "db",
        "pod": "pg-0",
        "container": "postgres",
    }


def test_direct_dump_passes_the_password_in_a_pgpass_file_only(monkeypatch):
    seen = {}

    def fake_stream(argv, env, writer, zstd_cmd, what):
        seen.update(argv=argv, env=dict(env), zstd=zstd_cmd, what=what)
        with open(env["PGPASSFILE"]) as handle:
            seen["pgpass"] = handle.read()

    monkeypatch.setattr(pgbackup, "write_compressed_from_process", fake_stream)
    monkeypatch.setenv("PGPASSWORD", "leak")
    target = pgbackup.Target("direct", dict(CONN, host="127.0.0.1"), {"pg_dump": "pg_dump"})
    argv = pgbackup.pg_dump_argv("pg_dump", "mplp")
    target.dump_into(argv, None, ["zstd"], "pg_dump of mplp")
    assert seen["argv"] == argv
    assert not any(PASSWORD in part for part in seen["argv"] + seen["zstd"])
    assert PASSWORD not in seen["env"].values() and "PGPASSWORD" not in seen["env"]
    assert seen["env"]["PGAPPNAME"] == "multiagent.ops-backup"
    # any host: libpq asks under "localhost" for a socket and under each host of "h1,h2"
    assert seen["pgpass"] == pgbackup.pgpass_line("*", "*", "*", "mplp", PASSWORD) + "\n"
    assert not os.path.exists(seen["env"]["PGPASSFILE"])
    assert target.source() == {"mode": "direct", "host": "127.0.0.1", "port": 5433, "user": "mplp"}


# -- the pgpass wrapper script (in the pod), run here -----------------------------------------

SHELLS = [name for name in ("sh", "dash", "bash") if shutil.which(name)]
PROBE = (
    'stat -c %a "$PGPASSFILE" > "$1/mode"; cat "$PGPASSFILE" > "$1/pgpass"; '
    'printf %s "$PGPASSFILE" > "$1/path"; printf %s "${PGPASSWORD-unset}" > "$1/pgpassword"; '
    'cat > "$1/rest"; exit "$2"'
)


def run_wrapper(shell, tmp_path, stdin, code=0):
    argv = [shell, "-c", pgbackup.PGPASS_WRAPPER, "sh", shell, "-c", PROBE, "probe", str(tmp_path), str(code)]
    env = dict(os.environ, PGPASSWORD="must-not-be-seen", TMPDIR=str(tmp_path))
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=60, check=False)
    return proc, {
        name: (tmp_path / name).read_bytes() for name in ("mode", "pgpass", "path", "pgpassword", "rest")
    }


@pytest.mark.parametrize("shell", SHELLS)
def test_wrapper_takes_one_line_and_leaves_the_rest_to_the_command(shell, tmp_path):
    line = pgbackup.pgpass_line("*", "*", "*", "postgres", "  pa:ss\\word ").encode()
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
    argv = ["sh", "-c", pgbackup.PGPASS_WRAPPER, "sh", sys.executable, "-c"]
    argv += ["import sys; open(%r, 'w').write(repr(sys.argv[1:]))" % str(out)] + tricky
    proc = subprocess.run(argv, input=b"x\n", capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == repr(tricky)
    assert not (tmp_path / "pwned").exists()


# -- write_compressed_from_process ---------------------------------------------------------


def stream(tmp_path, producer, zstd_cmd=None, commit=True, name="mplp.dump.zst"):
    """What backup_database does: the stream into an AtomicWriter, committed on success."""
    with artifact.AtomicWriter(str(tmp_path / name)) as writer:
        pgbackup.write_compressed_from_process(
            producer, dict(os.environ), writer, zstd_cmd or pgbackup.zstd_argv(ZSTD), "pg_dump of mplp"
        )
        if commit:
            writer.commit()
    return writer


def test_stream_is_binary_safe_and_checksummed(tmp_path):
    payload = bytes(range(256)) * 8192 + b"\r\n\x00end"
    producer = py(
        "import sys; sys.stderr.write('pg_dump: notice\\n'); "
        "sys.stdout.buffer.write(bytes(range(256)) * 8192 + b'\\r\\n\\x00end')"
    )
    writer = stream(tmp_path, producer)
    data = (tmp_path / "mplp.dump.zst").read_bytes()
    assert unzstd(data) == payload
    assert len(data) < len(payload) // 10  # it is compressed
    assert (writer.size, writer.sha256) == (
        len(data),
        artifact.sha256_file(str(tmp_path / "mplp.dump.zst"))[0],
    )


def test_a_producer_that_fails_after_writing_commits_nothing(tmp_path):
    producer = py(
        "import sys; sys.stdout.buffer.write(b'PGDMP' * 100000); sys.stdout.flush(); "
        "sys.stderr.write('pg_dump: error: connection to server lost\\n'); sys.exit(3)"
    )
    with pytest.raises(pgbackup.BackupError) as info:
        stream(tmp_path, producer)
    assert (
        str(info.value) == "pg_dump of mplp failed (exit code 3): pg_dump: error: connection to server lost"
    )
    assert os.listdir(tmp_path) == []


def test_a_silent_failure_still_fails(tmp_path):
    with pytest.raises(pgbackup.BackupError, match=r"failed \(exit code 1\): no message"):
        stream(tmp_path, ["false"])
    assert os.listdir(tmp_path) == []


def test_only_the_end_of_a_long_stderr_is_kept(tmp_path):
    producer = py("import sys; sys.stderr.write('x' * 100000 + 'the real cause'); sys.exit(1)")
    with pytest.raises(pgbackup.BackupError) as info:
        stream(tmp_path, producer)
    assert str(info.value).endswith("the real cause")
    assert len(str(info.value)) < pgbackup.STDERR_KEEP + 100


def test_missing_zstd_is_named_and_the_producer_is_stopped(tmp_path):
    started = time.monotonic()
    with pytest.raises(pgbackup.BackupError) as info:
        stream(tmp_path, py("import time; time.sleep(60)"), zstd_cmd=[str(tmp_path / "bin" / "zstd"), "-c"])
    assert str(info.value) == "cannot run %s: No such file or directory" % (tmp_path / "bin" / "zstd")
    assert time.monotonic() - started < 30
    assert os.listdir(tmp_path) == []


def test_missing_pg_dump_is_named(tmp_path):
    with pytest.raises(pgbackup.BackupError) as info:
        stream(tmp_path, [str(tmp_path / "pg_dump"), "--dbname=x"])
    assert str(info.value) == "cannot run %s: No such file or directory" % (tmp_path / "pg_dump")
    assert os.listdir(tmp_path) == []


def test_a_failing_compressor_is_reported(tmp_path):
    zstd_cmd = py("import sys; sys.stdin.buffer.read(); sys.stderr.write('zstd: out of memory'); sys.exit(2)")
    with pytest.raises(pgbackup.BackupError) as info:
        stream(tmp_path, py("print('data')"), zstd_cmd=zstd_cmd)
    assert str(info.value) == "zstd failed (exit code 2): zstd: out of memory"
    assert os.listdir(tmp_path) == []


class FullDisk:
    """A writer on a device that fills up after ``room`` bytes."""

    def __init__(self, room):
        self.room = room
        self.size = 0

    def write(self, data):
        if self.size + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.size += len(data)
        return len(data)


def test_a_full_disk_stops_an_endless_producer(tmp_path):
    producer = py("import os, sys\nwhile True: sys.stdout.buffer.write(os.urandom(65536))")
    started = time.monotonic()
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.write_compressed_from_process(producer, None, FullDisk(100000), ["cat"], "pg_dump of mplp")
    assert str(info.value) == (
        "pg_dump of mplp stopped, nothing kept: writing failed: "
        "no space left on the device of the backup directory"
    )
    assert time.monotonic() - started < 30


def test_describe_oserror():
    assert pgbackup.describe_oserror(OSError(errno.ENOSPC, "No space left on device"), "/b/x") == (
        "no space left on the device of /b/x"
    )
    assert pgbackup.describe_oserror(OSError(errno.EACCES, "Permission denied"), "/b/x") == (
        "/b/x: Permission denied"
    )


# -- the in-cluster stream, on a fake exec ---------------------------------------------------


class FakeExec:
    where = "pod db/pg-0"

    def __init__(self, chunks=(), code=0, error=None, reads_stdin=False):
        self.chunks = list(chunks)
        self.code = code
        self.error = error
        self.events = []
        self.stdin_closed = threading.Event()
        if not reads_stdin:
            self.stdin_closed.set()

    def write(self, data):
        self.events.append(("write", data))

    def close_stdin(self):
        self.events.append(("close_stdin",))
        self.stdin_closed.set()

    def pump(self, on_stdout):
        self.events.append(("pump",))
        assert self.stdin_closed.wait(30), "stdin was never closed"
        for chunk in self.chunks:
            on_stdout(chunk)
        if self.error:
            raise self.error
        return self.code

    def failure(self, what):
        return "%s in %s failed (exit code %s)" % (what, self.where, self.code)


def test_exec_stream_writes_the_compressed_output_after_the_pgpass_line(tmp_path):
    chunks = [bytes(range(256)) * 100, b"\x00" * 10, b"end"]
    fake = FakeExec(chunks)
    with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
        pgbackup.write_compressed_from_exec(fake, writer, [ZSTD, "-q", "-c"], "pg_dump of x", b"line\n")
        writer.commit()
    assert unzstd((tmp_path / "a").read_bytes()) == b"".join(chunks)
    assert fake.events == [("write", b"line\n"), ("close_stdin",), ("pump",)]


def test_exec_stream_with_a_non_zero_exit_fails_and_keeps_nothing(tmp_path):
    with pytest.raises(pgbackup.BackupError, match=r"pg_dump of x in pod db/pg-0 failed \(exit code 1\)"):
        with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
            pgbackup.write_compressed_from_exec(
                FakeExec([b"partial"], code=1), writer, [ZSTD, "-c"], "pg_dump of x"
            )
            writer.commit()
    assert os.listdir(tmp_path) == []


def test_exec_stream_that_is_cut_raises_the_exec_error(tmp_path):
    cut = ExecError("the exec stream of pod db/pg-0 was cut")
    with pytest.raises(ExecError, match="was cut"):
        with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
            pgbackup.write_compressed_from_exec(FakeExec([b"partial"], error=cut), writer, [ZSTD, "-c"], "x")
    assert os.listdir(tmp_path) == []


def test_exec_stream_onto_a_full_disk_raises_the_disk_error():
    fake = FakeExec([os.urandom(1 << 16) for _x in range(64)])
    with pytest.raises(OSError) as info:
        pgbackup.write_compressed_from_exec(fake, FullDisk(1000), [ZSTD, "-q", "-c", "-1"], "x")
    assert info.value.errno == errno.ENOSPC


# -- restore pipelines ---------------------------------------------------------------------


def test_run_pipeline_feeds_the_consumer(tmp_path):
    out = tmp_path / "out"
    consumer = py("import sys; open(%r, 'wb').write(sys.stdin.buffer.read())" % str(out))
    pgbackup.run_pipeline(py("import sys; sys.stdout.buffer.write(b'\\x00\\xffdata')"), consumer, None, "x")
    assert out.read_bytes() == b"\x00\xffdata"


def test_run_pipeline_names_the_failing_consumer():
    consumer = py(
        "import sys; sys.stdin.buffer.read(); sys.stderr.write('ERROR: relation exists'); sys.exit(1)"
    )
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.run_pipeline(py("print(1)"), consumer, None, "pg_restore into mplp")
    assert str(info.value) == "pg_restore into mplp failed (exit code 1): ERROR: relation exists"


def test_run_pipeline_names_a_corrupt_archive():
    producer = py("import sys; sys.stderr.write('zstd: data corruption'); sys.exit(1)")
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.run_pipeline(producer, py("import sys; sys.stdin.buffer.read()"), None, "pg_restore")
    assert str(info.value) == "decompressing the archive failed: zstd: data corruption"


def big_archive(tmp_path, size=8 << 20):
    archive = tmp_path / "big.zst"
    archive.write_bytes(
        subprocess.run(
            [ZSTD, "-q", "-1", "-c"], input=os.urandom(size), capture_output=True, check=True
        ).stdout
    )
    return archive


def test_run_pipeline_a_consumer_that_succeeds_without_reading_everything_is_a_success(tmp_path):
    # pg_restore --table / -L / --schema-only exits 0 before the end; zstd dies of SIGPIPE.
    archive = big_archive(tmp_path)
    marker = tmp_path / "read"
    consumer = py("import sys; open(%r, 'wb').write(sys.stdin.buffer.read(1000))" % str(marker))
    assert pgbackup.run_pipeline([ZSTD, "-q", "-d", "-c", str(archive)], consumer, None, "pg_restore") is None
    assert marker.stat().st_size == 1000  # the consumer ran, read its part and stopped
    # a producer that reports the broken pipe itself (EPIPE, exit 1) is no failure either
    producer = py("import sys; sys.stderr.write('zstd: error 70 : Write error : Broken pipe'); sys.exit(1)")
    assert pgbackup.run_pipeline(producer, py("pass"), None, "pg_restore") is None


def test_run_pipeline_a_real_decompression_failure_after_a_successful_consumer():
    producer = py("import sys; sys.stderr.write('zstd: data corruption'); sys.exit(1)")
    with pytest.raises(
        pgbackup.ProducerError, match="decompressing the archive failed: zstd: data corruption"
    ):
        pgbackup.run_pipeline(producer, py("import sys; sys.stdin.buffer.read()"), None, "pg_restore")
    # a failing consumer is the restore's failure, not a ProducerError
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.run_pipeline(producer, py("import sys; sys.exit(3)"), None, "pg_restore")
    assert not isinstance(info.value, pgbackup.ProducerError)


@pytest.mark.parametrize(
    "code,stderr,ok",
    [
        (0, "", True),
        (-13, "", True),
        (141, "", True),
        (1, "zstd: error 70 : Write error : Broken pipe", True),
        (1, "zstd: data corruption", False),
        (-9, "", False),
    ],
)
def test_check_producer(code, stderr, ok):
    if ok:
        pgbackup.check_producer(code, stderr, "pg_restore")
    else:
        with pytest.raises(pgbackup.ProducerError):
            pgbackup.check_producer(code, stderr, "pg_restore")


def test_run_pipeline_names_a_missing_tool(tmp_path):
    with pytest.raises(pgbackup.BackupError, match="cannot run %s" % (tmp_path / "pg_restore")):
        pgbackup.run_pipeline(["true"], [str(tmp_path / "pg_restore")], None, "pg_restore")


def test_stream_file_into_exec(tmp_path):
    archive = tmp_path / "a.zst"
    archive.write_bytes(
        subprocess.run([ZSTD, "-q", "-c"], input=b"SQL" * 1000, capture_output=True, check=True).stdout
    )
    fake = FakeExec(code=0, reads_stdin=True)
    pgbackup.stream_file_into_exec(
        pgbackup.zstd_argv(ZSTD, decompress=True) + [str(archive)], fake, b"pw\n", "x"
    )
    written = b"".join(event[1] for event in fake.events if event[0] == "write")
    assert written == b"pw\n" + b"SQL" * 1000
    assert ("close_stdin",) in fake.events
    fake = FakeExec(code=4)
    with pytest.raises(pgbackup.BackupError, match=r"psql in pod db/pg-0 failed \(exit code 4\)"):
        pgbackup.stream_file_into_exec(["cat", str(archive)], fake, None, "psql")


class EarlyExit(FakeExec):
    """pg_restore in the pod stops at its first error while the archive still streams."""

    def __init__(self):
        super().__init__(code=1)
        self.written = 0

    def write(self, data):
        self.written += len(data)
        time.sleep(0.02)  # a websocket send is not instant

    def pump(self, on_stdout):
        time.sleep(0.05)
        return self.code


def test_a_command_that_stops_reading_does_not_hang_the_stream(tmp_path):
    archive = tmp_path / "big.zst"
    archive.write_bytes(
        subprocess.run(
            [ZSTD, "-q", "-1", "-c"], input=os.urandom(8 << 20), capture_output=True, check=True
        ).stdout
    )
    fake = EarlyExit()
    outcome = []

    def restore():
        try:
            pgbackup.stream_file_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], fake, None, "pg_restore")
        except pgbackup.BackupError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=restore, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the stream hangs when the command in the pod stops reading"
    assert outcome == ["pg_restore in pod db/pg-0 failed (exit code 1)"]
    assert fake.written < 8 << 20


class EarlySuccess(EarlyExit):
    """pg_restore --table in the pod: reads a little, succeeds."""

    def __init__(self):
        super().__init__()
        self.code = 0


def test_a_command_that_succeeds_without_reading_everything_is_a_success(tmp_path):
    archive = big_archive(tmp_path)
    fake = EarlySuccess()
    pgbackup.stream_file_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], fake, None, "pg_restore")
    assert fake.written < 8 << 20


class ClosedAfterExit(FakeExec):
    """The exec stream refuses stdin once the command has ended (successfully)."""

    def __init__(self):
        super().__init__(code=0)
        self.done = threading.Event()

    def write(self, data):
        if self.done.is_set():
            raise ExecError("stdin closed")

    def pump(self, on_stdout):
        self.done.set()
        return 0


def test_a_command_that_ended_and_refuses_stdin_is_a_success(tmp_path):
    archive = big_archive(tmp_path, 1 << 20)
    stream = ClosedAfterExit()
    assert (
        pgbackup.stream_file_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], stream, None, "pg_restore")
        is None
    )
    assert stream.done.is_set()  # the command ended before its input did


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
    assert pgbackup.narrowing_dump_args(args) == (args if narrowing is None else narrowing)


def test_check_login_refuses_a_line_break_before_anything_is_done():
    pgbackup.check_login({"user": "u", "password": "p:w\\"})
    pgbackup.check_login({"user": None, "password": None})
    for conn in ({"user": "u", "password": "a\nb"}, {"user": "u\r", "password": "p"}):
        with pytest.raises(pgbackup.BackupError, match="line break"):
            pgbackup.check_login(conn)


# -- verified_manifest ---------------------------------------------------------------------


def write_backup(directory, kind="postgresql", **changes):
    return fakes.write_backup(directory / "mplp-20261122T020000Z.dump.zst", kind=kind, **changes)


def test_verified_manifest(tmp_path):
    path = write_backup(tmp_path)
    assert pgbackup.verified_manifest(str(path))["target"] == "mplp"


def test_verified_manifest_refuses_a_bad_or_foreign_backup(tmp_path):
    path = write_backup(tmp_path, status="running", size=8)
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.verified_manifest(str(path))
    assert str(info.value) == (
        "refusing %s: status is running, not complete; size is 7 bytes, the manifest says 8 "
        "(truncated or replaced?)" % path
    )
    other = tmp_path / "redis"
    other.mkdir()
    path = write_backup(other, kind="redis")
    with pytest.raises(pgbackup.BackupError, match="a redis backup, not a PostgreSQL one"):
        pgbackup.verified_manifest(str(path))


@pytest.mark.parametrize(
    "tables,problem",
    [
        ([1], "tables is not an object"),
        ({"public.a": 5}, "tables[public.a] is not an object"),
        ({"public.a": {}}, "tables[public.a] rows None is not a count of rows"),
        ({"public.a": {"rows": "5"}}, "tables[public.a] rows '5' is not a count"),
        ({"public.a": {"rows": True}}, "tables[public.a] rows True is not a count"),
        ({"public.a": {"rows": -1}}, "tables[public.a] rows -1 is not a count"),
        ({"public.a": {"rows": 1, "checksum": "xyz"}}, "checksum 'xyz' is not 16 hex digits"),
        ({"public.a": {"rows": 1, "checksum": "00000000000000aa", "method": "md5"}}, "method 'md5'"),
    ],
)
def test_verified_manifest_refuses_malformed_tables_before_anything_is_touched(tmp_path, tables, problem):
    path = write_backup(tmp_path, tables=tables)
    with pytest.raises(pgbackup.BackupError, match="refusing .*" + re.escape(problem)):
        pgbackup.verified_manifest(str(path))


def test_verified_manifest_accepts_well_formed_tables_and_refuses_another_archives_manifest(tmp_path):
    good = {
        "public.a": {"rows": 3, "checksum": "00000000000000aa", "method": "record"},
        "public.b": {"rows": 0, "checksum": "00000000000000bb", "method": "text"},
        "public.c": {"rows": 5},
    }
    path = write_backup(tmp_path, tables=good)
    assert pgbackup.verified_manifest(str(path))["tables"] == good
    assert pgbackup.has_tables(pgbackup.verified_manifest(str(path)))
    other = tmp_path / "other"
    other.mkdir()
    path = write_backup(other, file="other-20261122T020000Z.dump.zst")
    with pytest.raises(pgbackup.BackupError, match="describes other-20261122T020000Z.dump.zst, not mplp-"):
        pgbackup.verified_manifest(str(path))


def test_has_tables():
    assert not pgbackup.has_tables({"kind": "postgresql"})
    assert pgbackup.has_tables({"kind": "postgresql", "tables": {}})
    assert pgbackup.has_tables({"kind": "postgresql-globals"})


# -- backup_database / backup_globals on a fake target ---------------------------------------


class SnapshotSession:
    """The queries SnapshotHolder and content_snapshot make, answered for one table."""

    def __init__(self, fail_content=False):
        self.executed = []
        self.closed = False
        self.fail_content = fail_content

    def execute(self, sql):
        self.executed.append(sql)

    def text(self, sql):
        return {
            "SELECT pg_export_snapshot()": "00000003-0000001B-1",
            "SELECT current_setting('server_version')": "15.8",
            "SELECT pg_database_size(current_database())": "8765432",
            "SELECT current_setting('server_version_num')": "150008",
        }[sql]

    def value(self, sql):
        if sql.startswith(pgsql.RESOLVE_SQL.split("%s", maxsplit=1)[0]):
            self.executed.append(sql)
            if "'Audit*'" in sql or "'nope'" in sql:
                return None
            return ["public", "Audit"] if "Audit" in sql else ["public", "orders"]
        if sql == pgsql.TABLES_SQL:
            return [{"schema": "public", "table": "orders", "oid": "16390"}]
        if sql == pgsql.UNHASHABLE_SQL:
            return []
        if self.fail_content:
            raise pgsql.SqlError("canceling statement due to user request")
        return {"rows": 2, "sum": "-2"}

    def cancel(self):
        self.executed.append("<cancel>")

    def close(self):
        self.closed = True


class FakeTarget:
    tools = {"pg_dump": "/pg/bin/pg_dump", "pg_dumpall": "/pg/bin/pg_dumpall", "zstd": ZSTD}
    conn = {"maintenance_db": "postgres"}

    def __init__(self, session, dump=b"PGDMP dump", error=None):
        self._session = session
        self.dump = dump
        self.error = error
        self.calls = []

    def session(self, dbname):
        return self._session

    def source(self):
        return {"mode": "direct", "host": "127.0.0.1", "port": 5432, "user": "postgres"}

    def tool_version(self, name):
        return "%s (PostgreSQL) 15.8" % name

    def dump_into(self, argv, writer, zstd_cmd, what):
        self.calls.append((argv, zstd_cmd, what))
        writer.write(self.dump)
        if self.error:
            raise self.error


def test_backup_database_writes_a_verified_archive_and_manifest(tmp_path):
    session = SnapshotSession()
    target = FakeTarget(session)
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    manifest, path = pgbackup.backup_database(target, "mplp", str(tmp_path), now=moment, label="nightly")
    assert path == str(tmp_path / "mplp-20261122T020000Z.dump.zst")
    assert sorted(os.listdir(tmp_path)) == [
        "mplp-20261122T020000Z.dump.zst",
        "mplp-20261122T020000Z.dump.zst.manifest.json",
    ]
    assert artifact.verify_file(path) == (manifest, [])
    assert manifest["tables"] == {
        "public.orders": {"rows": 2, "checksum": "fffffffffffffffe", "method": "record"}
    }
    assert (manifest["database"], manifest["snapshot"], manifest["server_version"]) == (
        "mplp",
        "00000003-0000001B-1",
        "15.8",
    )
    assert manifest["client_version"] == "pg_dump (PostgreSQL) 15.8"
    assert manifest["database_size"] == 8765432 and manifest["label"] == "nightly"
    argv, zstd_cmd, what = target.calls[0]
    assert "--snapshot=00000003-0000001B-1" in argv and "--dbname=mplp" in argv
    assert what == "pg_dump of mplp"
    assert session.executed[0] == "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    assert "COMMIT" in session.executed and session.closed


def test_exclude_table_data_is_resolved_quoted_and_left_out_of_the_snapshot(tmp_path):
    session = SnapshotSession()
    target = FakeTarget(session)
    manifest, _path = pgbackup.backup_database(
        target, "mplp", str(tmp_path), exclude_table_data=['"Audit"', "Orders"]
    )
    argv = target.calls[0][0]
    # pg_dump gets the resolved names quoted (a literal match, no case folding or wildcards)
    assert '--exclude-table-data="public"."Audit"' in argv
    assert '--exclude-table-data="public"."orders"' in argv
    assert manifest["exclude_table_data"] == ['"public"."Audit"', '"public"."orders"']
    assert manifest["tables"] == {}  # public.orders' data was not dumped: not counted


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"exclude_table_data": ["nope"]}, "'nope' matches no table"),
        ({"exclude_table_data": ["Audit*"]}, "pattern character"),
        ({"extra_args": ["--no-comments", "-t", "orders"]}, "dump_args -t would change what is dumped"),
        ({"extra_args": ["--schema-only"]}, "use exclude_table_data"),
    ],
)
def test_a_backup_that_would_not_match_its_manifest_is_refused_before_dumping(tmp_path, kwargs, message):
    session = SnapshotSession()
    target = FakeTarget(session)
    with pytest.raises((pgbackup.BackupError, pgsql.SqlError), match=re.escape(message)):
        pgbackup.backup_database(target, "mplp", str(tmp_path), **kwargs)
    assert target.calls == [] and os.listdir(tmp_path) == []


def test_a_failed_dump_leaves_nothing_and_ends_the_snapshot(tmp_path):
    older = tmp_path / "mplp-20261121T020000Z.dump.zst"
    older.write_bytes(b"yesterday")
    session = SnapshotSession()
    target = FakeTarget(session, error=pgbackup.BackupError("pg_dump of mplp failed (exit code 1): FATAL"))
    with pytest.raises(pgbackup.BackupError, match="FATAL"):
        pgbackup.backup_database(target, "mplp", str(tmp_path))
    assert os.listdir(tmp_path) == [older.name]
    assert older.read_bytes() == b"yesterday"
    assert session.executed[-1] == "ROLLBACK" and session.closed


def test_a_failed_content_snapshot_fails_the_backup(tmp_path):
    target = FakeTarget(SnapshotSession(fail_content=True))
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.backup_database(target, "mplp", str(tmp_path))
    assert str(info.value).startswith("cannot take the row counts and checksums: ")
    assert os.listdir(tmp_path) == []


def test_a_disk_error_names_the_archive(tmp_path):
    target = FakeTarget(SnapshotSession(), error=OSError(errno.ENOSPC, "No space left on device"))
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    with pytest.raises(pgbackup.BackupError) as info:
        pgbackup.backup_database(target, "mplp", str(tmp_path), now=moment)
    assert str(info.value) == (
        "writing the backup failed, nothing kept: no space left on the device of %s"
        % (tmp_path / "mplp-20261122T020000Z.dump.zst")
    )
    assert os.listdir(tmp_path) == []


def test_a_failed_manifest_removes_the_archive(tmp_path, monkeypatch):
    def no_room(path, manifest, overwrite=False):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifact, "write_manifest", no_room)
    with pytest.raises(pgbackup.BackupError, match="writing the manifest failed, the archive was removed"):
        pgbackup.backup_database(FakeTarget(SnapshotSession()), "mplp", str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_an_existing_backup_of_the_same_second_is_not_overwritten(tmp_path):
    moment = artifact.parse_iso("2026-11-22T02:00:00Z")
    existing = tmp_path / "mplp-20261122T020000Z.dump.zst"
    existing.write_bytes(b"keep me")
    with pytest.raises(pgbackup.BackupError, match="already exists; refusing to overwrite"):
        pgbackup.backup_database(FakeTarget(SnapshotSession()), "mplp", str(tmp_path), now=moment)
    globals_existing = tmp_path / "db01-globals-20261122T020000Z.globals.sql.zst"
    globals_existing.write_bytes(b"keep me too")
    with pytest.raises(pgbackup.BackupError, match="already exists; refusing to overwrite"):
        pgbackup.backup_globals(FakeTarget(None), str(tmp_path), "db01-globals", now=moment)
    assert existing.read_bytes() == b"keep me" and globals_existing.read_bytes() == b"keep me too"


def test_backup_globals(tmp_path):
    target = FakeTarget(None, dump=b"CREATE ROLE mplp;")
    manifest, path = pgbackup.backup_globals(target, str(tmp_path), "db01-globals", no_role_passwords=True)
    assert artifact.verify_file(path) == (manifest, [])
    assert manifest["kind"] == "postgresql-globals" and manifest["role_passwords"] is False
    argv, _zstd, what = target.calls[0]
    assert argv == [
        "/pg/bin/pg_dumpall",
        "--globals-only",
        "--no-password",
        "--no-role-passwords",
        "--database=postgres",
    ]
    assert what == "pg_dumpall --globals-only"


def test_a_target_asks_each_tool_for_its_version_once(monkeypatch):
    asked = []

    def fake_version(binary, env=None):
        asked.append(binary)
        return "pg_dump (PostgreSQL) 15.18"

    monkeypatch.setattr(pgbackup, "tool_version", fake_version)
    target = pgbackup.Target(
        "direct", {}, {"pg_dump": "/usr/bin/pg_dump", "pg_dumpall": "/usr/bin/pg_dumpall"}
    )
    for _db in range(3):
        assert target.tool_version("pg_dump") == "pg_dump (PostgreSQL) 15.18"
    target.tool_version("pg_dumpall")
    assert asked == ["/usr/bin/pg_dump", "/usr/bin/pg_dumpall"]


# -- widen_pipe ----------------------------------------------------------------------------


def test_widen_pipe_enlarges_a_pipe_and_ignores_what_is_not_one(tmp_path):
    import fcntl

    read_end, write_end = os.pipe()
    try:
        with os.fdopen(read_end, "rb") as stream:
            assert fcntl.fcntl(stream.fileno(), fcntl.F_GETPIPE_SZ) == 1 << 16
            pgbackup.widen_pipe(stream)
            assert fcntl.fcntl(stream.fileno(), fcntl.F_GETPIPE_SZ) == pgbackup.PIPE_SIZE
    finally:
        os.close(write_end)
    with open(tmp_path / "file", "wb") as regular:
        pgbackup.widen_pipe(regular)  # EBADF from fcntl: left as it is, no error
