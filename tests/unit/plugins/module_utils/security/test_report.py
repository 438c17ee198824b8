"""The summary (score, counts), the fail threshold, and the four report formats: JSON,
Markdown, SARIF 2.1.0 (its required structure) and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import catalogue, checks, report

RULES = catalogue.catalogue(catalogue.RULES)


def ref(name, kind="Deployment", namespace="mplp"):
    return {"apiVersion": "apps/v1", "kind": kind, "namespace": namespace, "name": name}


def found(rule, name="a", status="fail", source=None, container="app", waiver=None, message="bad"):
    if rule not in checks.SEVERITY:  # a rule of another file (trivy's), as its reader writes it
        return {
            "rule": rule,
            "severity": "medium",
            "message": message,
            "object": ref(name),
            "container": container,
            "path": None,
            "source": source,
            "status": status,
            "waiver": waiver,
        }
    return dict(
        checks.finding(rule, message, ref(name), container, "spec.template.spec", source),
        status=status,
        waiver=waiver,
    )


SOURCE = {"file": "deploy/app.yaml", "document": 1, "line": 12}
WAIVER = {"reason": "PostgreSQL writes", "expires": "2027-03-31", "from": "annotation"}


def sample():
    findings = [
        found("MAO-001", "a", source=SOURCE),  # critical
        found("MAO-008", "a", status="waived", waiver=WAIVER, source=SOURCE),
        found("MAO-020", "b"),  # low
        found("MAO-020", "b", container="sidecar"),  # the same pair again
        found("MAO-200", "b", status="not_checked", message="trivy is not installed"),
    ]
    checked = [
        (ref("a"), SOURCE, ("MAO-001", "MAO-008", "MAO-020")),
        (ref("b"), None, ("MAO-001", "MAO-020")),
    ]
    return report.Audit(findings, checked, RULES)


def test_the_summary_counts_and_scores_weighted_pairs():
    summary = sample().summary()
    assert summary["by_status"] == {"fail": 3, "waived": 1, "not_checked": 1}
    assert summary["by_severity"] == {"critical": 1, "high": 0, "medium": 0, "low": 2, "info": 0}
    assert (summary["objects"], summary["checks"]) == (2, 5)
    # pairs: a/001 fail 10, a/008 waived 2, a/020 pass 1, b/001 pass 10, b/020 fail 1 (twice: once)
    assert summary["score"] == (100 * (24 - 11)) // 24
    assert report.Audit([], sample().checked, RULES).summary()["score"] == 100
    assert report.Audit([], [], RULES).summary()["score"] == 100


def test_a_finding_outside_the_checked_pairs_counts_on_both_sides():
    audit = report.Audit([found("MAO-221", "x")], [(ref("a"), None, ("MAO-020",))], RULES)
    assert audit.summary()["score"] == (100 * 1) // 3  # MAO-221 is medium (2), MAO-020 passes (1)


@pytest.mark.parametrize(
    ("fail_on", "failed"),
    [("critical", True), ("high", True), ("low", True), ("info", True), ("none", False)],
)
def test_failed_by_threshold(fail_on, failed):
    assert report.Audit(sample().findings, [], RULES, fail_on).failed() is failed


def test_waived_and_not_checked_never_fail():
    findings = [found("MAO-001", status="waived", waiver=WAIVER), found("MAO-001", status="not_checked")]
    assert not report.Audit(findings, [], RULES, "info").failed()
    assert not report.Audit([found("MAO-020")], [], RULES, "medium").failed()
    with pytest.raises(ValueError, match="fail_on"):
        report.Audit([], [], RULES, "severe")


def test_json_report():
    data = json.loads(report.to_json(sample()))
    assert data["failed"] is True and data["summary"]["by_status"]["fail"] == 3
    assert data["findings"][1]["waiver"] == WAIVER
    assert report.to_json(sample()) == report.to_json(sample())  # no time stamp


def test_markdown_report():
    text = report.to_markdown(sample()).decode()
    assert "Score **%d**/100" % sample().summary()["score"] in text and "**fails**" in text
    assert "| critical | 1 |" in text
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if "| MAO-" in line)
    assert "MAO-001" in lines[first]  # failing and most severe first
    assert "deploy/app.yaml:12" in text and "PostgreSQL writes (annotation, until 2027-03-31)" in text
    assert "**MAO-001** Privileged container:" in text


def test_sarif_report_has_the_required_structure():
    log = json.loads(report.to_sarif(sample()))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "multiagent.ops.k8s_security_audit"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == sorted(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert float(rule["properties"]["security-severity"]) >= 0
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    by_id = {rule["id"]: rule for rule in driver["rules"]}
    assert by_id["MAO-001"]["helpUri"] == catalogue.PSS_DOCS
    assert float(by_id["MAO-001"]["properties"]["security-severity"]) >= 9.0
    results = run["results"]
    assert len(results) == 5
    for result in results:
        assert result["message"]["text"]
        if result["ruleId"] in RULES:
            assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        else:  # a rule of a file this catalogue was not given
            assert "ruleIndex" not in result
        assert result["level"] in ("error", "warning", "note", "none")
        assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith(
            "Deployment/mplp/"
        )
        assert len(result["partialFingerprints"]["maoFinding/v1"]) == 40
    physical = results[0]["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "deploy/app.yaml"}, "region": {"startLine": 12}}
    assert "physicalLocation" not in results[2]["locations"][0]  # a live object: its logical location only
    assert results[1]["suppressions"][0]["status"] == "accepted"
    assert "PostgreSQL writes" in results[1]["suppressions"][0]["justification"]
    assert results[4]["kind"] == "open" and results[4]["level"] == "none"
    assert results[2]["partialFingerprints"] != results[3]["partialFingerprints"]


def test_junit_report_has_one_testcase_per_rule_and_object():
    root = ET.fromstring(report.to_junit(sample()))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    # 5 checked pairs and MAO-200 on b, which no check covers
    assert len(cases) == 6 and suite.get("tests") == "6"
    assert (suite.get("failures"), suite.get("skipped")) == ("2", "2")
    by_name = {(c.get("classname"), c.get("name").split()[0]): c for c in cases}
    failure = by_name[("Deployment/mplp/b", "MAO-020")].find("failure")
    assert failure.get("type") == "low" and failure.text == "bad\nbad"
    assert "waived: PostgreSQL writes" in by_name[("Deployment/mplp/a", "MAO-008")].find("skipped").get(
        "message"
    )
    assert "trivy" in by_name[("Deployment/mplp/b", "MAO-200")].find("skipped").get("message")
    assert list(by_name[("Deployment/mplp/b", "MAO-001")]) == []  # passed


def test_every_format_has_a_renderer_and_an_extension():
    assert set(report.FORMATS) == {"json", "markdown", "sarif", "junit"}
    for extension, render in report.FORMATS.values():
        assert extension.startswith(".") and isinstance(render(sample()), bytes)


def test_the_catalogue_renders_as_a_markdown_table_and_refuses_duplicates():
    table = catalogue.markdown(RULES)
    lines = table.splitlines()
    assert lines[0].startswith("| id | severity |") and len(lines) == 2 + len(RULES)
    assert any(line.startswith("| MAO-001 | critical | Privileged container | baseline |") for line in lines)
    with pytest.raises(ValueError, match="MAO-001 is defined twice"):
        catalogue.catalogue(catalogue.RULES, catalogue.RULES[:1])
    extra = (catalogue.rule("MAO-100", "Subject can read Secrets", "high", "Bind less.", scope="live"),)
    assert "(live only)" in catalogue.markdown(catalogue.catalogue(catalogue.RULES, extra))


def test_the_catalogue_entries_have_the_shared_shape():
    for rule_id, entry in RULES.items():
        assert set(entry) == {"id", "title", "severity", "hint", "scope", "references"}
        assert set(entry["references"]) == {"pss", "nsa", "cis"}
        assert entry["references"]["pss"] in (None, "baseline", "restricted")
        assert entry["hint"].endswith(".") and entry["scope"] in ("manifest", "live")
        number = int(rule_id.split("-")[1])
        assert 1 <= number <= 99 or 220 <= number <= 239
