"""config_restore's runner on an in-memory API: what is sent in which order, check mode, an
object made meanwhile, a refused write in the middle of a restore, and what is masked."""

from __future__ import annotations

import base64
import hashlib
import os

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.modules import config_restore


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(config_restore, check_mode, diff, **params)


class FakeApi(fakes.FakeApi):
    """The in-memory API with namespaces, objects that appear just before their create (as
    a new namespace's default ServiceAccount does), writes refused with a message, and the
    query of every write recorded."""

    def __init__(self, objects=None, namespaces=("src",), refuse=None, appear_on_create=None):
        objects = dict(objects or {})
        for name in namespaces:
            objects[NAMESPACES + "/" + name] = {"metadata": {"name": name}, "status": {"phase": "Active"}}
        super().__init__(objects)
        self.refuse_with = dict(refuse or {})
        self.appear_on_create = dict(appear_on_create or {})
        self.queries = []

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        self.queries.append(dict(query or []))
        if (method, path) in self.refuse_with:
            self.calls.append((method, path))
            return 422, {"kind": "Status", "message": self.refuse_with[(method, path)]}
        if method == "POST":
            key = "%s/%s" % (path, body["metadata"]["name"])
            if key in self.appear_on_create:
                self.objects[key] = self.appear_on_create.pop(key)
        return super().send(method, path, body, what, content_type, query, idempotent)

    def writes(self):
        return [call for call in self.calls if call[0] != "GET"]


NAMESPACES = "/api/v1/namespaces"
SA = "/api/v1/namespaces/dst/serviceaccounts/default"
CM = "/api/v1/namespaces/dst/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/dst/deployments"
HPA = "/apis/autoscaling/v2/namespaces/dst/horizontalpodautoscalers"


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


@pytest.fixture
def archive(tmp_path):
    return write_archive(tmp_path, listed_source())


def run(module, api):
    with pytest.raises(Exit):
        finish(module, kx.run_restore, api)
    return module.result


def test_new_namespace_objects_in_dependency_order_and_one_made_meanwhile(archive):
    # The namespace controller makes the default ServiceAccount right after the namespace.
    made = {SA: {"metadata": {"name": "default", "namespace": "dst"}}}
    api = FakeApi(namespaces=(), appear_on_create=made)
    result = run(FakeModule(archive=archive, namespace="dst", create_namespace=True), api)
    assert result["failed"] is False and result["namespace_created"] is True
    assert api.writes() == [
        ("POST", "/api/v1/namespaces"),
        ("POST", "/api/v1/namespaces/dst/serviceaccounts"),
        ("PATCH", SA),
        ("POST", CM),
        ("POST", DEPLOY),
        ("POST", HPA),
    ]
    assert result["updated"] == ["ServiceAccount/default"]
    assert result["created"] == ["ConfigMap/cfg", "Deployment/web", "HorizontalPodAutoscaler/web"]
    assert result["objects"][:2] == [
        {"object": "ServiceAccount/default", "action": "update"},
        {"object": "ConfigMap/cfg", "action": "create"},
    ]
    assert api.objects[SA]["imagePullSecrets"] == [{"name": "registry"}]
    assert api.objects[DEPLOY + "/web"]["spec"]["replicas"] == 2


def test_check_mode_sends_only_dry_runs(archive):
    existing = {CM + "/cfg": {"metadata": {"name": "cfg", "namespace": "dst"}, "data": {"k": "old"}}}
    api = FakeApi(objects=existing, namespaces=("dst",))
    before = dict(api.objects)
    result = run(FakeModule(archive=archive, check_mode=True, diff=True, namespace="dst"), api)
    assert result["failed"] is False and result["changed"] is True
    assert api.queries and all(query.get("dryRun") == "All" for query in api.queries)
    assert ("PATCH", CM + "/cfg") in api.writes()
    assert api.objects == before
    assert result["updated"] == ["ConfigMap/cfg"]
    assert [d["after_header"] for d in result["diff"]] == [
        "ServiceAccount/default (archive)",
        "ConfigMap/cfg (archive)",
        "Deployment/web (archive)",
        "HorizontalPodAutoscaler/web (archive)",
    ]


def test_check_mode_into_a_namespace_to_create_creates_nothing(archive):
    api = FakeApi(namespaces=())
    result = run(FakeModule(archive=archive, check_mode=True, namespace="dst", create_namespace=True), api)
    assert result["failed"] is False and result["changed"] is True and result["namespace_created"] is True
    assert len(result["created"]) == 4 and "Namespace/dst" not in result["created"]
    assert api.writes() == [("POST", NAMESPACES)] and api.queries == [
        {"dryRun": "All", "fieldManager": "multiagent.ops"}
    ]


def test_a_refused_write_names_the_object_and_stops_before_later_kinds(archive):
    api = FakeApi(
        namespaces=("dst",),
        refuse={("POST", DEPLOY): 'Deployment.apps "web" is invalid: spec.selector: Required value'},
    )
    result = run(FakeModule(archive=archive, namespace="dst"), api)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith(
        'Failed to create Deployment/web in namespace dst: HTTP 422 Deployment.apps "web" is invalid: '
        "spec.selector: Required value. Applied before the failure: ServiceAccount/default, ConfigMap/cfg. "
        "Not attempted: HorizontalPodAutoscaler/web."
    )
    assert result["created"] == ["ServiceAccount/default", "ConfigMap/cfg"]
    assert result["failed_objects"] == ["Deployment/web"] and result["not_attempted"] == [
        "HorizontalPodAutoscaler/web"
    ]
    assert ("POST", HPA) not in api.writes()


