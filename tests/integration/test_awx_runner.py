"""The runbooks run as AWX runs a job: ansible-runner on a private data dir laid out as AWX lays it
out, without an AWX server.

    <private data dir>/
      project/            the project's checkout (here: this repository)
      inventory/hosts     the job's inventory as AWX writes it: a script printing the imported
                          inventory (ansible-inventory --list of inventories/demo) with _meta
      env/extravars       the job's variables: awx_*/tower_* and the template's (and survey's)
      env/envvars         the job's environment: AWX's ANSIBLE_* settings and the credentials' env
      env/cmdline         -e @env/<file> for each credential's extra_vars
      env/settings        ansible-runner's settings
      env/tmp*            the credentials' files and extra_vars files (0600 / 0400)

The credentials are those of the shipped credential types (playbooks/vars/awx/credential_types.yml),
their injectors rendered as AWX renders them (tests/awx_injectors.py) from the local stack's facts:
they override the demo inventory's k8s_kubeconfig, platform_database and platform_cache, so what
the runbooks reach, they reach with what the credentials gave them. There is no container here:
the paths the injectors name are this machine's (container_root=None).

Checked: the status and rc, the job events (the key tasks ok, nothing failed, the stats event and
its hosts), the stats the runbooks publish (set_stats, per cluster), that no secret shows in any
event's stdout, and that no file with a secret is left outside the private data dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import ansible_runner
import psycopg
import pytest
import yaml
from conftest import INVENTORY, ROOT, SMALL_PLATFORM, delete_namespace, load_platform, local_stack, pg_admin
from kubernetes import client

from tests import awx_injectors

# emulator_only: the kubeconfig credential is the local stack's (one context per emulated cluster)
pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.emulator_only]

BIN = Path(sys.executable).parent
CREDENTIAL_TYPES = ROOT / "playbooks" / "vars" / "awx" / "credential_types.yml"
HEALTH_TASK = "Look at the platform (workloads, pods, events, endpoints, database, cache)"
VERDICT_TASK = "Verify | the platform is healthy"
DUMP_TASK = "Async | the result of the dump into "  # the dump runs async (with the lock)
APPLY_TASK = "Apply | every object of the platform in one batch, then wait for the rollouts"
LOCK_TASK = "Gate | take the lock on "  # the gate of every changing runbook (role _ops)


class _Loader(yaml.SafeLoader):
    """The credential types file as awx_configure.yml sends it (!unsafe: the text as written)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def credential_types():
    data = yaml.load(CREDENTIAL_TYPES.read_text(), Loader=_Loader)
    return {t["name"]: t for t in data["awx_credential_types"]}


# -- the job ------------------------------------------------------------------------------------


class AwxJob:
    """A finished ansible-runner job: its status, rc, events and private data dir."""

    def __init__(self, runner, private_data_dir, job_tmp, secrets):
        self.status = runner.status
        self.rc = runner.rc
        self.events = list(runner.events)
        self.dir = Path(private_data_dir)
        self.ident = runner.config.ident
        self.tmp = job_tmp
        self.secrets = secrets
        self.stdout = "".join(e.get("stdout", "") for e in self.events)

    def __repr__(self):
        return "<AwxJob %s rc=%s>\n%s" % (self.status, self.rc, self.stdout[-4000:])

    def of(self, event, task=None, host=None):
        """The events of this type (of the task named ``task`` or starting so, on ``host``)."""
        found = []
        for e in self.events:
            data = e.get("event_data", {})
            name = data.get("task", "")
            if e["event"] != event or (host and data.get("host") != host):
                continue
            if task is not None and not (name == task or name.startswith(task)):
                continue
            found.append(e)
        return found

    def result(self, task, host):
        """The result of the task on the host (its last runner_on_ok)."""
        oks = self.of("runner_on_ok", task, host)
        assert oks, "no runner_on_ok of %r on %s in %r" % (task, host, self)
        return oks[-1]["event_data"]["res"]

    def failed(self):
        return [
            e
            for e in self.of("runner_on_failed") + self.of("runner_on_unreachable")
            if not e["event_data"].get("ignore_errors")
        ]

    def stats(self):
        [stats] = self.of("playbook_on_stats")
        return stats["event_data"]

    def published(self, key):
        """What the runbook published with set_stats (the stats event's artifact_data)."""
        data = self.stats().get("artifact_data") or {}
        assert key in data, "%s not published; the stats event has %s" % (key, sorted(data))
        return data[key]


