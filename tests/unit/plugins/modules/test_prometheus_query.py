"""prometheus_query glue: the options choose the way to Prometheus; results and failures
come back through the module contract, in check mode as well."""

import json

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as pc
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as query_module
from ansible_collections.multiagent.ops.plugins.modules import prometheus_query


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, **params):
        super().__init__(prometheus_query, check_mode, False, **params)


def vector(value):
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {"a": "b"}, "value": [1, value]}]},
    }


class Transport:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get(self, path, params, timeout):
        query = dict(params)["query"]
        self.calls.append((path, query, timeout))
        status, doc = self.answers[query]
        return status, json.dumps(doc).encode()


def run(module):
    with pytest.raises(Exit):
        query_module.main(module)
    return module.result


def test_direct_with_auth(monkeypatch):
    made = {}

    def direct(url, **kw):
        made.update(kw, url=url)
        return Transport({"up": (200, vector("1"))})

    monkeypatch.setattr(pc, "Direct", direct)
    module = FakeModule(
        check_mode=True,
        url="https://prom:9090",
        query="up",
        concurrency=4,
        prometheus_auth={"bearer_token": "s3cret", "validate_certs": False},
    )
    result = run(module)
    assert result["failed"] is False and result["changed"] is False
    assert result["query_results"]["query"]["series"] == [{"metric": {"a": "b"}, "value": 1.0, "time": 1.0}]
    assert made["url"] == "https://prom:9090"
    assert made["bearer_token"] == "s3cret" and made["validate_certs"] is False and made["maxsize"] == 4


def test_failure_result(monkeypatch):
    answers = {
        "up": (200, vector("1")),
        "bad(": (400, {"status": "error", "errorType": "bad_data", "error": "x"}),
    }
    monkeypatch.setattr(pc, "Direct", lambda url, **kw: Transport(answers))
    module = FakeModule(
        url="http://p", queries=[{"name": "ok", "query": "up"}, {"name": "no", "query": "bad("}]
    )
    result = run(module)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "1 of 2 queries failed: Query 'no' failed: HTTP 400, bad_data: x"
    assert list(result["query_results"]) == ["ok"]
    assert result["errors"] == {"no": "Query 'no' failed: HTTP 400, bad_data: x"}


def test_service_proxy_uses_the_kubernetes_client(monkeypatch):
    path = resources.service_proxy_path("monitoring", "prom", "web", "/api/v1/query")
    api = fakes.FakeApi({path: vector("3")})
    monkeypatch.setattr(k8s_module, "make_client", lambda module: api)
    module = FakeModule(via="service_proxy", namespace="monitoring", service="prom", port="web", query="up")
    result = run(module)
    assert result["query_results"]["query"]["series"][0]["value"] == 3.0
    assert api.calls == [("GET", path)]


def test_service_proxy_without_a_usable_configuration(monkeypatch):
    def broken(module):
        raise k8s_module.k8s_config.ConfigError("no kubeconfig")

    monkeypatch.setattr(k8s_module, "make_client", broken)
    result = run(FakeModule(via="service_proxy", namespace="m", service="p", query="up"))
    assert result["failed"] is True
    assert result["msg"] == "Cannot use the Kubernetes configuration: no kubeconfig"


@pytest.mark.parametrize(
    "option, value, text", [("concurrency", 0, "concurrency"), ("timeout", 0.0, "timeout")]
)
def test_bounds(option, value, text):
    result = run(FakeModule(url="http://p", query="up", **{option: value}))
    assert result["failed"] is True and text in result["msg"]


def test_secrets_are_no_log():
    auth = prometheus_query.argspec()["prometheus_auth"]["options"]
    assert auth["bearer_token"]["no_log"] and auth["password"]["no_log"]
