"""platform_health's glue: the client comes from k8s/module.py; a configuration that cannot be
loaded fails at once, a server that cannot be reached is reported by the check."""

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.health import module as health_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.modules import platform_health


def run(monkeypatch, make_client, **params):
    monkeypatch.setattr(k8s_module, "make_client", make_client)
    module = fakes.FakeModule(platform_health, **dict({"namespace": "mplp", "host": None}, **params))
    with pytest.raises(Exit):
        health_module.main(module)
    return module.result


def test_kubeconfig_problems_are_named(monkeypatch):
    def bad_config(module):
        raise k8s_module.CoreException(
            "Could not create API client: Invalid kube-config file. No configuration found."
        )

    result = run(monkeypatch, bad_config)
    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot use the Kubernetes configuration: Could not create API client: "
        "Invalid kube-config file. No configuration found."
    )
    assert "report" not in result


def test_a_server_that_cannot_be_reached_is_reported_with_its_address(monkeypatch):
    def refused(module):
        raise ConnectionRefusedError(
            "HTTPConnectionPool(host='10.0.0.1', port=6443): Max retries exceeded "
            "(Caused by NewConnectionError('[Errno 111] Connection refused'))"
        )

    result = run(monkeypatch, refused, fail_on_api_error=False)
    assert result["failed"] is False and result["changed"] is False
    assert result["report"]["api_error"].startswith(
        "cannot reach the Kubernetes API at 10.0.0.1:6443 (connection refused) while trying to connect; "
        "checks not run: "
    )


def test_bad_input_fails_before_the_client_is_made(monkeypatch):
    def never(module):
        raise AssertionError("no API client may be created for bad input")

    result = run(monkeypatch, never, probe_attempts=0)
    assert result["failed"] is True and result["msg"] == "probe_attempts must be at least 1, got 0"


def test_the_client_gets_the_module(monkeypatch):
    seen = []

    def make_client(module):
        seen.append(module)
        return fakes.FakeApi()

    result = run(monkeypatch, make_client, namespace="gone")
    assert len(seen) == 1 and seen[0].params["namespace"] == "gone"
    assert result["msg"] == "namespace 'gone' does not exist on https://fake:6443"
