"""The nightly backup CronJob: its manifests are valid for a current Kubernetes, apply
idempotently, and the command its container runs, with the variables it mounts, makes a
verified backup (run here, as the job's pod would run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The runbooks take their Lease lock in the demo inventory's platform namespace.
pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.usefixtures("demo_namespace")]
# Nothing pulls it here: the name of an image built from execution-environment.yml.
IMAGE = "localhost/multiagent-ops-ee:0.1.0"


def run_schedule(ansible, tmp_path, **more):
    extra = {
        "ops_hosts": "us-east-1",
        "backup_schedule_manifest_dest": str(tmp_path / "schedule.yaml"),
        "backup_schedule_apply": False,
        "backup_schedule_image": IMAGE,
        "schedule_tasks": "schedule",
    }
    extra.update(more)
    return ansible("tests/integration/playbooks/backup_role.yml", extra_vars=extra)


def render(ansible, tmp_path, **more):
    run = run_schedule(ansible, tmp_path, **more)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    dest = tmp_path / "schedule.yaml"
    return dest, list(yaml.safe_load_all(dest.read_text()))


def test_a_schedule_needs_its_image_named(ansible, tmp_path):
    run = run_schedule(ansible, tmp_path, backup_schedule_image="")
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "backup_schedule_image" in message and "execution-environment.yml" in message
    assert not (tmp_path / "schedule.yaml").exists()  # stopped before writing anything


def test_manifests_validate_against_kubernetes_schemas(ansible, tmp_path):
    path, objects = render(ansible, tmp_path, backup_schedule_storage_class="fast")
    assert [o["kind"] for o in objects] == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "ConfigMap",
        "CronJob",
    ]
    checked = subprocess.run(
        [
            str(Path(sys.executable).parent / "kubernetes-validate"),
            "-k",
            "1.33",
            "--strict",
            "--quiet",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cronjob = objects[-1]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["schedule"] == "0 2 * * *"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["image"] == IMAGE
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    password = [e for e in container["env"] if e["name"] == "BACKUP_DATABASE_PASSWORD"][0]
    assert "valueFrom" in password and "value" not in password  # from the Secret, never inline
    assert objects[3]["spec"]["storageClassName"] == "fast"


def test_the_jobs_command_makes_a_verified_backup(ansible, tmp_path, stack_facts):
    _path, objects = render(ansible, tmp_path)
    cronjob = objects[-1]
    configmap = [o for o in objects if o["kind"] == "ConfigMap"][0]
    job_vars = yaml.safe_load(configmap["data"]["backup.yml"])
    secret = Path(stack_facts["postgresql"]["password_file"]).read_text().strip()
    assert secret not in json.dumps(configmap)  # the ConfigMap never carries the password
    assert "BACKUP_DATABASE_PASSWORD" in job_vars["backup_database_password"]
    job_vars["backup_dest"] = str(tmp_path / "pvc")  # the PVC's mount, here
    vars_file = tmp_path / "backup.yml"
    vars_file.write_text(yaml.safe_dump(job_vars))

    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container  # the image's entrypoint (dumb-init) forwards signals
    command = container["args"]
    pod_name = [e for e in container["env"] if e["name"] == "MAOPS_POD_NAME"]
    assert pod_name == [{"name": "MAOPS_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    assert command[0] == "ansible-playbook" and command[-1] == "@/etc/multiagent-ops/backup.yml"
    argv = [str(Path(sys.executable).parent / "ansible-playbook")] + command[1:-1] + ["@%s" % vars_file]
    cluster = stack_facts["clusters"]["us-east-1"]
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_CONFIG="",
        BACKUP_DATABASE_PASSWORD=secret,
        MAOPS_POD_NAME="mplp-backup-29012-x7k2p",  # the downward API, here
        # The pod's in-cluster identity, here: kubernetes.core reads these.
        K8S_AUTH_KUBECONFIG=stack_facts["kubeconfig"],
        K8S_AUTH_CONTEXT="demo-us-east-1",
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    assert cluster["context"] == "demo-us-east-1"
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    [manifest] = list((tmp_path / "pvc").glob("*.manifest.json"))
    data = json.loads(manifest.read_text())
    assert data["status"] == "complete" and data["label"].startswith("cronjob ")
    assert env["BACKUP_DATABASE_PASSWORD"] not in proc.stdout + proc.stderr
