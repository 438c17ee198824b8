"""k8s_apply's runner on an in-memory API: its result and failure reports, the wait (on by
default, never in check mode), Secret values kept out of what it returns."""

from __future__ import annotations

import json

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import runner
from ansible_collections.multiagent.ops.plugins.modules import k8s_apply

DISCOVERY = {
    "/api/v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
    ],
    "/apis/apps/v1": [("deployments", "Deployment", True)],
}
NS_PATH = "/api/v1/namespaces/prod"


class Api(fakes.FakeApi):
    """The in-memory API with discovery, a version, the namespace prod, and writes refused
    with a chosen message (``refuse_with``: ``{(method, path): (status, message)}``)."""

    def __init__(self, objects=None):
        served = {
            root: {"resources": [{"name": p, "kind": k, "namespaced": n} for p, k, n in kinds]}
            for root, kinds in DISCOVERY.items()
        }
        served["/version"] = {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
        served[NS_PATH] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
        super().__init__(dict(served, **(objects or {})))
        self.refuse_with = {}

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        if (method, path) in self.refuse_with:
            self.calls.append((method, path))
            code, message = self.refuse_with[(method, path)]
            return code, {"kind": "Status", "code": code, "message": message}
        return super().send(method, path, body, what, content_type, query, idempotent)

    def writes(self):
        return [call for call in self.calls if call[0] != "GET"]


def cm(name, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


def service(name):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80}]},
    }


def deployment(name, env_from=()):
    container = {"name": name, "image": "img:1"}
    if env_from:
        container["envFrom"] = [{"configMapRef": {"name": n}} for n in env_from]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def apply(api, resources, secrets=None, check_mode=False, diff=False, **params):
    module = fakes.FakeModule(
        k8s_apply,
        check_mode,
        diff,
        **dict({"namespace": "prod", "resources": resources, "secrets": secrets}, **params),
    )
    with pytest.raises(Exit):
        finish(module, runner.run, api)
    return module


def test_a_failure_names_the_failed_objects_and_returns_every_result_without_secret_values():
    api = Api()
    secret_value = "very-secret-value"
    leaky = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "leaky"},
        "stringData": {"pw": secret_value},
    }
    api.refuse_with[("POST", "/api/v1/namespaces/prod/secrets")] = (422, "value %s is invalid" % secret_value)
    module = apply(api, [cm("cfg"), leaky, service("web"), deployment("web")], diff=True)
    result = module.result
    assert result["failed"] and result["changed"]
    assert result["summary"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "not_attempted": 2,
        "skipped": 0,
    }
    assert result["msg"].startswith("1 object(s) could not be applied: Secret prod/leaky: HTTP 422")
    assert "Applied: 1 created. Not attempted: Service prod/web, Deployment prod/web." in result["msg"]
    assert [r["action"] for r in result["results"]] == ["created", "failed", "not_attempted", "not_attempted"]
    assert secret_value not in json.dumps(result)
    assert [d["after_header"] for d in result["diff"]] == ["ConfigMap prod/cfg (applied)"]
    assert secret_value in module.no_log_values


def test_a_failure_before_any_change_says_nothing_was_changed():
    api = Api()
    api.refuse_with[("POST", "/api/v1/namespaces/prod/configmaps")] = (403, "forbidden by the test")
    result = apply(api, [cm("cfg"), deployment("web")]).result
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("1 object(s) could not be applied: ConfigMap prod/cfg: permission denied")
    assert result["msg"].endswith(
        "Applied: nothing. Not attempted: Deployment prod/web. Fix the cause and run again (the apply is "
        "idempotent); nothing was changed"
    )


def test_a_failure_beside_skipped_objects_is_reported():
    # The results of skipped objects come after the plan's: the report must not trip on them.
    api = Api()
    api.refuse_with[("POST", "/api/v1/namespaces/prod/configmaps")] = (403, "forbidden by the test")
    route = {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": "r", "annotations": {"multiagent.ops/apply-if-served": "route.openshift.io/v1"}},
    }
    result = apply(api, [cm("cfg"), route]).result
    assert result["failed"] and result["msg"].startswith(
        "1 object(s) could not be applied: ConfigMap prod/cfg"
    )
    assert [r["action"] for r in result["results"]] == ["failed", "skipped"]


def test_a_preflight_failure_says_nothing_was_changed():
    api = Api()
    result = apply(api, [deployment("web", env_from=["missing"])]).result
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("Cannot apply the batch: Deployment prod/web needs ConfigMap missing")
    assert result["msg"].endswith("; nothing was changed")
    assert api.writes() == []


@pytest.mark.parametrize(
    "resources, hold_fields, expected",
    [
        (
            [{"kind": "ConfigMap", "metadata": {"name": "x"}}],
            {},
            "resources[0] (ConfigMap) has no apiVersion",
        ),
        ([cm("cfg")], {"multiagent.ops/recorded": "spec.x"}, "hold_fields: multiagent.ops/recorded must map"),
    ],
)
def test_bad_input_fails_before_any_request(resources, hold_fields, expected):
    api = Api()
    result = apply(api, resources, hold_fields=hold_fields).result
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("Cannot apply the batch: " + expected)
    assert result["msg"].endswith("; nothing was changed")
    assert api.calls == []


def test_the_rollouts_are_waited_for_by_default(monkeypatch):
    api = Api()
    waited = []

    def wait_rollouts(client, targets, timeout, **_clock):
        waited.append((targets, timeout))
        return [dict(t, done=True, failed=False, message="rolled out") for t in targets]

    monkeypatch.setattr(runner, "wait_rollouts", wait_rollouts)
    result = apply(api, [cm("cfg"), deployment("web")]).result
    assert not result["failed"] and result["changed"]
    assert waited == [([{"kind": "Deployment", "namespace": "prod", "name": "web"}], 300)]
    assert result["rollouts"][0]["done"]
    assert apply(api, [cm("cfg"), deployment("web")], wait=False).result["rollouts"] == []


def test_check_mode_does_not_wait(monkeypatch):
    monkeypatch.setattr(runner, "wait_rollouts", None)  # calling it would fail the test
    result = apply(Api(), [deployment("web")], check_mode=True, wait=True).result
    assert not result["failed"] and result["changed"] and result["rollouts"] == []
    assert result["server_version"] == "v1.33.0"


def test_rollouts_that_did_not_finish_fail_the_task_naming_them(monkeypatch):
    def wait_rollouts(client, targets, timeout, **_clock):
        return [
            {
                "kind": "Deployment",
                "namespace": "prod",
                "name": "web",
                "done": False,
                "failed": True,
                "message": "rollout did not finish within 30 s: 0 of 2 updated replicas are available",
                "pods": [{"name": "web-1", "reason": "ImagePullBackOff", "message": "container web"}],
            },
        ]

    monkeypatch.setattr(runner, "wait_rollouts", wait_rollouts)
    result = apply(Api(), [cm("cfg"), deployment("web")], wait_timeout=30).result
    assert result["failed"] and result["changed"]
    assert result["msg"] == (
        "Applied (2 created), but 1 rollout(s) did not complete: Deployment web in prod: rollout did "
        "not finish within 30 s: 0 of 2 updated replicas are available; pod web-1: ImagePullBackOff "
        "(container web)"
    )
    assert [r["action"] for r in result["results"]] == ["created", "created"]
    assert result["rollouts"][0]["failed"]
