"""performance_analysis glue and documentation: the runner gets the options, the Kubernetes
client is made only when something needs it, failures come back through the module contract,
and the documented options are the argspec's."""

import fakes
import pytest
import yaml
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.health import module as health_module
from ansible_collections.multiagent.ops.plugins.module_utils.health import probes
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.modules import performance_analysis

DOC = yaml.safe_load(performance_analysis.DOCUMENTATION)


def run(monkeypatch, make_client, **params):
    monkeypatch.setattr(k8s_module, "make_client", make_client)
    module = fakes.FakeModule(performance_analysis, **dict({"namespace": "mplp", "host": None}, **params))
    with pytest.raises(Exit):
        health_module.analyse(module)
    return module.result


def never(module):
    raise AssertionError("no Kubernetes client is needed for URLs")


def test_urls_are_measured_without_a_kubernetes_client(monkeypatch):
    monkeypatch.setattr(probes.HttpProber, "get", lambda self, url, *a, **kw: (True, 200, None, 0.005))
    endpoint = dict(
        name="core",
        url="http://ingress/health",
        service=None,
        port=None,
        path="/health",
        scheme="http",
        component=None,
        expect_status=None,
        timeout=None,
        headers=None,
        validate_certs=True,
    )
    result = run(monkeypatch, never, endpoints=[endpoint], requests=5, check_mode=True)
    assert result["failed"] is False and result["changed"] is False
    [ep] = result["report"]["endpoints"]
    assert (ep["name"], ep["requests"], ep["p99_ms"]) == ("core", 5, 5.0)


def test_bad_input_fails_naming_the_option(monkeypatch):
    result = run(monkeypatch, never, concurrency=0)
    assert result == {"msg": "concurrency must be at least 1, got 0", "changed": False, "failed": True}


def test_a_configuration_that_cannot_be_loaded_fails_at_once(monkeypatch):
    def bad_config(module):
        raise k8s_module.CoreException("Could not create API client: Invalid kube-config file.")

    cache = {"name": "redis", "workload": "redis", "kind": "StatefulSet", "container": None, "timeout": 5}
    result = run(monkeypatch, bad_config, cache=cache)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot use the Kubernetes configuration: Could not create API client")


def test_documented_options_and_defaults_are_the_argspec():
    spec = performance_analysis.argspec()
    own = {name for name in spec if name not in k8s_module.argspec()}
    assert own == set(DOC["options"])
    for name in own:
        assert DOC["options"][name].get("default") == spec[name].get("default"), name
        suboptions = spec[name].get("options")
        if suboptions:
            assert set(suboptions) == set(DOC["options"][name]["suboptions"]), name
            for sub, sub_spec in suboptions.items():
                assert DOC["options"][name]["suboptions"][sub].get("default") == sub_spec.get("default"), sub
    assert (
        spec["database"]["options"]["password"]["no_log"] and spec["cache"]["options"]["password"]["no_log"]
    )
    assert "multiagent.ops.k8s" in DOC["extends_documentation_fragment"]
