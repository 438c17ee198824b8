"""trivy's recorded JSON report as findings on the workloads that run the image."""

import json
from pathlib import Path

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import trivy

ROOT = Path(__file__).resolve().parents[5]
REPORT = ROOT / "tests" / "fixtures" / "security" / "trivy" / "python_3.11-slim.json"
IMAGE = "python:3.11-slim"


def recorded():
    return json.loads(REPORT.read_text())


def deployment(name, containers, init=()):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "mplp"},
        "spec": {"template": {"spec": {"containers": containers, "initContainers": list(init)}}},
    }


def test_parse_counts_per_severity_and_what_is_fixable():
    summary = trivy.parse(recorded())
    assert summary["image"] == IMAGE
    assert summary["counts"] == {"CRITICAL": 2, "HIGH": 2, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 0}
    assert summary["fixable"] == {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
    first = summary["vulnerabilities"][0]
    assert first == {
        "id": "CVE-2024-45491",
        "severity": "CRITICAL",
        "package": "libexpat1",
        "installed": "2.5.0-1",
        "fixed": "2.5.0-1+deb12u1",
        "title": "libexpat: Integer Overflow or Wraparound",
        "target": "python:3.11-slim (debian 12.7)",
    }
    assert summary["vulnerabilities"][1]["id"] == "CVE-2023-45853"  # no FixedVersion
    assert summary["vulnerabilities"][1]["fixed"] is None
    assert [v["severity"] for v in summary["vulnerabilities"]] == [
        "CRITICAL",
        "CRITICAL",
        "HIGH",
        "HIGH",
        "MEDIUM",
        "LOW",
    ]


def test_parse_drops_duplicates_and_reads_unknown_severities():
    vuln = {"VulnerabilityID": "CVE-1", "PkgName": "p", "InstalledVersion": "1", "Severity": "weird"}
    report = {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [vuln, dict(vuln)]}, {"Target": "clean"}]}
    assert trivy.parse(report)["counts"]["UNKNOWN"] == 1


@pytest.mark.parametrize("report", [[], {"foo": 1}, {"SchemaVersion": 1, "Results": []}])
def test_parse_refuses_what_is_not_a_report(report):
    with pytest.raises(trivy.ReportError):
        trivy.parse(report)


def test_image_users_are_workload_containers_with_their_paths():
    objects = [
        deployment("web", [{"name": "app", "image": IMAGE}], init=[{"name": "migrate", "image": IMAGE}]),
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "backup", "namespace": "mplp"},
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "pg:15"}]}}}
                }
            },
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    ]
    users = trivy.image_users(objects)
    assert sorted(users) == ["pg:15", IMAGE]
    assert [(u[0]["name"], u[1], u[2]) for u in users[IMAGE]] == [
        ("web", "migrate", "spec.template.spec.initContainers[0].image"),
        ("web", "app", "spec.template.spec.containers[0].image"),
    ]
    assert users["pg:15"][0][2] == "spec.jobTemplate.spec.template.spec.containers[0].image"


def test_findings_on_every_user_critical_when_one_is_critical():
    users = trivy.image_users([deployment("web", [{"name": "app", "image": IMAGE}])])[IMAGE]
    findings = trivy.findings(trivy.parse(recorded()), users)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding["rule"], finding["severity"], finding["status"]) == ("MAO-200", "critical", "fail")
    assert finding["object"]["kind"] == "Deployment" and finding["container"] == "app"
    assert finding["message"].startswith(
        "image python:3.11-slim: 2 critical (1 fixable), 2 high (2 fixable), 1 medium, 1 low: "
        "CVE-2024-45491 critical libexpat1 2.5.0-1 (fixed in 2.5.0-1+deb12u1); "
        "CVE-2023-45853 critical zlib1g 1:1.2.13.dfsg-1 (no fix yet)"
    )


def test_no_finding_without_critical_or_high_and_high_alone_is_high():
    low = {
        "SchemaVersion": 2,
        "Results": [{"Vulnerabilities": [{"VulnerabilityID": "C", "Severity": "LOW"}]}],
    }
    assert trivy.findings(trivy.parse(low), []) == []
    high = {
        "SchemaVersion": 2,
        "Results": [{"Vulnerabilities": [{"VulnerabilityID": "C", "Severity": "HIGH"}]}],
    }
    [finding] = trivy.findings(trivy.parse(high), [], image="x:1")
    assert finding["severity"] == "high" and finding["object"] is None


def test_not_checked_names_every_user():
    users = trivy.image_users(
        [
            deployment("web", [{"name": "app", "image": IMAGE}]),
            deployment("api", [{"name": "a", "image": IMAGE}]),
        ]
    )[IMAGE]
    finding = trivy.not_checked(IMAGE, users, "trivy is not installed")
    assert (finding["rule"], finding["status"], finding["object"]["name"]) == (
        "MAO-201",
        "not_checked",
        "web",
    )
    assert finding["message"] == (
        "image python:3.11-slim (used by Deployment api, Deployment web) not scanned: trivy is not installed"
    )
