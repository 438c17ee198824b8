# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an audit comes to: the summary (a score, counts), whether it fails, and its reports
(JSON, Markdown, SARIF 2.1.0, JUnit XML), pure: bytes that depend on the findings only (no
time stamps), so that an audit of the same objects writes the same files.

The score is 100 less the share of the weighted checks that failed: each (object, rule)
pair checked weighs by its rule's severity (critical 10, high 5, medium 2, low 1, info 0)
and counts once however many containers fail it; a finding outside the checked pairs (a
waiver's MAO-220/221, the live analyses' findings) adds its pair to both sides. Waived
pairs pass; not-checked pairs count on neither side. Rounded down, so 100 means nothing
fails.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.multiagent.ops.plugins.module_utils.security.catalogue import (
    RANK,
    SEVERITIES,
    help_uri,
)

TOOL = "multiagent.ops.k8s_security_audit"
WEIGHT = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
#: GitHub code scanning reads properties.security-severity: 9.0+ critical, 7.0+ high,
#: 4.0+ medium, below low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
STATUSES = ("fail", "waived", "not_checked")
FAIL_ON = SEVERITIES + ("none",)
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def object_key(obj_ref, source=None):
    return (obj_ref.get("kind"), obj_ref.get("namespace"), obj_ref.get("name"), (source or {}).get("file"))


def label(obj_ref):
    """``Kind/namespace/name`` (``Kind/name`` without a namespace)."""
    parts = [obj_ref.get("kind") or "?", obj_ref.get("namespace"), obj_ref.get("name") or "?"]
    return "/".join(str(p) for p in parts if p)


class Audit:
    """The findings of one audit and what was checked: ``checked`` is ``[(object ref,
    source, rule ids)]`` (checks.applicable), ``rules`` the catalogue ({id: rule})."""

    def __init__(self, findings, checked, rules, fail_on="critical"):
        if fail_on not in FAIL_ON:
            raise ValueError("fail_on must be one of %s, not %r" % (", ".join(FAIL_ON), fail_on))
        self.findings = findings
        self.checked = checked
        self.rules = rules
        self.fail_on = fail_on
        # object key -> {rule: findings}; the findings of one object share its ref and
        # source dicts, so their key is made once per object
        self.groups = {}
        self._labels = {}
        keys = {}
        groups = self.groups
        for found in findings:
            obj, source = found["object"], found.get("source")
            ident = (id(obj), id(source))
            obj_key = keys.get(ident)
            if obj_key is None:
                obj_key = keys[ident] = object_key(obj, source)
            by_rule = groups.get(obj_key)
            if by_rule is None:
                by_rule = groups[obj_key] = {}
            group = by_rule.get(found["rule"])
            if group is None:
                by_rule[found["rule"]] = [found]
            else:
                group.append(found)

    def pairs(self):
        """``[(object key, rule, findings)]`` of every pair with findings."""
        return [(key, rule, found) for key, by_rule in self.groups.items() for rule, found in by_rule.items()]

    def label(self, obj_ref):
        """label(), once per object."""
        ident = id(obj_ref)
        text = self._labels.get(ident)
        if text is None:
            text = self._labels[ident] = label(obj_ref)
        return text

    def pair_status(self, found_list):
        statuses = {f["status"] for f in found_list}
        for status in STATUSES:
            if status in statuses:
                return status
        return "pass"

    def summary(self):
        by_severity = {severity: 0 for severity in SEVERITIES}
        by_status = {status: 0 for status in STATUSES}
        for found in self.findings:
            by_status[found["status"]] += 1
            if found["status"] == "fail":
                by_severity[found["severity"]] += 1
        severity_of = {rule_id: rule["severity"] for rule_id, rule in self.rules.items()}
        total = failed = checks = 0
        sums = {}  # the weight of each tuple of rules (objects of one kind share theirs)
        done = set()
        for obj_ref, source, rule_ids in self.checked:
            checks += len(rule_ids)
            weight = sums.get(rule_ids)
            if weight is None:
                weight = sums[rule_ids] = sum(WEIGHT[severity_of[rule_id]] for rule_id in rule_ids)
            total += weight
            obj_key = object_key(obj_ref, source)
            by_rule = self.groups.get(obj_key)
            if not by_rule:
                continue
            done.add(obj_key)
            for rule_id, found in by_rule.items():
                weight = WEIGHT[found[0]["severity"]]
                status = self.pair_status(found)
                if rule_id not in rule_ids:  # a finding beside the checks (a waiver's, a live one)
                    total += 0 if status == "not_checked" else weight
                elif status == "not_checked":
                    total -= weight
                if status == "fail":
                    failed += weight
        for obj_key, by_rule in self.groups.items():
            if obj_key in done:
                continue
            for found in by_rule.values():
                status = self.pair_status(found)
                if status != "not_checked":
                    total += WEIGHT[found[0]["severity"]]
                    if status == "fail":
                        failed += WEIGHT[found[0]["severity"]]
        score = 100 if not total else (100 * (total - failed)) // total
        return {
            "score": int(score),
            "objects": len(self.checked),
            "checks": checks,
            "by_severity": by_severity,
            "by_status": by_status,
            "fail_on": self.fail_on,
        }

    def failed(self):
        """Whether a finding that fails is at least as severe as ``fail_on``; waived and
        not-checked findings never fail the audit."""
        if self.fail_on == "none":
            return False
        threshold = RANK[self.fail_on]
        return any(f["status"] == "fail" and RANK[f["severity"]] <= threshold for f in self.findings)


