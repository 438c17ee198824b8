"""backup_database.yml and restore_database.yml against the real PostgreSQL of the stack.

Each test works on its own database (created here, owned by the application role) and, when
the restore stops and restarts the application, on its own small platform namespace.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import SMALL_PLATFORM, forget_pushed_backup, load_platform, platform_vars, pushed_backup_times
from kubernetes import client

ROOT = Path(__file__).resolve().parents[2]
# The runbooks take their Lease lock in the demo inventory's platform namespace. Parallel:
# every test has its own database, directory and platform namespace, and no other module
# takes the postgresql lock there.
pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.usefixtures("demo_namespace")]
SEED_ROWS = 2000


@pytest.fixture(scope="module")
def small_platform(ansible, kube):
    """One small platform for the whole module (loading one takes a while): every test
    leaves it as it found it — a restore brings the replicas back — and asserts so."""
    namespace = "it-bk-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, SMALL_PLATFORM)
    yield {"namespace": namespace, "components": SMALL_PLATFORM}
    client.CoreV1Api(kube["us-east-1"]).delete_namespace(namespace)


@pytest.fixture(scope="module")
def pg(stack_facts):
    facts = stack_facts["postgresql"]
    return {
        "host": facts["host"],
        "port": facts["port"],
        "user": facts["user"],
        "password": Path(facts["password_file"]).read_text().strip(),
        "superpass": Path(facts["superuser_password_file"]).read_text().strip(),
    }


def admin(pg):
    return psycopg.connect(
        host=pg["host"],
        port=pg["port"],
        user="postgres",
        password=pg["superpass"],
        dbname="postgres",
        autocommit=True,
    )


def connect(pg, dbname):
    return psycopg.connect(
        host=pg["host"],
        port=pg["port"],
        user=pg["user"],
        password=pg["password"],
        dbname=dbname,
        autocommit=True,
    )


def seed(pg, dbname, rows=SEED_ROWS, blob_kib=1):
    with connect(pg, dbname) as conn:
        conn.execute(
            "CREATE TABLE agents (id int PRIMARY KEY, name text, meta jsonb, seen timestamptz, blob bytea)"
        )
        conn.execute("CREATE TABLE notes (id serial, body json, at point)")  # no hash functions: text method
        conn.execute(
            "INSERT INTO agents SELECT g, 'agent ' || g,"
            " jsonb_build_object('n', g, 'tags', jsonb_build_array(g %% 7)),"
            " now() - g * interval '1 minute',"
            " (SELECT decode(string_agg(md5(g::text || k), ''), 'hex') FROM generate_series(1, %s) k)"
            " FROM generate_series(1, %s) g" % (blob_kib * 64, rows)
        )
        conn.execute(
            "INSERT INTO notes (body, at)"
            " SELECT json_build_object('g', g), point(g, g) FROM generate_series(1, 50) g"
        )


def fingerprint(pg, dbname):
    """Every row of every table, in a stable order: equal fingerprints mean equal data."""
    with connect(pg, dbname) as conn:
        tables = [
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public' ORDER BY 1")
        ]
        return {
            t: conn.execute(
                "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM %s x" % t
            ).fetchone()[0]
            for t in tables
        }


@pytest.fixture
def database(pg):
    name = "it_bk_%s" % uuid.uuid4().hex[:8]
    with admin(pg) as conn:
        conn.execute('CREATE DATABASE "%s" OWNER "%s"' % (name, pg["user"]))
    seed(pg, name)
    yield name
    with admin(pg) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        for (other,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
            (name, name + "_verify_%"),
        ).fetchall():
            conn.execute('DROP DATABASE IF EXISTS "%s"' % other)


def closed_windows():
    """A daily window that is not open now (so only ops_force lets a restore through)."""
    now = datetime.datetime.now(datetime.UTC)
    start = (now + datetime.timedelta(hours=3)).strftime("%H:00")
    end = (now + datetime.timedelta(hours=4)).strftime("%H:00")
    return {"daily": "%s-%s" % (start, end)}


def backup_vars(database, dest, **more):
    extra = {"backup_databases": [database], "backup_dest": str(dest), "ops_hosts": "us-east-1"}
    extra.update(more)
    return extra


def archives(dest):
    return sorted(p for p in Path(dest).glob("*.dump.zst"))


def backup(ansible, database, dest, **more):
    run = ansible("playbooks/backup_database.yml", extra_vars=backup_vars(database, dest, **more))
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run


def restore_vars(platform, archive, **more):
    extra = platform_vars(
        platform,
        backup_restore_archive=str(archive),
        backup_dest=str(Path(archive).parent),
        ops_force=True,
        ops_hosts="us-east-1",
        backup_restore_wait_timeout=120,
    )
    extra.update(more)
    return extra


def replicas(kube, namespace, name):
    dep = client.AppsV1Api(kube["us-east-1"]).read_namespaced_deployment(name, namespace)
    return dep.spec.replicas, (dep.metadata.annotations or {}).get("multiagent.ops/recorded-replicas")


def test_round_trip_backup_change_restore(ansible, pg, database, tmp_path, small_platform, kube, stack_facts):
    original = fingerprint(pg, database)
    # The backup tells the Pushgateway its time (the BackupTooOld alert reads it).
    platform = "it-push-%s" % uuid.uuid4().hex[:6]
    gateway = stack_facts["monitoring"]["pushgateway"]
    started = time.time()
    backup(
        ansible,
        database,
        tmp_path,
        backup_verify=True,
        backup_pushgateway_url=gateway,
        platform_name=platform,
    )
    pushed = pushed_backup_times(gateway, platform)
    forget_pushed_backup(gateway, platform, "database")
    assert [kind for kind, _at in pushed] == ["database"] and started - 1 <= pushed[0][1] <= time.time()
    [archive] = archives(tmp_path)
    manifest = json.loads(Path(str(archive) + ".manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["database"] == database
    assert manifest["tables"]["public.agents"]["rows"] == SEED_ROWS
    assert manifest["tables"]["public.agents"]["method"] == "record"
    assert manifest["tables"]["public.notes"]["method"] == "text"  # json and point have no hash function
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    with connect(pg, database) as conn:
        conn.execute("DELETE FROM agents WHERE id % 3 = 0")
        conn.execute("UPDATE agents SET name = 'changed' WHERE id = 1")
        conn.execute("DROP TABLE notes")
        conn.execute("CREATE TABLE later (id int)")
    assert fingerprint(pg, database) != original

    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_database=database),
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    restored = fingerprint(pg, database)
    assert {k: v for k, v in restored.items() if k != "later"} == original
    checks = run.results(
        "Restore | end the sessions and restore in one transaction, then compare with the manifest",
        "us-east-1",
    )["checks"]
    assert (
        checks["problems"] == []
        and checks["tables_checked"] == 2
        and checks["extra_tables"] == ["public.later"]
    )
    # The safety backup of the state before the restore is next to the archive.
    safety = [p for p in archives(tmp_path) if "-pre-restore-" in p.name]
    assert len(safety) == 1 and Path(str(safety[0]) + ".manifest.json").exists()
    # The application was stopped and brought back to its recorded replicas.
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)
    quiesced = run.results(
        "Restore | record replicas, suspend CronJobs, scale the application to zero", "us-east-1"
    )
    assert {w["object"]: w["replicas_before"] for w in quiesced["workloads"]} == {
        "Deployment/mplp-core": 2,
        "Deployment/mplp-plan": 2,
    }


def test_restore_keeps_the_database_running_by_its_role_whatever_its_name(
    ansible, pg, database, tmp_path, small_platform, kube
):
    """LangGraph calls its database component postgres: its role, not its name, keeps it
    running while the application is scaled down (issue 13)."""
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    components = [
        dict(comp, name="postgres", role="database") if comp["name"] == "postgresql" else comp
        for comp in small_platform["components"]
    ]
    extra = restore_vars(small_platform, archive, backup_restore_database=database)
    extra["platform_components"] = components
    extra["platform_database"] = {
        "name": "postgres",
        "host": pg["host"],
        "port": pg["port"],
        "user": pg["user"],
        "password": pg["password"],
        "dbname": database,
    }
    run = ansible("playbooks/restore_database.yml", extra_vars=extra)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    quiesced = run.results(
        "Restore | record replicas, suspend CronJobs, scale the application to zero", "us-east-1"
    )
    assert sorted(w["object"] for w in quiesced["workloads"]) == [
        "Deployment/mplp-core",
        "Deployment/mplp-plan",
    ]
    statefulset = client.AppsV1Api(kube["us-east-1"]).read_namespaced_stateful_set(
        "mplp-postgresql", small_platform["namespace"]
    )
    assert statefulset.spec.replicas == 1
    assert "multiagent.ops/recorded-replicas" not in (statefulset.metadata.annotations or {})
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-manifest"])
def test_damaged_archive_is_refused_and_nothing_is_touched(
    ansible, pg, database, tmp_path, small_platform, kube, damage
):
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    data = bytearray(archive.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        archive.write_bytes(bytes(data))
    elif damage == "truncate":
        archive.write_bytes(bytes(data[: len(data) // 2]))
    else:
        Path(str(archive) + ".manifest.json").unlink()
    with connect(pg, database) as conn:
        conn.execute("DELETE FROM agents WHERE id > 10")
    before = fingerprint(pg, database)

    run = ansible("playbooks/restore_database.yml", extra_vars=restore_vars(small_platform, archive))
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    expected = {"flip": "sha256", "truncate": "size is", "no-manifest": "no manifest"}[damage]
    assert "refusing" in message and expected in message and "nothing was changed" in message, message
    assert fingerprint(pg, database) == before
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)
    assert not [p for p in archives(tmp_path) if "-pre-restore-" in p.name]


def test_wrong_password_fails_clearly_and_writes_nothing(ansible, database, tmp_path):
    secret = "wrong-%s" % uuid.uuid4().hex
    run = ansible(
        "playbooks/backup_database.yml",
        extra_vars=backup_vars(database, tmp_path, backup_database_password=secret),
    )
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "password authentication failed" in message, message
    assert secret not in run.stdout + run.stderr
    assert list(tmp_path.iterdir()) == []


def test_server_down_fails_clearly_and_keeps_older_backups(ansible, database, tmp_path):
    backup(ansible, database, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    run = ansible(
        "playbooks/backup_database.yml", extra_vars=backup_vars(database, tmp_path, backup_database_port=1)
    )
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "cannot connect to PostgreSQL at 127.0.0.1:1 " in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_leaves_no_partial_file_and_keeps_older_backups(ansible, pg, database, small_disk):
    backup(ansible, database, small_disk)
    before = sorted(p.name for p in small_disk.iterdir())
    with connect(pg, database) as conn:  # ~6 MB of incompressible data: more than the disk holds
        conn.execute(
            "INSERT INTO agents SELECT g, 'big', '{}', now(),"
            " (SELECT decode(string_agg(md5(random()::text || k), ''), 'hex') FROM generate_series(1, 256) k)"
            " FROM generate_series(%s, %s) g" % (SEED_ROWS + 1, SEED_ROWS + 1500)
        )
    run = ansible("playbooks/backup_database.yml", extra_vars=backup_vars(database, small_disk))
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "no space left on the device of %s" % small_disk in message and "nothing kept" in message, message
    assert sorted(p.name for p in small_disk.iterdir()) == before  # no partial file, nothing pruned


def test_restore_outside_the_window_is_refused_unless_forced(
    ansible, database, tmp_path, small_platform, kube
):
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(
            small_platform, archive, ops_force=False, platform_maintenance_windows=closed_windows()
        ),
    )
    assert run.rc != 0
    assert "outside the maintenance windows" in " ".join(run.failure_messages())
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)


def test_restore_waits_for_the_lock_then_fails_naming_the_holder(
    ansible, database, tmp_path, small_platform, kube
):
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    leases = client.CoordinationV1Api(kube["us-east-1"])
    with contextlib.suppress(client.ApiException):  # a released Lease of an earlier test
        leases.delete_namespaced_lease("maops-lock-postgresql", small_platform["namespace"])
    leases.create_namespaced_lease(
        small_platform["namespace"],
        {
            "metadata": {"name": "maops-lock-postgresql"},
            "spec": {
                "holderIdentity": "awx-job-4242",
                "leaseDurationSeconds": 600,
                "acquireTime": now,
                "renewTime": now,
            },
        },
    )
    try:
        run = ansible(
            "playbooks/restore_database.yml",
            extra_vars=restore_vars(small_platform, archive, backup_lock_wait=1),
        )
        assert run.rc != 0
        assert "awx-job-4242" in " ".join(run.failure_messages())
    finally:
        client.CoordinationV1Api(kube["us-east-1"]).delete_namespaced_lease(
            "maops-lock-postgresql", small_platform["namespace"]
        )
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)


def test_interrupted_restore_stops_saying_what_it_left_and_a_rerun_resumes(
    ansible, pg, database, tmp_path, small_platform, kube
):
    with connect(pg, database) as conn:  # enough data that the restore takes a moment
        conn.execute(
            "INSERT INTO agents SELECT g, 'more', '{}', now(),"
            " (SELECT decode(string_agg(md5(g::text || k), ''), 'hex') FROM generate_series(1, 128) k)"
            " FROM generate_series(%s, %s) g" % (SEED_ROWS + 1, SEED_ROWS + 20000)
        )
    original = fingerprint(pg, database)
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    with connect(pg, database) as conn:
        conn.execute("DELETE FROM agents WHERE id % 2 = 0")
    changed = fingerprint(pg, database)

    killed = []

    def kill_the_restore():
        deadline = time.monotonic() + 240
        with admin(pg) as conn:
            while time.monotonic() < deadline and not killed:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE application_name LIKE 'multiagent.ops-restore%%' AND datname = %s",
                    (database,),
                ).fetchall()
                for (pid,) in rows:
                    time.sleep(0.3)  # let it get half way
                    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)
                time.sleep(0.05)

    killer = threading.Thread(target=kill_the_restore)
    killer.start()
    run = ansible("playbooks/restore_database.yml", extra_vars=restore_vars(small_platform, archive))
    killer.join()
    assert killed, "the restore finished before it could be interrupted"
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "stopped at" in message and "safety backup" in message and "-pre-restore-" in message, message
    assert "recorded" in message and "was not changed" in message, message
    assert fingerprint(pg, database) == changed  # one transaction: rolled back, not half restored
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (0, "2")  # stopped, record kept

    rerun = ansible("playbooks/restore_database.yml", extra_vars=restore_vars(small_platform, archive))
    assert rerun.rc == 0, rerun.failure_messages() or rerun.stdout[-3000:]
    assert fingerprint(pg, database) == original
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)


def test_restore_into_a_database_that_does_not_exist_yet_skips_the_safety_backup(
    ansible, pg, database, tmp_path, small_platform, kube
):
    original = fingerprint(pg, database)
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    new = database + "_new"
    try:
        run = ansible(
            "playbooks/restore_database.yml",
            extra_vars=restore_vars(small_platform, archive, backup_restore_database=new),
        )
        assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
        assert fingerprint(pg, new) == original
        assert not [p for p in archives(tmp_path) if "-pre-restore-" in p.name]
        assert "does not exist yet" in run.stdout
        assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)
    finally:
        with admin(pg) as conn:
            conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % new)


def test_a_content_check_that_fails_after_the_commit_says_the_database_is_restored(
    ansible, pg, database, tmp_path, small_platform, kube
):
    original = fingerprint(pg, database)
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    path = Path(str(archive) + ".manifest.json")
    manifest = json.loads(path.read_text())
    manifest["tables"]["public.agents"]["rows"] += 1
    path.write_text(json.dumps(manifest))
    with connect(pg, database) as conn:
        conn.execute("DELETE FROM agents WHERE id % 2 = 0")
    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_database=database),
    )
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "public.agents has %d rows, the backup had %d" % (SEED_ROWS, SEED_ROWS + 1) in message, message
    assert "the database is restored from the archive" in message and "was not changed" not in message, (
        message
    )
    assert "recorded" in message and "backup_restore_resume_only" in message, message
    assert fingerprint(pg, database) == original  # it was restored: committed
    resume = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_resume_only=True),
    )
    assert resume.rc == 0, resume.failure_messages() or resume.stdout[-3000:]
    assert replicas(kube, small_platform["namespace"], "mplp-core") == (2, None)


def test_verify_mode_restores_into_a_scratch_database_and_compares(
    ansible, pg, database, tmp_path, small_platform
):
    backup(ansible, database, tmp_path)
    [archive] = archives(tmp_path)
    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_state="verified", ops_force=False),
    )
    assert run.rc == 0, run.failure_messages()
    checks = run.results("Restore | verify mode restores into a scratch database only", "us-east-1")["checks"]
    assert checks["problems"] == [] and checks["rows_checked"] == SEED_ROWS + 50

    # A manifest whose recorded content no longer matches what the archive restores.
    path = Path(str(archive) + ".manifest.json")
    manifest = json.loads(path.read_text())
    manifest["tables"]["public.agents"]["checksum"] = "0" * 16
    path.write_text(json.dumps(manifest))
    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_state="verified"),
    )
    assert run.rc != 0
    assert "public.agents content checksum" in " ".join(run.failure_messages())
    with admin(pg) as conn:  # the scratch database is gone either way
        assert not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname LIKE %s", (database + "_verify_%",)
        ).fetchall()


@pytest.mark.emulator_only
def test_in_cluster_backup_and_verified_restore_through_exec(ansible, pg, database, tmp_path, small_platform):
    """pg_dump and pg_restore run "in the pod" (kubemu runs exec on this machine with the pod's
    environment, which points at the local server); the bytes stream over the websocket."""
    extra = backup_vars(
        database,
        tmp_path,
        backup_database_mode="in_cluster",
        backup_namespace=small_platform["namespace"],
        platform_namespace=small_platform["namespace"],
        backup_pod_selector="app.kubernetes.io/component=postgresql",
        backup_verify=True,
    )
    run = ansible("playbooks/backup_database.yml", extra_vars=extra)
    assert run.rc == 0, run.failure_messages()
    [archive] = archives(tmp_path)
    manifest = json.loads(Path(str(archive) + ".manifest.json").read_text())
    assert manifest["source"]["mode"] == "in-cluster" and manifest["source"]["pod"] == "mplp-postgresql-0"
    assert manifest["tables"]["public.agents"]["rows"] == SEED_ROWS


@pytest.mark.emulator_only
def test_in_cluster_backup_verify_of_a_multi_container_pod_runs_in_the_named_container(
    ansible, database, tmp_path, small_platform, kube
):
    """A PostgreSQL pod with a sidecar first (an exporter): the dump and the test restore of
    backup_verify both run in backup_container (kubemu, as the API server, refuses an exec
    into a pod of several containers that names none)."""
    ns = small_platform["namespace"]
    core = client.CoreV1Api(kube["us-east-1"])
    statefulset = client.AppsV1Api(kube["us-east-1"]).read_namespaced_stateful_set("mplp-postgresql", ns)
    env = client.ApiClient().sanitize_for_serialization(statefulset.spec.template.spec.containers[0].env)
    labels = {"app.kubernetes.io/component": "postgresql-with-sidecar"}
    pod = {
        "metadata": {"name": "it-pg-sidecar", "labels": labels},
        "spec": {
            "containers": [
                {"name": "exporter", "image": "prometheuscommunity/postgres-exporter"},
                {"name": "postgresql", "image": "postgres:15", "env": env},
            ]
        },
    }
    core.create_namespaced_pod(ns, pod)
    try:
        deadline = time.monotonic() + 60
        while not any(
            c.type == "Ready" and c.status == "True"
            for c in core.read_namespaced_pod("it-pg-sidecar", ns).status.conditions or []
        ):
            assert time.monotonic() < deadline, "the pod never became ready"
            time.sleep(0.5)
        extra = backup_vars(
            database,
            tmp_path,
            backup_database_mode="in_cluster",
            backup_namespace=ns,
            platform_namespace=ns,
            backup_pod_selector="app.kubernetes.io/component=postgresql-with-sidecar",
            backup_container="postgresql",
            backup_verify=True,
        )
        run = ansible("playbooks/backup_database.yml", extra_vars=extra)
        assert run.rc == 0, run.failure_messages()
        [archive] = archives(tmp_path)
        manifest = json.loads(Path(str(archive) + ".manifest.json").read_text())
        assert manifest["source"]["pod"] == "it-pg-sidecar"
        [verified] = run.results(
            "Database | prove each new backup restores (scratch database, compared, dropped)", "us-east-1"
        )["results"]
        assert verified["checks"]["problems"] == [] and verified["checks"]["rows_checked"] == SEED_ROWS + 50
    finally:
        core.delete_namespaced_pod("it-pg-sidecar", ns)


def test_verbose_diff_output_never_shows_the_password(ansible, pg, database, tmp_path, small_platform):
    backup_run = ansible(
        "playbooks/backup_database.yml",
        extra_vars=backup_vars(database, tmp_path),
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert backup_run.rc == 0, backup_run.stdout[-3000:]
    [archive] = archives(tmp_path)
    restore_run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(small_platform, archive, backup_restore_database=database),
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert restore_run.rc == 0, restore_run.stdout[-3000:]
    for run in (backup_run, restore_run):
        assert pg["password"] not in run.stdout + run.stderr
        assert "login_password" in run.stdout  # the argument was passed, and masked


def test_retention_prunes_after_success_only(ansible, database, tmp_path):
    policy = {
        "backup_retention_keep_last": 2,
        "backup_retention_keep_daily": 1,
        "backup_retention_keep_weekly": 0,
        "backup_retention_keep_monthly": 0,
    }
    for _round in range(3):
        backup(ansible, database, tmp_path, **policy)
        time.sleep(1.1)  # one archive name per second
    kept = archives(tmp_path)
    assert len(kept) == 2, kept
    assert all(Path(str(p) + ".manifest.json").exists() for p in kept)

    failed = ansible(
        "playbooks/backup_database.yml",
        extra_vars=backup_vars(database, tmp_path, backup_database_password="wrong", **policy),
    )
    assert failed.rc != 0
    assert archives(tmp_path) == kept  # a failed backup prunes nothing


@pytest.fixture
def s3_location(stack_facts):
    facts = stack_facts["s3"]
    return {
        "bucket": facts["bucket"],
        "prefix": "it-%s/postgresql" % uuid.uuid4().hex[:8],
        "endpoint_url": facts["endpoint_url"],
        "region": facts["region"],
        "access_key": Path(facts["access_key_file"]).read_text().strip(),
        "secret_key": Path(facts["secret_key_file"]).read_text().strip(),
    }


def s3_names(location):
    import sys

    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.multiagent.ops.plugins.module_utils.backup import store

    return sorted(e.name for e in store.open_store({"s3": location}).list())


def test_s3_location_backup_verify_prune_and_restore(
    ansible, pg, database, tmp_path, small_platform, s3_location
):
    """The bucket is the location: archive then manifest uploaded, the local copy removed,
    the test restore and the retention work on the bucket, a restore downloads from it."""
    policy = {"backup_retention_keep_last": 1, "backup_retention_keep_daily": 0,
              "backup_retention_keep_weekly": 0, "backup_retention_keep_monthly": 0}  # fmt: skip
    extra = backup_vars(database, tmp_path, backup_s3=s3_location, backup_verify=True, **policy)
    first = ansible("playbooks/backup_database.yml", extra_vars=extra)
    assert first.rc == 0, first.failure_messages()
    time.sleep(1.1)
    second = ansible("playbooks/backup_database.yml", extra_vars=extra)
    assert second.rc == 0, second.failure_messages()
    names = s3_names(s3_location)
    assert len(names) == 2 and names[1] == names[0] + ".manifest.json", names  # the older one pruned
    assert not archives(tmp_path)  # nothing left in the staging directory
    # the dump ran async (it has the lock): its result is collected by async_status
    [item] = second.results("Async | the result of the dump into %s" % tmp_path, "us-east-1")["backups"]
    assert item["url"] == "s3://%s/%s/%s" % (s3_location["bucket"], s3_location["prefix"], names[0])
    assert s3_location["secret_key"] not in first.stdout + second.stdout

    with connect(pg, database) as conn:
        conn.execute("TRUNCATE agents")
    run = ansible(
        "playbooks/restore_database.yml",
        extra_vars=restore_vars(
            small_platform,
            names[0],
            backup_s3=s3_location,
            backup_dest=str(tmp_path),
            backup_restore_database=database,
        ),
    )
    assert run.rc == 0, run.failure_messages()
    with connect(pg, database) as conn:
        assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == SEED_ROWS
    assert len(s3_names(s3_location)) == 4  # plus the safety backup, in the bucket too


def test_database_runbooks_act_on_the_primary_cluster_only(ansible, pg, database, tmp_path):
    """eu-west-1 holds read replicas (cluster_primary: false): nothing runs there."""
    before = fingerprint(pg, database)
    backup_run = ansible(
        "playbooks/backup_database.yml", extra_vars=backup_vars(database, tmp_path, ops_hosts="eu-west-1")
    )
    assert backup_run.rc == 0, backup_run.failure_messages()
    assert list(tmp_path.iterdir()) == []
    restore_run = ansible(
        "playbooks/restore_database.yml",
        extra_vars={
            "ops_hosts": "eu-west-1",
            "backup_restore_archive": str(tmp_path / "x.dump.zst"),
            "ops_force": True,
        },
    )
    assert restore_run.rc == 0, restore_run.failure_messages()
    task = "Restore (role multiagent.ops.backup, restore_database)"
    assert restore_run.results(task, "eu-west-1").get("skipped") is True
    assert fingerprint(pg, database) == before