def test_a_refused_namespace_changes_nothing_and_names_it(archive):
    api = FakeApi(namespaces=(), refuse={("POST", NAMESPACES): "namespaces is forbidden"})
    result = run(FakeModule(archive=archive, namespace="dst", create_namespace=True), api)
    assert result["failed"] is True and result["changed"] is False and result["namespace_created"] is False
    assert result["msg"].startswith("Failed to create Namespace/dst: HTTP 422 namespaces is forbidden. ")
    assert result["msg"].endswith("fix the cause and run it again; nothing was changed")
    assert result["failed_objects"] == ["Namespace/dst"] and len(result["not_attempted"]) == 4


def test_a_missing_namespace_is_not_created_unless_asked(archive):
    api = FakeApi(namespaces=())
    result = run(FakeModule(archive=archive, namespace="dst"), api)
    assert result["failed"] is True
    assert (
        result["msg"]
        == "namespace dst does not exist; set create_namespace to create it; nothing was changed"
    )
    assert api.writes() == []


def test_a_namespace_being_deleted_is_not_restored_into(archive):
    api = FakeApi(namespaces=("dst",))
    api.objects[NAMESPACES + "/dst"]["status"]["phase"] = "Terminating"
    result = run(FakeModule(archive=archive, namespace="dst"), api)
    assert result["msg"] == (
        "namespace dst is being deleted; wait until it is gone, then restore; nothing was changed"
    )
    assert api.writes() == []


def test_an_archive_without_its_manifest_is_refused_before_any_request(archive, tmp_path):
    (tmp_path / artifact.manifest_name(archive.rsplit("/", 1)[1])).unlink()
    api = FakeApi(namespaces=("dst",))
    result = run(FakeModule(archive=archive, namespace="dst"), api)
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot restore from %s: the archive cannot be trusted: " % archive)
    assert result["msg"].endswith("; nothing was changed")
    assert api.calls == []


@pytest.mark.parametrize(
    "choice",
    [
        {"kinds": ["Deployment"]},
        {"names": ["Deployment/*"]},
        {"exclude": ["HorizontalPodAutoscaler", "ServiceAccount", "ConfigMap"]},
    ],
)
def test_replicas_an_archived_hpa_manages_are_kept_when_the_hpa_is_not_chosen(archive, choice):
    # The HPA scaled the Deployment up under load: the restore leaves its replicas alone.
    live = {DEPLOY + "/web": {"metadata": {"name": "web", "namespace": "dst"}, "spec": {"replicas": 7}}}
    api = FakeApi(objects=live, namespaces=("dst",))
    result = run(FakeModule(archive=archive, namespace="dst", **choice), api)
    assert result["failed"] is False and result["unchanged"] == ["Deployment/web"]
    assert result["objects"] == [{"object": "Deployment/web", "action": "none"}]
    assert api.writes() == [] and api.objects[DEPLOY + "/web"]["spec"]["replicas"] == 7


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
    result = run(module, FakeApi(namespaces=(namespace,)))
    assert result["failed"] is False and len(result["created"]) == 3
    assert "hunter2-long" in module.no_log_values and b64("hunter2-long") in module.no_log_values
    for shown in (namespace, "postgres", "not-restored-value"):
        assert shown not in module.no_log_values


# Moved from tests/integration/test_config_backup.py: an archive that cannot be trusted or
# opened is refused from the file alone, before any request (there: the target namespace was
# never created; here: nothing was asked of the API at all).
@pytest.fixture
def secret_archive(tmp_path):
    """An archive with an encrypted Secret, as config_backup writes it with include_secrets."""
    secret = {
        "metadata": {"name": "app-credentials", "namespace": "src", "labels": {"app": "app"}},
        "type": "Opaque",
        "data": {"password": b64("S3cr3t-value")},
    }
    listed = [(kx.BY_KIND["Secret"], [secret])] + listed_source()
    return write_archive(tmp_path, listed, include_secrets=True, vault_password="vault-pw")


@pytest.mark.parametrize(
    "damage,reason",
    [
        ("flipped", "sha256 is"),
        ("truncated", "(truncated or replaced?)"),
        ("no-manifest", "no manifest"),
        ("manifest-edited", "the manifest's target 'someone-else' is not the archive's namespace"),
    ],
)
def test_a_damaged_archive_is_refused_before_any_request(secret_archive, damage, reason):
    manifest_path = artifact.manifest_name(secret_archive)
    with open(secret_archive, "rb") as handle:
        data = handle.read()
    if damage == "flipped":
        data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "no-manifest":
        os.unlink(manifest_path)
    else:
        manifest = artifact.read_manifest(manifest_path)
        manifest["target"] = "someone-else"
        with open(manifest_path, "wb") as handle:
            handle.write(artifact.encode_manifest(manifest))
    with open(secret_archive, "wb") as handle:
        handle.write(data)
    api = FakeApi(namespaces=())
    result = run(
        FakeModule(archive=secret_archive, namespace="dst", create_namespace=True, vault_password="vault-pw"),
        api,
    )
    assert result["failed"] is True
    assert reason in result["msg"] and result["msg"].endswith("nothing was changed"), result["msg"]
    assert api.calls == []


def test_a_wrong_or_missing_vault_password_is_named_before_any_request(secret_archive):
    api = FakeApi(namespaces=())
    result = run(
        FakeModule(
            archive=secret_archive, namespace="dst", create_namespace=True, vault_password="not-the-password"
        ),
        api,
    )
    assert result["failed"] is True
    assert "cannot decrypt Secret/app-credentials.yaml: wrong vault password" in result["msg"]
    result = run(FakeModule(archive=secret_archive, namespace="dst", create_namespace=True), api)
    assert result["failed"] is True and "give the vault password, or leave Secrets out" in result["msg"]
    assert api.calls == []
