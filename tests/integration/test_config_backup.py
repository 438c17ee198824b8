"""Configuration backup and restore of a namespace (config_backup, config_restore and the
backup_config.yml / restore_config.yml runbooks) against the cluster.

A namespace with one object of every exported kind (a Secret, a RoleBinding, a custom
resource, an object owned by a controller) is backed up, deleted or drifted, and restored
into itself and into other namespaces; what comes back is compared with what was backed
up, minus the fields the server sets.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from config_objects import build, crd, delete_namespace
from kubernetes import client

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact, vault
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
MODULES = "tests/integration/playbooks/config_modules.yml"
CLUSTER = "us-east-1"
ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")


@pytest.fixture(scope="module")
def source(ansible, kube):
    """A namespace with one object of each kind, its CRD, and the namespaces tests add."""
    tag = uuid.uuid4().hex[:8]
    api = kube[CLUSTER]
    group = "cfg%s.example.test" % tag
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd(group))
    _wait_served(api, group)
    info = {
        "namespace": "cfg-%s" % tag,
        "tag": tag,
        "group": group,
        "secret_value": "S3cr3t-%s-value" % uuid.uuid4().hex,
        "password": "vault-pw-%s" % uuid.uuid4().hex,
        "custom_resources": [{"group": group, "version": "v1", "kind": "Widget"}],
        "cleanup": [],
    }
    build(api, info["namespace"], info["secret_value"], group)
    info["cleanup"].append(info["namespace"])
    yield info
    for namespace in info["cleanup"]:
        delete_namespace(api, namespace)
    extensions.delete_custom_resource_definition("widgets.%s" % group)


def _wait_served(api, group):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.CustomObjectsApi(api).list_cluster_custom_object(group, "v1", "widgets")
            return
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        time.sleep(0.3)
    raise AssertionError("widgets.%s was not served after 30s" % group)


def other_namespace(source, purpose):
    name = "cfg-%s-%s" % (source["tag"], purpose)
    source["cleanup"].append(name)
    return name


def call(ansible, module, args=(), **options):
    extra = {"config_module": module}
    extra.update({"config_%s" % key: value for key, value in options.items()})
    run = ansible(MODULES, limit=CLUSTER, extra_vars=extra, args=args)
    return run, run.results("Config %s call" % module, CLUSTER)


def backup(ansible, source, path, secrets=False, **more):
    options = dict(
        namespace=source["namespace"], path=str(path), custom_resources=source["custom_resources"], **more
    )
    if secrets:
        options.update(include_secrets=True, vault_password=source["password"])
    run, result = call(ansible, "backup", **options)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return result


def archive_of(result):
    """The path of the archive a config_backup result names (its one backup entry)."""
    (entry,) = result["backups"]
    return entry["path"]


def restore(ansible, archive, args=(), **options):
    return call(ansible, "restore", args=args, archive=str(archive), **options)


@pytest.fixture(scope="module")
def archives(ansible, source, tmp_path_factory):
    """A backup without Secrets and one with them (encrypted)."""
    base = tmp_path_factory.mktemp("config-backups")
    plain = backup(ansible, source, base / "plain")
    secret = backup(ansible, source, base / "secret", secrets=True)
    return {"plain": plain, "secret": secret}


def archive_objects(archive, password=None):
    """``{"Kind/name": object}`` of an archive, Secrets decrypted."""
    _manifest, problems = artifact.verify_file(str(archive))
    assert problems == [], problems
    index, files = kx.read_archive(Path(archive).read_bytes())
    return {
        kx.object_name(rt, obj): obj for rt, obj in kx.load_objects(index, files, vault_password=password)
    }, index


def live_objects(ansible, source, namespace, tmp_path):
    """What the namespace holds now, exported the same way (and with the same password)."""
    result = backup(
        ansible, dict(source, namespace=namespace), tmp_path / ("now-%s" % uuid.uuid4().hex[:6]), secrets=True
    )
    return archive_objects(archive_of(result), source["password"])[0], result


def retarget(label, obj, source_namespace, target_namespace):
    kind = label.split("/")[0]
    rt = kx.BY_KIND.get(kind) or kx.ResourceType(kind.split(".")[0], obj["apiVersion"], "", custom=True)
    return kx.retarget(rt, obj, source_namespace, target_namespace)


def expected_files(source, secrets):
    files = {
        "ConfigMap/app-config.yaml",
        "CronJob/nightly.yaml",
        "Deployment/app.yaml",
        "HorizontalPodAutoscaler/app.yaml",
        "Ingress/app.yaml",
        "NetworkPolicy/app-ingress.yaml",
        "PersistentVolumeClaim/app-data.yaml",
        "PersistentVolumeClaim/data-db-0.yaml",
        "PodDisruptionBudget/app.yaml",
        "Role/app-reader.yaml",
        "RoleBinding/app-reader.yaml",
        "Service/app-external.yaml",
        "Service/app.yaml",
        "ServiceAccount/app-runner.yaml",
        "ServiceAccount/default.yaml",
        "StatefulSet/db.yaml",
        "Widget.%s/w1.yaml" % source["group"],
    }
    if secrets:
        files.add("Secret/app-credentials.yaml")
    return files


def leaks(text, source):
    """The secret material found in ``text`` (empty: none)."""
    value = source["secret_value"]
    needles = [value, base64.b64encode(value.encode()).decode(), source["password"]]
    return [needle for needle in needles if needle in text]


# ---------------------------------------------------------------------------------------


def test_backup_strips_server_fields_and_leaves_out_generated_objects(ansible, source, archives, tmp_path):
    result = archives["plain"]
    assert set(result["files"]) == expected_files(source, secrets=False)
    assert result["secrets_included"] is False and result["encryption"] == "none"
    left_out = {item["object"]: item["reason"] for item in result["left_out"]}
    assert left_out["ConfigMap/kube-root-ca.crt"] == "created by Kubernetes in every namespace"
    assert left_out["ConfigMap/app-generated"] == "owned by Deployment/app (its controller recreates it)"

    (entry,) = result["backups"]
    manifest, problems = artifact.verify_file(entry["path"])
    assert problems == [] and entry["manifest_path"] == entry["path"] + ".manifest.json"
    assert entry["manifest"] == manifest
    assert (manifest["kind"], manifest["target"], manifest["status"]) == (
        "kubernetes-config",
        source["namespace"],
        "complete",
    )
    assert manifest["secrets_included"] is False and manifest["encryption"] == "none"
    assert manifest["objects"]["Service"] == 2 and manifest["objects"]["Widget.%s" % source["group"]] == 1
    assert manifest["sha256"] == entry["sha256"] and manifest["size"] == entry["size"]

    objects, index = archive_objects(entry["path"])
    assert index["namespace_metadata"] == {"labels": {"team": "platform"}}
    for name, obj in objects.items():
        assert set(obj["metadata"]) <= {"name", "namespace", "labels", "annotations", "finalizers"}, name
        assert "status" not in obj, name
    assert {"clusterIP", "clusterIPs"} & set(objects["Service/app"]["spec"]) == set()
    assert all("nodePort" not in port for port in objects["Service/app-external"]["spec"]["ports"])
    assert "volumeName" not in objects["PersistentVolumeClaim/app-data"]["spec"]
    assert objects["Widget.%s/w1" % source["group"]]["spec"] == {"size": 3}
    assert objects["ServiceAccount/default"]["imagePullSecrets"] == [{"name": "registry"}]
    assert "secrets" not in objects["ServiceAccount/default"]

    # Nothing changed in the namespace: the same bytes again (written elsewhere, as two
    # backups in the same second would have the same name).
    again = backup(ansible, source, tmp_path / "again")
    assert again["backups"][0]["sha256"] == entry["sha256"]
    assert Path(archive_of(again)).read_bytes() == Path(entry["path"]).read_bytes()


def test_check_mode_backup_writes_nothing(ansible, source, tmp_path):
    run, result = call(
        ansible, "backup", args=["--check"], namespace=source["namespace"], path=str(tmp_path / "dry")
    )
    assert run.rc == 0 and result["changed"] is True
    assert "ConfigMap/app-config.yaml" in result["files"]
    (entry,) = result["backups"]
    assert entry["manifest"]["status"] == "complete" and entry["sha256"] == entry["manifest"]["sha256"]
    assert not (tmp_path / "dry").exists()


def test_secrets_are_stored_only_encrypted_and_open_with_ansible_vault(ansible, source, archives, tmp_path):
    result = archives["secret"]
    assert set(result["files"]) == expected_files(source, secrets=True)
    assert result["encryption"] == "ansible-vault-1.1-aes256"
    raw = gzip.decompress(Path(archive_of(result)).read_bytes()).decode("latin-1")
    assert leaks(raw, source) == []

    shutil.unpack_archive(archive_of(result), tmp_path / "x", format="gztar")
    stored = tmp_path / "x" / "Secret" / "app-credentials.yaml"
    assert vault.is_encrypted(stored.read_bytes())
    password_file = tmp_path / "vault-password"
    password_file.write_text(source["password"] + "\n")
    viewed = subprocess.run(
        [ANSIBLE_VAULT, "view", "--vault-password-file", str(password_file), str(stored)],
        capture_output=True,
        text=True,
        check=True,
    )
    opened = yaml.safe_load(viewed.stdout)
    assert base64.b64decode(opened["data"]["password"]).decode() == source["secret_value"]
    assert opened["metadata"] == {
        "name": "app-credentials",
        "namespace": source["namespace"],
        "labels": {"app": "app"},
    }


def test_namespace_deleted_then_restored_gives_back_the_same_configuration(ansible, kube, source, tmp_path):
    """The runbooks end to end, with -vvv --diff: backup, delete the namespace, restore,
    back up again: the same archive bytes; a second restore changes nothing; no Secret value
    and no vault password in any output."""
    api = kube[CLUSTER]
    namespace = other_namespace(source, "dr")
    build(api, namespace, source["secret_value"], source["group"])
    runbook_vars = {
        "backup_config_dir": str(tmp_path / "runbook"),
        "backup_config_namespace": namespace,
        "backup_config_include_secrets": True,
        "backup_config_vault_password": source["password"],
        "backup_config_custom_resources": source["custom_resources"],
    }
    first = ansible(
        "playbooks/backup_config.yml",
        limit=CLUSTER,
        extra_vars=runbook_vars,
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert first.rc == 0, first.stdout[-3000:]
    assert leaks(first.stdout + first.stderr, source) == []
    (archive,) = sorted((tmp_path / "runbook" / CLUSTER).glob("config-%s-*.tar.gz" % namespace))
    before, _index = archive_objects(archive, source["password"])

    delete_namespace(api, namespace)

    restore_vars = {
        "restore_config_archive": str(archive),
        "restore_config_vault_password": source["password"],
        "ops_force": True,
    }
    restored = ansible(
        "playbooks/restore_config.yml",
        limit=CLUSTER,
        extra_vars=restore_vars,
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert restored.rc == 0, restored.stdout[-4000:]
    assert leaks(restored.stdout + restored.stderr, source) == []
    assert "password: <redacted>" in restored.stdout  # the Secret's diff, keys only

    after, result = live_objects(ansible, source, namespace, tmp_path)
    assert after == before
    assert result["backups"][0]["sha256"] == artifact.read_manifest(str(archive) + ".manifest.json")["sha256"]
    labels = client.CoreV1Api(api).read_namespace(namespace).metadata.labels
    assert labels["team"] == "platform"

    again = ansible("playbooks/restore_config.yml", limit=CLUSTER, extra_vars=restore_vars)
    assert again.rc == 0, again.failure_messages()
    second = again.results("Restore the objects", CLUSTER)
    assert second["changed"] is False and second["created"] == [] and second["updated"] == []
    assert len(second["unchanged"]) == len(before)


def older_copies(archive, dest, days, prefix=None, target=None):
    """Copies of a real archive dated ``days`` ago, in ``dest``: the backups earlier runs
    would have left (same bytes, so they verify). Returns their names, oldest first."""
    data = Path(archive).read_bytes()
    manifest = artifact.read_manifest(str(archive) + ".manifest.json")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    names = []
    for age in sorted(days, reverse=True):
        moment = now - datetime.timedelta(days=age)
        name = artifact.archive_name(prefix or "config-%s" % manifest["target"], moment, kx.ARCHIVE_EXT)
        artifact.write_bytes(str(dest / name), data)
        copy = dict(manifest, file=name, started=artifact.iso(moment), finished=artifact.iso(moment))
        if target:
            copy["target"] = target
        artifact.write_manifest(str(dest / name), copy)
        names.append(name)
    return names


def test_runbook_applies_retention_after_the_backup_keeping_the_newest_and_the_one_written(
    ansible, source, archives, tmp_path
):
    """Config backups go through the same retention as database backups (issue 13): older
    archives beyond the policy go, the newest and the one just written stay; check mode only
    says what would go; another namespace's archives in the same directory are not judged."""
    dest = tmp_path / "runbook" / CLUSTER
    dest.mkdir(parents=True)
    namespace = source["namespace"]
    old = older_copies(archive_of(archives["plain"]), dest, [40, 20, 10, 3, 2])
    others = older_copies(
        archive_of(archives["plain"]), dest, [60], prefix="config-elsewhere", target="elsewhere"
    )
    runbook_vars = {
        "backup_config_dir": str(tmp_path / "runbook"),
        "backup_config_namespace": namespace,
        "backup_config_custom_resources": source["custom_resources"],
        "backup_config_keep_last": 2,
        "backup_config_keep_daily": 0,
        "backup_config_keep_weekly": 0,
        "backup_config_keep_monthly": 0,
    }
    task = "Config | apply the retention policy to the archives of namespace %s" % namespace

    dry = ansible("playbooks/backup_config.yml", limit=CLUSTER, extra_vars=runbook_vars, args=["--check"])
    assert dry.rc == 0, dry.failure_messages() or dry.stdout[-3000:]
    would = dry.results(task, CLUSTER)
    # No archive is written in check mode: the two newest old ones are what the policy keeps.
    assert [b["name"] for b in would["would_delete"]] == old[:3] and would["deleted"] == []
    assert sorted(p.name for p in dest.glob("*.tar.gz")) == sorted(old + others)

    run = ansible("playbooks/backup_config.yml", limit=CLUSTER, extra_vars=runbook_vars)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    backup_result = run.results("Export the namespace into an archive", CLUSTER)
    written = Path(archive_of(backup_result)).name
    retention = run.results(task, CLUSTER)
    assert retention["changed"] is True and retention["held"] is False
    assert [b["name"] for b in retention["deleted"]] == old[:4]
    left = sorted(p.name for p in dest.glob("*.tar.gz"))
    assert left == sorted([written, old[-1]] + others)
    assert all(Path(str(dest / name) + ".manifest.json").exists() for name in left)
    assert [n["name"] for n in retention["newest_verified"] if n["target"] == namespace] == [written]


