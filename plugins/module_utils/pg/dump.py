# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups and restores: pg_dump/pg_restore as argument lists, streamed through
zstd into atomic, checksummed archives with a manifest.

**Format and compression, by measurement** (bench/backup_bench.py): ``pg_dump -Fc -Z0``
(custom format: pg_restore can restore it in one transaction, select objects, list its
contents) piped through ``zstd -1 -T0`` (multi-threaded). On 1 GB of varied data zstd -1
makes a smaller archive than ``pg_dump | gzip`` (gzip -6: 53 CPU seconds, single-threaded;
zstd -1: 7, on every core); levels above 1 cost twice the CPU or more for under 1%.
The globals (roles, tablespaces, grants; ``pg_dumpall --globals-only``) are plain SQL,
compressed the same way.

**Consistency**: the module opens a REPEATABLE READ transaction, exports its snapshot
(``pg_export_snapshot()``) and runs ``pg_dump --snapshot=…``; the row counts and content
checksums of the manifest (see pgsql.py) are computed in that same transaction, so they
describe exactly the dumped data, while the dump runs.

**Passwords** never appear in argv, logs or results: in direct mode libpq reads them from a
pgpass file in a private temporary directory (``PGPASSFILE``), removed afterwards; in-cluster,
pg_dump uses the pod's own credentials (its environment, a local socket), or a pgpass file
the module writes through stdin into a private temporary file inside the pod.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql

EXT = {"custom": ".dump.zst", "globals": ".globals.sql.zst"}
STDERR_KEEP = 8192
# Pipes between the dump, zstd and this process are widened to this (Linux; the default
# 64 KiB makes the three wake each other about sixteen times as often).
PIPE_SIZE = 1 << 20
CHECKSUM_DEFINITION = (
    "per table: rows, and the sum modulo 2^64 of a 64-bit hash of every row (method record: "
    "hashint8extended(hash_record_extended(row, 0), 0); text: hashtextextended(row::text, 0)), "
    "as 16 hex digits; computed with TimeZone=UTC, DateStyle='ISO, MDY', IntervalStyle=postgres, "
    "extra_float_digits=3, bytea_output=hex (the text form does not depend on the session)"
)

# Runs pg_dump/pg_restore/psql in the pod with a pgpass file read from stdin: a fixed script,
# the command and its arguments passed as positional parameters (never interpolated).
PGPASS_WRAPPER = (
    'umask 077; f="$(mktemp)" || exit 97; trap \'rm -f "$f"\' EXIT HUP INT TERM; '
    'IFS= read -r line || true; printf "%s\\n" "$line" > "$f"; '
    'unset PGPASSWORD; PGPASSFILE="$f" "$@"'
)


class BackupError(Exception):
    """A backup or restore that failed; the message says what, where and why, and what was kept."""


class ProducerError(BackupError):
    """The consumer of a restore stream (pg_restore, psql) ran to the end and succeeded, but
    the producer (zstd -d) failed: whatever the consumer committed stays committed."""


# pg_dump arguments that change what is dumped: the manifest's row counts and checksums
# would then disagree with the archive. Long names (getopt also takes unambiguous prefixes).
NARROWING_LONG = (
    "--table",
    "--table-and-children",
    "--exclude-table",
    "--exclude-table-and-children",
    "--schema",
    "--exclude-schema",
    "--data-only",
    "--schema-only",
    "--exclude-table-data",
    "--exclude-table-data-and-children",
    "--extension",
    "--exclude-extension",
    "--section",
    "--filter",
)
NARROWING_SHORT = "tTnNase"
# pg_dump's short options that take a value (the rest of the item, or the next item).
SHORT_WITH_VALUE = "deEfFhjnNpStTUZ"


def narrowing_dump_args(args):
    """The items of ``args`` (extra pg_dump arguments) that narrow what is dumped."""
    found = []
    for arg in args or ():
        arg = str(arg)
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if len(name) > 2 and any(option.startswith(name) for option in NARROWING_LONG):
                found.append(arg)
        elif arg.startswith("-") and len(arg) > 1:
            for char in arg[1:]:
                if char in NARROWING_SHORT:
                    found.append(arg)
                    break
                if char in SHORT_WITH_VALUE:
                    break
    return found


