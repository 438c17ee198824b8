"""k8s_secret_rotate glue: the values and passwords are no_log options; the inputs each state
needs are asked for before the cluster is contacted; the runner is rotate.run on the module's
client."""

from __future__ import annotations

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import module as security_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import rotate
from ansible_collections.multiagent.ops.plugins.modules import k8s_secret_rotate


def test_every_value_and_password_option_is_no_log():
    spec = k8s_secret_rotate.argspec()
    assert spec["data"]["no_log"] and spec["vault_password"]["no_log"]
    assert spec["database"]["options"]["login_password"]["no_log"]
    assert spec["wait"]["default"] is True and spec["api_timeout"]["default"] == 30


@pytest.mark.parametrize(
    "params, message",
    [
        ({"data": {"a": "b"}}, "record_dir is required with state=rotated"),
        ({"state": "rolled_back", "data": {"a": "b"}}, "takes its values from the record"),
    ],
)
def test_missing_or_contradictory_inputs_fail_before_the_cluster_is_contacted(monkeypatch, params, message):
    monkeypatch.setattr(k8s_module, "main", lambda *a, **k: pytest.fail("the cluster was contacted"))
    module = fakes.FakeModule(k8s_secret_rotate, namespace="ns", name="s", vault_password="p", **params)
    with pytest.raises(fakes.Exit):
        security_module.rotate_main(module)
    assert module.result["failed"] and message in module.result["msg"]
    assert "nothing was changed" in module.result["msg"]


def test_a_rotation_runs_the_rotate_runner_on_the_modules_client(monkeypatch):
    seen = {}
    monkeypatch.setattr(k8s_module, "main", lambda module, runner: seen.update(runner=runner))
    module = fakes.FakeModule(
        k8s_secret_rotate, namespace="ns", name="s", vault_password="p", record_dir="/r"
    )
    security_module.rotate_main(module)
    assert seen["runner"] is rotate.run