def test_restore_into_another_namespace_rewrites_it_and_is_idempotent(ansible, source, archives, tmp_path):
    archive = archive_of(archives["secret"])
    target = other_namespace(source, "copy")
    run, result = restore(
        ansible, archive, namespace=target, create_namespace=True, vault_password=source["password"]
    )
    assert run.rc == 0, run.failure_messages()
    assert result["namespace_created"] is True and result["source_namespace"] == source["namespace"]
    # The namespace controller may make the default ServiceAccount before the restore does:
    # then it is updated to the archived one instead.
    assert set(result["updated"]) <= {"ServiceAccount/default"} and result["unchanged"] == []
    order = [name.split("/")[0] for name in result["created"]]
    assert order.index("ServiceAccount") < order.index("Secret") < order.index("RoleBinding")
    assert order.index("Service") < order.index("Deployment") < order.index("HorizontalPodAutoscaler")
    assert order[-1] == "Widget.%s" % source["group"]

    archived, _index = archive_objects(archive, source["password"])
    copied, _result = live_objects(ansible, source, target, tmp_path)
    assert copied == {
        name: retarget(name, obj, source["namespace"], target) for name, obj in archived.items()
    }
    assert [s["namespace"] for s in copied["RoleBinding/app-reader"]["subjects"]] == [target, "kube-system"]

    run, second = restore(ansible, archive, namespace=target, vault_password=source["password"])
    assert run.rc == 0 and second["changed"] is False
    assert second["created"] == [] and second["updated"] == [] and len(second["unchanged"]) == len(archived)