# -- JSON -----------------------------------------------------------------------------------


def to_json(audit, summary=None):
    data = {
        "tool": TOOL,
        "summary": summary or audit.summary(),
        "failed": audit.failed(),
        "findings": audit.findings,
    }
    return (json.dumps(data, default=str) + "\n").encode("utf-8")


# -- Markdown -------------------------------------------------------------------------------


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(audit, summary=None):
    summary = summary or audit.summary()
    lines = [
        "# Security audit",
        "",
        "Score **%d**/100 over %d objects (%d checks); the audit %s (fail_on: %s)."
        % (
            summary["score"],
            summary["objects"],
            summary["checks"],
            "**fails**" if audit.failed() else "passes",
            summary["fail_on"],
        ),
        "",
        "| severity | failing findings |",
        "|---|---|",
    ]
    lines += ["| %s | %d |" % (severity, summary["by_severity"][severity]) for severity in SEVERITIES]
    lines += ["", "| status | findings |", "|---|---|"]
    lines += ["| %s | %d |" % (status, summary["by_status"][status]) for status in STATUSES]
    ordered = sorted(
        audit.findings, key=lambda f: (STATUSES.index(f["status"]), RANK[f["severity"]], f["rule"])
    )
    if ordered:
        lines += [
            "",
            "## Findings",
            "",
            "| status | severity | rule | object | container | where | message | waiver |",
            "|---|---|---|---|---|---|---|---|",
        ]
    for found in ordered:
        source = found.get("source")
        where = "%s:%s" % (source["file"], source.get("line", "")) if source else (found.get("path") or "")
        waiver = found.get("waiver")
        lines.append(
            "| %s |"
            % " | ".join(
                _md(value)
                for value in (
                    found["status"],
                    found["severity"],
                    found["rule"],
                    audit.label(found["object"]),
                    found.get("container") or "",
                    where,
                    found["message"],
                    "%s (%s, until %s)" % (waiver["reason"], waiver["from"], waiver["expires"] or "-")
                    if waiver
                    else "",
                )
            )
        )
    failing = sorted({f["rule"] for f in audit.findings if f["status"] == "fail"})
    if failing:
        lines += ["", "## How to fix", ""]
        lines += [
            "- **%s** %s: %s"
            % (rule_id, _md(audit.rules[rule_id]["title"]), _md(audit.rules[rule_id]["hint"]))
            for rule_id in failing
            if rule_id in audit.rules
        ]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- SARIF 2.1.0 ----------------------------------------------------------------------------


def _sarif_rule(entry):
    refs = entry["references"]
    tags = ["security", "kubernetes"]
    if refs.get("pss"):
        tags.append("pss-" + refs["pss"])
    if refs.get("cis"):
        tags.append("cis-" + refs["cis"])
    rule = {
        "id": entry["id"],
        "name": entry["title"],
        "shortDescription": {"text": entry["title"]},
        "fullDescription": {"text": "%s. %s" % (entry["title"], entry["hint"])},
        "help": {"text": entry["hint"]},
        "defaultConfiguration": {"level": SARIF_LEVEL[entry["severity"]]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[entry["severity"]],
            "severity": entry["severity"],
            "tags": tags,
            "references": refs,
        },
    }
    uri = help_uri(entry)
    if uri:
        rule["helpUri"] = uri
    return rule


