"""Waivers: from an annotation, from a list (the option or the file), from checkov's skip
annotations; an expired one fails again and is a MAO-220 finding, a malformed one MAO-221."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import catalogue, checks, waivers

from .objects import deployment, pod_spec_of

TODAY = datetime.date(2026, 12, 6)
KNOWN = frozenset(entry["id"] for entry in catalogue.RULES)


def writable(annotations=None, name="mplp-postgresql"):
    obj = deployment(name)
    pod_spec_of(obj)["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return obj


def audit(obj, entries=()):
    """The findings of one object with its own waivers and ``entries``."""
    obj_ref = checks.ref(obj)
    found = checks.check(obj)
    own, problems = waivers.of_object(obj, obj_ref, None, TODAY, KNOWN)
    listed, listed_problems = waivers.of_entries(entries, "waivers", TODAY, KNOWN)
    found += problems
    waivers.apply(found, waivers.index(own), waivers.index(listed))
    return found + listed_problems


def by_rule(found):
    return {f["rule"]: f for f in found}


def test_an_annotation_waives_its_rule_until_its_expiry_inclusive():
    for expires in ("2027-03-31", "2026-12-06"):
        found = by_rule(
            audit(writable({"multiagent.ops/waive.MAO-008": expires + "  PostgreSQL writes its root fs"}))
        )
        assert set(found) == {"MAO-008"}
        assert found["MAO-008"]["status"] == "waived"
        assert found["MAO-008"]["waiver"] == {
            "reason": "PostgreSQL writes its root fs",
            "expires": expires,
            "from": "annotation",
        }


def test_an_expired_annotation_fails_again_and_is_a_finding():
    found = by_rule(
        audit(writable({"multiagent.ops/waive.MAO-008": "2026-12-05 PostgreSQL writes its root fs"}))
    )
    assert found["MAO-008"]["status"] == "fail" and found["MAO-008"]["waiver"] is None
    assert found["MAO-220"]["status"] == "fail"
    assert "2026-12-05" in found["MAO-220"]["message"] and "root fs" in found["MAO-220"]["message"]
    assert found["MAO-220"]["object"]["name"] == "mplp-postgresql"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("multiagent.ops/waive.MAO-008", "PostgreSQL writes"),  # no date
        ("multiagent.ops/waive.MAO-008", "2027-02-30 no such day"),
        ("multiagent.ops/waive.MAO-008", "2027-03-31"),  # no reason
        ("multiagent.ops/waive.MAO-999", "2027-03-31 no such rule"),
        ("multiagent.ops/waive.MAO-220", "2027-03-31 the waiver rules cannot be waived"),
    ],
)
def test_a_malformed_annotation_waives_nothing_and_is_a_finding(key, value):
    found = by_rule(audit(writable({key: value})))
    assert found["MAO-008"]["status"] == "fail"
    assert found["MAO-221"]["status"] == "fail" and key in found["MAO-221"]["message"]


def test_a_waiver_list_narrows_by_kind_namespace_name_and_container():
    entry = {
        "rule": "MAO-008",
        "kind": "Deployment",
        "namespace": "mplp",
        "name": "mplp-postgresql",
        "reason": "PostgreSQL writes its root fs",
        "expires": datetime.date(2027, 3, 31),  # as YAML reads it
    }
    found = by_rule(audit(writable(), [entry]))
    assert found["MAO-008"]["status"] == "waived"
    assert (
        found["MAO-008"]["waiver"]["from"] == "file" and found["MAO-008"]["waiver"]["expires"] == "2027-03-31"
    )
    for field, other in (
        ("name", "mplp-core"),
        ("namespace", "other"),
        ("kind", "StatefulSet"),
        ("container", "x"),
    ):
        assert by_rule(audit(writable(), [dict(entry, **{field: other})]))["MAO-008"]["status"] == "fail"
    assert by_rule(audit(writable(), [dict(entry, container="app")]))["MAO-008"]["status"] == "waived"
    anywhere = {"rule": "MAO-008", "reason": "everywhere", "expires": "2027-01-01"}
    assert by_rule(audit(writable(), [anywhere]))["MAO-008"]["status"] == "waived"


def test_an_expired_listed_waiver_is_a_finding_on_what_it_named():
    entry = {"rule": "MAO-008", "name": "mplp-postgresql", "reason": "r", "expires": "2026-01-01"}
    found = by_rule(audit(writable(), [entry]))
    assert found["MAO-008"]["status"] == "fail"
    assert found["MAO-220"]["object"] == {
        "apiVersion": None,
        "kind": "*",
        "namespace": None,
        "name": "mplp-postgresql",
    }
    assert found["MAO-220"]["path"] == "waivers[0]"


@pytest.mark.parametrize(
    "entry",
    [
        {"rule": "MAO-008", "reason": "r"},
        {"rule": "MAO-008", "reason": "r", "expires": "31.03.2027"},
        {"rule": "MAO-008", "expires": "2027-03-31"},
        {"rule": "MAO-404", "reason": "r", "expires": "2027-03-31"},
        {"rule": "MAO-008", "reason": "r", "expires": "2027-03-31", "nmae": "typo"},
        "MAO-008",
    ],
)
def test_a_malformed_listed_waiver_is_a_finding(entry):
    found = by_rule(audit(writable(), [entry]))
    assert found["MAO-008"]["status"] == "fail"
    assert found["MAO-221"]["message"].startswith("waivers[0]")


def test_checkov_skip_annotations_waive_the_mapped_rules():
    obj = writable(
        {"checkov.io/skip1": "CKV_K8S_22=PostgreSQL writes its root fs", "checkov.io/skip2": "CKV_K8S_38"}
    )
    del pod_spec_of(obj)["automountServiceAccountToken"]
    found = by_rule(audit(obj))
    assert found["MAO-008"]["status"] == "waived"
    assert found["MAO-008"]["waiver"] == {
        "reason": "PostgreSQL writes its root fs",
        "expires": None,
        "from": "checkov",
    }
    assert (
        found["MAO-027"]["status"] == "waived" and "checkov.io/skip2" in found["MAO-027"]["waiver"]["reason"]
    )


def test_a_checkov_skip_of_an_unmapped_check_waives_nothing():
    found = by_rule(audit(writable({"checkov.io/skip1": "CKV_K8S_9999=whatever"})))
    assert found["MAO-008"]["status"] == "fail" and set(found) == {"MAO-008"}


def test_the_placeholder_mapping_has_the_shared_names():
    from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov

    assert all(set(rules) <= KNOWN for rules in checkov.CHECKOV.values())
    assert isinstance(checkov.UNMAPPED, dict)