def refuse_narrowing_dump_args(args):
    """BackupError naming the items of ``args`` that would change what is dumped."""
    narrowing = narrowing_dump_args(args)
    if narrowing:
        raise BackupError(
            "dump_args %s would change what is dumped, and the manifest's row counts and checksums "
            "would not describe the archive; use exclude_table_data to leave table data out"
            % ", ".join(narrowing)
        )


def check_login(conn):
    """Refuse a user or password that a pgpass file cannot carry, before anything is done."""
    pgpass_line("*", "*", "*", conn.get("user"), conn.get("password") or "")


def pgpass_line(host, port, dbname, user, password):
    def esc(value):
        return str(value).replace("\\", "\\\\").replace(":", "\\:")

    if any(ch in str(value) for value in (host, port, user, password) for ch in "\r\n"):
        raise BackupError("the password, user or host has a line break, which a pgpass file cannot carry")
    return "%s:%s:%s:%s:%s" % (esc(host or "*"), esc(port or "*"), "*", esc(user or "*"), esc(password))


@contextlib.contextmanager
def pgpass_env(conn, base_env=None):
    """Environment for libpq tools: connection in PG* variables, password in a private
    pgpass file (mode 0600 in a 0700 directory), removed on exit."""
    env = dict(base_env if base_env is not None else os.environ)
    for key in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGOPTIONS"):
        env.pop(key, None)
    mapping = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "sslmode": "PGSSLMODE"}
    for key, var in mapping.items():
        if conn.get(key) not in (None, ""):
            env[var] = str(conn[key])
    env["PGCONNECT_TIMEOUT"] = str(int(conn.get("connect_timeout") or 10))
    directory = None
    try:
        if conn.get("password"):
            directory = tempfile.mkdtemp(prefix="maops-pg-")
            path = os.path.join(directory, "pgpass")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(
                    # The file is private and serves this one connection: libpq looks the
                    # password up under "localhost" for a socket and under each host of a
                    # multi-host login_host, so the host, port and database fields match any.
                    pgpass_line("*", "*", "*", conn.get("user"), conn["password"]) + "\n"
                )
            env["PGPASSFILE"] = path
        else:
            env["PGPASSFILE"] = os.devnull
        yield env
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


def psycopg_params(conn, dbname):
    params = {
        "host": conn.get("host"),
        "port": conn.get("port"),
        "user": conn.get("user"),
        "dbname": dbname,
        "connect_timeout": int(conn.get("connect_timeout") or 10),
        "application_name": "multiagent.ops",
    }
    if conn.get("password"):
        params["password"] = conn["password"]
    if conn.get("sslmode"):
        params["sslmode"] = conn["sslmode"]
    return {k: v for k, v in params.items() if v not in (None, "")}


def dbname_arg(name):
    """A database name as the libpq tools must get it: they read a value with ``=`` or a URI
    prefix as a connection string, so such a name goes as ``dbname='...'``."""
    name = str(name)
    if "=" in name or name.startswith(("postgresql://", "postgres://")):
        return "dbname=" + conninfo_value(name)
    return name


def pg_dump_argv(pg_dump, dbname, snapshot=None, exclude_table_data=(), extra=()):
    argv = [pg_dump, "--format=custom", "--compress=0", "--no-password", "--dbname=" + dbname_arg(dbname)]
    if snapshot:
        argv.append("--snapshot=" + snapshot)
    for table in exclude_table_data or ():
        # (schema, table) pairs resolved on the server go quoted: pg_dump takes a quoted
        # pattern literally (no wildcards, no case folding).
        if isinstance(table, (tuple, list)):
            table = pgsql.qualified(table[0], table[1])
        argv.append("--exclude-table-data=" + table)
    argv.extend(extra or ())
    return argv


def pg_dumpall_globals_argv(pg_dumpall, no_role_passwords=False, extra=()):
    argv = [pg_dumpall, "--globals-only", "--no-password"]
    if no_role_passwords:
        argv.append("--no-role-passwords")
    argv.extend(extra or ())
    return argv


def conninfo_value(value):
    """A value in a libpq connection string, quoted."""
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")