def awx_meta_vars(job_id, template, user, inventory, revision):
    """What AWX adds to every job's extra vars, under both of its prefixes."""
    meta = {
        "job_id": job_id,
        "job_launch_type": "manual",
        "job_template_id": 17,
        "job_template_name": template,
        "project_revision": revision,
        "project_scm_branch": "main",
        "user_id": 3,
        "user_name": user,
        "user_email": "%s@example.com" % user,
        "user_first_name": user.title(),
        "user_last_name": "",
        "inventory_id": 5,
        "inventory_name": inventory,
        "execution_node": "awx-task-0",
        "host": "https://awx.example.com",
    }
    return {"%s_%s" % (prefix, k): v for prefix in ("awx", "tower") for k, v in meta.items()}


@pytest.fixture(scope="module")
def script_inventory(stack_facts):
    """The demo inventory as AWX imports it (ansible-inventory --list, vars unrendered) and hands
    it to a job: an executable that prints it, with AWX's remote_tower_* host variables."""
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", INVENTORY, "--list"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get("PATH", "")),
        timeout=120,
        check=True,
        cwd=str(ROOT),
    ).stdout
    data = json.loads(listed)
    for i, hostvars in enumerate(data["_meta"]["hostvars"].values()):
        hostvars.update(remote_tower_enabled="true", remote_tower_id=100 + i)
    return data


@pytest.fixture(scope="module")
def pg_superuser(stack_facts):
    with pg_admin(stack_facts) as conn:
        yield conn


@pytest.fixture(scope="module")
def database(stack_facts, pg_superuser):
    """A database of this file's own, with rows, that the PostgreSQL credential names."""
    facts = stack_facts["postgresql"]
    name = "it_awx_%s" % uuid.uuid4().hex[:8]
    pg_superuser.execute('CREATE DATABASE "%s" OWNER "%s"' % (name, facts["user"]))
    with psycopg.connect(
        host=facts["host"],
        port=facts["port"],
        user=facts["user"],
        password=Path(facts["password_file"]).read_text().strip(),
        dbname=name,
        autocommit=True,
    ) as conn:
        conn.execute("CREATE TABLE agents (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO agents SELECT g, 'agent ' || g FROM generate_series(1, 500) g")
    yield name
    pg_superuser.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    pg_superuser.execute('DROP DATABASE IF EXISTS "%s"' % name)


@pytest.fixture(scope="module")
def credentials(stack_facts, database):
    """The inputs of the job's credentials, per shipped credential type: what an AWX admin
    enters for the local stack."""
    kubeconfig = json.loads(Path(stack_facts["kubeconfig"]).read_text())
    pg, redis = stack_facts["postgresql"], stack_facts["redis"]
    return {
        # pasted as YAML, as one would from kubectl config view --raw
        "Kubernetes clusters (kubeconfig)": {"kubeconfig": yaml.safe_dump(kubeconfig)},
        "PostgreSQL": {
            "host": pg["host"],
            "port": str(pg["port"]),
            "username": pg["user"],
            "password": Path(pg["password_file"]).read_text().strip(),
            "database": database,
            "sslmode": "disable",
        },
        "Redis": {
            "host": redis["host"],
            "port": str(redis["port"]),
            "password": Path(redis["password_file"]).read_text().strip(),
        },
    }


def secrets_of(credentials):
    kubeconfig = yaml.safe_load(credentials["Kubernetes clusters (kubeconfig)"]["kubeconfig"])
    found = [user["user"]["token"] for user in kubeconfig["users"] if user["user"].get("token")]
    found += [credentials["PostgreSQL"]["password"], credentials["Redis"]["password"]]
    assert all(len(s) >= 8 for s in found)  # long enough not to show by chance
    return found


