"""checkov's SARIF as the recall fixture: the reader (tests/checkov_sarif.py), and that the
committed test set is complete (every mapped checkov check fails on some object of it and
passes on another) and is what bench/security_gen.py generates."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov
from tests.checkov_sarif import Loader, document_object, findings, object_key, relative

ROOT = Path(__file__).resolve().parents[2]
RECALL = ROOT / "tests" / "fixtures" / "security" / "recall"
FILES = ("workloads.yaml", "rbac.yaml", "network.yaml")

_spec = importlib.util.spec_from_file_location("security_gen", ROOT / "bench" / "security_gen.py")
security_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(security_gen)


def texts():
    return {name: (RECALL / name).read_text() for name in FILES}


def fixture_findings():
    return findings(json.loads((RECALL / "checkov.sarif").read_text()), texts())


def fixture_passes():
    doc = json.loads((RECALL / "checkov_passed.json").read_text())
    assert doc["checkov"] == checkov.VERSION
    out = {}
    for check, entries in doc["passed"].items():
        for entry in entries:
            file, kind, namespace, name = entry.split(" ")
            out.setdefault(check, set()).add((file, kind, None if namespace == "-" else namespace, name))
    return out


def objects_of_fixture():
    out = set()
    for name, text in texts().items():
        for doc in yaml.load_all(text, Loader=Loader):
            out.add((name, doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]))
    return out


SNIPPET_SARIF = {
    "runs": [
        {
            "results": [
                {
                    "ruleId": "CKV_K8S_16",
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "/abs/dir/a.yaml"},
                                "region": {
                                    "startLine": 1,
                                    "endLine": 6,
                                    "snippet": {
                                        "text": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                        "  name: web\n  namespace: shop\nspec: {}\n---\n"
                                    },
                                },
                            }
                        }
                    ],
                },
                {
                    "ruleId": "CKV_K8S_49",
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "a.yaml"},
                                "region": {"startLine": 8, "endLine": 11},
                            }
                        }
                    ],
                },
            ]
        }
    ]
}
SNIPPET_TEXT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec: {}\n---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: all\nrules: []\n"
)


def test_the_object_is_read_from_the_snippet_or_from_the_regions_lines():
    got = findings(SNIPPET_SARIF, {"a.yaml": SNIPPET_TEXT}, root="/abs/dir")
    assert got == [
        ("CKV_K8S_16", "a.yaml", "Deployment", "shop", "web"),
        ("CKV_K8S_49", "a.yaml", "ClusterRole", None, "all"),
    ]


def test_a_region_of_two_documents_is_refused():
    with pytest.raises(ValueError):
        document_object("kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n")


def test_relative_paths():
    assert relative("/work/x/recall/a.yaml", "/work/x/recall") == "a.yaml"
    assert relative("/a.yaml") == "a.yaml"
    assert relative("./a.yaml") == "a.yaml"


def test_object_keys_are_the_api_servers():
    assert object_key("Pod", None, "p") == ("Pod", "default", "p")
    assert object_key("ClusterRole", "default", "r") == ("ClusterRole", None, "r")
    assert object_key("Role", "shop", "r") == ("Role", "shop", "r")


def test_the_fixture_parses_to_objects_of_the_test_set():
    got = fixture_findings()
    sarif = json.loads((RECALL / "checkov.sarif").read_text())
    assert len(got) == sum(len(run["results"]) for run in sarif["runs"]) > 0
    assert sarif["runs"][0]["tool"]["driver"]["version"] == checkov.VERSION
    objects = objects_of_fixture()
    for check, file, kind, namespace, name in got:
        assert (file, kind, namespace, name) in objects, (check, file, kind, name)


def test_every_mapped_check_fails_on_some_object_and_passes_on_another():
    failed = {}
    for check, *obj in fixture_findings():
        failed.setdefault(check, set()).add(tuple(obj))
    passed = fixture_passes()
    for check in checkov.CHECKOV:
        assert failed.get(check), "%s fails on no object of the recall set" % check
        assert passed.get(check), "%s passes on no object of the recall set" % check
        assert not failed[check] & passed[check], check


def test_the_set_spans_the_kinds_and_container_roles():
    kinds = {kind for _, kind, _, _ in objects_of_fixture()}
    assert {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Pod"} <= kinds
    assert {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Service", "Secret"} <= kinds
    failed_in = {name.rsplit("-", 1)[-1] for _, _, _, _, name in fixture_findings()}
    assert {"app", "sidecar", "init"} <= failed_in


def test_the_committed_set_is_the_generated_one(tmp_path):
    security_gen.write_recall(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_text() == (RECALL / name).read_text(), (
            "%s differs from bench/security_gen.py's: run bench/checkov_peer.py recall-fixture" % name
        )


def hardened(obj):
    """Whether obj is exactly the generator's hardened Deployment of its name and containers."""
    spec = security_gen.pod_of(obj)
    meta = obj["metadata"]
    again = security_gen.pod_spec(meta["name"], len(spec["containers"]) == 2, "initContainers" in spec)
    return obj == security_gen.workload("Deployment", meta["name"], meta.get("namespace"), again)


def test_the_benchmark_generator_is_deterministic_and_mixed():
    a, b = security_gen.bench_objects(400, seed=3), security_gen.bench_objects(400, seed=3)
    assert a == b and a != security_gen.bench_objects(400, seed=4)
    assert {o["kind"] for o in a} == {"Deployment"}
    assert len({o["metadata"]["name"] for o in a}) == 400
    good = [o for o in a if hardened(o)]
    bad = [o for o in a if "securityContext" not in security_gen.pod_of(o)]
    partly = [o for o in a if o not in good and o not in bad]
    # 40% / 35% / 25%, give or take what 400 draws give
    assert 0.3 < len(good) / 400 < 0.5 and 0.25 < len(partly) / 400 < 0.45 and 0.15 < len(bad) / 400 < 0.35
