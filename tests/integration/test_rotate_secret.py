"""playbooks/rotate_secret.yml against the local stack: a real PostgreSQL role whose password
is rotated (ALTER ROLE first, the database pod kept running), the emulated cluster's Secret and
the workloads that read it; a rotation whose verification fails is rolled back, and the role
logs in with its old password again."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import psycopg
import pytest
import stack as local_stack
from conftest import delete_namespace, pg_admin
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

CHECKSUM = "multiagent.ops/config-checksum"
ROTATE = "playbooks/rotate_secret.yml"
DEPLOY = "playbooks/deploy.yml"
ROTATE_TASK = "Rotate | the Secret (the role first for the database's), then only the workloads that read it"


@pytest.fixture
def setup(kube, stack_facts):
    """Its own namespace, Secret name, health path (so a failing answer fails only this
    test's health check) and PostgreSQL role."""
    tag = uuid.uuid4().hex[:8]
    role = "it_rotate_%s" % tag
    old = "0ld-%s" % uuid.uuid4().hex
    with pg_admin(stack_facts) as conn:
        conn.execute("CREATE ROLE \"%s\" LOGIN PASSWORD '%s'" % (role, old))
    ctx = {
        "namespace": "it-rotate-%s" % tag,
        "secret": "it-rotate-db-%s" % tag,
        "health": "/api/v1/core-%s/health" % tag,
        "role": role,
        "old": old,
    }
    yield ctx
    standin(stack_facts, ctx["health"], "healthy")
    delete_namespace(kube, ctx["namespace"])
    with pg_admin(stack_facts) as conn:
        conn.execute('DROP ROLE IF EXISTS "%s"' % role)


def platform(ctx):
    return [
        {
            "name": "core",
            "workload": "mplp-core",
            "image": "mplp/core",
            "replicas": 2,
            "service": {"name": "mplp-core", "port": 8080},
            "health_paths": [ctx["health"]],
            "secrets": [ctx["secret"]],
        },
        {
            "name": "plan",
            "workload": "mplp-plan",
            "image": "mplp/plan",
            "replicas": 1,
            "service": {"name": "mplp-plan", "port": 8080},
            "health_paths": ["/api/v1/plan/health"],
        },
        {
            "name": "postgresql",
            "role": "database",
            "kind": "StatefulSet",
            "workload": "mplp-postgresql",
            "image": "postgres:15",
            "replicas": 1,
            "service": {"name": "mplp-postgresql", "port": 5432},
            "credentials_secret": ctx["secret"],
            "read_only_root_filesystem": False,
        },
    ]


def extra(ctx, stack_facts, password, **more):
    """The run's variables: the platform, the Secret as the vault holds it (``password``), and
    the database pod's environment pointing its in-pod tools (the health check's) at the
    stack's PostgreSQL as the test's role, with the password from the Secret."""
    pg = stack_facts["postgresql"]
    env = [
        {"name": "PGHOST", "value": pg["host"]},
        {"name": "PGPORT", "value": str(pg["port"])},
        {"name": "PGUSER", "value": ctx["role"]},
        {"name": "PGDATABASE", "value": pg["dbname"]},
        {
            "name": "PGPASSWORD",
            "valueFrom": {"secretKeyRef": {"name": ctx["secret"], "key": "POSTGRES_PASSWORD"}},
        },
    ]
    values = {
        "platform_namespace": ctx["namespace"],
        "platform_components": platform(ctx),
        "platform_health_paths": [],
        "deploy_ingress_paths": [],
        "deploy_component_overrides": {"postgresql": {"env": env}},
        "deploy_secrets": [{"name": ctx["secret"], "data": {"POSTGRES_PASSWORD": password}}],
        "platform_database": {
            "name": "postgresql",
            "host": pg["host"],
            "port": pg["port"],
            "user": ctx["role"],
            "dbname": pg["dbname"],
            "password": password,
        },
        "rotate_secret_name": ctx["secret"],
        "rotate_secret_vault_password": "rotation-records-%s" % ctx["role"],
        "rotate_secret_record_dir": ctx["records"],
    }
    values.update(more)
    return values


def standin(stack_facts, path, mode):
    """The stand-in's answer for this test's own health path only (no global reset)."""
    base = stack_facts["clusters"]["us-east-1"]["standin"]
    local_stack.http_json(base + "/_standin/mode", "POST", {"path": path, "mode": mode, "status": 500})


def logs_in(stack_facts, role, password):
    pg = stack_facts["postgresql"]
    try:
        psycopg.connect(
            host=pg["host"],
            port=pg["port"],
            user=role,
            password=password,
            dbname=pg["dbname"],
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def secret_value(kube, ctx):
    secret = client.CoreV1Api(kube["us-east-1"]).read_namespaced_secret(ctx["secret"], ctx["namespace"])
    return base64.b64decode(secret.data["POSTGRES_PASSWORD"]).decode()


def state(kube, ctx):
    apps = client.AppsV1Api(kube["us-east-1"])
    core = apps.read_namespaced_deployment("mplp-core", ctx["namespace"])
    pods = client.CoreV1Api(kube["us-east-1"]).list_namespaced_pod(ctx["namespace"]).items
    return {
        "checksum": core.spec.template.metadata.annotations.get(CHECKSUM),
        "uids": {p.metadata.name: p.metadata.uid for p in pods},
        "database_generation": apps.read_namespaced_stateful_set(
            "mplp-postgresql", ctx["namespace"]
        ).metadata.generation,
    }


def uids_of(snapshot, prefix):
    return {uid for name, uid in snapshot["uids"].items() if name.startswith(prefix)}


def test_rotation_restarts_only_readers_keeps_the_database_and_rolls_back_a_failed_verification(
    ansible, kube, stack_facts, setup, tmp_path
):
    ctx = dict(setup, records=str(tmp_path / "records"))
    role, old = ctx["role"], ctx["old"]
    deployed = ansible(DEPLOY, limit="us-east-1", extra_vars=extra(ctx, stack_facts, old))
    assert deployed.rc == 0, deployed.failure_messages()
    before = state(kube, ctx)

    # Check mode says what would change and changes nothing: no record, no role, no Secret.
    new = "n3w-%s" % uuid.uuid4().hex
    checked = ansible(
        ROTATE, limit="us-east-1", extra_vars=extra(ctx, stack_facts, new), args=["--check", "--diff"]
    )
    assert checked.rc == 0, checked.failure_messages()
    would = checked.results(ROTATE_TASK, "us-east-1")
    assert would["changed"] and would["record"] is None and would["keys"] == ["POSTGRES_PASSWORD"]
    assert new not in checked.stdout and old not in checked.stdout
    assert secret_value(kube, ctx) == old and logs_in(stack_facts, role, old)
    assert not Path(ctx["records"]).exists()

    # The vault now holds the new password: rotate_secret.yml takes it from deploy_secrets. The
    # role is changed through psql in the database pod (exec), as on a cluster whose database
    # has no route from outside; the failed rotation below goes direct.
    rotated = ansible(
        ROTATE,
        limit="us-east-1",
        extra_vars=extra(ctx, stack_facts, new, rotate_secret_database_mode="in_cluster"),
        args=["-vvv", "--diff"],
    )
    assert rotated.rc == 0, rotated.failure_messages()
    for text in (rotated.stdout, rotated.stderr):
        assert new not in text and old not in text
    result = rotated.results(ROTATE_TASK, "us-east-1")
    assert result["database"]["altered"] is True and result["database"]["mode"] == "in_cluster"
    assert result["keys"] == ["POSTGRES_PASSWORD"]
    how = {w["name"]: w["how"] for w in result["workloads"]}
    assert how == {"mplp-core": "checksum", "mplp-postgresql": "kept"}
    assert logs_in(stack_facts, role, new) and not logs_in(stack_facts, role, old)
    assert secret_value(kube, ctx) == new
    after = state(kube, ctx)
    assert after["checksum"] != before["checksum"]
    assert not uids_of(before, "mplp-core") & uids_of(after, "mplp-core")  # restarted
    assert uids_of(before, "mplp-plan") == uids_of(after, "mplp-plan")  # does not read it
    assert uids_of(before, "mplp-postgresql") == uids_of(after, "mplp-postgresql")  # kept running
    assert after["database_generation"] == before["database_generation"]
    record = Path(result["record"]["path"])
    assert record.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert record.stat().st_mode & 0o777 == 0o600
    assert new.encode() not in record.read_bytes() and old.encode() not in record.read_bytes()

    # The deploy that follows (its vault holding the new value) computes the same checksum.
    again = ansible(DEPLOY, limit="us-east-1", extra_vars=extra(ctx, stack_facts, new))
    assert again.rc == 0, again.failure_messages()
    assert state(kube, ctx)["checksum"] == after["checksum"]
    assert uids_of(state(kube, ctx), "mplp-core") == uids_of(after, "mplp-core")

    # A rotation whose verification fails (the component's health endpoint answers 500 once its
    # pods run on the new value) is rolled back from its record.
    standin(stack_facts, ctx["health"], "error")
    newer = "n3wer-%s" % uuid.uuid4().hex
    failed = ansible(ROTATE, limit="us-east-1", extra_vars=extra(ctx, stack_facts, newer))
    assert failed.rc != 0
    message = " ".join(failed.failure_messages())
    assert "Verify | the platform is healthy" in message and "was rolled back from" in message, message
    assert "restarted Deployment/mplp-core" in message
    assert newer not in failed.stdout
    assert secret_value(kube, ctx) == new
    assert logs_in(stack_facts, role, new) and not logs_in(stack_facts, role, newer)
    back = state(kube, ctx)
    assert back["checksum"] == after["checksum"]
    assert uids_of(back, "mplp-postgresql") == uids_of(before, "mplp-postgresql")

    # An operator's rollback to the first record: the values from before the first rotation.
    standin(stack_facts, ctx["health"], "healthy")
    manual = ansible(
        ROTATE,
        limit="us-east-1",
        extra_vars=extra(
            ctx, stack_facts, newer, rotate_secret_rollback=True, rotate_secret_record=str(record)
        ),
    )
    assert manual.rc == 0, manual.failure_messages()
    assert secret_value(kube, ctx) == old
    assert logs_in(stack_facts, role, old) and not logs_in(stack_facts, role, new)
    assert state(kube, ctx)["checksum"] == before["checksum"]


@pytest.mark.parametrize(
    "given, message",
    [
        ({"rotate_secret_generate": ["POSTGRES_PASSWORD"]}, "would write the old value back"),
        (
            {"deploy_secrets": [{"name": "s", "data": {"POSTGRES_PASSWORD": ""}}]},
            "an empty new value for POSTGRES_PASSWORD",
        ),
        ({"rotate_secret_vault_password": ""}, "give rotate_secret_vault_password"),
    ],
)
def test_bad_input_fails_in_preflight_naming_what_is_wrong(ansible, given, message):
    variables = {
        "platform_namespace": "it-rotate-never-created",
        "rotate_secret_name": "s",
        "rotate_secret_vault_password": "p",
        "deploy_secrets": [{"name": "s", "data": {"POSTGRES_PASSWORD": "v"}}],
    }
    variables.update(given)
    result = ansible(ROTATE, limit="us-east-1", extra_vars=variables)
    assert result.rc != 0
    text = " ".join(result.failure_messages())
    assert message in text, text
