"""The glue of the PostgreSQL modules (pg/module.py): their options, and main() handing the
runner a request and a Kubernetes client asked for only when it is needed."""

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError
from ansible_collections.multiagent.ops.plugins.modules import postgresql_backup


class FakeModule(fakes.FakeModule):
    def __init__(self, **params):
        super().__init__(postgresql_backup, **dict({"dest": "/b"}, **params))
        self.required = []

    def requires(self, dependency):
        self.required.append(dependency)


def test_the_options_are_the_kubernetes_ones_the_connection_and_the_modules_own():
    spec = pg_module.argspec(dest=dict(type="path", required=True))
    assert (
        spec["api_timeout"] == {"type": "float", "default": k8s_module.API_TIMEOUT}
        and k8s_module.API_TIMEOUT == 30
    )
    assert "kubeconfig" in spec and spec["login_password"]["no_log"] is True
    assert spec["mode"]["default"] == "direct" and spec["dest"]["required"] is True


def test_main_gives_the_runner_the_request_and_no_client_until_asked():
    module = FakeModule(databases=["mplp"], check_mode=False)
    seen = {}

    def runner(request, kubernetes):
        seen.update(params=request.params, kubernetes=kubernetes)
        return {"changed": False}

    with pytest.raises(Exit):
        pg_module.main(module, runner)
    assert module.result == {"changed": False, "failed": False}
    assert seen["params"]["databases"] == ["mplp"] and callable(seen["kubernetes"])
    assert module.required == []  # nothing asked for the kubernetes library


def test_a_client_that_cannot_be_made_is_a_backup_error_naming_the_cause(monkeypatch):
    asked = []

    def broken(module, library=False):
        asked.append(library)
        raise k8s_module.CoreException("no configuration found")

    monkeypatch.setattr(k8s_module, "make_client", broken)
    module = FakeModule(mode="in_cluster")

    def runner(request, kubernetes):
        try:
            kubernetes()
        except BackupError as exc:
            raise OpsError(str(exc)) from None
        raise AssertionError("the client was made")

    with pytest.raises(Exit):
        pg_module.main(module, runner)
    assert asked == [True]  # on the library's client: in-cluster mode execs into the pod
    assert module.result["msg"] == "Cannot use the Kubernetes configuration: no configuration found"
