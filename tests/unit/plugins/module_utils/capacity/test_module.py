"""The capacity_report glue's Prometheus: the client's transport and errors, planning.answer's results."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import module as capacity_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client

QUERY = {"name": "pod_owner", "query": "kube_pod_owner", "type": "instant", "time": 100.0}


class Transport:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.asked = answer, error, []

    def describe(self):
        return "test"

    def get(self, path, params, timeout):
        self.asked.append((path, dict(params), timeout))
        if self.error:
            raise self.error
        return self.answer


def test_a_query_goes_through_the_transport_and_keeps_the_samples():
    body = (
        b'{"status":"success","data":{"resultType":"vector",'
        b'"result":[{"metric":{"pod":"a"},"value":[100,"1"]}]}}'
    )
    transport = Transport(answer=(200, body))
    results, errors = capacity_module.Prometheus(transport, timeout=5).run([QUERY])
    assert errors == {} and results["pod_owner"]["series"] == [{"metric": {"pod": "a"}, "value": [100, "1"]}]
    assert transport.asked == [
        ("api/v1/query", {"query": "kube_pod_owner", "time": "100", "timeout": "5s"}, 5.0)
    ]


def test_a_transport_failure_is_the_querys_error():
    transport = Transport(error=client.TransportError("timeout", "no answer from test within 5s (timeout)"))
    results, errors = capacity_module.Prometheus(transport, timeout=5).run([QUERY])
    assert results == {}
    assert str(errors["pod_owner"]) == "Query 'pod_owner' failed: no answer from test within 5s (timeout)"
    assert errors["pod_owner"].kind == "timeout"


@pytest.mark.parametrize("status", [500, 503])
def test_an_http_error_is_named(status):
    transport = Transport(answer=(status, b'{"status":"error","errorType":"internal","error":"down"}'))
    _, errors = capacity_module.Prometheus(transport).run([QUERY])
    assert "HTTP %d, internal: down" % status in str(errors["pod_owner"])


def test_without_numpy_the_module_says_which_library_is_missing(monkeypatch):
    import fakes
    from fakes import Exit

    from ansible_collections.multiagent.ops.plugins.module_utils.capacity import arrays
    from ansible_collections.multiagent.ops.plugins.modules import capacity_report

    monkeypatch.setattr(arrays, "IMPORT_ERROR", ImportError("No module named 'numpy'"))
    module = fakes.FakeModule(
        capacity_report, url="http://127.0.0.1:9", platform_namespace="mplp", components=["a"]
    )
    with pytest.raises(Exit):
        capacity_module.main(module)
    assert module.result["failed"] and module.result["changed"] is False
    assert "Failed to import the required Python library (numpy)" in module.result["msg"]
    assert "for the report's arithmetic" in module.result["msg"]
    assert "No module named 'numpy'" in module.result["exception"]