def test_restore_repairs_drift_and_leaves_the_rest_alone(ansible, kube, source, archives):
    archive = archive_of(archives["secret"])
    target = other_namespace(source, "drift")
    run, _result = restore(
        ansible, archive, namespace=target, create_namespace=True, vault_password=source["password"]
    )
    assert run.rc == 0, run.failure_messages()
    core, apps = client.CoreV1Api(kube[CLUSTER]), client.AppsV1Api(kube[CLUSTER])
    node_port = core.read_namespaced_service("app-external", target).spec.ports[0].node_port
    core.patch_namespaced_config_map("app-config", target, {"data": {"LOG_LEVEL": "debug", "ADDED": "later"}})
    core.patch_namespaced_secret(
        "app-credentials", target, {"stringData": {"password": "drifted-Password-77"}}
    )
    apps.patch_namespaced_deployment(
        "app",
        target,
        {
            "spec": {
                "replicas": 4,
                "template": {"spec": {"containers": [{"name": "app", "image": "mplp/core:2.0"}]}},
            }
        },
    )
    core.patch_namespaced_service(
        "app-external",
        target,
        {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090, "nodePort": node_port}]}},
    )
    core.patch_namespaced_config_map("app-config", target, {"metadata": {"labels": {"added-by": "someone"}}})

    run, checked = restore(
        ansible, archive, args=["--check", "--diff"], namespace=target, vault_password=source["password"]
    )
    assert run.rc == 0, run.failure_messages()
    expected = ["Secret/app-credentials", "ConfigMap/app-config", "Service/app-external", "Deployment/app"]
    assert checked["updated"] == expected and checked["created"] == []
    assert core.read_namespaced_config_map("app-config", target).data["LOG_LEVEL"] == "debug"  # check mode
    diff_text = json.dumps(checked["diff"])
    assert "drifted-Password-77" not in diff_text and leaks(diff_text, source) == []
    assert "<redacted, changed>" in diff_text

    run, repaired = restore(ansible, archive, namespace=target, vault_password=source["password"])
    assert run.rc == 0, run.failure_messages()
    assert repaired["updated"] == expected
    config = core.read_namespaced_config_map("app-config", target)
    assert config.data == {"LOG_LEVEL": "info", "app.yaml": "server:\n  port: 8080\n  workers: 4\n"}
    assert config.metadata.labels == {"app": "app", "added-by": "someone"}  # not the archive's: kept
    password = core.read_namespaced_secret("app-credentials", target).data["password"]
    assert base64.b64decode(password).decode() == source["secret_value"]
    deployment = apps.read_namespaced_deployment("app", target)
    assert deployment.spec.template.spec.containers[0].image == "mplp/core:1.0"
    assert deployment.spec.replicas == 4  # the HPA's business, not the backup's
    service = core.read_namespaced_service("app-external", target)
    assert (service.spec.ports[0].target_port, service.spec.ports[0].node_port) == (8080, node_port)

    run, idle = restore(ansible, archive, namespace=target, vault_password=source["password"])
    assert run.rc == 0 and idle["changed"] is False


