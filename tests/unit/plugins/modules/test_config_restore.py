"""config_restore's glue on a fake API: what is sent in which order, check mode, an object
made meanwhile, and a refused write in the middle of a restore."""

from __future__ import annotations

import base64
import hashlib
import json

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import Client
from ansible_collections.multiagent.ops.plugins.modules import config_restore


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(config_restore, check_mode, diff, **dict({"archive": "/x.tar.gz"}, **params))


class FakeApi(Client):
    """Namespaced objects by path; answers like the API server; records every write."""

    host = "https://k8s.test"

    def __init__(self, objects=None, namespaces=("src",), refuse=None, appear_on_create=None):
        self.objects = dict(objects or {})
        self.namespaces = set(namespaces)
        self.refuse = refuse or {}
        self.appear_on_create = appear_on_create or {}
        self.writes = []

    def get_optional(self, path, what):
        if path.startswith("/api/v1/namespaces/") and path.count("/") == 4:
            name = path.rsplit("/", 1)[1]
            return (
                {"metadata": {"name": name}, "status": {"phase": "Active"}}
                if name in self.namespaces
                else None
            )
        return self.objects.get(path)

    def request(self, path, query=None, **_):
        prefix = path + "/"
        items = [
            obj
            for key, obj in sorted(self.objects.items())
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]
        return 200, json.dumps({"items": items, "metadata": {}}).encode()

    def send(self, method, path, body, what):
        self.writes.append((method, path))
        base = path.split("?", 1)[0]
        if base in self.refuse:
            return 422, {"kind": "Status", "message": self.refuse[base]}
        if method == "POST":
            key = "%s/%s" % (base, body["metadata"]["name"])
            if key in self.appear_on_create:
                self.objects[key] = self.appear_on_create.pop(key)
            if key in self.objects:
                return 409, {"message": "already exists"}
            if "?dryRun" not in path:
                self.objects[key] = body
            return 201, body
        if "?dryRun" not in path:
            self.objects[base] = _merge(self.objects[base], body)
        return 200, self.objects[base]


def _merge(current, patch):
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = value
    return result


def loaded(listed):
    export = kx.export_namespace("src", listed)
    index, files = kx.read_archive(kx.build_archive(export.files))
    manifest = {"sha256": "0" * 64}
    return config_restore.Loaded(manifest, index, kx.load_objects(index, files))


def listed_source():
    sa = {"metadata": {"name": "default", "namespace": "src"}, "imagePullSecrets": [{"name": "registry"}]}
    cm = {"metadata": {"name": "cfg", "namespace": "src"}, "data": {"k": "v"}}
    web = {"metadata": {"name": "web", "namespace": "src"}, "spec": {"replicas": 2}}
    hpa = {
        "metadata": {"name": "web", "namespace": "src"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4},
    }
    return [
        (kx.BY_KIND["ServiceAccount"], [sa]),
        (kx.BY_KIND["ConfigMap"], [cm]),
        (kx.BY_KIND["Deployment"], [web]),
        (kx.BY_KIND["HorizontalPodAutoscaler"], [hpa]),
    ]


def run(module, api, archive):
    with pytest.raises(Exit):
        config_restore.run(module, api, archive)
    return module.result


SA = "/api/v1/namespaces/dst/serviceaccounts/default"
CM = "/api/v1/namespaces/dst/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/dst/deployments"
HPA = "/apis/autoscaling/v2/namespaces/dst/horizontalpodautoscalers"


def test_new_namespace_objects_in_dependency_order_and_one_made_meanwhile():
    # The namespace controller makes the default ServiceAccount right after the namespace.
    made = {SA: {"metadata": {"name": "default", "namespace": "dst"}}}
    api = FakeApi(namespaces=(), appear_on_create=made)
    result = run(FakeModule(namespace="dst", create_namespace=True), api, loaded(listed_source()))
    assert result["failed"] is False and result["namespace_created"] is True
    assert api.writes == [
        ("POST", "/api/v1/namespaces"),
        ("POST", "/api/v1/namespaces/dst/serviceaccounts"),
        ("PATCH", SA),
        ("POST", CM),
        ("POST", DEPLOY),
        ("POST", HPA),
    ]
    assert result["updated"] == ["ServiceAccount/default"]
    assert result["created"] == ["ConfigMap/cfg", "Deployment/web", "HorizontalPodAutoscaler/web"]
    assert api.objects[SA]["imagePullSecrets"] == [{"name": "registry"}]
    assert api.objects[DEPLOY + "/web"]["spec"]["replicas"] == 2


def test_check_mode_sends_only_dry_runs():
    existing = {CM + "/cfg": {"metadata": {"name": "cfg", "namespace": "dst"}, "data": {"k": "old"}}}
    api = FakeApi(objects=existing, namespaces=("dst",))
    result = run(FakeModule(check_mode=True, namespace="dst"), api, loaded(listed_source()))
    assert result["failed"] is False and result["changed"] is True
    assert all("?dryRun=All" in path for _method, path in api.writes)
    assert ("PATCH", CM + "/cfg?dryRun=All") in api.writes
    assert api.objects == existing


