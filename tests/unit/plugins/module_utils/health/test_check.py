"""The health check's runner: input checked before anything is contacted, an API it cannot
use reported with the rest of the look (and failing the task unless asked not to), and which
API failures make the API unusable."""

import fakes
import pytest
from factories import deployment, pod, replicaset
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.health import check
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec
from ansible_collections.multiagent.ops.plugins.modules import platform_health

NS = "mplp"


def fake_module(**params):
    """fakes.FakeModule of platform_health with this file's defaults."""
    return fakes.FakeModule(platform_health, **dict({"namespace": NS, "host": None}, **params))


def run(module, connect):
    with pytest.raises(Exit):
        finish(module, check.run, connect)
    return module.result


def connected(client):
    return lambda: (client, None)


def refused():
    return None, ConnectionRefusedError("[Errno 111] Connection refused")


def cluster():
    """One healthy Deployment with its ReplicaSet and two ready pods."""
    objects = {resources.namespace_path(NS): {"metadata": {"name": NS}}}
    for resource, obj in (
        (resources.DEPLOYMENT, deployment("mplp-core", 2)),
        (resources.REPLICA_SET, replicaset("core-rs", "mplp-core")),
        (resources.POD, pod("core-1", owner_name="core-rs")),
        (resources.POD, pod("core-2", owner_name="core-rs")),
    ):
        objects[resource.object_path(NS, obj["metadata"]["name"])] = obj
    return fakes.FakeApi(objects)


def test_a_healthy_platform_is_reported_and_nothing_changes():
    api = cluster()
    result = run(fake_module(components=[{"name": "core", "workload": "mplp-core"}]), connected(api))
    assert result["failed"] is False and result["changed"] is False
    report = result["report"]
    assert report["status"] == "healthy" and report["score"] == 100 and report["api_error"] is None
    assert report["components"]["core"]["pod_counts"] == {"total": 2, "ready": 2}
    assert report["namespace"] == NS
    assert {method for method, _path in api.calls} == {"GET"}


def test_unreachable_api_fails_with_cause_and_still_returns_the_report():
    module = fake_module(endpoints=[{"url": "http://127.0.0.1:1/health", "timeout": 0.5}], probe_attempts=1)
    result = run(module, refused)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("cannot reach the Kubernetes API")
    assert "checks not run: events, pods, workloads" in result["msg"]
    assert result["report"]["components"]["platform"]["endpoints"][0]["ok"] is False
    assert result["report"]["api_error"] == result["msg"]
    assert result["report"]["sources"]["pods"]["reason"] == "unreachable"


def test_unreachable_api_is_reported_not_failed_when_asked():
    result = run(fake_module(fail_on_api_error=False), refused)
    assert result["failed"] is False and result["changed"] is False
    assert "connection refused" in result["report"]["api_error"]


@pytest.mark.parametrize(
    "params,message",
    [
        ({"probe_attempts": 0}, "probe_attempts must be at least 1"),
        ({"probe_timeout": 0}, "probe_timeout must be > 0"),
        (
            {"endpoints": [{"url": "ftp://x/health"}]},
            "Invalid input: endpoint 'ftp://x/health': malformed url",
        ),
        ({"rules": {"nope": {}}}, "Invalid input: unknown health rule 'nope'"),
        ({"thresholds": {"slow_p95": "fast"}}, "Invalid input: threshold 'slow_p95' must be a number"),
    ],
)
def test_bad_input_fails_before_anything_runs(params, message):
    def never():
        raise AssertionError("no API client may be created for bad input")

    result = run(fake_module(**params), never)
    assert result["failed"] is True and message in result["msg"]


def test_a_base_url_without_a_scheme_is_refused_naming_the_endpoint_before_anything_runs():
    """(Moved from tests/integration/test_health_check.py: platform_base_url=localhost:8080
    made into the endpoints option as roles/_ops/tasks/health.yml does, refused before any
    request.)"""
    components = [
        {"name": "core", "workload": "mplp-core", "health_paths": ["/api/v1/core/health"]},
        {"name": "plan", "workload": "mplp-plan", "health_paths": ["/api/v1/plan/health"]},
        {"name": "postgresql", "kind": "StatefulSet", "workload": "mplp-postgresql"},
    ]
    module = fake_module(
        components=spec.health_components(components),
        endpoints=spec.health_endpoints(components, base_url="localhost:8080", extra_paths=["/health"]),
    )

    def never():
        raise AssertionError("no API client may be created for bad input")

    result = run(module, never)
    assert result["failed"] is True
    assert "Invalid input: endpoint 'core /api/v1/core/health': malformed url" in result["msg"]


def test_unknown_namespace_is_named():
    result = run(fake_module(namespace="nope"), connected(fakes.FakeApi()))
    assert result["failed"] is True
    assert result["msg"] == "namespace 'nope' does not exist on https://fake:6443"


class Reader:
    """A client whose LISTs fail as ``fail(path)`` says."""

    host = "http://k"

    def __init__(self, fail):
        self.fail = fail

    def get(self, path, what):
        return {}

    def list(self, path, what, label_selector=None, field_selector=None):
        error = self.fail(path, what)
        if error:
            raise error
        return []


def test_401_from_a_list_is_fatal():
    def unauthorized(path, what):
        return ApiError("unauthorized", "the Kubernetes API at http://k rejected the credentials", 401)

    result = run(fake_module(), connected(Reader(unauthorized)))
    assert result["failed"] is True and "rejected the credentials" in result["msg"]


@pytest.mark.parametrize("source,fails", [("pods", True), ("events", False)])
def test_api_timeouts_fail_only_for_the_lists_health_rests_on(source, fails):
    def timing_out(path, what):
        if path.endswith("/" + source):
            return ApiError("timeout", "timed out while trying to %s at http://k" % what)
        return None

    result = run(fake_module(), connected(Reader(timing_out)))
    assert result["failed"] is fails
    assert "timed out while trying to list %s" % source in str(result["report"]["sources"][source]["error"])
    if fails:
        assert result["msg"].startswith("timed out while trying to list pods in namespace mplp at http://k")


UNAVAILABLE = {"rule": "check_unavailable", "details": {"check": "pods"}}


@pytest.mark.parametrize(
    "errors,unreachable,expected",
    [
        ({}, None, None),
        ({"events": ApiError("timeout", "events timed out")}, None, None),
        ({"pods": ApiError("forbidden", "pods forbidden", 403)}, None, None),
        ({"metrics": ApiError("error", "HTTP 503", 503)}, None, None),
        ({"pods": ApiError("timeout", "pods timed out")}, None, "pods timed out; checks not run: pods"),
        (
            {"events": ApiError("unauthorized", "rejected", 401)},
            None,
            "rejected; checks not run: pods",
        ),
        (
            {"pods": ApiError("unreachable", "no route")},
            ApiError("unreachable", "refused"),
            "refused; checks not run: pods",
        ),
    ],
)
def test_which_api_failures_make_the_api_unusable(errors, unreachable, expected):
    assert check.api_error(errors, unreachable, [UNAVAILABLE]) == expected


def test_an_unusable_api_with_every_check_run_says_none():
    assert check.api_error({}, ApiError("unreachable", "refused"), []) == "refused; checks not run: none"
