"""k8s/module.py make_client: the collection's own client unless the configuration needs the
kubernetes library, which it then asks for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import wire
from ansible_collections.multiagent.ops.plugins.modules import lease
from tests.unit.fakes import FakeModule

KUBECONFIG = {
    "current-context": "c",
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    "clusters": [{"name": "k", "cluster": {"server": "http://127.0.0.1:9"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
}


class Module(FakeModule):
    def __init__(self, **params):
        super().__init__(lease, **params)
        self.required = []

    def requires(self, name):
        self.required.append(name)


def test_a_token_kubeconfig_gets_the_collections_client_without_the_library():
    module = Module(kubeconfig=KUBECONFIG, api_timeout=7)
    client = k8s_module.make_client(module)
    assert isinstance(client.api, wire.Session) and module.required == []
    assert (client.host, client.timeout) == ("http://127.0.0.1:9", 7)
    assert client._headers("application/json")["Authorization"] == "Bearer t"


def test_an_exec_plugin_or_a_pod_exec_use_kubernetes_cores_client(monkeypatch):
    api_client = SimpleNamespace(configuration=SimpleNamespace(host="https://core:6443"))
    made = []

    def core_client(module):
        made.append(module)
        return SimpleNamespace(client=SimpleNamespace(client=api_client))

    monkeypatch.setattr(k8s_module, "get_api_client", core_client)
    exec_user = dict(KUBECONFIG, users=[{"name": "u", "user": {"exec": {"command": "aws"}}}])
    for module, library in ((Module(kubeconfig=exec_user), False), (Module(kubeconfig=KUBECONFIG), True)):
        client = k8s_module.make_client(module, library=library)
        assert client.api is api_client and client.host == "https://core:6443"
        assert module.required == ["kubernetes"] and made[-1] is module


def test_a_configuration_that_cannot_be_used_is_a_config_error_with_its_reason():
    with pytest.raises(k8s_module.CONFIG_ERRORS) as err:
        k8s_module.make_client(Module(kubeconfig={"contexts": []}))
    assert k8s_module.connection_error(None, err.value) == (
        "Cannot use the Kubernetes configuration: "
        "the kubeconfig names no current-context and no context was given"
    )


def test_making_the_client_does_not_import_the_kubernetes_library(tmp_path):
    """The point of the collection's client: a module call does not pay for the import."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    script = textwrap.dedent(
        """
        import json, sys
        from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
        from ansible_collections.multiagent.ops.plugins.modules import lease
        from tests.unit.fakes import FakeModule
        module = FakeModule(lease, kubeconfig=json.loads(sys.argv[1]))
        k8s_module.make_client(module)
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(KUBECONFIG)],
        cwd=os.path.dirname(root),
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []
