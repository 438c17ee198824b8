"""The live runner (audit.run_live) over a stand-in read, the live analyses that must not run
on what could not be read, and the image scan of the audited objects (a fake trivy)."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit, cluster

from .objects import deployment, workload

ROOT = Path(__file__).resolve().parents[5]
REPORT = ROOT / "tests" / "fixtures" / "security" / "trivy" / "python_3.11-slim.json"
NS = "mplp"
PARAMS = {
    "src": None,
    "objects": None,
    "namespaces": [NS],
    "all_namespaces": False,
    "registries": [],
    "waivers": [],
    "waiver_file": None,
    "fail_on": "none",
    "formats": ["json"],
    "report_dir": None,
    "report_name": "security-audit",
    "trivy": "false",
    "max_findings": None,
}


def request(**params):
    return Request(dict(PARAMS, **params))


def owned_pod():
    """A pod of ReplicaSet mplp-core-5d8 of Deployment mplp-core (ownerReferences by uid)."""
    pod = workload("Pod", "mplp-core-5d8-x")
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "mplp-core-5d8", "uid": "rs-1", "controller": True}
    ]
    replica_set = workload("ReplicaSet", "mplp-core-5d8")
    replica_set["metadata"]["uid"] = "rs-1"
    replica_set["metadata"]["ownerReferences"] = [
        {"kind": "Deployment", "name": "mplp-core", "uid": "d-1", "controller": True}
    ]
    return pod, replica_set


def secret_reader():
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "reader", "namespace": NS},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "reader", "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    return role, binding


def cluster_objects():
    pod, replica_set = owned_pod()
    role, binding = secret_reader()
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    return {
        "Namespace": [namespace],
        "Deployment": [deployment("mplp-core")],
        "ReplicaSet": [replica_set],
        "Pod": [pod],
        "NetworkPolicy": [],
        "Role": [role],
        "RoleBinding": [binding],
        "ClusterRole": [],
        "ClusterRoleBinding": [],
    }


def refused(kind, namespace=None):
    return cluster.not_checked(kind, namespace, ApiError("forbidden", "list %s: forbidden" % kind, 403))


def reader(objects, unread=()):
    seen = []

    def read(client, namespaces):
        seen.append((client, namespaces))
        return objects, list(unread)

    return read, seen


def rules_of(result):
    return sorted({(f["rule"], f["object"]["kind"], f["status"]) for f in result["findings"]})


def test_one_read_the_objects_through_their_owners_and_the_live_analyses():
    read, seen = reader(cluster_objects())
    result = audit.run_live(request(), "client", read=read)
    assert seen == [("client", [NS])]
    found = rules_of(result)
    assert ("MAO-103", "User", "fail") in found  # alice reads Secrets in mplp
    assert ("MAO-151", "Namespace", "fail") in found and ("MAO-152", "Namespace", "fail") in found
    assert ("MAO-150", "Deployment", "fail") in found  # its pod is selected by no policy
    # the pod and its ReplicaSet are the Deployment's: no object check on them
    assert not [f for f in result["findings"] if f["object"]["kind"] in ("Pod", "ReplicaSet")]
    assert result["summary"]["by_status"]["not_checked"] == 0


def test_all_namespaces_reads_the_whole_cluster():
    read, seen = reader(cluster_objects())
    audit.run_live(request(namespaces=None, all_namespaces=True), "client", read=read)
    assert seen == [("client", None)]


def test_what_could_not_be_read_is_not_checked_and_never_clean():
    read, _ = reader(cluster_objects(), [refused("NetworkPolicy", NS), refused("RoleBinding")])
    result = audit.run_live(request(), "client", read=read)
    found = rules_of(result)
    # no coverage and no RBAC verdicts where the policies or the bindings were not read
    assert not [r for r in found if r[0] in ("MAO-150", "MAO-151", "MAO-152", "MAO-103")]
    assert ("MAO-199", "NetworkPolicy", "not_checked") in found
    assert ("MAO-149", "RoleBinding", "not_checked") in found
    assert ("MAO-001", "Deployment", "fail") not in found  # the object checks still ran (nothing to find)
    assert result["summary"]["by_status"]["not_checked"] == 2


def test_refused_policies_in_one_namespace_leave_the_others_analysed():
    objects = cluster_objects()
    objects["Namespace"].append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    read, _ = reader(objects, [refused("NetworkPolicy", "other")])
    result = audit.run_live(request(namespaces=[NS, "other"]), "client", read=read)
    namespaces = {f["object"]["name"] for f in result["findings"] if f["rule"] in ("MAO-151", "MAO-152")}
    assert namespaces == {NS}


def test_an_unreachable_cluster_fails_saying_nothing_changed():
    def read(client, namespaces):
        raise ApiError("unreachable", "connection refused")

    with pytest.raises(OpsError, match="Cannot read the cluster for the security audit.*nothing was changed"):
        audit.run_live(request(), "client", read=read)


# --- the image scan ------------------------------------------------------------------------


def fake_trivy(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = bindir / "trivy"
    path.write_text('#!/bin/sh\ncat "%s"\n' % REPORT)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def with_image(name, image):
    obj = deployment(name)
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return obj


def test_images_are_scanned_once_per_workload_not_again_through_its_pods(tmp_path):
    trivy_path = fake_trivy(tmp_path)
    pod, replica_set = owned_pod()
    objects = [with_image("mplp-core", "python:3.11-slim"), replica_set, pod]
    failed, unscanned = audit.image_findings([(o, None) for o in objects], which=lambda name: trivy_path)
    assert unscanned == []
    assert [(f["rule"], f["object"]["kind"], f["object"]["name"]) for f in failed] == [
        ("MAO-200", "Deployment", "mplp-core")
    ]
    assert failed[0]["severity"] == "critical"


def test_without_trivy_auto_reports_each_image_not_checked_and_true_refuses():
    objects = [
        (with_image("a", "app:1"), None),
        (with_image("b", "app:1"), None),
        (with_image("c", "db:2"), None),
    ]
    failed, unscanned = audit.image_findings(objects, mode="auto", which=lambda name: None)
    assert failed == [] and sorted(f["rule"] for f in unscanned) == ["MAO-201", "MAO-201"]  # per image
    assert all("not installed" in f["message"] for f in unscanned)
    with pytest.raises(OpsError, match="trivy is not installed.*nothing was changed"):
        audit.image_findings(objects, mode="true", which=lambda name: None)
    assert audit.image_findings(objects, mode="false", which=lambda name: None) == ([], [])


def test_the_audit_reports_the_scan_and_a_critical_image_fails_it(tmp_path, monkeypatch):
    trivy_path = fake_trivy(tmp_path)
    monkeypatch.setattr(audit.shutil, "which", lambda name: trivy_path)
    objects = [with_image("mplp-core", "python:3.11-slim")]
    params = dict(PARAMS, namespaces=None, objects=objects, trivy="auto", fail_on="critical")
    with pytest.raises(OpsError) as caught:
        audit.run(Request(params), today=datetime.date(2026, 12, 6))
    assert "MAO-200" in caught.value.msg
    assert "MAO-200" in {f["rule"] for f in caught.value.result["findings"]}
