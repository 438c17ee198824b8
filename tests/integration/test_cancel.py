# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cancelling a backup or restore mid-way, as AWX does (SIGTERM to ansible-playbook) and
harder (SIGTERM, SIGKILL to the module's own process), with the stack's real PostgreSQL.

A ``zstd`` shim first on PATH waits before it becomes the real zstd, so pg_dump (blocked
on a full pipe) or pg_restore (waiting for its input) is caught mid-way. The login is a
role made for the test with a password of its own: a scan of the temporary directories
(and Ansible's) for that password after the run is exact.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import ANSIBLE_PLAYBOOK, ROOT, processes

PLAYBOOK = str(ROOT / "tests" / "integration" / "playbooks" / "cancel_modules.yml")
TOOLS = ("pg_dump", "pg_restore", "zstd", "psql")
SCAN = ("/tmp", "/dev/shm", os.path.expanduser("~/.ansible/tmp"))
STARTED = time.time() - 1  # files older than these tests cannot hold what they leaked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture(scope="module")
def pg(stack_facts):
    facts = stack_facts["postgresql"]
    superpass = Path(facts["superuser_password_file"]).read_text().strip()
    role = "it_cancel_%s" % uuid.uuid4().hex[:8]
    password = "pw-%s" % uuid.uuid4().hex
    admin = dict(host=facts["host"], port=facts["port"], user="postgres", password=superpass, autocommit=True)
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
        conn.execute('CREATE DATABASE "%s" OWNER %s' % (role, role))
    with psycopg.connect(
        host=facts["host"], port=facts["port"], user=role, password=password, dbname=role, autocommit=True
    ) as conn:
        # about 6 MB of dump: more than the pipes hold, so pg_dump waits for the compressor
        conn.execute(
            "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v"
            " FROM generate_series(1, 80000) g"
        )
    yield {"host": facts["host"], "port": facts["port"], "user": role, "password": password, "db": role}
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        conn.execute('DROP DATABASE IF EXISTS "%s"' % role)
        conn.execute("DROP ROLE IF EXISTS %s" % role)


@pytest.fixture
def slow_path(tmp_path):
    """A PATH whose zstd waits 60 s before it runs the real one (one process: exec)."""
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "zstd"
    shim.write_text(
        "#!%s\nimport os, sys, time\ntime.sleep(60)\nos.execv(%r, [%r] + sys.argv[1:])\n"
        % (sys.executable, shutil.which("zstd"), "zstd")
    )
    shim.chmod(0o755)
    return "%s:%s" % (shims, os.environ["PATH"])


def start(pg, call, path, dest, archive=None, lease=None):
    extra = {
        "pg_host": pg["host"],
        "pg_port": pg["port"],
        "pg_user": pg["user"],
        "pg_database": pg["db"],
        "cancel_call": call,
        "ansible_python_interpreter": sys.executable,
        "cancel_path": path,
        "cancel_dest": str(dest),
        "cancel_archive": str(archive or ""),
    }
    if lease:
        extra["cancel_lease"] = lease
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        # the module's arguments (the password) go on stdin, not into an AnsiballZ file
        ANSIBLE_PIPELINING="1",
        CANCEL_PG_PASSWORD=pg["password"],
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    )
    return subprocess.Popen(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", PLAYBOOK, "-e", json.dumps(extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def descendants(root, table=None):
    table = table if table is not None else processes()
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, name, cmdline) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = (name, cmdline)
                todo.append(pid)
    return found


def wait_for(what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what.__doc__)


def mid_way(playbook, tool, dest=None):
    """The module process, once ``tool`` runs under it (and, for a dump, its partial file exists)."""

    def ready():
        """the module running %s""" % tool
        if playbook.poll() is not None:
            raise AssertionError("the playbook ended: %s" % (playbook.communicate()[0][-3000:],))
        table = processes()
        below = descendants(playbook.pid, table)
        # with pipelining the module is "python3" reading its code on stdin: the parent of
        # the tool and of the zstd shim beside it
        parents = {table[pid][0] for pid, (name, _cmd) in below.items() if name == tool}
        both = [ppid for ppid in parents if any(v[0] == ppid and v[1] == "zstd" for v in table.values())]
        partial = dest is None or any(Path(dest).glob(".*.partial"))
        return both[0] if both and partial else None

    module = wait_for(ready)
    tools = {pid: v for pid, v in descendants(module).items() if v[0] in TOOLS or "zstd" in v[1]}
    return module, tools


def secret_files(password):
    """The files under SCAN written since these tests started that hold ``password``: what a
    module could have leaked it into (reading only the new files keeps the look short however
    full /tmp is: the dump must still be running when the look ends)."""
    needle = password.encode()
    found = []
    for top in SCAN:
        for folder, _dirs, names in os.walk(top):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                    if not stat.S_ISREG(info.st_mode) or info.st_mtime < STARTED:
                        continue
                    with open(path, "rb") as handle:
                        if needle in handle.read():
                            found.append(path)
                except OSError:
                    continue  # gone meanwhile, or not ours to read
    return found


def assert_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
        os.path.exists("/proc/%d" % pid) and pid in processes() for pid in pids
    ):
        time.sleep(0.1)
    left = [pid for pid in pids if pid in processes()]
    assert not left, "still running: %s" % {pid: processes()[pid] for pid in left}