def test_check_mode_restore_creates_nothing(ansible, kube, source, archives):
    target = other_namespace(source, "dry")
    run, result = restore(
        ansible,
        archive_of(archives["secret"]),
        args=["--check"],
        namespace=target,
        create_namespace=True,
        vault_password=source["password"],
    )
    assert run.rc == 0, run.failure_messages()
    assert result["changed"] is True and result["namespace_created"] is True
    assert len(result["created"]) == len(expected_files(source, secrets=True))
    with pytest.raises(client.ApiException) as missing:
        client.CoreV1Api(kube[CLUSTER]).read_namespace(target)
    assert missing.value.status == 404


def test_restore_chosen_kinds_and_names_only(ansible, kube, source, archives):
    target = other_namespace(source, "pick")
    run, result = restore(
        ansible,
        archive_of(archives["plain"]),
        namespace=target,
        create_namespace=True,
        names=["ConfigMap/app-*", "Service/app"],
    )
    assert run.rc == 0, run.failure_messages()
    assert result["created"] == ["ConfigMap/app-config", "Service/app"]
    core = client.CoreV1Api(kube[CLUSTER])
    assert [s.metadata.name for s in core.list_namespaced_service(target).items] == ["app"]
    assert client.AppsV1Api(kube[CLUSTER]).list_namespaced_deployment(target).items == []