@pytest.fixture(scope="module")
def awx_job(script_inventory, credentials, tmp_path_factory):
    """Run a playbook of the project as AWX job ``job_id`` would; returns an AwxJob."""
    types = credential_types()
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=str(ROOT), check=True
    ).stdout.strip()

    def run(playbook, job_id, template, extra_vars, limit=None, inputs=None, user="alice"):
        pdd = tmp_path_factory.mktemp("awx-job-%d-" % job_id)
        job_tmp = tmp_path_factory.mktemp("awx-job-%d-tmp-" % job_id)
        (pdd / "project").symlink_to(ROOT, target_is_directory=True)

        (pdd / "inventory").mkdir()
        script = pdd / "inventory" / "hosts"
        script.write_text(
            "#!%s\n# -*- coding: utf-8 -*-\nprint(%r)\n" % (sys.executable, json.dumps(script_inventory))
        )
        script.chmod(0o700)

        env_dir = pdd / "env"
        env_dir.mkdir(mode=0o700)
        job_inputs = dict(credentials, **(inputs or {}))
        cred_env, cmdline = {}, []
        for type_name, type_inputs in job_inputs.items():
            env, extra, _files = awx_injectors.render(
                types[type_name], type_inputs, str(pdd), container_root=None
            )
            cred_env.update(env)
            if extra:
                cmdline += ["-e", "@%s" % awx_injectors.extra_vars_file(extra, str(pdd))]
        (env_dir / "cmdline").write_text(shlex.join(cmdline))

        job_vars = awx_meta_vars(job_id, template, user, "mplp demo", revision)
        job_vars.update(extra_vars)
        (env_dir / "extravars").write_text(yaml.safe_dump(job_vars))
        (env_dir / "extravars").chmod(0o600)

        envvars = {
            # what AWX sets for every job
            "ANSIBLE_FORCE_COLOR": "False",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
            "ANSIBLE_PARAMIKO_RECORD_HOST_KEYS": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(pdd / "cp"),
            "ANSIBLE_ROLES_PATH": str(pdd / "requirements_roles"),
            # where AWX installs collections/requirements.yml (here: the test's collections)
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
            "AWX_HOST": "https://awx.example.com",
            "JOB_ID": str(job_id),
            "INVENTORY_ID": "5",
            "PROJECT_REVISION": revision,
            "MAX_EVENT_RES": "700000",
            # the execution environment's PATH; the demo inventory's locator of the local stack
            # (an AWX admin would set it in AWX_TASK_ENV); the job's own temporary directory
            "PATH": str(BIN) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
            "MAOPS_STACK_DIR": str(local_stack.STATE),
            "TMPDIR": str(job_tmp),
            "ANSIBLE_LOCAL_TEMP": str(job_tmp / "local"),
            "ANSIBLE_REMOTE_TEMP": str(job_tmp / "remote"),
        }
        envvars.update(cred_env)
        (env_dir / "envvars").write_text(yaml.safe_dump(envvars))  # a credential's env may be secret
        (env_dir / "envvars").chmod(0o600)
        (env_dir / "settings").write_text(
            yaml.safe_dump({"job_timeout": 300, "suppress_ansible_output": True, "pexpect_use_poll": True})
        )

        # A job's container starts with a clean environment: nothing of this process's leaks in.
        base = {k: os.environ[k] for k in ("HOME", "USER", "LANG", "LC_ALL") if k in os.environ}
        with mock.patch.dict(os.environ, base, clear=True):
            runner = ansible_runner.run(
                private_data_dir=str(pdd),
                playbook=playbook,
                inventory=str(script),
                limit=limit,
                ident=str(job_id),
                quiet=True,
            )
        return AwxJob(runner, pdd, job_tmp, secrets_of(job_inputs))

    return run


def assert_clean(job, *outputs):
    """No secret in any job event (its stdout, nor its data: AWX keeps both and shows them), the
    credential files only in the private data dir and readable by their owner only, no file
    with a secret left in the job's temporary directory or in what it wrote."""
    for event in job.events:
        for secret in job.secrets:
            where = "the stdout" if secret in event.get("stdout", "") else "the data"
            assert secret not in json.dumps(event), "a secret in %s of %s %s" % (
                where,
                event["event"],
                event.get("event_data", {}).get("task"),
            )
    for secret in job.secrets:
        assert secret not in (job.dir / "artifacts" / job.ident / "stdout").read_text(errors="replace")
    for path in (job.dir / "env").iterdir():
        if path.is_file() and any(s.encode() in path.read_bytes() for s in job.secrets):
            assert path.stat().st_mode & 0o077 == 0, "%s is readable by others" % path
    leftovers = []
    for root in (job.tmp, *outputs):
        for path in Path(root).rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                if any(s.encode() in content for s in job.secrets):
                    leftovers.append(str(path))
    assert leftovers == [], "files with a secret outside the private data dir: %s" % leftovers


