"""config_backup's glue on a fake API: what it masks in its result."""

from __future__ import annotations

import base64
import json

import fakes
import pytest
from fakes import Exit

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
        return {"metadata": {"name": NS}} if path == "/api/v1/namespaces/" + NS else None

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
    with pytest.raises(Exit):
        config_backup.run(module, FakeReader(namespace_objects()))
    result = module.result
    assert result["failed"] is False, result.get("msg")
    assert result["files"] == ["ConfigMap/%s-settings.yaml" % NS, "Secret/app-credentials.yaml"]
    assert "hunter2-long" in module.no_log_values and b64("hunter2-long") in module.no_log_values
    # The namespace (also a value of both Secrets) and a part of an object's name stay readable.
    for shown in (NS, "settings"):
        assert shown not in module.no_log_values
    # The token Secret is left out: none of its values are taken.
    assert "eyJhbGciOi.token-value" not in module.no_log_values
