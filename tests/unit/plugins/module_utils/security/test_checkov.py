"""The checkov mapping (security/checkov.py) and its generated docs table."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov

ROOT = Path(__file__).resolve().parents[5]

_spec = importlib.util.spec_from_file_location("hack_checkov_table", ROOT / "hack" / "checkov_table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)

# The object-check ids of the catalogue (MAO-001..099), as the shared shapes name them.
OBJECT_RULES = re.compile(r"^MAO-0\d\d$")


def test_every_check_is_mapped_or_unmapped_never_both():
    assert set(checkov.CHECKOV).isdisjoint(checkov.UNMAPPED)
    assert set(checkov.CHECKOV) | set(checkov.UNMAPPED) == set(checkov.NAMES)


def test_the_ids_are_checkovs_kubernetes_ids():
    for check in checkov.NAMES:
        assert re.fullmatch(r"CKV2?_K8S_\d+", check), check


def test_mapped_checks_name_object_rules_once_each():
    for check, rules in checkov.CHECKOV.items():
        assert isinstance(rules, tuple) and rules, check
        assert len(set(rules)) == len(rules), check
        for rule in rules:
            assert OBJECT_RULES.match(rule), (check, rule)


def test_every_unmapped_check_says_why():
    for check, reason in checkov.UNMAPPED.items():
        assert isinstance(reason, str) and len(reason) > 20, check


def test_notes_are_about_mapped_checks():
    assert set(checkov.NOTES) <= set(checkov.CHECKOV)


def test_pod_and_container_security_checks_are_mapped():
    """The issue's floor: every pod- and container-security, host-namespace, image, resource,
    probe, service-account, RBAC and Secret check checkov runs on workloads is mapped."""
    floor = {8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 25, 26, 27, 28, 29, 30, 31}
    floor |= {35, 37, 38, 39, 40, 41, 42, 43, 49, 155, 156, 157, 158}
    assert {f"CKV_K8S_{n}" for n in floor} <= set(checkov.CHECKOV)


def test_the_committed_docs_table_is_the_generated_one():
    committed = (ROOT / "docs" / "security-checkov.md").read_text()
    assert committed == table.render(table.load()), "run: python hack/checkov_table.py"


def test_the_table_lists_every_check_once():
    text = table.render(checkov)
    for check in checkov.NAMES:
        assert len(re.findall(rf"^\| {check} \|", text, re.M)) == 1, check