def assert_succeeded(job, hosts):
    assert job.status == "successful" and job.rc == 0, repr(job)
    assert job.failed() == [], [e["event_data"].get("res", {}).get("msg") for e in job.failed()]
    stats = job.stats()
    assert set(stats["processed"]) == set(hosts), stats["processed"]
    assert not stats["failures"] and not stats["dark"]


def assert_published_frame(published, runbook, hosts, status="ok"):
    """The frame of every runbook's stats: one entry per cluster (aggregate: true keeps both)."""
    assert set(published) == set(hosts), published
    for host in hosts:
        assert published[host]["runbook"] == runbook
        assert published[host]["cluster"] == host
        assert published[host]["status"] == status, published[host]


# -- the runs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def namespace(kube):
    """A fresh namespace: deploy.yml creates it on us-east-1, the demo loader on eu-west-1."""
    name = "it-awx-%s" % uuid.uuid4().hex[:8]
    yield name
    for cluster in ("us-east-1", "eu-west-1"):
        delete_namespace(kube, name, cluster)
    try:  # a first deploy locks the platform in default
        client.CoordinationV1Api(kube["us-east-1"]).delete_namespaced_lease(
            "maops-lock-platform-%s" % name, "default"
        )
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def platform(namespace):
    return {"platform_namespace": namespace, "platform_components": SMALL_PLATFORM}


@pytest.fixture(scope="module")
def deployed(awx_job, namespace, ansible):
    """deploy.yml as job 4242 into the fresh namespace on us-east-1; then the same platform is
    loaded on eu-west-1, so that the health check has it on both clusters."""
    job = awx_job(
        "playbooks/deploy.yml", 4242, "mplp | deploy", platform(namespace), limit="us-east-1", user="bob"
    )
    if job.rc == 0:
        load_platform(ansible, namespace, SMALL_PLATFORM, limit="eu-west-1")
    return job


def test_deploy_as_an_awx_job(deployed, kube, namespace):
    job = deployed
    assert_succeeded(job, ["us-east-1"])
    assert job.of("runner_on_ok", "Deploy the platform", "eu-west-1") == []  # --limit
    applied = job.result(APPLY_TASK, "us-east-1")
    assert applied["changed"] is True and applied["summary"]["created"] > 0
    assert (
        client.AppsV1Api(kube["us-east-1"])
        .read_namespaced_deployment("mplp-core", namespace)
        .status.ready_replicas
    )
    # the Lease names the AWX job that holds it, its template and its user
    holder = job.result(LOCK_TASK, "us-east-1")["lease"]["holder"]
    assert all(word in holder for word in ("4242", "mplp | deploy", "bob")), holder
    job.result("Validate | look at the deployed platform; it is healthy", "us-east-1")
    assert_clean(job)

    published = job.published("ops_deploy")
    assert_published_frame(published, "deploy", ["us-east-1"])
    summary = published["us-east-1"]["deploy"]
    assert summary["created"] == applied["summary"]["created"]
    assert summary["failed"] == 0
    assert {"updated", "unchanged"} <= set(summary)
    health = published["us-east-1"]["health"]
    assert health["status"] == "healthy" and health["critical"] == 0


def test_health_check_as_an_awx_job_on_both_clusters(deployed, awx_job, namespace, tmp_path):
    assert deployed.rc == 0, "the deploy failed: nothing to check"
    job = awx_job(
        "playbooks/health_check.yml",
        4243,
        "mplp | health check",
        dict(platform(namespace), ops_report_dir=str(tmp_path)),
    )
    hosts = ["us-east-1", "eu-west-1"]
    assert_succeeded(job, hosts)
    published = job.published("ops_health_check")
    assert_published_frame(published, "health_check", hosts)
    for host in hosts:
        report = job.result(HEALTH_TASK, host)["report"]
        assert report["status"] == "healthy", report["findings"]
        # the database was checked inside its pod, the cache reached with the credential's password
        assert report["components"]["postgresql"]["check"]["ok"] is True, report["components"]["postgresql"]
        assert report["components"]["postgresql"]["check"]["via"] == "exec"
        assert report["components"]["redis"]["check"]["ok"] is True, report["components"]["redis"]
        assert job.result(VERDICT_TASK, host)
        health = published[host]["health"]
        assert health["status"] == report["status"] and health["score"] == report["score"]
        assert health["critical"] == report["counts"]["critical"] == 0
        assert health["warnings"] == report["counts"]["warning"]
    assert_clean(job, tmp_path)


