"""config_backup's runner on a fake API: its result (one backup entry), what it writes and
what it masks in its result."""

from __future__ import annotations

import base64
import datetime
import json

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import Client
from ansible_collections.multiagent.ops.plugins.modules import config_backup

NS = "mplp-production"


def b64(text):
    return base64.b64encode(text.encode()).decode()


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, **params):
        super().__init__(config_backup, check_mode, False, **params)


class FakeReader(Client):
    host = "https://k8s.test"

    def __init__(self, objects):
        self.objects = objects

    def get_optional(self, path, what):
        return {"metadata": {"name": NS}} if path == kx.resources.namespace_path(NS) else None

    def request(self, path, query=None, **_):
        return 200, json.dumps({"items": self.objects.get(path, []), "metadata": {}}).encode()


def namespace_objects():
    return {
        "/api/v1/namespaces/%s/secrets" % NS: [
            {
                # A legacy ServiceAccount token: left out, its values (the namespace) not masked.
                "metadata": {
                    "name": "default-token-abcde",
                    "namespace": NS,
                    "annotations": {"kubernetes.io/service-account.name": "default"},
                },
                "type": "kubernetes.io/service-account-token",
                "data": {"namespace": b64(NS), "token": b64("eyJhbGciOi.token-value")},
            },
            {
                "metadata": {"name": "app-credentials", "namespace": NS},
                "type": "Opaque",
                "data": {"password": b64("hunter2-long"), "database": b64("settings"), "app": b64(NS)},
            },
        ],
        "/api/v1/namespaces/%s/configmaps" % NS: [
            {"metadata": {"name": "%s-settings" % NS, "namespace": NS}, "data": {"a": "b"}}
        ],
    }


START = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.UTC)
NAME = "config-%s-20261122T020000Z.tar.gz" % NS


def backup(module):
    with pytest.raises(Exit):
        finish(module, kx.run_backup, FakeReader(namespace_objects()), now=lambda: START)
    return module.result


@pytest.mark.parametrize("check_mode", [False, True])
def test_one_backup_entry_with_the_manifest_it_writes(tmp_path, check_mode):
    module = FakeModule(check_mode=check_mode, namespace=NS, path=str(tmp_path / "out"), kinds=["ConfigMap"])
    result = backup(module)
    assert result["failed"] is False and result["changed"] is True
    (entry,) = result["backups"]
    path = str(tmp_path / "out" / NAME)
    assert (entry["path"], entry["manifest_path"], entry["url"]) == (path, path + ".manifest.json", path)
    manifest = entry["manifest"]
    assert (manifest["kind"], manifest["target"], manifest["file"], manifest["status"]) == (
        "kubernetes-config",
        NS,
        NAME,
        "complete",
    )
    assert manifest["objects"] == result["objects"] == {"ConfigMap": 1}
    assert (entry["size"], entry["sha256"]) == (manifest["size"], manifest["sha256"])
    assert not {"archive", "sha256", "size"} & set(result)
    if check_mode:
        assert not (tmp_path / "out").exists()
    else:
        assert artifact.read_manifest(path + ".manifest.json") == manifest
        assert artifact.verify_file(path) == (manifest, [])


def test_a_backup_that_cannot_be_written_changed_nothing(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    result = backup(FakeModule(namespace=NS, path=str(tmp_path / "file"), kinds=["ConfigMap"]))
    assert result["failed"] is True and result["changed"] is False and result["backups"] == []
    assert result["msg"].startswith(
        "Cannot write the backup of namespace %s to %s: " % (NS, tmp_path / "file")
    )
    assert result["msg"].endswith("; nothing was changed")


def test_a_missing_namespace_changes_nothing(tmp_path):
    module = FakeModule(namespace="elsewhere", path=str(tmp_path))
    with pytest.raises(Exit):
        finish(module, kx.run_backup, FakeReader({}))
    assert module.result["msg"] == "namespace elsewhere does not exist; nothing was changed"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("check_mode", [False, True])
def test_masks_exported_secret_values_but_not_what_the_result_shows(tmp_path, check_mode):
    module = FakeModule(
        check_mode=check_mode,
        namespace=NS,
        path=str(tmp_path),
        include_secrets=True,
        vault_password="pw-123456",
        kinds=["Secret", "ConfigMap"],
    )
    result = backup(module)
    assert result["failed"] is False, result.get("msg")
    assert result["files"] == ["ConfigMap/%s-settings.yaml" % NS, "Secret/app-credentials.yaml"]
    assert "hunter2-long" in module.no_log_values and b64("hunter2-long") in module.no_log_values
    # The namespace (also a value of both Secrets) and a part of an object's name stay readable.
    for shown in (NS, "settings"):
        assert shown not in module.no_log_values
    # The token Secret is left out: none of its values are taken.
    assert "eyJhbGciOi.token-value" not in module.no_log_values


def test_secrets_without_a_vault_password_are_refused_before_any_request(tmp_path):
    """(Moved from tests/integration/test_config_backup.py: option validation only.)"""
    api = fakes.FakeApi()
    module = FakeModule(namespace=NS, path=str(tmp_path / "out"), include_secrets=True)
    with pytest.raises(Exit):
        finish(module, kx.run_backup, api)
    assert module.result["failed"] is True
    assert module.result["msg"] == (
        "include_secrets needs vault_password: Secrets are only ever stored encrypted"
    )
    assert api.calls == [] and list(tmp_path.iterdir()) == []
