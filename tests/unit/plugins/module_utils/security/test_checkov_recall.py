"""Recall against checkov (issue 15): on the committed recall set, every finding of checkov's
of a mapped check (security/checkov.py CHECKOV) is a finding of ours on the same object, with
one of the rules the check maps to. checkov's findings are its own SARIF, committed as
tests/fixtures/security/recall/checkov.sarif (CI does not run checkov; bench/checkov_peer.py
recall-fixture regenerates it)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov, checks
from tests.checkov_sarif import Loader, findings, object_key

ROOT = Path(__file__).resolve().parents[5]
RECALL = ROOT / "tests" / "fixtures" / "security" / "recall"
FILES = ("workloads.yaml", "rbac.yaml", "network.yaml")


def texts():
    return {name: (RECALL / name).read_text() for name in FILES}


@functools.cache
def ours():
    """{(file, kind, namespace, name): {rule, ...}} of our failed findings, file by file."""
    out = {}
    for name, text in texts().items():
        objects = [doc for doc in yaml.load_all(text, Loader=Loader) if doc]
        for finding in checks.check_objects(objects, name=name):
            if finding["status"] != "fail":
                continue
            obj = finding["object"]
            key = (name, *object_key(obj["kind"], obj.get("namespace"), obj["name"]))
            out.setdefault(key, set()).add(finding["rule"])
    return out


@functools.cache
def theirs():
    """[(check, (file, kind, namespace, name))] of checkov's findings of mapped checks."""
    sarif = json.loads((RECALL / "checkov.sarif").read_text())
    return tuple(
        (check, (file, *object_key(kind, namespace, name)))
        for check, file, kind, namespace, name in findings(sarif, texts())
        if check in checkov.CHECKOV
    )


def test_checkov_found_something_to_compare():
    assert {check for check, _ in theirs()} == set(checkov.CHECKOV)


@pytest.mark.parametrize("check", sorted(checkov.CHECKOV))
def test_every_checkov_finding_of_a_mapped_check_is_ours(check):
    found = ours()
    missed = [
        obj
        for their_check, obj in theirs()
        if their_check == check and not set(checkov.CHECKOV[check]) & found.get(obj, set())
    ]
    assert not missed, "%s (ours: %s) not reported on %s" % (check, ", ".join(checkov.CHECKOV[check]), missed)