def test_what_the_credentials_inject_is_what_the_runbook_uses(deployed, awx_job, namespace, credentials):
    """The credentials, not the inventory, are what the runbook connects with: a wrong password
    in the PostgreSQL credential makes the database finding critical on us-east-1, a wrong token
    for eu-west-1 in the kubeconfig credential makes its API unusable; the job fails. (The
    database is described as an external one here: an in-cluster database is checked inside
    its pod, with the pod's own credentials, and the PostgreSQL credential plays no part.)"""
    assert deployed.rc == 0, "the deploy failed: nothing to check"
    wrong_pg = dict(credentials["PostgreSQL"], password="not-the-password-%s" % uuid.uuid4().hex[:6])
    kubeconfig = yaml.safe_load(credentials["Kubernetes clusters (kubeconfig)"]["kubeconfig"])
    for user in kubeconfig["users"]:
        if user["name"].endswith("eu-west-1"):
            user["user"]["token"] = "not-the-token-%s" % uuid.uuid4().hex[:6]
    job = awx_job(
        "playbooks/health_check.yml",
        4244,
        "mplp | health check",
        dict(
            platform(namespace),
            platform_components=[
                {"name": c["name"], "role": "database", "kind": "external"}
                if c.get("role") == "database"
                else c
                for c in SMALL_PLATFORM
            ],
        ),
        inputs={
            "PostgreSQL": wrong_pg,
            "Kubernetes clusters (kubeconfig)": {"kubeconfig": yaml.safe_dump(kubeconfig)},
        },
    )
    assert job.status == "failed" and job.rc != 0, repr(job)
    east = job.result(HEALTH_TASK, "us-east-1")["report"]
    assert east["api_error"] is None and east["components"]["postgresql"]["check"]["ok"] is False, east
    west = job.result(HEALTH_TASK, "eu-west-1")["report"]
    assert west["api_error"] and "401" in str(west["api_error"]), west["api_error"]
    failed = {e["event_data"]["host"]: e["event_data"] for e in job.failed()}
    assert set(failed) == {"us-east-1", "eu-west-1"}
    assert {data["task"] for data in failed.values()} == {VERDICT_TASK}
    assert "postgresql" in failed["us-east-1"]["res"]["msg"]
    assert job.stats()["failures"] == {"us-east-1": 1, "eu-west-1": 1}
    assert_clean(job)
    published = job.published("ops_health_check")
    assert_published_frame(published, "health_check", ["us-east-1", "eu-west-1"], status="failed")
    health = published["us-east-1"]["health"]
    assert health["critical"] == east["counts"]["critical"] > 0 and health["score"] == east["score"]


def test_backup_as_an_awx_job_on_the_primary(deployed, awx_job, namespace, database, tmp_path):
    # the backup's lock lives in the platform's namespace: the deployed one, this file's own
    assert deployed.rc == 0, "the deploy failed: the namespace of the lock is missing"
    dest = tmp_path / "backups"
    job = awx_job(
        "playbooks/backup_database.yml",
        4245,
        "mplp | backup database",
        {"platform_namespace": namespace, "backup_dest": str(dest)},
        limit="us-east-1",
    )
    assert_succeeded(job, ["us-east-1"])
    dumped = job.result(DUMP_TASK, "us-east-1")
    # the database the credential named, reached with the credential's user and password
    [made] = dumped["backups"]
    assert made["target"] == database and made["rows"] == 500, made
    holder = job.result(LOCK_TASK, "us-east-1")["lease"]["holder"]
    assert all(word in holder for word in ("4245", "mplp | backup database", "alice")), holder
    assert_clean(job, dest)

    published = job.published("ops_backup_database")
    assert_published_frame(published, "backup_database", ["us-east-1"])
    [entry] = published["us-east-1"]["backups"]
    assert entry["target"] == database
    archive = Path(entry["archive"])
    assert archive.is_file() and archive.parent == dest and str(archive) == made["path"]
    assert entry["size"] == archive.stat().st_size
    assert entry["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert entry["manifest"] == made["manifest_path"] and Path(entry["manifest"]).is_file()
