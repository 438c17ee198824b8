"""The LangGraph inventory end to end, as its operations manual runs it: one deploy, then
the health check from outside the cluster, a database backup, a restore, and emergency
recovery with the database pod crash-looping. One flow on one platform (module scope, a
single deploy); each step needs the ones before it.

The inventory is ``inventories/langgraph`` itself (its group_vars, linked), with host
variables that say where this machine's stand-ins are: the emulated cluster eu-west-1 of the
local stack, its HTTP stand-in as the ingress, a namespace of this test, the vault values,
and, per component (``platform_component_overrides``), the environment that points the
database and cache pods at the stack's real PostgreSQL and Redis: on the emulator,
``pods/exec`` runs the command on this machine with the pod's environment. The inventory's
``*.svc`` host names do not resolve here, as on a laptop or an AWX node outside a cluster:
the data tier is reached through exec or not at all.

Emulator only: a real cluster would run the images themselves (the host variables that point
the pods at this machine would be wrong there).
"""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import psycopg
import psycopg.sql
import pytest
import yaml
from conftest import ROOT, delete_namespace, pg_admin
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.emulator_only]

CLUSTER = "eu-west-1"
HOST = "production"
APP = "langgraph-multi-agent"
ROWS = 25


def platform_file():
    return yaml.safe_load((ROOT / "inventories/langgraph/group_vars/all/platform.yml").read_text())


@pytest.fixture(scope="module")
def langgraph(ansible, kube, stack_facts, tmp_path_factory):
    """The LangGraph inventory pointed at the local stack, its database created in the stack's
    PostgreSQL (the manual's langgraph_user and langgraph_db, seeded), and a run() for it."""
    spec = platform_file()
    db = spec["platform_database"]
    password = "lg-%s/+&" % uuid.uuid4().hex[:12]  # URL-unsafe on purpose: the app's DATABASE_URL
    namespace = "langgraph-%s" % uuid.uuid4().hex[:6]
    with pg_admin(stack_facts) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db["dbname"],)
        )
        conn.execute('DROP DATABASE IF EXISTS "%s"' % db["dbname"])
        conn.execute('DROP ROLE IF EXISTS "%s"' % db["user"])
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(db["user"]), psycopg.sql.Literal(password)
            )
        )
        conn.execute('CREATE DATABASE "%s" OWNER "%s"' % (db["dbname"], db["user"]))
    pg = stack_facts["postgresql"]
    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=db["user"], password=password, dbname=db["dbname"]
    ) as conn:
        conn.execute("CREATE TABLE checkpoints (id serial PRIMARY KEY, thread text NOT NULL, state jsonb)")
        conn.execute(
            "INSERT INTO checkpoints (thread, state) SELECT 'thread-' || i, jsonb_build_object('step', i) "
            "FROM generate_series(1, %s) AS i",
            (ROWS,),
        )

    inventory = tmp_path_factory.mktemp("langgraph-inventory")
    (inventory / "group_vars").symlink_to(ROOT / "inventories/langgraph/group_vars")
    hosts = yaml.safe_load((ROOT / "inventories/langgraph/hosts.yml").read_text())
    group = hosts["all"]["children"]["langgraph_clusters"]
    cluster = stack_facts["clusters"][CLUSTER]
    group["hosts"][HOST].update(k8s_context=cluster["context"], platform_base_url=cluster["standin"])
    group["vars"]["k8s_kubeconfig"] = stack_facts["kubeconfig"]
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    redis = stack_facts["redis"]
    host_vars = {
        "platform_namespace": namespace,
        "vault_langgraph_db_password": password,
        "vault_langgraph_redis_password": Path(redis["password_file"]).read_text().strip(),
        # where "in the pod" is on the emulator: this machine, so the pods' tools need the
        # stack's addresses (a real PostgreSQL pod uses its socket, a Redis pod localhost)
        "platform_component_overrides": {
            "postgres": {
                "env": [
                    {"name": "PGHOST", "value": pg["host"]},
                    {"name": "PGPORT", "value": str(pg["port"])},
                ]
            },
            "redis": {
                "env": [
                    {"name": "REDISCLI_HOST", "value": redis["host"]},
                    {"name": "REDISCLI_PORT", "value": str(redis["port"])},
                ]
            },
        },
    }
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / ("%s.yml" % HOST)).write_text(yaml.safe_dump(host_vars))

    def run(playbook, args=(), **extra):
        return ansible(playbook, extra_vars=extra, args=args, inventory=inventory)

    yield {"namespace": namespace, "run": run, "database": db, "password": password, "spec": spec}
    delete_namespace(kube, namespace, CLUSTER)
    with pg_admin(stack_facts) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db["dbname"],)
        )
        conn.execute('DROP DATABASE IF EXISTS "%s"' % db["dbname"])
        conn.execute('DROP ROLE IF EXISTS "%s"' % db["user"])