def test_a_refused_write_names_the_object_and_stops_before_later_kinds():
    api = FakeApi(
        namespaces=("dst",),
        refuse={DEPLOY: 'Deployment.apps "web" is invalid: spec.selector: Required value'},
    )
    result = run(FakeModule(namespace="dst"), api, loaded(listed_source()))
    assert result["failed"] is True
    assert result["msg"].startswith(
        'Failed to create Deployment/web in namespace dst: HTTP 422 Deployment.apps "web" is invalid: '
        "spec.selector: Required value. Applied before the failure: ServiceAccount/default, ConfigMap/cfg. "
        "Not attempted: HorizontalPodAutoscaler/web."
    )
    assert result["created"] == ["ServiceAccount/default", "ConfigMap/cfg"]
    assert result["failed_objects"] == ["Deployment/web"] and result["not_attempted"] == [
        "HorizontalPodAutoscaler/web"
    ]
    assert ("POST", HPA) not in api.writes


def test_a_missing_namespace_is_not_created_unless_asked():
    api = FakeApi(namespaces=())
    result = run(FakeModule(namespace="dst"), api, loaded(listed_source()))
    assert result["failed"] is True
    assert (
        result["msg"]
        == "namespace dst does not exist; set create_namespace to create it; nothing was changed"
    )
    assert api.writes == []


def write_archive(tmp_path, listed, namespace="src", **options):
    """An archive and its manifest on disk, as config_backup writes them."""
    export = kx.export_namespace(namespace, listed, **options)
    data = kx.build_archive(export.files)
    path = tmp_path / ("config-%s-20261122T020000Z.tar.gz" % namespace)
    path.write_bytes(data)
    manifest = artifact.new_manifest(
        kx.MANIFEST_KIND,
        namespace,
        path.name,
        kx.ARCHIVE_FORMAT,
        kx.COMPRESSION,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        started="2026-11-22T02:00:00Z",
        finished="2026-11-22T02:00:01Z",
        objects=export.counts,
    )
    manifest["status"] = "complete"
    (tmp_path / artifact.manifest_name(path.name)).write_bytes(artifact.encode_manifest(manifest))
    return str(path)


@pytest.mark.parametrize(
    "choice",
    [
        {"kinds": ["Deployment"]},
        {"names": ["Deployment/*"]},
        {"exclude": ["HorizontalPodAutoscaler", "ServiceAccount", "ConfigMap"]},
    ],
)
def test_replicas_an_archived_hpa_manages_are_kept_when_the_hpa_is_not_chosen(tmp_path, choice):
    archive = write_archive(tmp_path, listed_source())
    module = FakeModule(archive=archive, namespace="dst", **choice)
    data = config_restore.load(module)
    assert [kx.object_name(t, o) for t, o in data.objects] == ["Deployment/web"]
    # The HPA scaled the Deployment up under load: the restore leaves its replicas alone.
    live = {DEPLOY + "/web": {"metadata": {"name": "web", "namespace": "dst"}, "spec": {"replicas": 7}}}
    api = FakeApi(objects=live, namespaces=("dst",))
    result = run(module, api, data)
    assert result["failed"] is False and result["unchanged"] == ["Deployment/web"]
    assert api.writes == [] and api.objects[DEPLOY + "/web"]["spec"]["replicas"] == 7


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_only_restored_secret_values_are_masked_and_never_names_or_paths(tmp_path):
    namespace = "mplp-production"
    secrets = [
        {
            "metadata": {"name": "app-credentials"},
            "type": "Opaque",
            "data": {"password": b64("hunter2-long")},
        },
        # Values that are also the namespace, part of an object's name or of the archive's path.
        {
            "metadata": {"name": "postgres"},
            "type": "Opaque",
            "data": {"ns": b64(namespace), "user": b64("postgres")},
        },
        {"metadata": {"name": "other"}, "type": "Opaque", "data": {"token": b64("not-restored-value")}},
    ]
    listed = [
        (kx.BY_KIND["Secret"], secrets),
        (kx.BY_KIND["ConfigMap"], [{"metadata": {"name": "postgres-settings"}, "data": {"a": "b"}}]),
    ]
    archive = write_archive(
        tmp_path, listed, namespace=namespace, include_secrets=True, vault_password="pw-123456"
    )
    module = FakeModule(
        archive=archive,
        vault_password="pw-123456",
        names=["Secret/app-credentials", "Secret/postgres", "ConfigMap/*"],
    )
    data = config_restore.load(module)
    assert len(data.objects) == 3
    assert "hunter2-long" in module.no_log_values and b64("hunter2-long") in module.no_log_values
    for shown in (namespace, "postgres", "not-restored-value"):
        assert shown not in module.no_log_values
