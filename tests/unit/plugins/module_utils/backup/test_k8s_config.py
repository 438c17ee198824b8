"""Configuration export: stripping, ordering, archive determinism and tamper detection,
restore planning, Secret encryption and redaction."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, Client

PASSWORD = "backup-vault-password"
SECRET_VALUE = "s3cret-Value-that-must-not-leak"
SERVER_META = {
    "uid": "0b1c",
    "resourceVersion": "4711",
    "generation": 3,
    "creationTimestamp": "2026-11-22T10:00:00Z",
    "selfLink": "/api/v1/x",
    "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
}


def rt(kind):
    return kx.BY_KIND[kind]


def restore_step(kind, archived, live=None, autoscaled=()):
    """What the restore's policy decides for one archived object against its live state
    (``live``: as a LIST returns it; None: absent): ``{action, body, desired, label, live}``
    with action ``create`` (body: what is created), ``update`` (body: the merge patch) or
    ``none`` (the live object already has every archived field)."""
    plan = kx.restore_plan([(kind, archived)], "ns", autoscaled)
    item = plan.items[0]
    found = kx.live_state(plan.items, [(kind, [] if live is None else [live])])[item.key]
    step = {"label": item.label, "live": found}
    if found is None:
        return dict(step, action="create", body=item.policy.create_body(item), desired=None)
    update = item.policy.update(item, found)
    return dict(step, action="none" if update.applied else "update", body=update.body, desired=update.desired)


def served(kind, name, body=None, namespace="src", **meta):
    """An object as a LIST returns it: no kind/apiVersion, server metadata, a status."""
    metadata = dict(SERVER_META, name=name, namespace=namespace)
    metadata.update(meta)
    obj = {"metadata": metadata, "status": {"observedGeneration": 3}}
    obj.update(body or {})
    return obj


def secret(name="app-credentials", value=SECRET_VALUE, **meta):
    return served(
        "Secret",
        name,
        {"type": "Opaque", "data": {"password": base64.b64encode(value.encode()).decode(), "user": "YXBw"}},
        **meta,
    )


# ---------------------------------------------------------------------------------------
# Stripping (table-driven): what the server adds goes, what the author wrote stays.

STRIP_CASES = [
    (
        "metadata of any object",
        "ConfigMap",
        served(
            "ConfigMap",
            "cfg",
            {"data": {"a": "1"}},
            labels={"app": "x"},
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"a":"1"}}',
                "team/owner": "platform",
            },
            generateName="cfg-",
            deletionGracePeriodSeconds=30,
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "cfg",
                "namespace": "src",
                "labels": {"app": "x"},
                "annotations": {"team/owner": "platform"},
            },
            "data": {"a": "1"},
        },
    ),
    (
        "Deployment revision and template timestamp",
        "Deployment",
        served(
            "Deployment",
            "web",
            {
                "spec": {
                    "replicas": 2,
                    "template": {
                        "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                }
            },
            annotations={"deployment.kubernetes.io/revision": "4"},
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "src"},
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    ),
    (
        "StatefulSet claim templates",
        "StatefulSet",
        served(
            "StatefulSet",
            "db",
            {
                "spec": {
                    "template": {"metadata": {"creationTimestamp": None}, "spec": {}},
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data", "creationTimestamp": None},
                            "spec": {"resources": {"requests": {"storage": "1Gi"}}},
                            "status": {"phase": "Pending"},
                        }
                    ],
                }
            },
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "src"},
            "spec": {
                "template": {"spec": {}},
                "volumeClaimTemplates": [
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "data"},
                        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
                    }
                ],
            },
        },
    ),
    (
        "Service allocated addresses and picked node ports",
        "Service",
        served(
            "Service",
            "web",
            {
                "spec": {
                    "type": "LoadBalancer",
                    "clusterIP": "10.96.0.7",
                    "clusterIPs": ["10.96.0.7"],
                    "healthCheckNodePort": 32000,
                    "externalTrafficPolicy": "Local",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}],
                }
            },
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "src"},
            "spec": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
    ),
    (
        "headless Service keeps clusterIP None",
        "Service",
        served("Service", "db", {"spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": []}}),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": "src"},
            "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": []},
        },
    ),
    (
        "PersistentVolumeClaim binding",
        "PersistentVolumeClaim",
        served(
            "PersistentVolumeClaim",
            "data",
            {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                    "storageClassName": "fast",
                    "volumeName": "pvc-0b1c",
                }
            },
            annotations={
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                "volume.kubernetes.io/selected-node": "node-1",
                "volume.beta.kubernetes.io/storage-class": "fast",
            },
            finalizers=["kubernetes.io/pvc-protection"],
        ),
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": "data",
                "namespace": "src",
                "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"},
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "fast",
            },
        },
    ),
    (
        "ServiceAccount token list",
        "ServiceAccount",
        served(
            "ServiceAccount",
            "runner",
            {"secrets": [{"name": "runner-token-x"}], "imagePullSecrets": [{"name": "registry"}]},
        ),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "runner", "namespace": "src"},
            "imagePullSecrets": [{"name": "registry"}],
        },
    ),
    (
        "CronJob with Job-controller labels copied from a Job",
        "CronJob",
        served(
            "CronJob",
            "nightly",
            {
                "spec": {
                    "schedule": "0 2 * * *",
                    "jobTemplate": {
                        "metadata": {"creationTimestamp": None},
                        "spec": {
                            "manualSelector": True,
                            "selector": {"matchLabels": {"controller-uid": "abc"}},
                            "template": {
                                "metadata": {
                                    "creationTimestamp": None,
                                    "labels": {
                                        "controller-uid": "abc",
                                        "batch.kubernetes.io/controller-uid": "abc",
                                        "job-name": "nightly-1",
                                        "batch.kubernetes.io/job-name": "nightly-1",
                                        "app": "nightly",
                                    },
                                },
                                "spec": {"restartPolicy": "Never"},
                            },
                        },
                    },
                }
            },
        ),
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "src"},
            "spec": {
                "schedule": "0 2 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app": "nightly"}},
                            "spec": {"restartPolicy": "Never"},
                        }
                    }
                },
            },
        },
    ),
    (
        "HPA status and v1 annotations",
        "HorizontalPodAutoscaler",
        served(
            "HorizontalPodAutoscaler",
            "web",
            {"spec": {"minReplicas": 2, "maxReplicas": 5}},
            annotations={"autoscaling.alpha.kubernetes.io/conditions": "[]"},
        ),
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "src"},
            "spec": {"minReplicas": 2, "maxReplicas": 5},
        },
    ),
]


@pytest.mark.parametrize(
    "kind, listed, expected", [c[1:] for c in STRIP_CASES], ids=[c[0] for c in STRIP_CASES]
)
def test_clean_strips_server_set_fields(kind, listed, expected):
    before = json.dumps(listed, sort_keys=True)
    assert kx.clean(rt(kind), listed) == expected
    assert json.dumps(listed, sort_keys=True) == before  # the listed object is not modified


def _service_with_node_ports(last_applied=None):
    annotations = {}
    if last_applied is not None:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(last_applied)
    return served(
        "Service",
        "web",
        {
            "spec": {
                "type": "NodePort",
                "ports": [
                    {"name": "http", "port": 80, "nodePort": 30080},
                    {"name": "admin", "port": 9000, "nodePort": 31234},
                ],
            }
        },
        annotations=annotations,
    )


@pytest.mark.parametrize(
    "policy, last_applied, kept",
    [
        ("auto", None, []),
        ("auto", {"spec": {"ports": [{"name": "http", "port": 80, "nodePort": 30080}]}}, [30080]),
        ("auto", {"spec": {"ports": [{"port": 9000, "nodePort": 31234}]}}, [31234]),
        ("keep", None, [30080, 31234]),
        ("drop", {"spec": {"ports": [{"name": "http", "port": 80, "nodePort": 30080}]}}, []),
    ],
)
def test_node_ports_policy(policy, last_applied, kept):
    cleaned = kx.clean(rt("Service"), _service_with_node_ports(last_applied), node_ports=policy)
    assert [p["nodePort"] for p in cleaned["spec"]["ports"] if "nodePort" in p] == kept
    assert "annotations" not in cleaned["metadata"]  # the last-applied record itself never stays


def test_unknown_node_port_policy():
    with pytest.raises(kx.ExportError, match="node_ports must be one of auto, keep, drop"):
        kx.clean(rt("Service"), _service_with_node_ports(), node_ports="sometimes")


@pytest.mark.parametrize(
    "kind, obj, reason",
    [
        (
            "ConfigMap",
            served(
                "ConfigMap",
                "gen",
                ownerReferences=[{"kind": "Deployment", "name": "web", "uid": "u", "apiVersion": "apps/v1"}],
            ),
            "owned by Deployment/web (its controller recreates it)",
        ),
        (
            "PersistentVolumeClaim",
            served(
                "PersistentVolumeClaim", "data-db-0", ownerReferences=[{"kind": "StatefulSet", "name": "db"}]
            ),
            "owned by StatefulSet/db (its controller recreates it)",
        ),
        ("ConfigMap", served("ConfigMap", "kube-root-ca.crt"), "created by Kubernetes in every namespace"),
        (
            "ConfigMap",
            served("ConfigMap", "going", deletionTimestamp="2026-11-22T10:00:00Z"),
            "being deleted",
        ),
        (
            "Secret",
            served("Secret", "runner-token", {"type": "kubernetes.io/service-account-token"}),
            "a ServiceAccount token (Kubernetes makes it)",
        ),
        (
            "ServiceAccount",
            served("ServiceAccount", "default", {"secrets": [{"name": "default-token"}]}),
            "created by Kubernetes in every namespace (and not configured)",
        ),
        ("ServiceAccount", served("ServiceAccount", "default", {"imagePullSecrets": [{"name": "r"}]}), None),
        ("ServiceAccount", served("ServiceAccount", "default", labels={"team": "a"}), None),
        (
            "ServiceAccount",
            served("ServiceAccount", "default", {"automountServiceAccountToken": False}),
            None,
        ),
        ("ConfigMap", served("ConfigMap", "app"), None),
        ("Secret", secret(), None),
    ],
)
def test_skip_reason(kind, obj, reason):
    assert kx.skip_reason(rt(kind), obj) == reason


def test_namespace_metadata_keeps_labels_that_matter():
    ns = served(
        "Namespace",
        "src",
        namespace=None,
        labels={"kubernetes.io/metadata.name": "src", "pod-security.kubernetes.io/enforce": "restricted"},
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "owner": "platform"},
    )
    assert kx.clean_namespace(ns) == {
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        "annotations": {"owner": "platform"},
    }
    assert kx.clean_namespace(None) == {}


# ---------------------------------------------------------------------------------------
# Kinds and order


def test_restore_order_is_the_dependency_order():
    assert [t.kind for t in kx.BUILTIN] == [
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
    ]
    assert rt("HorizontalPodAutoscaler").api_version == "autoscaling/v2"
    assert rt("PodDisruptionBudget").api_version == "policy/v1"


def test_paths():
    assert rt("ConfigMap").collection_path("ns") == "/api/v1/namespaces/ns/configmaps"
    assert rt("Deployment").object_path("ns", "web") == "/apis/apps/v1/namespaces/ns/deployments/web"
    widget = kx.custom_type({"group": "example.com", "version": "v1", "kind": "Widget", "plural": "widgets"})
    assert widget.collection_path("ns") == "/apis/example.com/v1/namespaces/ns/widgets"
    assert widget.dir == "Widget.example.com"


@pytest.mark.parametrize(
    "name, encoded",
    [("ops reader#1", "ops%20reader%231"), ("what?now", "what%3Fnow"), ("a:b", "a%3Ab"), ("50%", "50%25")],
)
def test_object_path_encodes_the_name(name, encoded):
    # RBAC names need only be valid path segments: '#', '?' and ' ' must not end the path.
    assert rt("Role").object_path("ns", name) == (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles/%s" % encoded
    )


def test_builtin_types_leave_secrets_out_unless_asked():
    assert "Secret" not in [t.kind for t in kx.builtin_types()]
    assert "Secret" in [t.kind for t in kx.builtin_types(include_secrets=True)]
    assert [t.kind for t in kx.builtin_types(["Deployment", "ConfigMap"])] == ["ConfigMap", "Deployment"]
    with pytest.raises(kx.ExportError, match="unknown kind\\(s\\) Pod"):
        kx.builtin_types(["Pod"])


DISCOVERY = {
    "resources": [
        {"name": "widgets", "kind": "Widget", "namespaced": True},
        {"name": "widgets/status", "kind": "Widget", "namespaced": True},
        {"name": "globals", "kind": "Global", "namespaced": False},
    ]
}


def test_custom_types_through_discovery():
    spec = {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert kx.custom_type(spec, DISCOVERY).plural == "widgets"
    with pytest.raises(kx.ExportError, match="cluster-scoped"):
        kx.custom_type({"group": "example.com", "version": "v1", "kind": "Global"}, DISCOVERY)
    with pytest.raises(kx.ExportError, match="Gadget is not served by example.com/v1"):
        kx.custom_type({"group": "example.com", "version": "v1", "kind": "Gadget"}, DISCOVERY)
    with pytest.raises(kx.ExportError, match="built-in kind"):
        kx.custom_type({"group": "apps", "version": "v1", "kind": "Deployment", "plural": "deployments"})
    with pytest.raises(kx.ExportError, match="needs group, version and kind"):
        kx.custom_type({"group": "example.com", "kind": "Widget"})


def test_index_types_sort_builtins_by_dependency_and_customs_last():
    index = {
        "resources": [
            {
                "kind": "Widget",
                "apiVersion": "example.com/v1",
                "plural": "widgets",
                "dir": "Widget.example.com",
                "custom": True,
            },
            rt("Ingress").to_index(),
            rt("Deployment").to_index(),
            rt("Secret").to_index(),
            rt("ServiceAccount").to_index(),
        ]
    }
    assert [t.dir for t in kx.index_types(index)] == [
        "ServiceAccount",
        "Secret",
        "Deployment",
        "Ingress",
        "Widget.example.com",
    ]
    index["resources"][1]["dir"] = "Elsewhere"
    with pytest.raises(kx.ExportError, match="does not match Ingress"):
        kx.index_types(index)


# ---------------------------------------------------------------------------------------
# Export and archive


def listed_namespace(with_secrets=True):
    listed = [
        (rt("ServiceAccount"), [served("ServiceAccount", "default"), served("ServiceAccount", "runner")]),
        (
            rt("ConfigMap"),
            [
                served("ConfigMap", "b", {"data": {"k": "v"}}),
                served("ConfigMap", "kube-root-ca.crt"),
                served("ConfigMap", "a"),
            ],
        ),
        (rt("Deployment"), [served("Deployment", "web", {"spec": {"replicas": 2}})]),
    ]
    if with_secrets:
        listed.insert(
            1,
            (
                rt("Secret"),
                [secret(), served("Secret", "tok", {"type": "kubernetes.io/service-account-token"})],
            ),
        )
    return listed


def test_export_writes_one_file_per_object_and_an_index():
    export = kx.export_namespace("src", listed_namespace(False), served("Namespace", "src", namespace=None))
    assert sorted(export.files) == [
        "ConfigMap/a.yaml",
        "ConfigMap/b.yaml",
        "Deployment/web.yaml",
        "ServiceAccount/runner.yaml",
        "index.yaml",
    ]
    assert export.counts == {"ServiceAccount": 1, "ConfigMap": 2, "Deployment": 1}
    assert export.left_out == [
        {
            "object": "ServiceAccount/default",
            "reason": "created by Kubernetes in every namespace (and not configured)",
        },
        {"object": "ConfigMap/kube-root-ca.crt", "reason": "created by Kubernetes in every namespace"},
    ]
    index = yaml.safe_load(export.files["index.yaml"])
    assert index["secrets"] == "excluded" and index["encryption"] == "none" and index["namespace"] == "src"
    assert yaml.safe_load(export.files["ConfigMap/b.yaml"]) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "b", "namespace": "src"},
        "data": {"k": "v"},
    }


def test_configmap_with_nel_survives_the_archive_and_restores_as_unchanged():
    cm = served("ConfigMap", "legacy-text", {"data": {"motd": "Welcome\x85to", "notes": "a\x85b\nc\n"}})
    index, files = archive_of([(rt("ConfigMap"), [cm])])
    [(kind, restored)] = kx.load_objects(index, files)
    assert restored["data"] == cm["data"]
    assert restore_step(kind, restored, cm)["action"] == "none"


def test_secrets_are_only_exported_encrypted_for_ansible_vault():
    with pytest.raises(kx.ExportError, match="include_secrets is false"):
        kx.export_namespace("src", listed_namespace())
    with pytest.raises(kx.ExportError, match="a vault password is required"):
        kx.export_namespace("src", listed_namespace(), include_secrets=True)
    export = kx.export_namespace("src", listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    stored = export.files["Secret/app-credentials.yaml"]
    assert stored.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    encoded = base64.b64encode(SECRET_VALUE.encode())
    for blob in export.files.values():
        assert SECRET_VALUE.encode() not in blob and encoded not in blob
    opened = yaml.safe_load(VaultLib([("default", VaultSecret(PASSWORD.encode()))]).decrypt(stored))
    assert base64.b64decode(opened["data"]["password"]).decode() == SECRET_VALUE
    assert "Secret/tok.yaml" not in export.files
    index = yaml.safe_load(export.files["index.yaml"])
    assert index["secrets"] == "encrypted" and index["encryption"] == "ansible-vault-1.1-aes256"


def test_archive_is_deterministic():
    first = kx.export_namespace("src", listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    shuffled = [(t, list(reversed(items))) for t, items in listed_namespace()]
    second = kx.export_namespace("src", shuffled, include_secrets=True, vault_password=PASSWORD)
    assert kx.build_archive(first.files) == kx.build_archive(second.files)
    assert kx.build_archive(first.files) == kx.build_archive(dict(reversed(list(first.files.items()))))
    changed = [
        (t, [dict(o, data={"k": "w"}) if o["metadata"]["name"] == "b" else o for o in items])
        for t, items in listed_namespace()
    ]
    third = kx.export_namespace("src", changed, include_secrets=True, vault_password=PASSWORD)
    assert kx.build_archive(third.files) != kx.build_archive(first.files)


def test_archive_headers_carry_no_time_or_owner():
    data = kx.build_archive({"b/x.yaml": b"x: 1\n", "a/y.yaml": b"y: 2\n", "index.yaml": b"i: 0\n"})
    assert data[4:8] == b"\0\0\0\0"  # gzip MTIME
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a", "b", "a/y.yaml", "b/x.yaml", "index.yaml"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.mode for m in members if m.isfile()} == {0o600}


def test_archive_round_trip():
    export = kx.export_namespace("src", listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    index, files = kx.read_archive(kx.build_archive(export.files))
    assert index == export.index
    assert files == {k: v for k, v in export.files.items() if k != "index.yaml"}


def _tar(entries, gz=True):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue()) if gz else raw.getvalue()


INDEX = wl.dump_yaml(
    {
        "format": kx.FORMAT,
        "format_version": 1,
        "namespace": "src",
        "resources": [],
        "files": ["ConfigMap/a.yaml"],
    }
)


@pytest.mark.parametrize(
    "data, message",
    [
        (
            _tar([("index.yaml", INDEX, tarfile.REGTYPE), ("../evil.yaml", b"x", tarfile.REGTYPE)]),
            "unsafe path '../evil.yaml'",
        ),
        (_tar([("index.yaml", INDEX, tarfile.REGTYPE), ("/etc/evil", b"x", tarfile.REGTYPE)]), "unsafe path"),
        (
            _tar([("index.yaml", INDEX, tarfile.REGTYPE), ("ConfigMap/a.yaml", b"", tarfile.SYMTYPE)]),
            "not a plain file",
        ),
        (_tar([("ConfigMap/a.yaml", b"x", tarfile.REGTYPE)]), "has no index.yaml"),
        (_tar([("index.yaml", b"format: other\n", tarfile.REGTYPE)]), "does not describe"),
        (
            _tar([("index.yaml", INDEX, tarfile.REGTYPE), ("ConfigMap/b.yaml", b"x", tarfile.REGTYPE)]),
            "missing: ConfigMap/a.yaml; not listed: ConfigMap/b.yaml",
        ),
        (_tar([("index.yaml", INDEX, tarfile.REGTYPE)])[:-40], "cannot be read"),
        (b"not an archive at all", "cannot be read"),
    ],
)
def test_read_archive_refuses_unsafe_or_inconsistent_content(data, message):
    with pytest.raises(kx.ExportError, match=message):
        kx.read_archive(data)


def test_newer_format_refused():
    index = wl.dump_yaml({"format": kx.FORMAT, "format_version": 99, "files": []})
    with pytest.raises(kx.ExportError, match="newer than this collection reads"):
        kx.read_archive(_tar([("index.yaml", index, tarfile.REGTYPE)]))


def test_tampered_or_truncated_archive_fails_verification(tmp_path):
    export = kx.export_namespace("src", listed_namespace(False))
    data = kx.build_archive(export.files)
    path = tmp_path / "config-src-20261122T020000Z.tar.gz"
    path.write_bytes(data)
    manifest = artifact.new_manifest(kx.MANIFEST_KIND, "src", path.name, "tar", "gzip", objects=export.counts)
    manifest.update(
        size=len(data),
        sha256=artifact.sha256_file(path)[0],
        started="2026-11-22T02:00:00Z",
        finished="2026-11-22T02:00:01Z",
        status="complete",
    )
    artifact.write_manifest(str(path), manifest)
    assert artifact.verify_file(str(path))[1] == []
    assert kx.check_manifest(manifest, export.index) == []
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert any("sha256 is" in p for p in artifact.verify_file(str(path))[1])
    path.write_bytes(data[:-10])
    assert any("truncated" in p for p in artifact.verify_file(str(path))[1])
    assert kx.check_manifest(dict(manifest, target="other"), export.index) == [
        "the manifest's target 'other' is not the archive's namespace 'src'"
    ]
    assert kx.check_manifest(dict(manifest, kind="postgresql"), export.index)[0].startswith(
        "the manifest's kind"
    )
    assert kx.check_manifest(dict(manifest, objects={"ConfigMap": 9}), export.index) == [
        "the manifest's object counts do not match the archive's index"
    ]


# ---------------------------------------------------------------------------------------
# Restore: loading, selection, retargeting, comparison, patches, diffs


def archive_of(listed, **options):
    export = kx.export_namespace("src", listed, **options)
    return kx.read_archive(kx.build_archive(export.files))


def test_load_objects_in_restore_order_and_decrypts_secrets():
    index, files = archive_of(listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    objects = kx.load_objects(index, files, PASSWORD)
    assert [kx.object_name(t, o) for t, o in objects] == [
        "ServiceAccount/runner",
        "Secret/app-credentials",
        "ConfigMap/a",
        "ConfigMap/b",
        "Deployment/web",
    ]
    assert objects[1][1]["data"]["password"] == base64.b64encode(SECRET_VALUE.encode()).decode()


def test_load_objects_needs_the_right_password_unless_secrets_are_left_out():
    index, files = archive_of(listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    with pytest.raises(kx.ExportError, match="Secret/app-credentials.yaml is encrypted with ansible-vault"):
        kx.load_objects(index, files)
    with pytest.raises(
        kx.ExportError, match="cannot decrypt Secret/app-credentials.yaml: wrong vault password"
    ):
        kx.load_objects(index, files, "guess")
    assert [t.kind for t, _o in kx.load_objects(index, files, exclude=["Secret"])] == [
        "ServiceAccount",
        "ConfigMap",
        "ConfigMap",
        "Deployment",
    ]


def test_a_secret_in_clear_is_refused():
    index, files = archive_of(listed_namespace(), include_secrets=True, vault_password=PASSWORD)
    files["Secret/app-credentials.yaml"] = wl.dump_yaml(kx.clean(rt("Secret"), secret()))
    with pytest.raises(kx.ExportError, match="not encrypted; refusing a Secret stored in clear"):
        kx.load_objects(index, files, PASSWORD)


def test_a_file_must_hold_the_object_it_is_named_after():
    index, files = archive_of(listed_namespace(False))
    files["ConfigMap/a.yaml"] = files["ConfigMap/b.yaml"]
    with pytest.raises(kx.ExportError, match="ConfigMap/a.yaml does not hold ConfigMap a"):
        kx.load_objects(index, files)


@pytest.mark.parametrize(
    "kinds, names, exclude, expected",
    [
        ([], [], [], True),
        (["ConfigMap"], [], [], True),
        (["Deployment"], [], [], False),
        ([], ["ConfigMap/app-*"], [], True),
        ([], ["ConfigMap/other"], [], False),
        ([], ["ConfigMap"], [], True),
        ([], [], ["ConfigMap/app-config"], False),
        ([], [], ["ConfigMap"], False),
        ([], [], ["Secret"], True),
    ],
)
def test_selection(kinds, names, exclude, expected):
    assert kx.selected(rt("ConfigMap"), "app-config", kinds, names, exclude) is expected


def test_selection_of_custom_resources_by_kind_or_folder():
    widget = kx.custom_type({"group": "example.com", "version": "v1", "kind": "Widget", "plural": "widgets"})
    assert kx.selected(widget, "w1", kinds=["Widget.example.com"])
    assert kx.selected(widget, "w1", kinds=["Widget"])
    assert kx.selected(widget, "w1", names=["Widget.example.com/w*"])
    assert not kx.selected(widget, "w1", exclude=["Widget/w1"])


def test_retarget_rewrites_the_namespace_and_rolebinding_subjects():
    binding = {
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": "src"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "runner", "namespace": "src"},
            {"kind": "ServiceAccount", "name": "auditor", "namespace": "kube-system"},
            {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
        ],
    }
    moved = kx.retarget(rt("RoleBinding"), binding, "src", "copy")
    assert moved["metadata"]["namespace"] == "copy"
    assert [s.get("namespace") for s in moved["subjects"]] == ["copy", "kube-system", None]
    assert binding["subjects"][0]["namespace"] == "src"  # the input is not modified
    same = kx.retarget(rt("ConfigMap"), {"metadata": {"name": "c", "namespace": "src"}}, "src", "src")
    assert same["metadata"]["namespace"] == "src"


def test_retarget_rewrites_service_account_groups_and_users_of_the_source_namespace():
    api = "rbac.authorization.k8s.io"
    binding = {
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": "src"},
        "subjects": [
            {"kind": "Group", "apiGroup": api, "name": "system:serviceaccounts:src"},
            {"kind": "User", "apiGroup": api, "name": "system:serviceaccount:src:ci"},
            {"kind": "Group", "apiGroup": api, "name": "system:serviceaccounts:kube-system"},
            {"kind": "User", "apiGroup": api, "name": "system:serviceaccount:kube-system:ci"},
            {"kind": "User", "apiGroup": api, "name": "system:serviceaccount:src-other:ci"},
            {"kind": "Group", "apiGroup": api, "name": "system:serviceaccounts"},
            {"kind": "Group", "apiGroup": api, "name": "system:serviceaccounts:src-other"},
        ],
    }
    moved = kx.retarget(rt("RoleBinding"), binding, "src", "copy")
    assert [s["name"] for s in moved["subjects"]] == [
        "system:serviceaccounts:copy",
        "system:serviceaccount:copy:ci",
        "system:serviceaccounts:kube-system",
        "system:serviceaccount:kube-system:ci",
        "system:serviceaccount:src-other:ci",
        "system:serviceaccounts",
        "system:serviceaccounts:src-other",
    ]
    assert binding["subjects"][0]["name"] == "system:serviceaccounts:src"
    # Only RoleBindings, and only into another namespace.
    assert kx.retarget(rt("RoleBinding"), binding, "src", "src")["subjects"] == binding["subjects"]


def _live(obj, **more):
    live = json.loads(json.dumps(obj))
    live["metadata"].update(SERVER_META)
    live["status"] = {"x": 1}
    for key, value in more.items():
        live[key] = value
    return live


def test_plan_create_update_none():
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "ns"},
        "data": {"k": "v"},
    }
    other = dict(cm, metadata={"name": "b", "namespace": "ns"})
    third = dict(cm, metadata={"name": "c", "namespace": "ns"})
    live_a = _live(cm)
    live_a.pop("apiVersion")  # LIST items carry no kind or apiVersion
    live_a.pop("kind")
    steps = [
        restore_step(rt("ConfigMap"), cm, live_a),
        restore_step(rt("ConfigMap"), other, _live(other, data={"k": "changed"})),
        restore_step(rt("ConfigMap"), third),
    ]
    assert [(s["label"], s["action"]) for s in steps] == [
        ("ConfigMap/a", "none"),
        ("ConfigMap/b", "update"),
        ("ConfigMap/c", "create"),
    ]
    assert steps[1]["body"] == {"metadata": {"name": "b", "namespace": "ns"}, "data": {"k": "v"}}
    assert steps[2]["body"] == third


def test_configmap_and_secret_data_are_restored_exactly():
    cm = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    live = _live(cm, data={"k": "v", "added": "later"}, binaryData={"blob": "AA=="})
    desired = kx.desired_state(rt("ConfigMap"), cm, live)
    assert desired["data"] == {"k": "v", "added": None} and desired["binaryData"] == {"blob": None}
    assert not wl.is_subset(desired, live)
    assert wl.is_subset(kx.desired_state(rt("ConfigMap"), cm, _live(cm)), _live(cm))
    # Other maps (labels) are not exact: what others add is left alone.
    labelled = {"kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "x"}}}
    live = _live(labelled)
    live["metadata"]["labels"]["added-by"] = "someone"
    assert wl.is_subset(kx.desired_state(rt("ConfigMap"), labelled, live), live)


def test_replicas_of_an_autoscaled_workload_are_left_to_the_hpa():
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
    }
    web = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    db = {"kind": "Deployment", "metadata": {"name": "db"}, "spec": {"replicas": 1}}
    objects = [(rt("Deployment"), web), (rt("Deployment"), db), (rt("HorizontalPodAutoscaler"), hpa)]
    autoscaled = kx.scaled_by_autoscaler(objects)
    assert autoscaled == {("Deployment", "web")}
    steps = [
        restore_step(rt("Deployment"), web, _live(web, spec={"replicas": 5}), autoscaled),
        restore_step(rt("Deployment"), db, _live(db, spec={"replicas": 3}), autoscaled),
    ]
    assert [s["action"] for s in steps] == ["none", "update"]
    assert steps[1]["body"]["spec"] == {"replicas": 1}
    # Created workloads get the archived replicas.
    assert restore_step(rt("Deployment"), web, None, autoscaled)["body"]["spec"]["replicas"] == 2


def _live_pvc(size, finalizers, **spec):
    return {
        "metadata": dict(
            SERVER_META,
            name="data",
            namespace="src",
            finalizers=finalizers,
            annotations={"pv.kubernetes.io/bind-completed": "yes"},
        ),
        "spec": dict(
            {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
                "storageClassName": "fast",
                "volumeName": "pvc-1234",
            },
            **spec,
        ),
        "status": {"phase": "Bound", "capacity": {"storage": size}},
    }


def test_finalizers_compare_as_a_set_and_live_ones_are_never_removed():
    pvc = rt("PersistentVolumeClaim")
    at_backup = _live_pvc("10Gi", ["kubernetes.io/pvc-protection", "example.com/guard"])
    archived = kx.clean(pvc, at_backup)
    assert archived["metadata"]["finalizers"] == ["example.com/guard"]
    # Restored onto the same, unchanged claim: nothing to do.
    assert restore_step(pvc, archived, at_backup)["action"] == "none"
    # The archived finalizer is gone: it is added, the server's stays.
    live = _live_pvc("10Gi", ["kubernetes.io/pvc-protection", "other.io/keep"])
    step = restore_step(pvc, archived, live)
    assert step["action"] == "update"
    assert step["body"]["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection",
        "other.io/keep",
        "example.com/guard",
    ]
    # Without live finalizers, the archived ones are sent; a created object gets them as archived.
    bare = _live_pvc("10Gi", None)
    bare["metadata"].pop("finalizers")
    step = restore_step(pvc, archived, bare)
    assert step["body"]["metadata"]["finalizers"] == ["example.com/guard"]
    assert restore_step(pvc, archived)["body"]["metadata"]["finalizers"] == ["example.com/guard"]


@pytest.mark.parametrize(
    "archived_size, live_size, action, sent",
    [
        ("10Gi", "20Gi", "none", None),  # expanded since the backup: never shrunk
        ("10Gi", "10737418240", "none", None),  # the same quantity, written differently
        ("10737418240", "10Gi", "none", None),
        ("10G", "10Gi", "none", None),
        ("20Gi", "10Gi", "update", "20Gi"),  # smaller than archived: expanded back
        ("10Gi", "not-a-quantity", "update", "10Gi"),
    ],
)
def test_a_claim_is_never_shrunk(archived_size, live_size, action, sent):
    pvc = rt("PersistentVolumeClaim")
    archived = kx.clean(pvc, _live_pvc(archived_size, ["kubernetes.io/pvc-protection"]))
    live = _live_pvc(live_size, ["kubernetes.io/pvc-protection"])
    step = restore_step(pvc, archived, live)
    assert step["action"] == action
    if sent:
        assert step["body"]["spec"]["resources"]["requests"]["storage"] == sent


def test_an_expanded_claim_updated_for_another_reason_keeps_its_size():
    pvc = rt("PersistentVolumeClaim")
    archived = kx.clean(pvc, _live_pvc("10Gi", ["kubernetes.io/pvc-protection"]))
    live = _live_pvc("20Gi", ["kubernetes.io/pvc-protection"], storageClassName="slow")
    step = restore_step(pvc, archived, live)
    assert step["action"] == "update"
    assert step["body"]["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_node_ports_the_archive_left_to_the_server_keep_their_live_values():
    svc = {
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "type": "NodePort",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        },
    }
    live = _live(svc)
    live["spec"]["ports"] = [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090, "nodePort": 30001}
    ]
    live["spec"]["clusterIP"] = "10.0.0.1"
    step = restore_step(rt("Service"), svc, live)
    assert step["action"] == "update"
    assert step["body"]["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30001}
    ]
    assert "clusterIP" not in step["body"]["spec"]  # a merge patch leaves it alone


def test_diff_of_a_secret_shows_keys_never_values():
    archived = kx.clean(rt("Secret"), secret())
    live = _live(archived)
    live["data"] = {
        "password": base64.b64encode(b"another-Value-also-secret").decode(),
        "user": "YXBw",
        "extra": "ZXh0cmEtc2VjcmV0LXZhbHVl",
    }
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
            {"stringData": {"password": "another-Value-also-secret"}}
        )
    }
    step = restore_step(rt("Secret"), archived, live)
    assert step["action"] == "update"
    diff = kx.diff_entry(rt("Secret"), step["label"], step["live"], step["desired"])
    text = diff["before"] + diff["after"]
    for leaked in (SECRET_VALUE, "another-Value-also-secret", "extra-secret-value"):
        assert leaked not in text
        assert base64.b64encode(leaked.encode()).decode() not in text
    assert yaml.safe_load(diff["before"])["data"] == {
        "extra": wl.REDACTED,
        "password": wl.REDACTED,
        "user": wl.REDACTED,
    }
    assert yaml.safe_load(diff["after"])["data"] == {"password": wl.REDACTED_CHANGED, "user": wl.REDACTED}


def test_diff_shows_the_archived_fields_only():
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "ns"},
        "data": {"k": "v"},
    }
    live = _live(cm, data={"k": "old"})
    diff = kx.diff_entry(rt("ConfigMap"), "ConfigMap/a", live, kx.desired_state(rt("ConfigMap"), cm, live))
    assert yaml.safe_load(diff["before"]) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "ns"},
        "data": {"k": "old"},
    }
    assert yaml.safe_load(diff["after"]) == cm
    created = kx.diff_entry(rt("ConfigMap"), "ConfigMap/a", None, cm)
    assert created["before"] == "" and yaml.safe_load(created["after"]) == cm


def test_only_exported_secrets_are_masked():
    token = served(
        "Secret",
        "default-token-abcde",
        {
            "type": "kubernetes.io/service-account-token",
            "data": {"namespace": base64.b64encode(b"mplp-production").decode(), "token": "dG9rZW4tdmFsdWU="},
        },
    )
    owned = secret("owned", value="owned-secret-value", ownerReferences=[{"kind": "X", "name": "y"}])
    listed = [
        (rt("ConfigMap"), [served("ConfigMap", "cfg", {"data": {"a": SECRET_VALUE}})]),
        (rt("Secret"), [token, secret(), owned]),
    ]
    exported = kx.exported_secrets(listed)
    assert [kx.object_name("Secret", o) for o in exported] == ["Secret/app-credentials"]
    values = wl.secret_values(exported)
    assert SECRET_VALUE in values
    assert "mplp-production" not in values and "owned-secret-value" not in values


# ---------------------------------------------------------------------------------------
# Reading the cluster


class FakeReader(Client):
    """The real client over a wire of canned pages: ``{path: {continue token: body} or status}``."""

    host = "https://k8s.test"

    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        self.calls.append((path, dict(query or [])))
        answer = self.pages[path]
        if isinstance(answer, int):
            return answer, b'{"kind":"Status","message":"denied by test"}'
        token = dict(query or []).get("continue") or ""
        return 200, json.dumps(answer[token]).encode()


def test_list_types_names_what_is_not_served_or_forbidden():
    widget = kx.custom_type({"group": "example.com", "version": "v1", "kind": "Widget", "plural": "widgets"})
    reader = FakeReader(
        {
            rt("ConfigMap").collection_path("ns"): {"": {"items": []}},
            widget.collection_path("ns"): 404,
            rt("Secret").collection_path("ns"): 403,
        }
    )
    assert kx.list_types(reader, "ns", [rt("ConfigMap")]) == [(rt("ConfigMap"), [])]
    with pytest.raises(
        kx.ExportError,
        match="Widget \\(example.com/v1\\) is not served by this cluster \\(is its CRD installed\\?\\)",
    ):
        kx.list_types(reader, "ns", [rt("ConfigMap"), widget])
    with pytest.raises(
        ApiError, match="permission denied to list secrets \\(v1\\) in namespace ns: denied by test"
    ):
        kx.list_types(reader, "ns", [rt("Secret")])
