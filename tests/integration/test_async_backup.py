# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup role's async dump (backup_database.yml): a lease task renews the lock and shows
the dump alive while it runs, and the dump dies with the run that started it.

A ``zstd`` shim first on PATH waits before it becomes the real zstd, so the dump is slow; the
lock lasts 6 s, so a killed run's dump stops within seconds. ANSIBLE_ASYNC_DIR is the test's
own, so the job's status file is looked at where the test put it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import ANSIBLE_PLAYBOOK, INVENTORY, ROOT, cluster_overrides, processes

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

LOCK_DURATION = 6


@pytest.fixture(scope="module")
def database(stack_facts):
    facts = stack_facts["postgresql"]
    superpass = Path(facts["superuser_password_file"]).read_text().strip()
    admin = dict(host=facts["host"], port=facts["port"], user="postgres", password=superpass, autocommit=True)
    name = "it_async_%s" % uuid.uuid4().hex[:8]
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute('CREATE DATABASE "%s" OWNER "%s"' % (name, facts["user"]))
    with psycopg.connect(dbname=name, **admin) as conn:
        # about 6 MB of dump: more than the pipes hold, so pg_dump waits for the compressor
        conn.execute(
            "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v"
            " FROM generate_series(1, 80000) g"
        )
        conn.execute('ALTER TABLE t OWNER TO "%s"' % facts["user"])
    yield name
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute('DROP DATABASE IF EXISTS "%s"' % name)


@pytest.fixture
def lock_ns(kube):
    """A namespace of the test's own for the lock, so that other backups of the shared stack
    (which lock the demo platform's namespace) neither wait for it nor take it over."""
    from conftest import create_namespace, delete_namespace

    namespace = create_namespace(kube, "it-async")
    yield namespace
    delete_namespace(kube, namespace)


def shim_path(tmp_path, seconds):
    """A PATH whose zstd waits ``seconds`` before it runs the real one (one process: exec)."""
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    shim = shims / "zstd"
    shim.write_text(
        "#!%s\nimport os, sys, time\ntime.sleep(%d)\nos.execv(%r, [%r] + sys.argv[1:])\n"
        % (sys.executable, seconds, shutil.which("zstd"), "zstd")
    )
    shim.chmod(0o755)
    return "%s:%s:%s" % (shims, Path(sys.executable).parent, os.environ["PATH"])


