"""Where the tools and sessions run (pg/session.py): the tools found here, the database pod,
the Target's streams with the password kept out of every argument list, and the psql session
of in-cluster mode on a fake exec."""

import os
import queue

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common import pipeline, tools
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content
from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

PASSWORD = "s3cr:et\\pa ss'word"
CONN = {"host": "db.example", "port": 5433, "user": "mplp", "password": PASSWORD, "sslmode": "require"}


def params(**changes):
    base = {
        "mode": "direct",
        "login_host": "localhost",
        "login_port": 5432,
        "login_user": None,
        "login_password": None,
        "ssl_mode": "prefer",
        "connect_timeout": 10,
        "maintenance_db": "postgres",
        "bin_dir": None,
        "namespace": None,
        "pod": None,
        "pod_selector": None,
        "container": None,
        "exec_timeout": 600,
    }
    base.update(changes)
    return base


def fake_bin(directory, names=pg_session.TOOLS):
    directory.mkdir(exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return str(directory)


def no_kubernetes():
    raise AssertionError("direct mode must not ask for a Kubernetes client")


# -- tools ---------------------------------------------------------------------------------


def test_find_tools_prefers_bin_dir(tmp_path):
    bin_dir = fake_bin(tmp_path / "bin")
    found = pg_session.find_tools(bin_dir)
    assert {name: found[name] for name in pg_session.TOOLS} == {
        name: os.path.join(bin_dir, name) for name in pg_session.TOOLS
    }
    assert os.path.basename(found["zstd"]) == "zstd"


def test_a_missing_tool_in_bin_dir_is_named_and_path_is_not_searched(tmp_path):
    bin_dir = fake_bin(tmp_path / "bin", names=("pg_dump",))
    with pytest.raises(BackupError) as info:
        pg_session.find_tools(bin_dir)
    assert str(info.value) == (
        "pg_dumpall not found in %s; install the PostgreSQL client (postgresql-client) or set bin_dir"
        % bin_dir
    )


def test_missing_zstd_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(tools.os, "access", lambda path, mode: False)
    with pytest.raises(BackupError) as info:
        pg_session.find_zstd()
    assert str(info.value) == "zstd not found on PATH of the host running the module; install zstd"


# -- the target ----------------------------------------------------------------------------


def test_direct_target_carries_the_connection(tmp_path):
    p = params(
        bin_dir=fake_bin(tmp_path / "bin"),
        login_host="db01",
        login_port=5433,
        login_user="mplp",
        login_password=PASSWORD,
        ssl_mode="require",
        maintenance_db="maint",
    )
    target = pg_session.make_target(p, no_kubernetes)
    assert target.mode == "direct" and not target.in_cluster
    assert target.conn == {
        "host": "db01",
        "port": 5433,
        "user": "mplp",
        "password": PASSWORD,
        "sslmode": "require",
        "connect_timeout": 10,
        "maintenance_db": "maint",
    }
    assert (
        pg_session.make_target(params(bin_dir=p["bin_dir"], login_user=""), no_kubernetes).conn["user"]
        is None
    )


def pod(name, ready=True, phase="Running", labels=None):
    return {
        "metadata": {"name": name, "namespace": "db", "labels": labels or {"app": "pg"}},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def cluster(*pods):
    api = fakes.FakeApi({resources.POD.object_path("db", p["metadata"]["name"]): p for p in pods})
    api.api = "the kubernetes ApiClient"
    return api


@pytest.mark.parametrize(
    "given,pods,outcome",
    [
        ({"pod": "pg-0"}, [pod("pg-0")], "pg-0"),
        ({"pod": "pg-1"}, [pod("pg-0")], "pod pg-1 does not exist in namespace db"),
        ({"pod": "pg-0"}, [pod("pg-0", ready=False)], "pod db/pg-0 is not running and ready"),
        ({"pod": "pg-0"}, [pod("pg-0", phase="Pending")], "pod db/pg-0 is not running and ready"),
        ({"pod_selector": "app=pg"}, [pod("pg-1"), pod("pg-0", ready=False), pod("pg-2")], "pg-1"),
        (
            {"pod_selector": "app=pg"},
            [pod("pg-0", ready=False), pod("other", labels={"app": "web"})],
            "no running and ready pod matches app=pg in namespace db (1 pods match)",
        ),
        ({}, [pod("pg-0")], "mode=in_cluster needs pod or pod_selector"),
        ({"namespace": None, "pod": "pg-0"}, [pod("pg-0")], "mode=in_cluster needs namespace"),
    ],
)
def test_find_pod(given, pods, outcome):
    api = cluster(*pods)
    given = dict({"namespace": "db", "pod": None, "pod_selector": None}, **given)
    try:
        found = pg_session.find_pod(api, given["namespace"], given["pod"], given["pod_selector"])
    except BackupError as exc:
        assert outcome in str(exc)
    else:
        assert found == outcome
    if given.get("pod_selector"):
        assert api.calls == [("GET", "/api/v1/namespaces/db/pods")]


def test_in_cluster_target_runs_the_tools_in_the_pod():
    api = cluster(pod("pg-0"), pod("pg-1"))
    asked = []

    def kubernetes():
        asked.append(True)
        return api

    p = params(mode="in_cluster", namespace="db", pod_selector="app=pg", container="postgres", exec_timeout=9)
    target = pg_session.make_target(p, kubernetes)
    assert asked == [True]
    assert target.in_cluster and (target.pod, target.namespace, target.container) == (
        "pg-0",
        "db",
        "postgres",
    )
    assert target.api_client == "the kubernetes ApiClient" and target.timeout == 9
    assert target.tools["pg_dump"] == "pg_dump" and os.path.isabs(target.tools["zstd"])
    assert target.source() == {
        "mode": "in-cluster",
        "namespace": "db",
        "pod": "pg-0",
        "container": "postgres",
    }


def test_an_api_failure_finding_the_pod_is_named():
    api = cluster()
    api.refuse[("GET", resources.POD.object_path("db", "pg-0"))] = 403
    with pytest.raises(BackupError, match="read pod pg-0"):
        pg_session.make_target(params(mode="in_cluster", namespace="db", pod="pg-0"), lambda: api)


def test_direct_dump_passes_the_password_in_a_pgpass_file_only(monkeypatch):
    seen = {}

    def fake_stream(argv, env, writer, zstd_cmd, what, pass_fds=()):
        seen.update(argv=argv, env=dict(env), zstd=zstd_cmd, what=what, pass_fds=pass_fds)
        with open(env["PGPASSFILE"]) as handle:
            seen["pgpass"] = handle.read()
        seen["link"] = os.readlink("/proc/self/fd/%d" % pass_fds[0])

    monkeypatch.setattr(pipeline, "compress_process", fake_stream)
    monkeypatch.setenv("PGPASSWORD", "leak")
    target = pg_session.Target("direct", dict(CONN, host="127.0.0.1"), {"pg_dump": "pg_dump"})
    argv = pg_argv.pg_dump_argv("pg_dump", "mplp")
    target.dump_into(argv, None, ["zstd"], "pg_dump of mplp")
    assert seen["argv"] == argv
    assert not any(PASSWORD in part for part in seen["argv"] + seen["zstd"])
    assert PASSWORD not in seen["env"].values() and "PGPASSWORD" not in seen["env"]
    assert seen["env"]["PGAPPNAME"] == "multiagent.ops-backup"
    # any host: libpq asks under "localhost" for a socket and under each host of "h1,h2"
    assert seen["pgpass"] == pg_argv.pgpass_line("*", "*", "*", "mplp", PASSWORD) + "\n"
    # a memfd pg_dump inherits: no path names the file, it goes with the last holder
    assert seen["env"]["PGPASSFILE"] == "/dev/fd/%d" % seen["pass_fds"][0]
    assert seen["link"].startswith("/memfd:")
    assert target.source() == {"mode": "direct", "host": "127.0.0.1", "port": 5433, "user": "mplp"}


def test_in_cluster_source_never_shows_the_password():
    conn = {"user": "postgres", "password": PASSWORD}
    target = pg_session.Target("in-cluster", conn, {}, pod="pg-0", namespace="db", container="postgres")
    assert "s3cr" not in repr(target.source())


def test_a_target_asks_each_tool_for_its_version_once(monkeypatch):
    asked = []

    def fake_version(binary, env=None):
        asked.append(binary)
        return "pg_dump (PostgreSQL) 15.18"

    monkeypatch.setattr(pg_session, "tool_version", fake_version)
    target = pg_session.Target(
        "direct", {}, {"pg_dump": "/usr/bin/pg_dump", "pg_dumpall": "/usr/bin/pg_dumpall"}
    )
    for _db in range(3):
        assert target.tool_version("pg_dump") == "pg_dump (PostgreSQL) 15.18"
    target.tool_version("pg_dumpall")
    assert asked == ["/usr/bin/pg_dump", "/usr/bin/pg_dumpall"]


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
    session = pg_session.PsqlSession(fake)
    assert session.text("SELECT 1;") == "1"
    assert session.value("SELECT '[1, 2]'") == {"rows": 2, "sum": "-5"}
    session.execute("CREATE TABLE x (a int)")
    assert fake.written[0] == ("SELECT 1;\n\\echo %s\n" % pg_session.PsqlSession.MARK).encode()
    session.close()
    assert fake.written[-1] == b"\\q\n" and fake.closed


def test_psql_session_that_ends_raises_naming_the_statement_and_cause():
    fake = FakePsqlExec({}, die_on="SELECT broken")
    session = pg_session.PsqlSession(fake)
    with pytest.raises(content.SqlError) as info:
        session.value("SELECT broken")
    assert str(info.value) == (
        "SELECT broken: psql ended: psql in pod db/pg-0 failed (exit code 3): no message; stderr: FATAL: bad"
    )