@pytest.fixture(scope="module")
def deployed(langgraph):
    """Step 1, once for the flow: deploy.yml from the inventory as it is."""
    result = langgraph["run"]("playbooks/deploy.yml")
    assert result.rc == 0, result.failure_messages() or result.stdout[-4000:]
    return langgraph


def apps(kube):
    return client.AppsV1Api(kube[CLUSTER])


def core(kube):
    return client.CoreV1Api(kube[CLUSTER])


def rows(stack_facts, flow):
    pg = stack_facts["postgresql"]
    db = flow["database"]
    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=db["user"], password=flow["password"], dbname=db["dbname"]
    ) as conn:
        return conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]


def test_1_deploy_renders_a_data_tier_that_can_start(deployed, kube):
    ns = deployed["namespace"]
    for name, uid in (("postgres", 999), ("redis", 999)):
        sts = apps(kube).read_namespaced_stateful_set(name, ns)
        assert sts.status.ready_replicas == 1, name
        [claim] = sts.spec.volume_claim_templates
        assert claim.spec.resources.requests["storage"] in ("20Gi", "5Gi")
        pod = sts.spec.template.spec
        assert (pod.security_context.run_as_user, pod.security_context.fs_group) == (uid, uid)
        [container] = pod.containers
        assert container.security_context.read_only_root_filesystem
        probe = " ".join(container.readiness_probe._exec.command)
        assert ("pg_isready" if name == "postgres" else "redis-cli") in probe and " -a " not in probe
    env = {
        e.name: e
        for e in apps(kube).read_namespaced_stateful_set("postgres", ns).spec.template.spec.containers[0].env
    }
    assert env["PGDATA"].value.startswith("/var/lib/postgresql/data/")
    assert env["POSTGRES_PASSWORD"].value_from.secret_key_ref.name == "langgraph-postgres-credentials"
    env = {
        e.name: e
        for e in apps(kube).read_namespaced_stateful_set("redis", ns).spec.template.spec.containers[0].env
    }
    assert env["REDISCLI_AUTH"].value_from.secret_key_ref.name == "langgraph-redis-credentials"
    app = apps(kube).read_namespaced_deployment(APP, ns)
    [container] = app.spec.template.spec.containers
    assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert container.resources.limits == {"cpu": "2000m", "memory": "4Gi"}
    assert app.status.ready_replicas == 3
    # the app's configuration and secrets, as the manual's config section has them
    secret = core(kube).read_namespaced_secret("langgraph-secrets", ns)
    assert set(secret.data) >= {"DATABASE_URL", "REDIS_URL"}
    assert core(kube).read_namespaced_config_map("langgraph-config", ns).data["DATABASE_POOL_SIZE"] == "20"


def test_2_health_from_outside_checks_the_data_tier_through_exec(deployed, tmp_path):
    host = "postgres.%s.svc" % deployed["namespace"]
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(host, 5432)  # as from a laptop or an AWX node: the name does not resolve
    result = deployed["run"]("playbooks/health_check.yml", ops_report_dir=str(tmp_path))
    assert result.rc == 0, result.failure_messages() or result.stdout[-4000:]
    report = result.report(HOST)
    assert report["status"] == "healthy", report["findings"]
    comps = report["components"]
    assert comps[APP]["replicas"]["ready"] == 3
    # the real PostgreSQL and Redis answered, asked inside their pods with the pods' credentials
    for name, pod in (("postgres", "postgres-0"), ("redis", "redis-0")):
        check = comps[name]["check"]
        assert (check["ok"], check["status"], check["via"], check["pod"]) == (True, "up", "exec", pod)