def start(tmp_path, database, dest, path, holder, namespace, args=()):
    extra = dict(
        cluster_overrides(),
        backup_namespace=namespace,
        backup_databases=[database],
        backup_dest=str(dest),
        ops_hosts="us-east-1",
        ops_lock_holder=holder,
        backup_lock_duration=LOCK_DURATION,
        backup_lock_wait=120,
        backup_async_timeout=600,
        backup_async_poll=2,
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_ASYNC_DIR=str(tmp_path / "async"),
        PATH=path,
    )
    cmd = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, str(ROOT / "playbooks" / "backup_database.yml")]
    return subprocess.Popen(
        cmd + ["-e", json.dumps(extra), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def tasks_of(playbook, timeout=300):
    """The tasks of the run, and what went wrong in it (its failed tasks, else its output)."""
    out, err = playbook.communicate(timeout=timeout)
    data = json.loads(out[out.find("{") :])
    tasks = [task for play in data["plays"] for task in play["tasks"]]
    failed = [
        "%s: %s" % (t["task"]["name"], res.get("msg"))
        for t in tasks
        for res in t["hosts"].values()
        if res.get("failed")
    ]
    return tasks, "\n".join(failed) or (out + err)[-3000:]


def result(tasks, suffix):
    found = [t["hosts"]["us-east-1"] for t in tasks if t["task"]["name"].endswith(suffix)]
    assert found, "no task %r in %s" % (suffix, [t["task"]["name"] for t in tasks])
    return found[-1]


def dump_processes(database):
    """pid -> name of the pg_dump of ``database``."""
    return {
        pid: name
        for pid, (_ppid, name, cmdline) in processes().items()
        if name == "pg_dump" and "--dbname=%s" % database in cmdline
    }


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def test_an_async_dump_shows_it_is_alive_and_returns_what_a_synchronous_one_does(database, tmp_path, lock_ns):
    dest = tmp_path / "backups"
    dest.mkdir()
    holder = "it-async-%s" % uuid.uuid4().hex[:6]
    playbook = start(tmp_path, database, dest, shim_path(tmp_path, 10), holder, lock_ns)
    tasks, output = tasks_of(playbook)
    assert playbook.returncode == 0, output

    lock = result(tasks, "Gate | take the lock on postgresql")["lease"]
    assert lock["holder"].startswith(holder) and lock["duration_seconds"] == LOCK_DURATION
    started = result(tasks, "Database | dump into %s" % dest)
    assert started["ansible_job_id"] and started["started"]
    poll = result(
        tasks, "Async | renew the lock, a line per retry, while waiting for the dump into %s" % dest
    )
    # a 10 s dump outlived its 6 s lock: renewed, with one retry line per 2 s call
    assert poll["job_finished"] is True and poll["attempts"] >= 3, poll
    assert poll["lease"]["holder"] == lock["holder"]

    dump = result(tasks, "Async | the result of the dump into %s" % dest)
    assert dump["changed"] is True and not dump.get("failed")
    (entry,) = dump["backups"]
    archive = Path(entry["path"])
    assert archive.exists() and entry["sha256"] and entry["manifest_path"] == str(archive) + ".manifest.json"
    manifest = json.loads(Path(entry["manifest_path"]).read_text())
    assert manifest["status"] == "complete" and manifest["tables"]["public.t"]["rows"] == 80000
    # the role's later tasks read the same variable as after a synchronous dump
    reported = result(tasks, "Report the backups")["results"]
    assert [r["item"]["sha256"] for r in reported] == [entry["sha256"]]
    assert not list((tmp_path / "async").iterdir())  # the status file was removed


def test_a_killed_run_takes_its_async_dump_down_and_the_next_run_takes_the_lock_over(
    database, tmp_path, lock_ns
):
    dest = tmp_path / "backups"
    dest.mkdir()
    holder = "it-async-killed-%s" % uuid.uuid4().hex[:6]
    playbook = start(tmp_path, database, dest, shim_path(tmp_path, 120), holder, lock_ns)
    try:
        wait_for(lambda: dump_processes(database) and list(dest.glob(".*.partial")), 120, "the dump")
    finally:
        playbook.kill()  # SIGKILL: no always, no release, no more renewals
        playbook.communicate(timeout=30)
    killed_at = time.monotonic()

    # the dump watches the lock: it stops once nobody renews it (6 s), leaving nothing
    wait_for(lambda: not dump_processes(database), LOCK_DURATION * 4, "the dump to stop")
    assert time.monotonic() - killed_at < LOCK_DURATION * 4
    wait_for(lambda: not list(dest.glob(".*.partial")), 10, "the partial file to be removed")
    assert not list(dest.glob("*.dump.zst"))

    rerun = start(tmp_path, database, dest, shim_path(tmp_path, 0), "it-async-next", lock_ns)
    tasks, output = tasks_of(rerun)
    assert rerun.returncode == 0, output
    took = result(tasks, "Gate | take the lock on postgresql")
    assert took["operation"] == "take_over" and took["previous_holder"].startswith(holder)
    assert any(holder in w and "without being released" in w for w in took.get("warnings", [])), took
    assert len(list(dest.glob("*.dump.zst"))) == 1


def test_the_dump_stays_synchronous_in_check_mode(database, tmp_path, lock_ns):
    dest = tmp_path / "backups"
    dest.mkdir()
    playbook = start(
        tmp_path, database, dest, shim_path(tmp_path, 0), "it-async-check", lock_ns, args=["--check"]
    )
    tasks, output = tasks_of(playbook)
    assert playbook.returncode == 0, output
    assert result(tasks, "Report the backups")["results"][0]["msg"].endswith(
        ": would be written (check mode)"
    )
    dump = result(tasks, "Database | dump into %s" % dest)
    assert "ansible_job_id" not in dump and dump["backups"], dump
    assert result(tasks, "Database | wait for the dump into %s" % dest).get("skipped")
    assert list(dest.iterdir()) == []