def pg_restore_argv(
    pg_restore, dbname, single_transaction=True, clean=True, no_owner=False, extra=(), application_name=None
):
    """pg_restore's arguments. ``application_name`` names its session on the server (a
    LockWatch finds it by that name: a ``lock_timeout`` cannot be given, as the archive's own
    preamble sets ``lock_timeout = 0``)."""
    target = dbname_arg(dbname)
    if application_name:
        target = "dbname=%s application_name=%s" % (conninfo_value(dbname), conninfo_value(application_name))
    argv = [pg_restore, "--no-password", "--exit-on-error", "--dbname=" + target]
    if single_transaction:
        argv.append("--single-transaction")
    if clean:
        argv.extend(["--clean", "--if-exists"])
    if no_owner:
        argv.extend(["--no-owner", "--no-privileges"])
    argv.extend(extra or ())
    return argv


def zstd_argv(zstd, level=1, threads=0, decompress=False):
    if decompress:
        return [zstd, "-q", "-d", "-c"]
    return [zstd, "-q", "-c", "-%d" % int(level), "-T%d" % int(threads)]


def tool_version(binary, env=None):
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except OSError:
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else None


class _Tail:
    """Keeps the last bytes of a stream (stderr of a tool), read in a thread."""

    def __init__(self, stream):
        self.data = b""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read(4096), b""):
            self.data = (self.data + chunk)[-STDERR_KEEP:]

    def text(self):
        self._thread.join(timeout=10)
        return self.data.decode("utf-8", "replace").strip()