def test_3_backup_goes_through_the_database_pod(deployed, tmp_path_factory, stack_facts):
    dest = tmp_path_factory.mktemp("langgraph-backups")
    deployed["backups"] = dest
    result = deployed["run"]("playbooks/backup_database.yml", backup_dest=str(dest))
    assert result.rc == 0, result.failure_messages() or result.stdout[-4000:]
    [archive] = sorted(dest.glob("*.dump.zst"))
    manifest = json.loads(Path(str(archive) + ".manifest.json").read_text())
    assert manifest["source"]["mode"] == "in-cluster" and manifest["source"]["pod"] == "postgres-0"
    assert manifest["tables"]["public.checkpoints"]["rows"] == ROWS
    deployed["archive"] = archive


def test_4_restore_keeps_the_database_running_and_brings_the_app_back(deployed, kube, stack_facts):
    ns = deployed["namespace"]
    pg = stack_facts["postgresql"]
    db = deployed["database"]
    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=db["user"], password=deployed["password"], dbname=db["dbname"]
    ) as conn:
        conn.execute("DELETE FROM checkpoints WHERE id > 5")
    assert rows(stack_facts, deployed) == 5
    database_before = apps(kube).read_namespaced_stateful_set("postgres", ns).metadata.generation
    result = deployed["run"](
        "playbooks/restore_database.yml",
        backup_restore_archive=str(deployed["archive"]),
        backup_dest=str(deployed["backups"]),
        ops_force=True,
    )
    assert result.rc == 0, result.failure_messages() or result.stdout[-4000:]
    assert rows(stack_facts, deployed) == ROWS
    database = apps(kube).read_namespaced_stateful_set("postgres", ns)
    assert database.metadata.generation == database_before  # never scaled
    assert database.spec.replicas == 1
    stopped = result.results(
        "Restore | record replicas, suspend CronJobs, scale the application to zero", HOST
    )
    scaled = {w["object"]: (w["replicas_before"], w["replicas_after"]) for w in stopped["workloads"]}
    assert scaled == {"Deployment/%s" % APP: (3, 0)}  # the app only: the data tier kept running
    app = apps(kube).read_namespaced_deployment(APP, ns)
    assert app.spec.replicas == 3 and app.status.ready_replicas == 3


def test_5_emergency_recovery_restarts_the_crash_looping_database(deployed, kube, faults, tmp_path):
    """The database pod crash-loops: recovery recreates it (a StatefulSet's stuck pod), waits for
    it, and leaves the healthy app alone; the platform is healthy afterwards."""
    ns = deployed["namespace"]
    sick = core(kube).read_namespaced_pod("postgres-0", ns).metadata.uid
    app_pods = {
        p.metadata.name for p in core(kube).list_namespaced_pod(ns).items if p.metadata.name.startswith(APP)
    }
    faults.pod_fault(CLUSTER, ns, "postgres-0", "crashloop", restarts=6)
    result = deployed["run"]("playbooks/emergency_recovery.yml", ops_report_dir=str(tmp_path))
    assert result.rc == 0, result.failure_messages() or result.stdout[-4000:]
    report = json.loads(next(tmp_path.glob("emergency-*.json")).read_text())
    assert "pod_crashloop" in {
        f["rule"] for f in report["before"]["findings"] if f.get("component") == "postgres"
    }
    assert [r["component"] for r in report["restarted"]] == ["postgres"]
    assert report["after"]["status"] == "healthy"
    pod = core(kube).read_namespaced_pod("postgres-0", ns)
    assert pod.metadata.uid != sick and all(c.ready for c in pod.status.container_statuses or [])
    now = {
        p.metadata.name for p in core(kube).list_namespaced_pod(ns).items if p.metadata.name.startswith(APP)
    }
    assert now == app_pods  # the app was healthy: not restarted
