"""The runner: manifests, the objects option and a live reader's objects in one pass;
waivers from the list and the file; reports written atomically, once, none in check mode;
the task fails at fail_on with its result."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import (
    NOTHING_CHANGED,
    OpsError,
    Request,
)
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit, catalogue, checks

from .objects import deployment, pod_spec_of, workload

TODAY = datetime.date(2026, 12, 6)
DEFAULTS = {
    "src": None,
    "objects": None,
    "registries": [],
    "waivers": [],
    "waiver_file": None,
    "fail_on": "critical",
    "formats": ["json", "markdown", "sarif", "junit"],
    "report_dir": None,
    "report_name": "security-audit",
    "trivy": "false",  # the image scan has its own tests (test_audit_live.py)
}


def request(check_mode=False, **params):
    return Request(dict(DEFAULTS, **params), check_mode=check_mode)


def privileged(name="bad", namespace="mplp"):
    obj = deployment(name, namespace)
    pod_spec_of(obj)["containers"][0]["securityContext"]["privileged"] = True
    return obj


def writable(name="mplp-postgresql"):
    obj = deployment(name)
    pod_spec_of(obj)["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    return obj


def rules(result):
    return sorted((f["rule"], f["object"]["name"], f["status"]) for f in result["findings"])


def test_objects_pass_and_fail_and_the_summary_says_so():
    result = audit.run(request(objects=[deployment(), writable()]), today=TODAY)
    assert rules(result) == [("MAO-008", "mplp-postgresql", "fail")]
    assert result["changed"] is False and result["failed"] is False and result["files"] == []
    assert result["summary"]["objects"] == 2 and result["summary"]["score"] < 100
    assert result["findings"][0]["source"] == {"file": None, "document": 1}


def test_a_critical_finding_fails_the_task_with_the_result_and_names_it():
    with pytest.raises(OpsError) as error:
        audit.run(request(objects=[privileged(), deployment()]), today=TODAY)
    assert "MAO-001 Deployment/mplp/bad container app is privileged" in error.value.msg
    assert error.value.msg.endswith(NOTHING_CHANGED)
    assert error.value.result["summary"]["by_severity"]["critical"] == 1
    assert error.value.result["changed"] is False
    result = audit.run(request(objects=[privileged()], fail_on="none"), today=TODAY)
    assert result["failed"] is False


def test_waivers_from_the_option_the_file_and_the_annotation(tmp_path):
    waiver_file = tmp_path / "waivers.yml"
    waiver_file.write_text("waivers:\n  - {rule: MAO-001, name: bad, reason: a demo, expires: 2027-01-01}\n")
    annotated = writable("annotated")
    annotated["metadata"]["annotations"] = {"multiagent.ops/waive.MAO-008": "2026-12-31 writes its root fs"}
    params = dict(
        objects=[privileged(), writable(), annotated],
        waivers=[{"rule": "MAO-008", "name": "mplp-postgresql", "reason": "r", "expires": "2027-03-31"}],
        waiver_file=str(waiver_file),
    )
    result = audit.run(request(**params), today=TODAY)
    assert rules(result) == [
        ("MAO-001", "bad", "waived"),
        ("MAO-008", "annotated", "waived"),
        ("MAO-008", "mplp-postgresql", "waived"),
    ]
    later = datetime.date(2027, 1, 2)
    with pytest.raises(OpsError) as error:  # the file's waiver expired: MAO-001 fails again
        audit.run(request(**params), today=later)
    assert ("MAO-001", "bad", "fail") in rules(error.value.result)
    assert ("MAO-220", "bad", "fail") in rules(error.value.result)
    expired = [
        f for f in error.value.result["findings"] if f["rule"] == "MAO-220" and f["object"]["name"] == "bad"
    ]
    assert expired[0]["message"].startswith("%s[0] (MAO-001) expired on 2027-01-01" % waiver_file)
    assert ("MAO-220", "annotated", "fail") in rules(error.value.result)


def test_manifests_from_files_carry_their_file_and_line(tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        json.dumps(deployment()) + "\n---\n" + "# the writable one\n" + json.dumps(writable()) + "\n"
    )
    result = audit.run(request(src=[str(tmp_path)]), today=TODAY)
    [found] = result["findings"]
    assert found["source"] == {"file": str(manifest), "document": 1, "line": 4}


def test_unreadable_manifests_and_waiver_files_fail_before_anything_is_written(tmp_path):
    (tmp_path / "bad.yaml").write_text("a: [\n")
    with pytest.raises(OpsError, match="bad.yaml line") as error:
        audit.run(request(src=[str(tmp_path)], report_dir=str(tmp_path / "out")), today=TODAY)
    assert error.value.msg.endswith(NOTHING_CHANGED) and not (tmp_path / "out").exists()
    with pytest.raises(OpsError, match="waiver file"):
        audit.run(request(objects=[], waiver_file=str(tmp_path / "none.yml")), today=TODAY)


def test_reports_are_written_once_and_not_in_check_mode(tmp_path):
    out = tmp_path / "reports"
    params = dict(objects=[deployment(), writable()], report_dir=str(out))
    checked = audit.run(request(check_mode=True, **params), today=TODAY)
    assert checked["changed"] is True and not out.exists()
    assert [os.path.basename(f["path"]) for f in checked["files"]] == [
        "security-audit.json",
        "security-audit.md",
        "security-audit.sarif",
        "security-audit.junit.xml",
    ]
    first = audit.run(request(**params), today=TODAY)
    assert first["changed"] is True and all(f["changed"] for f in first["files"])
    assert json.loads((out / "security-audit.sarif").read_text())["version"] == "2.1.0"
    again = audit.run(request(**params), today=TODAY)
    assert again["changed"] is False
    changed = audit.run(request(**dict(params, objects=[deployment()], formats=["sarif"])), today=TODAY)
    assert changed["changed"] is True and len(changed["files"]) == 1


def test_reports_are_written_even_when_the_audit_fails(tmp_path):
    with pytest.raises(OpsError) as error:
        audit.run(request(objects=[privileged()], report_dir=str(tmp_path), formats=["junit"]), today=TODAY)
    assert error.value.result["changed"] is True and not error.value.msg.endswith(NOTHING_CHANGED)
    assert b"<failure" in (tmp_path / "security-audit.junit.xml").read_bytes()


def test_the_live_hook_audits_objects_through_their_owners_and_adds_other_findings():
    pod = workload("Pod", "bad-5d8-x")
    pod_spec_of(pod)["containers"][0]["securityContext"]["privileged"] = True
    pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "bad-5d8", "controller": True}]
    orphan = workload("Pod", "orphan")
    orphan["metadata"]["ownerReferences"] = [{"kind": "Node", "name": "n1", "controller": True}]
    extra = dict(
        checks.finding("MAO-008", "stands in for an RBAC finding", checks.ref(deployment("mplp-core"))),
        rule="MAO-100",
        severity="high",
    )
    skipped = dict(extra, rule="MAO-210", severity="medium", message="a stand-in not checked")
    live_rules = (
        catalogue.rule("MAO-100", "Subject can read Secrets", "high", "Bind less.", scope="live"),
        catalogue.rule("MAO-210", "A stand-in live rule", "high", "Update.", scope="live"),
    )
    result = audit.run(
        request(fail_on="none", waivers=[{"rule": "MAO-100", "reason": "known", "expires": "2027-01-01"}]),
        [privileged(), pod, orphan],
        extra_findings=[extra],
        not_checked=[skipped],
        present={("ReplicaSet", "mplp", "bad-5d8")},
        rules=(live_rules,),
        today=TODAY,
    )
    assert rules(result) == [
        ("MAO-001", "bad", "fail"),
        ("MAO-100", "mplp-core", "waived"),
        ("MAO-210", "mplp-core", "not_checked"),
    ]
    assert result["summary"]["objects"] == 2  # the Deployment and the orphan pod; not the owned pod
    assert result["findings"][0]["source"] is None


def test_a_rule_defined_twice_is_refused():
    with pytest.raises(OpsError, match="defined twice"):
        audit.run(request(objects=[]), rules=(catalogue.RULES[:1],), today=TODAY)


def test_the_result_holds_at_most_max_findings_the_most_severe_and_the_reports_all(tmp_path):
    objects = [deployment(), writable("w1"), writable("w2"), privileged("p")]
    params = dict(objects=objects, fail_on="none", report_dir=str(tmp_path), formats=["json"])
    result = audit.run(request(max_findings=2, **params), today=TODAY)
    assert [f["rule"] for f in result["findings"]] == ["MAO-001", "MAO-008"]
    assert result["findings_omitted"] == 1 and result["summary"]["by_status"]["fail"] == 3
    assert len(json.loads((tmp_path / "security-audit.json").read_text())["findings"]) == 3
    assert audit.run(request(max_findings=0, **params), today=TODAY)["findings"] == []
    assert len(audit.run(request(**params), today=TODAY)["findings"]) == 3


def test_the_cyclic_collector_is_paused_during_the_audit_only():
    import gc

    assert gc.isenabled()
    with pytest.raises(OpsError):
        audit.run(request(objects=[privileged()]), today=TODAY)
    assert gc.isenabled()


def test_nothing_to_audit_warns():
    req = request(objects=[])
    result = audit.run(req, today=TODAY)
    assert result["summary"]["objects"] == 0 and req.warnings