def result_of(playbook):
    out, err = playbook.communicate(timeout=120)
    data = json.loads(out[out.find("{") :])
    return data["plays"][0]["tasks"], out + err


def failed_task(tasks):
    for task in tasks:
        res = task["hosts"]["localhost"]
        if res.get("failed"):
            return res
    raise AssertionError("no task failed: %s" % tasks)


def test_sigterm_mid_dump_removes_the_partial_stops_the_tools_and_says_so(pg, slow_path, tmp_path):
    dest = tmp_path / "backups"
    dest.mkdir()
    playbook = start(pg, "backup", slow_path, dest)
    module, tools = mid_way(playbook, "pg_dump", dest)
    assert secret_files(pg["password"]) == []  # not even while it runs
    os.kill(module, signal.SIGTERM)
    tasks, _ = result_of(playbook)
    result = failed_task(tasks)
    assert result["msg"].startswith(
        "backup failed: cancelled (SIGTERM) during the backup of %s; removed " % pg["db"]
    )
    assert "stopped pg_dump, zstd" in result["msg"] and result["msg"].endswith("; nothing was changed")
    assert result["changed"] is False and result["backups"] == []
    assert list(dest.iterdir()) == []
    assert_gone(tools)
    assert secret_files(pg["password"]) == []


def test_sigterm_to_ansible_playbook_as_awx_cancels_leaves_nothing(pg, slow_path, tmp_path):
    dest = tmp_path / "backups"
    dest.mkdir()
    playbook = start(pg, "backup", slow_path, dest)
    module, tools = mid_way(playbook, "pg_dump", dest)
    playbook.send_signal(signal.SIGTERM)
    playbook.communicate(timeout=60)
    assert_gone([module, *tools])
    assert list(dest.iterdir()) == []
    assert secret_files(pg["password"]) == []


def test_sigkill_mid_dump_kills_the_tools_leaves_no_secret_and_the_next_run_removes_the_partial(
    pg, slow_path, tmp_path
):
    dest = tmp_path / "backups"
    dest.mkdir()
    playbook = start(pg, "backup", slow_path, dest)
    module, tools = mid_way(playbook, "pg_dump", dest)
    os.kill(module, signal.SIGKILL)
    playbook.communicate(timeout=60)
    assert_gone(tools)  # PR_SET_PDEATHSIG
    assert secret_files(pg["password"]) == []
    # a SIGKILLed process cannot remove its partial file: the next backup does, once no
    # process holds its lock
    partials = list(dest.glob(".*.partial"))
    assert len(partials) == 1
    time.sleep(5)
    rerun = start(pg, "backup", os.environ["PATH"], dest)
    tasks, output = result_of(rerun)
    assert rerun.returncode == 0, output[-3000:]
    backup = tasks[0]["hosts"]["localhost"]
    assert any(str(partials[0]) in warning for warning in backup.get("warnings", []))
    assert not partials[0].exists()
    assert [p.name for p in dest.glob("*.dump.zst")] == [Path(backup["backups"][0]["path"]).name]


def backup_archive(pg, dest):
    run = start(pg, "backup", os.environ["PATH"], dest)
    tasks, output = result_of(run)
    assert run.returncode == 0, output[-3000:]
    return tasks[0]["hosts"]["localhost"]["backups"][0]["path"]


def count_rows(pg):
    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], dbname=pg["db"]
    ) as conn:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_cancelled_restore_rolls_back_and_leaves_no_tool_or_secret(pg, slow_path, tmp_path, signum):
    archive = backup_archive(pg, tmp_path / "backups")
    with psycopg.connect(
        host=pg["host"],
        port=pg["port"],
        user=pg["user"],
        password=pg["password"],
        dbname=pg["db"],
        autocommit=True,
    ) as conn:
        conn.execute("INSERT INTO t VALUES (0, 'after the backup')")
    before = count_rows(pg)
    playbook = start(pg, "restore", slow_path, tmp_path, archive=archive)
    module, tools = mid_way(playbook, "pg_restore")
    os.kill(module, signum)
    tasks, _ = result_of(playbook)
    assert_gone(tools)
    assert secret_files(pg["password"]) == []
    assert count_rows(pg) == before  # one transaction, rolled back
    if signum == signal.SIGTERM:
        result = failed_task(tasks)
        assert result["msg"].startswith(
            "the restore failed (it ran in one transaction, which was rolled back"
        )
        assert "cancelled (SIGTERM)" in result["msg"] and "stopped zstd, pg_restore" in result["msg"]


