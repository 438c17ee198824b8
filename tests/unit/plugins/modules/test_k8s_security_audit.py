"""k8s_security_audit glue: the thin module builds on the shared argspec; manifests and
objects are audited without a cluster; a live audit is the live runner (audit.run_live) on
the module's client."""

from __future__ import annotations

import json

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit
from ansible_collections.multiagent.ops.plugins.module_utils.security import module as security_module
from ansible_collections.multiagent.ops.plugins.modules import k8s_security_audit

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "mplp"},
    "spec": {"containers": [{"name": "app", "image": "nginx", "securityContext": {"privileged": True}}]},
}


def run(module):
    with pytest.raises(fakes.Exit):
        security_module.main(module)
    return module.result


def test_main_builds_the_module_on_the_shared_options(monkeypatch):
    seen = {}

    def new_module(spec, **kw):
        seen["spec"], seen["kw"] = spec, kw
        return "module"

    monkeypatch.setattr(k8s_module, "new_module", new_module)
    monkeypatch.setattr(security_module, "main", lambda module: seen.update(module=module))
    k8s_security_audit.main()
    assert seen["module"] == "module" and seen["kw"] == {"supports_check_mode": True}
    assert seen["spec"]["api_timeout"]["default"] == 30
    assert seen["spec"]["fail_on"]["default"] == "critical"


def test_objects_are_audited_without_a_cluster(monkeypatch, tmp_path):
    monkeypatch.setattr(k8s_module, "make_client", lambda *a, **k: pytest.fail("no client for objects"))
    module = fakes.FakeModule(k8s_security_audit, objects=[POD], report_dir=str(tmp_path), formats=["sarif"])
    result = run(module)
    assert result["failed"] is True and "MAO-001 Pod/mplp/p" in result["msg"]
    assert result["changed"] is True and result["summary"]["by_severity"]["critical"] == 1
    sarif = json.loads((tmp_path / "security-audit.sarif").read_text())
    assert any(r["ruleId"] == "MAO-001" for r in sarif["runs"][0]["results"])


def test_check_mode_writes_nothing(tmp_path):
    module = fakes.FakeModule(
        k8s_security_audit, check_mode=True, objects=[POD], fail_on="none", report_dir=str(tmp_path / "r")
    )
    result = run(module)
    assert result["failed"] is False and result["changed"] is True
    assert not (tmp_path / "r").exists()


def test_manifests_from_src(tmp_path):
    (tmp_path / "pod.yaml").write_text(json.dumps(POD))
    result = run(fakes.FakeModule(k8s_security_audit, src=[str(tmp_path)], fail_on="none"))
    assert result["findings"][0]["source"]["file"] == str(tmp_path / "pod.yaml")


def test_nothing_to_audit_is_refused():
    result = run(fakes.FakeModule(k8s_security_audit))
    assert result["failed"] is True and "Nothing to audit" in result["msg"] and result["changed"] is False


def test_a_live_audit_is_the_live_runner_on_the_modules_client(monkeypatch):
    seen = {}
    monkeypatch.setattr(k8s_module, "main", lambda module, runner: seen.update(runner=runner))
    security_module.main(fakes.FakeModule(k8s_security_audit, all_namespaces=True))
    assert seen["runner"] is audit.run_live
