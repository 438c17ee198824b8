# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the PostgreSQL tools and sessions run, and the sessions themselves.

A Target is either ``direct`` (the tools run here, found on this host, and connect to
host:port; sessions are psycopg connections) or ``in-cluster`` (the tools run inside the
database pod through the Kubernetes exec API and stream back; sessions are ``psql`` reading
statements from stdin). Both answer the same calls: session(dbname), tool_version(name),
dump_into() and restore_from(), which run the pipelines of common/pipeline.py.

Both kinds of session answer the small interface content.py uses: ``value(sql)`` (one JSON
value back), ``text(sql)``, ``execute(sql)``, and ``cancel()`` and ``close()``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel, pipeline, tools
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects, resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError, PodExec
from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content

TOOLS = ("pg_dump", "pg_dumpall", "pg_restore", "psql")
POSTGRESQL_BIN_DIRS = "/usr/lib/postgresql/*/bin"
# What a backup or restore can fail with; each message names the object and the cause. A
# cancel (SIGTERM, the parent gone) is one of them: the way out has stopped the tools and
# removed the partial files, and the runner reports the state it left as for any failure.
FAILURES = (pg_argv.BackupError, content.SqlError, pipeline.PipelineError, cancel.Cancelled)


class PsycopgSession:
    """A direct connection (psycopg 3). ``params`` are libpq keywords; the password is passed
    to libpq directly, never on a command line."""

    def __init__(self, params, autocommit=False):
        import psycopg

        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(autocommit=autocommit, **params)
        except psycopg.Error as exc:
            raise content.SqlError(
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
            raise content.SqlError("%s: %s" % (sql.split("\n")[0][:120], str(exc).strip())) from exc

    def value(self, sql):
        try:
            row = self.conn.execute(sql).fetchone()
        except self._psycopg.Error as exc:
            raise content.SqlError("%s: %s" % (sql.strip().split("\n")[0][:120], str(exc).strip())) from exc
        return None if row is None else (json.loads(row[0]) if isinstance(row[0], str) else row[0])

    def text(self, sql):
        try:
            row = self.conn.execute(sql).fetchone()
        except self._psycopg.Error as exc:
            raise content.SqlError("%s: %s" % (sql.strip().split("\n")[0][:120], str(exc).strip())) from exc
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
                raise content.SqlError(
                    "%s: no answer from psql for %s s" % (sql.strip().split("\n")[0][:120], self.exec.timeout)
                ) from exc
            if line is None:
                cause = self._error or self.exec.failure("psql")
                raise content.SqlError("%s: psql ended: %s" % (sql.strip().split("\n")[0][:120], cause))
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


# -- where the tools run -------------------------------------------------------------------


def conn_params(params):
    """The connection of the modules' options (the multiagent.ops.postgresql doc fragment)."""
    return {
        "host": params["login_host"],
        "port": params["login_port"],
        "user": params["login_user"] or None,
        "password": params["login_password"],
        "sslmode": params["ssl_mode"],
        "connect_timeout": params["connect_timeout"],
        "maintenance_db": params["maintenance_db"],
    }


def find_tools(bin_dir=None):
    """Absolute paths of the PostgreSQL tools and zstd on this host: in ``bin_dir`` only when
    given, else the newest ``/usr/lib/postgresql/*/bin``, then PATH. BackupError names the
    first one missing."""
    found = {}
    for name in TOOLS:
        if bin_dir:
            path = tools.find_tool(name, [bin_dir], search_path=False, fallback=())
        else:
            path = tools.find_tool(name, tools.versioned_dirs(POSTGRESQL_BIN_DIRS), fallback=())
        if path is None:
            raise pg_argv.BackupError(
                "%s not found%s; install the PostgreSQL client (postgresql-client) or set bin_dir"
                % (name, " in %s" % bin_dir if bin_dir else "")
            )
        found[name] = path
    found["zstd"] = find_zstd()
    return found


def find_zstd():
    path = tools.find_tool("zstd")
    if path is None:
        raise pg_argv.BackupError("zstd not found on PATH of the host running the module; install zstd")
    return path


def _running_and_ready(pod):
    return (pod.get("status") or {}).get("phase") == "Running" and objects.pod_is_ready(pod)


def find_pod(client, namespace, pod=None, selector=None):
    """The database pod: ``pod`` when it is running and ready, else the first running and
    ready pod (by name) that ``selector`` matches. BackupError says why there is none."""
    if not namespace:
        raise pg_argv.BackupError("mode=in_cluster needs namespace (and pod or pod_selector)")
    if pod:
        found = client.get_optional(resources.POD.object_path(namespace, pod), "read pod %s" % pod)
        if found is None:
            raise pg_argv.BackupError("pod %s does not exist in namespace %s" % (pod, namespace))
        if not _running_and_ready(found):
            raise pg_argv.BackupError("pod %s/%s is not running and ready" % (namespace, pod))
        return pod
    if not selector:
        raise pg_argv.BackupError("mode=in_cluster needs pod or pod_selector")
    pods = client.list(
        resources.POD.collection_path(namespace),
        "list pods %s in namespace %s" % (selector, namespace),
        label_selector=selector,
    )
    ready = sorted(objects.meta(item).get("name") for item in pods if _running_and_ready(item))
    if not ready:
        raise pg_argv.BackupError(
            "no running and ready pod matches %s in namespace %s (%d pods match)"
            % (selector, namespace, len(pods))
        )
    return ready[0]


def make_target(params, kubernetes):
    """The Target of the modules' options: the tools found here (direct), or the database
    pod (in-cluster). ``kubernetes()`` gives a k8s Client (raising BackupError when it
    cannot); it is called in in-cluster mode only, so a direct backup never loads the
    kubernetes library. BackupError says what is missing."""
    conn = conn_params(params)
    if params["mode"] == "direct":
        return Target("direct", conn, find_tools(params["bin_dir"]))
    found = {name: name for name in TOOLS}
    found["zstd"] = find_zstd()
    client = kubernetes()
    try:
        pod = find_pod(client, params["namespace"], params["pod"], params["pod_selector"])
    except ApiError as exc:
        raise pg_argv.BackupError(str(exc)) from exc
    return Target(
        "in-cluster",
        conn,
        found,
        api_client=client.api,
        pod=pod,
        namespace=params["namespace"],
        container=params["container"],
        timeout=params["exec_timeout"],
    )


def tool_version(binary, env=None):
    """The first line of ``binary --version`` (None when it cannot be run)."""
    try:
        out = cancel.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else None


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

    def pod_exec(self, argv, stdin=False):
        return PodExec(
            self.api_client,
            self.namespace,
            self.pod,
            pg_argv.pod_argv(argv, self.conn),
            container=self.container,
            stdin=stdin or bool(self.conn.get("password")),
            timeout=self.timeout,
        ).open()

    # -- sessions -----------------------------------------------------------------------
    def session(self, dbname):
        if not self.in_cluster:
            return PsycopgSession(pg_argv.psycopg_params(self.conn, dbname), autocommit=True)
        try:
            pod_exec = self.pod_exec(pg_argv.psql_session_argv(self.tools["psql"], dbname), stdin=True)
        except Exception as exc:  # noqa: BLE001 - ExecError names the pod
            raise content.SqlError(str(exc)) from exc
        first = pg_argv.pgpass_stdin(self.conn)
        if first:
            pod_exec.write(first)
        session = PsqlSession(pod_exec)
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
            first = pg_argv.pgpass_stdin(self.conn)
            if first:
                pod_exec.write(first)
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
        """``argv`` (pg_dump, pg_dumpall) | ``zstd_cmd`` into ``writer``, here or in the pod."""
        if not self.in_cluster:
            with pg_argv.pgpass_env(self.conn) as env:
                env["PGAPPNAME"] = "multiagent.ops-backup"
                pipeline.compress_process(argv, env, writer, zstd_cmd, what, pass_fds=env.pass_fds)
            return
        try:
            pod_exec = self.pod_exec(argv)
        except ExecError as exc:
            raise pg_argv.BackupError(str(exc)) from exc
        try:
            pipeline.compress_exec(
                pod_exec, writer, zstd_cmd, what, stdin_first=pg_argv.pgpass_stdin(self.conn)
            )
        except ExecError as exc:
            raise pg_argv.BackupError("%s: %s" % (what, exc)) from exc
        finally:
            pod_exec.close()

    def restore_from(self, archive_path, argv, zstd, what):
        """zstd -d ARCHIVE | argv (pg_restore, psql), here or in the pod."""
        decompress = pipeline.zstd_argv(zstd, decompress=True) + [archive_path]
        if not self.in_cluster:
            with pg_argv.pgpass_env(self.conn) as env:
                env["PGAPPNAME"] = "multiagent.ops-restore"
                pipeline.run_pipeline(decompress, argv, env, what, pass_fds=env.pass_fds)
            return
        try:
            pod_exec = self.pod_exec(argv, stdin=True)
        except ExecError as exc:
            raise pg_argv.BackupError(str(exc)) from exc
        try:
            pipeline.stream_into_exec(decompress, pod_exec, pg_argv.pgpass_stdin(self.conn), what)
        except ExecError as exc:
            raise pg_argv.BackupError("%s: %s" % (what, exc)) from exc
        finally:
            pod_exec.close()