def widen_pipe(stream, size=PIPE_SIZE):
    """Ask for a larger pipe buffer (Linux ``F_SETPIPE_SZ``); a no-op where it is refused
    (other systems, a per-user pipe limit)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def _kill(*procs):
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
    for proc in procs:
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)


def write_compressed_from_process(argv, env, writer, zstd_cmd, what):
    """Run ``argv`` (pg_dump, pg_dumpall) | zstd into ``writer``; raise with the tool's own
    message when either fails. The writer is not committed here."""
    producer = compressor = None
    try:
        producer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        producer_err = _Tail(producer.stderr)
        widen_pipe(producer.stdout)
        compressor = subprocess.Popen(
            zstd_cmd, stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        compressor_err = _Tail(compressor.stderr)
        widen_pipe(compressor.stdout)
        producer.stdout.close()
        for chunk in iter(lambda: compressor.stdout.read(artifact.CHUNK), b""):
            writer.write(chunk)
        compressor.wait()
        producer.wait()
    except OSError as exc:
        _kill(producer, compressor)
        if getattr(exc, "filename", None) in (argv[0], zstd_cmd[0]):
            raise BackupError("cannot run %s: %s" % (exc.filename, exc.strerror)) from exc
        where = getattr(writer, "path", None) or "the backup directory"
        raise BackupError(
            "%s stopped, nothing kept: writing failed: %s" % (what, describe_oserror(exc, where))
        ) from exc
    except BaseException:
        _kill(producer, compressor)
        raise
    if producer.returncode != 0:
        raise BackupError(
            "%s failed (exit code %s): %s" % (what, producer.returncode, producer_err.text() or "no message")
        )
    if compressor.returncode != 0:
        raise BackupError("zstd failed (exit code %s): %s" % (compressor.returncode, compressor_err.text()))


def write_compressed_from_exec(pod_exec, writer, zstd_cmd, what, stdin_first=None):
    """Stream a PodExec's stdout through a local zstd into ``writer``; checks the exit status."""
    compressor = subprocess.Popen(
        zstd_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    compressor_err = _Tail(compressor.stderr)
    widen_pipe(compressor.stdout)
    failure = []

    def drain():
        try:
            for chunk in iter(lambda: compressor.stdout.read(artifact.CHUNK), b""):
                writer.write(chunk)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
            compressor.kill()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if stdin_first is not None:
            pod_exec.write(stdin_first)
            pod_exec.close_stdin()

        def feed(data):
            if failure:
                raise failure[0]
            compressor.stdin.write(data)

        code = pod_exec.pump(feed)
        compressor.stdin.close()
        reader.join()
        compressor.wait()
    except BaseException:
        _kill(compressor)
        reader.join(timeout=10)
        if failure:
            raise failure[0] from None
        raise
    if failure:
        raise failure[0]
    if code != 0:
        raise BackupError(pod_exec.failure(what))
    if compressor.returncode != 0:
        raise BackupError("zstd failed (exit code %s): %s" % (compressor.returncode, compressor_err.text()))


def describe_oserror(exc, path):
    if getattr(exc, "errno", None) == 28:
        return "no space left on the device of %s" % path
    return "%s: %s" % (path, exc.strerror or exc)


class SnapshotHolder:
    """A REPEATABLE READ, READ ONLY transaction with its snapshot exported; the content
    snapshot is computed in it (in a thread) while pg_dump runs with ``--snapshot``."""

    def __init__(self, session, exclude_data=(), checksums=True):
        self.session = session
        self.exclude_data = exclude_data
        self.checksums = checksums
        self.snapshot_id = None
        self.content = None
        self.error = None
        self._thread = None

    def begin(self):
        self.session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        self.snapshot_id = self.session.text("SELECT pg_export_snapshot()")
        self.server_version = self.session.text("SELECT current_setting('server_version')")
        self.database_size = int(self.session.text("SELECT pg_database_size(current_database())"))
        return self.snapshot_id

    def start_content(self):
        def work():
            try:
                self.content = pgsql.content_snapshot(self.session, self.exclude_data, self.checksums)
            except Exception as exc:  # noqa: BLE001 - reported by finish()
                self.error = exc

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def abort(self):
        """Stop the content queries if they still run (the dump failed) and end the transaction."""
        if self._thread is not None and self._thread.is_alive():
            self.session.cancel()
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self.session.execute("ROLLBACK")

    def finish(self):
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            self.session.execute("COMMIT")
        if self.error:
            raise BackupError("cannot take the row counts and checksums: %s" % self.error)
        return self.content


def timed_manifest(manifest, started, writer):
    finished = artifact.utcnow()
    manifest.update(
        size=writer.size,
        sha256=writer.sha256,
        started=artifact.iso(started),
        finished=artifact.iso(finished),
        duration_seconds=round((finished - started).total_seconds(), 3),
        status="complete",
    )
    return manifest


def monotonic():
    return time.monotonic()


class Target:
    """Where the tools run: ``direct`` (here, against host/port) or ``in-cluster`` (in the
    database pod, through the exec API). Builds sessions and runs tools the same way for both."""

    def __init__(
        self, mode, conn, tools, api_client=None, pod=None, namespace=None, container=None, timeout=None
    ):
        self.mode = mode
        self.conn = conn
        self.tools = tools
        self.api_client = api_client
        self.pod = pod
        self.namespace = namespace
        self.container = container
        self.timeout = timeout
        self._versions = {}

    @property
    def in_cluster(self):
        return self.mode == "in-cluster"

    def source(self):
        if self.in_cluster:
            return {
                "mode": self.mode,
                "namespace": self.namespace,
                "pod": self.pod,
                "container": self.container,
            }
        return {
            "mode": self.mode,
            "host": self.conn.get("host"),
            "port": self.conn.get("port"),
            "user": self.conn.get("user"),
        }

    # -- in-cluster helpers -------------------------------------------------------------
    def _pod_argv(self, argv):
        argv = list(argv)
        if self.conn.get("user"):
            argv.insert(1, "--username=" + self.conn["user"])
        if self.conn.get("password"):
            return ["sh", "-c", PGPASS_WRAPPER, "sh"] + argv
        return argv

    def _pgpass_stdin(self):
        if not self.conn.get("password"):
            return None
        line = pgpass_line("*", "*", "*", self.conn.get("user"), self.conn["password"])
        return (line + "\n").encode("utf-8")

    def pod_exec(self, argv, stdin=False):
        from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import PodExec

        wrapped = self._pod_argv(argv)
        return PodExec(
            self.api_client,
            self.namespace,
            self.pod,
            wrapped,
            container=self.container,
            stdin=stdin or bool(self.conn.get("password")),
            timeout=self.timeout,
        ).open()

    # -- sessions -----------------------------------------------------------------------
    def session(self, dbname):
        if not self.in_cluster:
            return pgsql.PsycopgSession(psycopg_params(self.conn, dbname), autocommit=True)
        psql = [self.tools["psql"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        psql.append("--dbname=" + dbname_arg(dbname))
        try:
            pod_exec = self.pod_exec(psql, stdin=True)
        except Exception as exc:  # noqa: BLE001 - ExecError names the pod
            raise pgsql.SqlError(str(exc)) from exc
        first = self._pgpass_stdin()
        if first:
            pod_exec.write(first)
        session = pgsql.PsqlSession(pod_exec)
        session.text("SELECT 1")  # fails here, naming the cause, when psql cannot connect
        return session

    def tool_version(self, name):
        """``<tool> --version``, asked once per Target (every database of a run uses the
        same binary; in-cluster each ask is an exec round trip)."""
        if name not in self._versions:
            self._versions[name] = self._ask_version(name)
        return self._versions[name]

    def _ask_version(self, name):
        if not self.in_cluster:
            return tool_version(self.tools[name])
        try:
            pod_exec = self.pod_exec([self.tools[name], "--version"])
        except Exception:  # noqa: BLE001
            return None
        out = []
        try:
            if self.conn.get("password"):
                pod_exec.write(self._pgpass_stdin())
                pod_exec.close_stdin()
            pod_exec.pump(out.append)
        except Exception:  # noqa: BLE001
            return None
        finally:
            pod_exec.close()
        text = b"".join(out).decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else None

    # -- streams ------------------------------------------------------------------------
    def dump_into(self, argv, writer, zstd_cmd, what):
        if not self.in_cluster:
            with pgpass_env(self.conn) as env:
                env["PGAPPNAME"] = "multiagent.ops-backup"
                write_compressed_from_process(argv, env, writer, zstd_cmd, what)
            return
        from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError

        try:
            pod_exec = self.pod_exec(argv)
        except ExecError as exc:
            raise BackupError(str(exc)) from exc
        try:
            write_compressed_from_exec(pod_exec, writer, zstd_cmd, what, stdin_first=self._pgpass_stdin())
        except ExecError as exc:
            raise BackupError("%s: %s" % (what, exc)) from exc
        finally:
            pod_exec.close()

    def restore_from(self, archive_path, argv, zstd, what):
        """zstd -d ARCHIVE | argv (pg_restore/psql), here or in the pod."""
        decompress = zstd_argv(zstd, decompress=True) + [archive_path]
        if not self.in_cluster:
            with pgpass_env(self.conn) as env:
                env["PGAPPNAME"] = "multiagent.ops-restore"
                run_pipeline(decompress, argv, env, what)
            return
        from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError

        try:
            pod_exec = self.pod_exec(argv, stdin=True)
        except ExecError as exc:
            raise BackupError(str(exc)) from exc
        try:
            stream_file_into_exec(decompress, pod_exec, self._pgpass_stdin(), what)
        except ExecError as exc:
            raise BackupError("%s: %s" % (what, exc)) from exc
        finally:
            pod_exec.close()


def run_pipeline(first, second, env, what):
    """``first | second`` as argument lists; raise naming whichever failed."""
    producer = consumer = None
    try:
        producer = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        producer_err = _Tail(producer.stderr)
        consumer = subprocess.Popen(
            second, stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        consumer_out = _Tail(consumer.stdout)
        consumer_err = _Tail(consumer.stderr)
        producer.stdout.close()
        consumer.wait()
        producer.wait()
    except OSError as exc:
        _kill(producer, consumer)
        raise BackupError("cannot run %s: %s" % (exc.filename or what, exc.strerror or exc)) from exc
    except BaseException:
        _kill(producer, consumer)
        raise
    if consumer.returncode != 0:
        raise BackupError(
            "%s failed (exit code %s): %s"
            % (what, consumer.returncode, consumer_err.text() or consumer_out.text() or "no message")
        )
    check_producer(producer.returncode, producer_err.text(), what)


SIGPIPE_CODES = (-13, 128 + 13)


def producer_stopped_by_reader(returncode, stderr):
    """zstd -d stopped because its reader went away (SIGPIPE, EPIPE): after a consumer that
    succeeded, this is a consumer that did not need the rest (pg_restore --table, -L,
    --schema-only), not a failure."""
    text = (stderr or "").lower()
    return returncode in SIGPIPE_CODES or "broken pipe" in text or "epipe" in text


def check_producer(returncode, stderr, what, stopped_early=False):
    """After a consumer that exited 0: raise ProducerError when the producer really failed."""
    if returncode in (0, None) or stopped_early or producer_stopped_by_reader(returncode, stderr):
        return
    raise ProducerError("decompressing the archive failed: %s" % (stderr or "zstd exit code %s" % returncode))


def stream_file_into_exec(decompress, pod_exec, first, what):
    producer = subprocess.Popen(decompress, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    producer_err = _Tail(producer.stderr)
    result = {}

    def pump():
        try:
            result["code"] = pod_exec.pump(lambda data: None)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def send(chunk):
        """False when the command has ended and no longer takes stdin."""
        try:
            pod_exec.write(chunk)
            return True
        except Exception:
            reader.join(timeout=30)
            if "code" in result:
                return False
            raise

    try:
        if first:
            pod_exec.write(first)
        ended_early = False
        for chunk in iter(lambda: producer.stdout.read(256 * 1024), b""):
            if "error" in result or "code" in result or not send(chunk):
                ended_early = True
                break
        if ended_early:
            _kill(producer)  # nobody reads the rest: it would block on a full pipe forever
        producer.wait()
        if "error" not in result and "code" not in result:
            pod_exec.close_stdin()
        reader.join()
    except BaseException:
        _kill(producer)
        raise
    if "error" in result:
        raise result["error"]
    if result.get("code") != 0:
        raise BackupError(pod_exec.failure(what))
    # The command succeeded: if it ended before reading everything (pg_restore --table, -L,
    # --schema-only), zstd was stopped here on purpose or by a broken pipe.
    check_producer(producer.returncode, producer_err.text(), what, stopped_early=ended_early)


def backup_database(
    target,
    dbname,
    directory,
    prefix=None,
    level=1,
    threads=0,
    checksums=True,
    exclude_table_data=(),
    extra_args=(),
    now=None,
    label=None,
):
    """Dump one database into ``directory``: archive then manifest. Returns the manifest and
    the archive path. On any failure nothing is left under the final names."""
    started = now or artifact.utcnow()
    clock = monotonic()
    name = artifact.archive_name(prefix or dbname, started, EXT["custom"])
    path = os.path.join(directory, name)
    refuse_narrowing_dump_args(extra_args)
    session = target.session(dbname)
    try:
        # Each entry names exactly one table, resolved here (quoting, case folding, search_path):
        # pg_dump gets it quoted (taken literally) and the content snapshot leaves out the same.
        excluded = pgsql.resolve_tables(session, exclude_table_data)
    except BaseException:
        session.close()
        raise
    holder = SnapshotHolder(session, excluded, checksums)
    try:
        snapshot_id = holder.begin()
        argv = pg_dump_argv(target.tools["pg_dump"], dbname, snapshot_id, excluded, extra_args)
        manifest = artifact.new_manifest(
            "postgresql",
            dbname,
            path,
            "custom",
            "zstd",
            compression_level=int(level),
            database=dbname,
            label=label,
            source=target.source(),
            server_version=holder.server_version,
            client_version=target.tool_version("pg_dump"),
            database_size=holder.database_size,
            snapshot=snapshot_id,
            exclude_table_data=[pgsql.qualified(schema, table) for schema, table in excluded],
            checksum_definition=CHECKSUM_DEFINITION,
            created_by="multiagent.ops.postgresql_backup",
        )
        try:
            with artifact.AtomicWriter(path) as writer:
                holder.start_content()
                target.dump_into(
                    argv, writer, zstd_argv(target.tools["zstd"], level, threads), "pg_dump of %s" % dbname
                )
                manifest["tables"] = holder.finish()
                timed_manifest(manifest, started, writer)
                manifest["duration_seconds"] = round(monotonic() - clock, 3)
                writer.commit()
        except OSError as exc:
            raise BackupError(
                "writing the backup failed, nothing kept: %s" % describe_oserror(exc, path)
            ) from exc
        except artifact.ArtifactError as exc:
            raise BackupError(str(exc)) from exc
    finally:
        holder.abort()
        session.close()
    try:
        artifact.write_manifest(path, manifest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise BackupError(
            "writing the manifest failed, the archive was removed: %s" % describe_oserror(exc, path)
        ) from exc
    return manifest, path


def backup_globals(target, directory, prefix, level=1, no_role_passwords=False, now=None, label=None):
    started = now or artifact.utcnow()
    name = artifact.archive_name(prefix, started, EXT["globals"])
    path = os.path.join(directory, name)
    argv = pg_dumpall_globals_argv(target.tools["pg_dumpall"], no_role_passwords) + [
        "--database=" + dbname_arg(target.conn.get("maintenance_db") or "postgres")
    ]
    manifest = artifact.new_manifest(
        "postgresql-globals",
        prefix,
        path,
        "sql",
        "zstd",
        compression_level=int(level),
        label=label,
        source=target.source(),
        client_version=target.tool_version("pg_dumpall"),
        role_passwords=not no_role_passwords,
        created_by="multiagent.ops.postgresql_backup",
    )
    try:
        with artifact.AtomicWriter(path) as writer:
            target.dump_into(
                argv, writer, zstd_argv(target.tools["zstd"], level), "pg_dumpall --globals-only"
            )
            timed_manifest(manifest, started, writer)
            writer.commit()
    except OSError as exc:
        raise BackupError(
            "writing the globals failed, nothing kept: %s" % describe_oserror(exc, path)
        ) from exc
    except artifact.ArtifactError as exc:
        raise BackupError(str(exc)) from exc
    try:
        artifact.write_manifest(path, manifest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise BackupError("writing the manifest failed: %s" % describe_oserror(exc, path)) from exc
    return manifest, path


CHECKSUM_HEX = re.compile(r"^[0-9a-f]{16}$")


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


def manifest_content_problems(archive_path, manifest):
    """Why a PostgreSQL manifest's contents cannot be used for ``archive_path`` (empty: they
    can): its ``file`` names another archive, or its ``tables`` are malformed."""
    problems = artifact.file_problems(manifest, os.path.basename(archive_path))
    if manifest.get("kind") == "postgresql" and "tables" in manifest:
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


def verified_manifest(archive_path, manifest=None):
    """The archive's manifest when the archive matches it and its contents can be checked
    against; BackupError naming what is wrong otherwise (nothing has been touched yet)."""
    manifest, problems = artifact.verify_file(archive_path, manifest)
    if problems:
        raise BackupError("refusing %s: %s" % (archive_path, "; ".join(problems)))
    if manifest.get("kind") not in ("postgresql", "postgresql-globals"):
        raise BackupError(
            "refusing %s: a %s backup, not a PostgreSQL one" % (archive_path, manifest.get("kind"))
        )
    problems = manifest_content_problems(archive_path, manifest)
    if problems:
        raise BackupError("refusing %s: %s" % (archive_path, "; ".join(problems)))
    return manifest


LOCK_WAIT_SQL = """
SELECT jsonb_build_object(
  'pid', a.pid,
  'blockers', (SELECT coalesce(jsonb_agg(jsonb_build_object(
      'pid', b.pid, 'user', b.usename, 'application', b.application_name,
      'client', host(b.client_addr), 'state', b.state, 'query', left(b.query, 200))), '[]'::jsonb)
    FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))))::text
FROM pg_stat_activity a
WHERE a.application_name = %s AND a.datname = %s AND a.wait_event_type = 'Lock'
LIMIT 1
"""


class LockWatch:
    """Bounds how long a restore waits for a lock. pg_restore's archive sets
    ``lock_timeout = 0`` itself, so a session that holds a table the restore must drop or fill
    (one that connected again after the others were ended) would hang it for ever, with the
    application stopped. While the restore runs, a thread looks every ``interval`` seconds,
    through ``session`` (another connection), for the restore's server session (by its
    ``application_name``) waiting on a lock; past ``timeout`` seconds of waiting it cancels
    it (``pg_cancel_backend``: pg_restore fails and its transaction rolls back) and keeps who
    held the lock for the message. ``timeout`` None or 0: no watch."""

    def __init__(self, session, dbname, application_name, timeout, interval=1.0, clock=time.monotonic):
        self.session = session
        self.dbname = dbname
        self.application_name = application_name
        self.timeout = float(timeout or 0)
        self.interval = min(interval, self.timeout / 3) if self.timeout else interval
        self.clock = clock
        self.cancelled = None
        self.error = None
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if self.timeout > 0:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return False

    def _watch(self):
        sql = LOCK_WAIT_SQL % (pgsql.quote_literal(self.application_name), pgsql.quote_literal(self.dbname))
        since = None
        while not self._stop.wait(self.interval):
            try:
                waiting = self.session.value(sql)
                if not waiting:
                    since = None
                    continue
                now = self.clock()
                since = now if since is None else since
                if now - since >= self.timeout:
                    self.session.text("SELECT pg_cancel_backend(%d)" % int(waiting["pid"]))
                    self.cancelled = waiting
                    return
            except Exception as exc:  # noqa: BLE001 - the restore goes on unwatched; reported
                self.error = exc
                return

    def describe(self):
        """Why the restore was cancelled: how long it waited and who held the lock."""
        blockers = (self.cancelled or {}).get("blockers") or []
        held = "; ".join(
            "pid %s (user %s, application %s, client %s, %s: %s)"
            % (
                b.get("pid"),
                b.get("user"),
                b.get("application") or "-",
                b.get("client") or "local",
                b.get("state"),
                (b.get("query") or "").strip(),
            )
            for b in blockers
        )
        return "pg_restore waited more than %gs for a lock on %s%s and was cancelled" % (
            self.timeout,
            self.dbname,
            ", held by " + held if held else "",
        )


def terminate_sessions(session, dbname):
    """End every other session on ``dbname``; returns how many were ended."""
    return int(
        session.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()" % pgsql.quote_literal(dbname)
        )
        or 0
    )


def database_exists(session, dbname):
    return bool(
        session.text("SELECT count(*) FROM pg_database WHERE datname = %s" % pgsql.quote_literal(dbname))
        not in ("0", 0)
    )


def create_database(session, dbname, owner=None):
    sql = "CREATE DATABASE %s TEMPLATE template0" % pgsql.quote_ident(dbname)
    if owner:
        sql += " OWNER %s" % pgsql.quote_ident(owner)
    session.execute(sql)


def drop_database(session, dbname):
    terminate_sessions(session, dbname)
    session.execute("DROP DATABASE IF EXISTS %s" % pgsql.quote_ident(dbname))


def check_restored(target, dbname, manifest):
    """Row counts and checksums of ``dbname`` now, against the manifest's."""
    expected = manifest.get("tables") or {}
    session = target.session(dbname)
    try:
        session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found, extra = pgsql.table_checks(session, expected)
        session.execute("COMMIT")
    finally:
        session.close()
    return {
        "tables_checked": len(expected),
        "rows_checked": sum(int(v["rows"]) for v in found.values() if v),
        "problems": pgsql.compare_content(expected, found),
        "extra_tables": extra,
    }


def restore_database(target, archive_path, manifest, dbname, **options):
    """restore_into() (``options`` are its keywords), then check against the manifest."""
    restore_into(target, archive_path, dbname, **options)
    return check_restored(target, dbname, manifest)


def restore_into(
    target,
    archive_path,
    dbname,
    single_transaction=True,
    clean=True,
    no_owner=False,
    extra_args=(),
    lock_timeout=None,
    watch_session=None,
):
    """zstd -d | pg_restore into ``dbname``, its lock waits watched (LockWatch) when
    ``lock_timeout`` and ``watch_session`` are given. Returns why the watch stopped early (an
    exception of its session: the restore went on unwatched), else None."""
    name = "multiagent.ops-restore-%s" % os.urandom(4).hex()
    argv = pg_restore_argv(
        target.tools["pg_restore"], dbname, single_transaction, clean, no_owner, extra_args, name
    )
    timeout = lock_timeout if watch_session is not None else None
    with LockWatch(watch_session, dbname, name, timeout) as watch:
        try:
            target.restore_from(archive_path, argv, target.tools["zstd"], "pg_restore into %s" % dbname)
        except ProducerError:
            raise
        except BackupError as exc:
            if watch.cancelled:
                raise BackupError("%s: %s" % (watch.describe(), exc)) from exc
            raise
    return watch.error


def restore_globals(target, archive_path):
    argv = [
        target.tools["psql"],
        "-X",
        "-q",
        "--no-password",
        "-v",
        "ON_ERROR_STOP=0",
        "--dbname=" + dbname_arg(target.conn.get("maintenance_db") or "postgres"),
        "-f",
        "-",
    ]
    target.restore_from(archive_path, argv, target.tools["zstd"], "psql (globals)")
