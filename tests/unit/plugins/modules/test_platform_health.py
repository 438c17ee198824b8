"""Module glue: input validation and how API failures end the task."""

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.modules import platform_health


def fake_module(**params):
    """fakes.FakeModule of platform_health with this file's defaults."""
    return fakes.FakeModule(platform_health, **dict({"namespace": "mplp", "host": None}, **params))


def unreachable():
    raise ConnectionRefusedError("[Errno 111] Connection refused")


def run(module, make_reader):
    with pytest.raises(Exit):
        platform_health.run(module, make_reader)
    return module.result


def test_unreachable_api_fails_with_cause_and_still_returns_the_report():
    module = fake_module(endpoints=[{"url": "http://127.0.0.1:1/health", "timeout": 0.5}], probe_attempts=1)
    result = run(module, unreachable)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot reach the Kubernetes API")
    assert "checks not run: events, pods, workloads" in result["msg"]
    assert result["report"]["components"]["platform"]["endpoints"][0]["ok"] is False
    assert result["report"]["api_error"] == result["msg"]


def test_unreachable_api_is_reported_not_failed_when_asked():
    result = run(fake_module(fail_on_api_error=False), unreachable)
    assert result["failed"] is False and result["changed"] is False
    assert "connection refused" in result["report"]["api_error"]


def test_kubeconfig_problems_are_named():
    def bad_config():
        raise kube_module.CoreException(
            "Could not create API client: Invalid kube-config file. No configuration found."
        )

    result = run(fake_module(), bad_config)
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot use the Kubernetes configuration: Could not create API client: "
        "Invalid kube-config file. No configuration found."
    )
    assert "report" not in result


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


def test_401_from_a_list_is_fatal():
    class Reader:
        host = "http://k"

        def get(self, path, what):
            return {}

        def list(self, path, what, label_selector=None, field_selector=None):
            raise ApiError("unauthorized", "the Kubernetes API at http://k rejected the credentials", 401)

    result = run(fake_module(), Reader)
    assert result["failed"] is True and "rejected the credentials" in result["msg"]


@pytest.mark.parametrize("source,fails", [("pods", True), ("events", False)])
def test_api_timeouts_fail_only_for_the_lists_health_rests_on(source, fails):
    class Reader:
        host = "http://k"

        def get(self, path, what):
            return {}

        def list(self, path, what, label_selector=None, field_selector=None):
            if path.endswith("/" + source):
                raise ApiError("timeout", "timed out while trying to %s at http://k" % what)
            return []

    result = run(fake_module(), Reader)
    assert result["failed"] is fails
    assert "timed out while trying to list %s" % source in str(result["report"]["sources"][source]["error"])
    if fails:
        assert result["msg"].startswith("timed out while trying to list pods in namespace mplp at http://k")
