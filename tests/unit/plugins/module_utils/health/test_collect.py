"""The collector against a fake API: source failures, owner mapping, namespace checks."""

import pytest
from factories import deployment, pod, replicaset

from ansible_collections.multiagent.ops.plugins.module_utils.health import collect
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError


class FakeReader:
    host = "https://fake:6443"

    def __init__(self, objects, errors=None, logs=None):
        self.objects = objects
        self.errors = errors or {}
        self.logs = logs or {}
        self.calls = []

    def _source(self, path):
        return path.rstrip("/").split("/")[-1]

    def list(self, path, what, label_selector=None, field_selector=None):
        src = self._source(path)
        self.calls.append((src, label_selector))
        if src in self.errors:
            raise self.errors[src]
        return self.objects.get(src, [])

    def get(self, path, what):
        if "namespace" in self.errors:
            raise self.errors["namespace"]
        return {"metadata": {"name": path.split("/")[-1]}}

    def pod_log(self, namespace, pod_name, container, tail, what):
        if pod_name not in self.logs:
            raise ApiError("forbidden", "permission denied to read logs of pod %s" % pod_name, 403)
        return self.logs[pod_name]

    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        return 503, b'{"kind":"Status","message":"no endpoints available for service \\"mplp-core\\""}'


def platform():
    return {
        "deployments": [deployment("mplp-core", 2), deployment("mplp-plan", 1)],
        "replicasets": [replicaset("core-rs", "mplp-core"), replicaset("plan-rs", "mplp-plan")],
        "pods": [
            pod("core-1", owner_name="core-rs"),
            pod("core-2", owner_name="core-rs"),
            pod("plan-1", owner_name="plan-rs", ready=False, waiting="CrashLoopBackOff", restarts=5),
        ],
        "statefulsets": [],
        "events": [],
    }


def test_components_get_their_pods_through_owners():
    reader = FakeReader(platform())
    obs, extras = collect.Collector(reader, "mplp").collect(
        components=[{"name": "core", "workload": "mplp-core"}, {"name": "plan", "workload": "mplp-plan"}],
        endpoints=[],
    )
    pods = {c["name"]: [p["metadata"]["name"] for p in c["pods"]] for c in obs["components"]}
    assert pods == {"core": ["core-1", "core-2"], "plan": ["plan-1"]}
    assert obs["pod_components"]["plan-1"] == "plan"
    assert extras["sources"] == {}


def test_discovery_when_no_components_given_and_selector_passed_through():
    reader = FakeReader(platform())
    obs, _extras = collect.Collector(reader, "mplp", label_selector="app=mplp").collect(
        components=[], endpoints=[]
    )
    assert sorted(c["name"] for c in obs["components"]) == ["mplp-core", "mplp-plan"]
    assert ("pods", "app=mplp") in reader.calls and ("replicasets", None) in reader.calls


def test_forbidden_pods_become_an_unavailable_check_not_a_failure():
    err = ApiError("forbidden", "permission denied to list pods: pods is forbidden", 403)
    reader = FakeReader(platform(), errors={"pods": err})
    obs, extras = collect.Collector(reader, "mplp").collect(
        components=[{"name": "core", "workload": "mplp-core"}], endpoints=[]
    )
    assert obs["unavailable"] == [{"check": "pods", "component": None, "error": str(err)}]
    assert obs["components"][0]["pods_checked"] is False
    assert extras["sources"]["pods"]["reason"] == "forbidden"


def test_unknown_namespace_fails_with_its_name():
    reader = FakeReader({}, errors={"namespace": ApiError("not_found", "nf", 404)})
    with pytest.raises(collect.CollectError, match="namespace 'nope' does not exist on https://fake:6443"):
        collect.Collector(reader, "nope").collect(components=[], endpoints=[])


def test_service_proxy_503_is_an_endpoint_failure_with_the_api_message():
    reader = FakeReader(platform())
    eps = collect.normalize_endpoints(
        [{"service": "mplp-core", "port": "8080", "path": "/ready", "component": "core"}], 2
    )
    obs, _extras = collect.Collector(reader, "mplp").collect(components=[], endpoints=eps)
    result = obs["endpoints"][0]
    assert result["ok"] is False and result["status"] == 503
    assert 'no endpoints available for service "mplp-core"' in result["error"]
    assert result["url"] == "service mplp-core:8080/ready (API proxy)"


def test_a_service_probe_asks_for_no_retry_and_its_path_comes_from_the_registry():
    class Recorder(FakeReader):
        def request(self, path, query=None, accept=None, timeout=None, retry=True):
            self.calls.append((path, timeout, retry))
            return 200, b"ok"

    reader = Recorder(platform())
    eps = collect.normalize_endpoints([{"service": "mplp-core", "port": "http", "path": "/ready"}], 2)
    obs, _extras = collect.Collector(reader, "mplp").collect(components=[], endpoints=eps, attempts=2)
    probes = [call for call in reader.calls if len(call) == 3]
    path = resources.service_proxy_path("mplp", "mplp-core", "http", "/ready", "http")
    assert probes == [(path, 2.0, False), (path, 2.0, False)]  # a 5xx is the probe's finding
    assert obs["endpoints"][0]["ok"] is True


def test_logs_read_troubled_pods_first_and_name_unreadable_ones():
    reader = FakeReader(platform(), logs={"plan-1": "ok line\n2026 ERROR boom\nFatal: x\n"})
    obs, extras = collect.Collector(reader, "mplp").collect(
        components=[], endpoints=[], extra=("logs",), log_max_pods=5
    )
    by_pod = {e["pod"]: e for e in extras["logs"]}
    assert by_pod["plan-1"]["error_lines"] == ["2026 ERROR boom", "Fatal: x"]
    assert "permission denied" in by_pod["core-1"]["error"]
    assert "core-2" not in by_pod  # healthy pods: one per component


@pytest.mark.parametrize(
    "endpoints,message",
    [
        ([{"url": "http://a/health", "service": "x"}], "give exactly one of url or service"),
        ([{"name": "a", "url": "http://a"}, {"name": "a", "url": "http://b"}], "name 'a' is used twice"),
        ([{"url": "nope"}], "scheme must be http or https"),
        ([{"url": "http://a", "timeout": -1}], "timeout must be > 0"),
    ],
)
def test_bad_endpoints(endpoints, message):
    with pytest.raises((collect.CollectError, ValueError), match=message):
        collect.normalize_endpoints(endpoints, 5)


def test_bad_components():
    with pytest.raises(collect.CollectError, match="component 'a' is listed twice"):
        collect.normalize_components([{"name": "a"}, {"name": "a"}])
    with pytest.raises(collect.CollectError, match="kind 'Job' is not one of"):
        collect.normalize_components([{"name": "a", "kind": "Job"}])
