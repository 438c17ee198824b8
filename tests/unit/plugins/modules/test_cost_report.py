"""cost_report glue: the thin module hands its work to the runner, the ``prometheus`` option
chooses the way to Prometheus (directly with its authentication, or through the API server's
service proxy on the module's own connection), and numpy is needed with source=prometheus
only (the metrics API's path is the standard library's)."""

from __future__ import annotations

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import arrays, cost_client
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.modules import cost_report


class FakeModule(fakes.FakeModule):
    def __init__(self, **params):
        super().__init__(cost_report, False, False, namespace="mplp", components=[], prices={}, **params)


def test_main_runs_the_runner_on_a_read_only_module(monkeypatch):
    seen = {}

    module = FakeModule(source="metrics_api")

    def new_module(spec, **kw):
        seen["spec"], seen["kw"] = spec, kw
        return module

    monkeypatch.setattr(k8s_module, "new_module", new_module)
    monkeypatch.setattr(k8s_module, "main", lambda module, runner: seen.update(module=module, runner=runner))
    cost_report.main()
    assert seen["runner"] is cost_client.run and seen["module"] is module
    assert seen["kw"] == {"supports_check_mode": True}
    assert seen["spec"]["api_timeout"]["default"] == 30  # the shared Kubernetes options
    assert seen["spec"]["prometheus"]["options"]["password"]["no_log"] is True
    assert seen["spec"]["prometheus"]["options"]["bearer_token"]["no_log"] is True


def test_prometheus_directly_with_its_authentication():
    prometheus = cost_client.prometheus_of(
        {"url": "http://prom:9090/", "bearer_token": "t0ken", "timeout": 7}, None, 5
    )
    assert isinstance(prometheus.transport, prom_client.Direct)
    assert prometheus.transport.url == "http://prom:9090"
    assert prometheus.transport.headers["Authorization"] == "Bearer t0ken"
    assert (prometheus.timeout, prometheus.concurrency) == (7.0, 5)


def test_prometheus_through_the_api_servers_proxy_on_the_modules_connection():
    api = fakes.FakeApi()
    prometheus = cost_client.prometheus_of(
        {"via": "service_proxy", "namespace": "monitoring", "service": "prometheus", "port": "9090"}, api, 5
    )
    assert isinstance(prometheus.transport, prom_client.ServiceProxy)
    assert prometheus.transport.client is api
    assert "monitoring/prometheus:9090" in prometheus.transport.describe()


@pytest.fixture
def without_numpy(monkeypatch):
    monkeypatch.setattr(arrays, "IMPORT_ERROR", ImportError("No module named 'numpy'"))
    ran = []
    monkeypatch.setattr(k8s_module, "main", lambda module, runner: ran.append(runner))
    return ran


def test_with_prometheus_a_missing_numpy_is_named(monkeypatch, without_numpy):
    module = FakeModule(source="prometheus")
    monkeypatch.setattr(k8s_module, "new_module", lambda *args, **kwargs: module)
    with pytest.raises(Exit):
        cost_report.main()
    assert "Failed to import the required Python library (numpy)" in module.result["msg"]
    assert "with source=prometheus" in module.result["msg"] and without_numpy == []


def test_the_metrics_api_needs_no_numpy(monkeypatch, without_numpy):
    module = FakeModule(source="metrics_api")
    monkeypatch.setattr(k8s_module, "new_module", lambda *args, **kwargs: module)
    cost_report.main()
    assert module.result is None and len(without_numpy) == 1