# --- the Lease of a long step: renewed while it runs, and a take-over stops it ----------------


@pytest.fixture
def lease_ns(kube):
    from conftest import create_namespace, delete_namespace

    namespace = create_namespace(kube, "it-renew")
    yield namespace
    delete_namespace(kube, namespace)


def lease_api(kube):
    from kubernetes import client

    return client.CoordinationV1Api(kube["us-east-1"])


def take_lease(kube, namespace, holder, duration):
    stamp = datetime.datetime.now(datetime.UTC)
    body = {
        "metadata": {"name": "postgresql", "namespace": namespace},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }
    return lease_api(kube).create_namespaced_lease(namespace, body)


def test_a_slow_dump_keeps_its_lease_and_stops_when_another_holder_takes_it(
    pg, slow_path, tmp_path, kube, lease_ns, stack_facts
):
    dest = tmp_path / "backups"
    dest.mkdir()
    take_lease(kube, lease_ns, "run-a", 6)
    lease = {
        "name": "postgresql",
        "namespace": lease_ns,
        "holder": "run-a",
        "duration": 6,
        "kubeconfig": stack_facts["kubeconfig"],
        "context": stack_facts["clusters"]["us-east-1"]["context"],
    }
    playbook = start(pg, "backup", slow_path, dest, lease=lease)
    module, tools = mid_way(playbook, "pg_dump", dest)
    api = lease_api(kube)
    renewed = [api.read_namespaced_lease("postgresql", lease_ns).spec.renew_time]
    for _ in range(3):  # renewed every 2 s (a third of 6), past the 6 s it was taken for
        time.sleep(2.5)
        renewed.append(api.read_namespaced_lease("postgresql", lease_ns).spec.renew_time)
    assert renewed == sorted(set(renewed)), renewed
    assert playbook.poll() is None  # still dumping, 7.5 s after it began: longer than the duration

    current = api.read_namespaced_lease("postgresql", lease_ns)
    current.spec.holder_identity = "run-b"  # as if run-a had gone stale and run-b took over
    current.spec.renew_time = datetime.datetime.now(datetime.UTC)
    api.replace_namespaced_lease("postgresql", lease_ns, current)
    tasks, _ = result_of(playbook)
    result = failed_task(tasks)
    assert result["msg"].startswith(
        "backup failed: cancelled (lease %s/postgresql was taken over by run-b (the lease of run-a went "
        "stale)) during the backup of %s; removed " % (lease_ns, pg["db"])
    ), result["msg"]
    assert result["changed"] is False and list(dest.iterdir()) == []
    assert_gone([module, *tools])
    assert api.read_namespaced_lease("postgresql", lease_ns).spec.holder_identity == "run-b"


def test_an_async_dump_whose_run_stops_renewing_its_lease_stops_once_it_expires(
    pg, slow_path, tmp_path, kube, lease_ns, stack_facts
):
    """lease.renew=false (a dump run async, its run renewing the Lease while it polls): when
    the run dies nobody renews it, and the dump stops once it expires, leaving nothing."""
    dest = tmp_path / "backups"
    dest.mkdir()
    take_lease(kube, lease_ns, "run-a", 4)
    lease = {
        "name": "postgresql",
        "namespace": lease_ns,
        "holder": "run-a",
        "renew": False,
        "kubeconfig": stack_facts["kubeconfig"],
        "context": stack_facts["clusters"]["us-east-1"]["context"],
    }
    started = time.monotonic()
    playbook = start(pg, "backup", slow_path, dest, lease=lease)
    module, tools = mid_way(playbook, "pg_dump", dest)
    tasks, _ = result_of(playbook)
    assert time.monotonic() - started < 30  # the zstd shim alone would take 60 s
    result = failed_task(tasks)
    assert result["msg"].startswith(
        "backup failed: cancelled (lease %s/postgresql of run-a was not renewed since " % lease_ns
    ), result["msg"]
    assert ": the run that renews it ended) during the backup of %s; removed " % pg["db"] in result["msg"]
    assert list(dest.iterdir()) == []
    assert_gone([module, *tools])
    api = lease_api(kube)
    assert api.read_namespaced_lease("postgresql", lease_ns).spec.holder_identity == "run-a"  # never written