def _fingerprint(found, name):
    """What identifies a finding across runs (its rule, object, container and field)."""
    text = "%s|%s|%s|%s" % (found["rule"], name, found.get("container"), found.get("path"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324 - an identity, not a secret


_RESULTS = "\u0000results\u0000"
dumps = json.JSONEncoder(default=str).encode


def to_sarif(audit, summary=None):
    ids = sorted({f["rule"] for f in audit.findings} | set(audit.rules))
    known = [rule_id for rule_id in ids if rule_id in audit.rules]
    index = {rule_id: n for n, rule_id in enumerate(known)}
    results = []
    uris = {}
    for found in audit.findings:
        obj = found["object"]
        name = audit.label(obj)
        location = {
            "logicalLocations": [
                {"fullyQualifiedName": name, "name": obj.get("name") or "?", "kind": "resource"}
            ]
        }
        source = found.get("source")
        if source and source.get("file"):
            uri = uris.get(source["file"])
            if uri is None:
                uri = uris[source["file"]] = quote(source["file"])
            location["physicalLocation"] = {
                "artifactLocation": {"uri": uri},
                "region": {"startLine": source.get("line") or 1},
            }
        status = found["status"]
        result = {
            "ruleId": found["rule"],
            "level": SARIF_LEVEL[found["severity"]] if status != "not_checked" else "none",
            "kind": "fail" if status != "not_checked" else "open",
            "message": {"text": "%s: %s" % (name, found["message"])},
            "locations": [location],
            "partialFingerprints": {"maoFinding/v1": _fingerprint(found, name)},
            "properties": {
                "severity": found["severity"],
                "status": status,
                "container": found.get("container"),
                "path": found.get("path"),
            },
        }
        if found["rule"] in index:
            result["ruleIndex"] = index[found["rule"]]
        if status == "waived":
            waiver = found["waiver"] or {}
            result["suppressions"] = [
                {
                    "kind": "inSource" if waiver.get("from") in ("annotation", "checkov") else "external",
                    "status": "accepted",
                    "justification": "%s (until %s)" % (waiver.get("reason"), waiver.get("expires") or "-"),
                }
            ]
        results.append(dumps(result))
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "informationUri": "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
                        "rules": [_sarif_rule(audit.rules[rule_id]) for rule_id in known],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": _RESULTS,
                "properties": {"summary": summary or audit.summary()},
            }
        ],
    }
    # each result is encoded as it is made, not kept as dicts: 50,000 results are 100 MB of dicts
    head, tail = json.dumps(log, default=str).split(json.dumps(_RESULTS), 1)
    return "".join((head, "[", ",".join(results), "]", tail, "\n")).encode("utf-8")


# -- JUnit XML ------------------------------------------------------------------------------


def to_junit(audit, summary=None):
    """One testcase per rule and object: a failure when a finding fails, skipped when all
    its findings are waived or not checked."""
    cases = []
    tests = failures = skipped = 0
    # quoted once per rule and per object: 5,000 objects make 150,000 test cases
    names = {rule_id: quoteattr("%s %s" % (rule_id, rule["title"])) for rule_id, rule in audit.rules.items()}
    classnames = {}

    def case(obj_ref, rule_id, found):
        nonlocal tests, failures, skipped
        tests += 1
        classname = classnames.get(id(obj_ref))
        if classname is None:
            classname = classnames[id(obj_ref)] = quoteattr(audit.label(obj_ref))
        name = names.get(rule_id) or quoteattr(rule_id)
        if not found:
            cases.append("  <testcase classname=%s name=%s/>" % (classname, name))
            return
        head = "  <testcase classname=%s name=%s" % (classname, name)
        status = audit.pair_status(found)
        if status == "fail":
            failures += 1
            text = "\n".join(f["message"] for f in found if f["status"] == "fail")
            body = "<failure message=%s type=%s>%s</failure>" % (
                quoteattr(found[0]["message"]),
                quoteattr(found[0]["severity"]),
                escape(text),
            )
        else:
            skipped += 1
            reasons = "; ".join(
                "waived: %s (until %s)" % (f["waiver"]["reason"], f["waiver"]["expires"] or "-")
                if f["status"] == "waived" and f.get("waiver")
                else "not checked: %s" % f["message"]
                for f in found
            )
            body = "<skipped message=%s/>" % quoteattr(reasons)
        cases.append("%s>%s</testcase>" % (head, body))

    done = set()
    empty = {}
    for obj_ref, source, rule_ids in audit.checked:
        obj_key = object_key(obj_ref, source)
        by_rule = audit.groups.get(obj_key) or empty
        if by_rule:
            done.add(obj_key)
        for rule_id in rule_ids:
            case(obj_ref, rule_id, by_rule.get(rule_id))
        for rule_id, found in by_rule.items():
            if rule_id not in rule_ids:
                case(obj_ref, rule_id, found)
    for obj_key, by_rule in audit.groups.items():
        if obj_key not in done:
            for rule_id, found in by_rule.items():
                case(found[0]["object"], rule_id, found)
    counts = 'tests="%d" failures="%d" errors="0" skipped="%d"' % (tests, failures, skipped)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<testsuites name="%s" %s>' % (TOOL, counts),
        '<testsuite name="%s" %s>' % (TOOL, counts),
    ]
    lines.extend(cases)
    lines += ["</testsuite>", "</testsuites>", ""]
    return "\n".join(lines).encode("utf-8")


#: format -> (file extension, renderer)
FORMATS = {
    "json": (".json", to_json),
    "markdown": (".md", to_markdown),
    "sarif": (".sarif", to_sarif),
    "junit": (".junit.xml", to_junit),
}
