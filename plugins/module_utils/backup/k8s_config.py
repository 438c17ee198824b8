# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration backup of a namespace: export, archive and restore (multiagent.ops.config_backup
and multiagent.ops.config_restore, whose runners are at the end).

Export: what the API server returns is cleaned down to what a person or a tool wrote
(server-set fields, controller-owned and auto-generated objects left out, see clean() and
skip_reason()), one YAML file per object, ``<Kind>/<name>.yaml`` (``<Kind>.<group>/...``
for custom resources, whose kinds may repeat built-in ones), plus ``index.yaml`` that
describes the archive. The archive is a tar in gzip with sorted entries, fixed times and
owners and sorted YAML keys, so an unchanged namespace gives the same bytes.

Secrets are exported only when asked for, and then each file is an ansible-vault
document (see vault.py): ``ansible-vault view Secret/x.yaml`` opens it.

Restore: the archived objects go through the one apply engine (k8s/apply/applier.py) with
the restore's policy (:class:`RestorePolicy`), in dependency order (the order of BUILTIN,
custom resources last, a tier per kind) into the same or another namespace. An object is
unchanged when every field the archive sets has the archived value in the live object
(fields the server or others added are not looked at); otherwise it is updated with a
JSON merge patch of the archived object, which sets exactly those fields. ConfigMap and
Secret ``data``/``binaryData`` are restored exactly (keys added since the backup are
removed).
"""

from __future__ import annotations

import copy
import fnmatch
import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact, vault
from ansible_collections.multiagent.ops.plugins.module_utils.backup.store import LocalStore, StoreError
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply.applier import Applier
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, status_message
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.objects import parse_quantity

FORMAT = "multiagent.ops/kubernetes-config"
FORMAT_VERSION = 1
MANIFEST_KIND = "kubernetes-config"
INDEX = "index.yaml"
ARCHIVE_EXT = ".tar.gz"
ARCHIVE_FORMAT = "tar"
COMPRESSION = "gzip"
MAX_MEMBER = 64 << 20  # a single object file larger than this is not a Kubernetes object


class ExportError(Exception):
    """An export, archive or restore plan that cannot proceed; the message names the object."""


class ResourceType(resources.Resource):
    """A namespaced kind this module backs up: the registry's Resource, with the archive's
    folder for it (``Kind``, or ``Kind.group`` for a custom resource, whose kind may repeat a
    built-in one)."""

    __slots__ = ("custom",)

    def __init__(self, kind, api_version, plural, custom=False):
        group, version = resources.split_api_version(api_version)
        super().__init__(group, version, kind, plural, namespaced=True)
        self.custom = custom

    @classmethod
    def of(cls, kind):
        """The registry's built-in kind as a ResourceType."""
        known = resources.get(kind)
        return cls(known.kind, known.api_version, known.plural)

    @property
    def dir(self):
        return "%s.%s" % (self.kind, self.group) if self.custom else self.kind

    def to_index(self):
        return {"kind": self.kind, "apiVersion": self.api_version, "plural": self.plural, "dir": self.dir}

    def __repr__(self):
        return "ResourceType(%r, %r, %r, custom=%r)" % (self.kind, self.api_version, self.plural, self.custom)


# Restore order: what others refer to comes first (identities, credentials and
# configuration, then storage and networking, then the workloads that use them, then what
# refers to workloads). Custom resources come last.
BUILTIN = tuple(
    ResourceType.of(kind)
    for kind in (
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
    )
)
BY_KIND = {rt.kind: rt for rt in BUILTIN}
SECRET = "Secret"

# Metadata a person or tool writes; everything else in metadata is set by the server.
KEEP_METADATA = ("name", "namespace", "labels", "annotations", "finalizers")
SERVER_ANNOTATIONS = frozenset(
    (
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "volume.beta.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/selected-node",
        "control-plane.alpha.kubernetes.io/leader",
        "kubernetes.io/service-account.uid",
    )
)
SERVER_ANNOTATION_PREFIXES = (
    "pv.kubernetes.io/",
    "autoscaling.alpha.kubernetes.io/",
    "endpoints.kubernetes.io/",
)
SERVER_FINALIZERS = frozenset(("kubernetes.io/pvc-protection", "foregroundDeletion", "orphan"))
SERVER_NAMESPACE_LABELS = frozenset(("kubernetes.io/metadata.name",))
# Labels the Job controller puts on a Job's pods and selector; in a CronJob's template
# they come from copying a Job and would make every Job the CronJob starts invalid.
JOB_CONTROLLER_LABELS = (
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
)
NODE_PORT_CHOICES = ("auto", "keep", "drop")


# ---------------------------------------------------------------------------------------
# Kinds


def custom_type(spec, discovery=None):
    """A ResourceType for a listed custom resource ``{group, version, kind, plural?}``.

    Without a plural, ``discovery`` (the APIResourceList of ``/apis/<group>/<version>``) names
    it; a cluster-scoped kind is refused (it is not part of a namespace).
    """
    group, version, kind = (spec.get(key) for key in ("group", "version", "kind"))
    if not group or not version or not kind:
        raise ExportError("a custom resource needs group, version and kind: %r" % (spec,))
    plural = spec.get("plural")
    api_version = "%s/%s" % (group, version)
    if discovery is not None:
        for resource in discovery.get("resources") or []:
            if "/" in resource.get("name", ""):
                continue
            if resource.get("kind") == kind and (plural is None or resource["name"] == plural):
                if not resource.get("namespaced", True):
                    raise ExportError(
                        "%s (%s) is cluster-scoped: it is not part of a namespace's configuration"
                        % (kind, api_version)
                    )
                plural = resource["name"]
                break
        else:
            raise ExportError(
                "%s is not served by %s on this cluster (is its CRD installed?)" % (kind, api_version)
            )
    if not plural:
        raise ExportError("no plural known for %s (%s)" % (kind, api_version))
    if (kind, group) in {(rt.kind, rt.group) for rt in BUILTIN}:
        raise ExportError("%s (%s) is a built-in kind, always exported" % (kind, api_version))
    return ResourceType(kind, api_version, plural, custom=True)


def builtin_types(kinds=None, include_secrets=False):
    """The built-in kinds to export, in restore order; Secrets only when asked for."""
    unknown = sorted(set(kinds or ()) - set(BY_KIND))
    if unknown:
        raise ExportError(
            "unknown kind(s) %s; the built-in kinds are %s" % (", ".join(unknown), ", ".join(BY_KIND))
        )
    chosen = [rt for rt in BUILTIN if not kinds or rt.kind in kinds]
    return [rt for rt in chosen if rt.kind != SECRET or include_secrets]


# ---------------------------------------------------------------------------------------
# Reading the cluster


def list_types(reader, namespace, types, workers=16):
    """``[(ResourceType, items)]``: one LIST (paged by the client) per kind, all kinds at once. A kind the
    cluster does not serve (404) raises ExportError naming it."""
    if not types:
        return []

    def one(rt):
        what = "list %s (%s) in namespace %s" % (rt.plural, rt.api_version, namespace)
        try:
            return reader.list(rt.collection_path(namespace), what)
        except ApiError as exc:
            if exc.kind == "not_found":
                raise ExportError(
                    "%s (%s) is not served by this cluster%s"
                    % (rt.kind, rt.api_version, " (is its CRD installed?)" if rt.custom else "")
                ) from None
            raise

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(types)))) as pool:
        futures = [pool.submit(one, rt) for rt in types]
        return [(rt, future.result()) for rt, future in zip(types, futures, strict=True)]


# ---------------------------------------------------------------------------------------
# Cleaning


def _meta(obj):
    return obj.get("metadata") or {}


def object_name(rt_or_kind, obj_or_name):
    kind = rt_or_kind.dir if isinstance(rt_or_kind, ResourceType) else rt_or_kind
    name = obj_or_name if isinstance(obj_or_name, str) else _meta(obj_or_name).get("name")
    return "%s/%s" % (kind, name)


def skip_reason(rt, obj):
    """Why an object listed in the namespace is not part of its configuration (None: it is)."""
    meta = _meta(obj)
    owners = meta.get("ownerReferences") or []
    if owners:
        owner = owners[0]
        return "owned by %s/%s (its controller recreates it)" % (owner.get("kind"), owner.get("name"))
    if meta.get("deletionTimestamp"):
        return "being deleted"
    if rt.kind == "ConfigMap" and meta.get("name") == "kube-root-ca.crt":
        return "created by Kubernetes in every namespace"
    if rt.kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
        return "a ServiceAccount token (Kubernetes makes it)"
    if rt.kind == "ServiceAccount" and meta.get("name") == "default":
        cleaned = clean(rt, obj)
        configured = set(cleaned) - {"apiVersion", "kind", "metadata"}
        if not configured and not set(cleaned["metadata"]) - {"name", "namespace"}:
            return "created by Kubernetes in every namespace (and not configured)"
    return None


def _clean_map(values, drop=(), prefixes=()):
    kept = {k: v for k, v in (values or {}).items() if k not in drop and not k.startswith(prefixes)}
    return kept or None


def clean_metadata(meta):
    cleaned = {key: copy.deepcopy(meta[key]) for key in KEEP_METADATA if meta.get(key) not in (None, "")}
    annotations = _clean_map(cleaned.get("annotations"), SERVER_ANNOTATIONS, SERVER_ANNOTATION_PREFIXES)
    labels = _clean_map(cleaned.get("labels"))
    finalizers = [f for f in cleaned.get("finalizers") or [] if f not in SERVER_FINALIZERS]
    for key, value in (("annotations", annotations), ("labels", labels), ("finalizers", finalizers)):
        if value:
            cleaned[key] = value
        else:
            cleaned.pop(key, None)
    return cleaned


def _clean_template_metadata(template):
    """Pod and claim templates: a ``creationTimestamp: null`` the API serves, nothing else."""
    if not isinstance(template, dict):
        return
    meta = template.get("metadata")
    if isinstance(meta, dict):
        meta.pop("creationTimestamp", None)
        if not meta:
            template.pop("metadata")


def _last_applied(meta):
    raw = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/last-applied-configuration")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _clean_service(obj, meta, node_ports):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for allocated in ("clusterIP", "clusterIPs"):
        if spec.get("clusterIP") != "None":  # a headless Service says so on purpose
            spec.pop(allocated, None)
    applied_spec = _last_applied(meta).get("spec") or {}
    explicit = set()
    for port in applied_spec.get("ports") or []:
        if isinstance(port, dict) and port.get("nodePort"):
            explicit.add((port.get("name"), port.get("port")))
            explicit.add(("#nodePort", port.get("nodePort")))
    for port in spec.get("ports") or []:
        if not isinstance(port, dict) or "nodePort" not in port or node_ports == "keep":
            continue
        if node_ports == "auto" and (
            (port.get("name"), port.get("port")) in explicit or ("#nodePort", port["nodePort"]) in explicit
        ):
            continue
        del port["nodePort"]
    if "healthCheckNodePort" in spec and not (
        node_ports == "keep" or (node_ports == "auto" and applied_spec.get("healthCheckNodePort"))
    ):
        del spec["healthCheckNodePort"]


def _clean_cronjob(obj):
    job_template = (obj.get("spec") or {}).get("jobTemplate")
    if not isinstance(job_template, dict):
        return
    _clean_template_metadata(job_template)
    job_spec = job_template.get("spec") or {}
    template = job_spec.get("template")
    _clean_template_metadata(template)
    labels = ((template or {}).get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        for label in JOB_CONTROLLER_LABELS:
            labels.pop(label, None)
        if not labels:
            template["metadata"].pop("labels")
            if not template["metadata"]:
                template.pop("metadata")
    selector = job_spec.get("selector") or {}
    if any(label in (selector.get("matchLabels") or {}) for label in JOB_CONTROLLER_LABELS):
        job_spec.pop("selector", None)
        job_spec.pop("manualSelector", None)


def clean(rt, obj, node_ports="auto"):
    """The object as its author wrote it: no status, no server-set metadata or fields.

    ``node_ports``: ``auto`` keeps a Service's nodePorts (and healthCheckNodePort) only where
    its last-applied configuration set them explicitly (the server picks the others, and
    restoring a picked one into another namespace of the same cluster would collide);
    ``keep`` keeps them all, ``drop`` none.
    """
    if node_ports not in NODE_PORT_CHOICES:
        raise ExportError("node_ports must be one of %s" % ", ".join(NODE_PORT_CHOICES))
    source_meta = _meta(obj)
    result = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": clean_metadata(source_meta)}
    for key, value in obj.items():
        if key not in ("apiVersion", "kind", "metadata", "status"):
            result[key] = copy.deepcopy(value)
    spec = result.get("spec") if isinstance(result.get("spec"), dict) else {}
    if rt.kind == "Service":
        _clean_service(result, source_meta, node_ports)
    elif rt.kind == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
    elif rt.kind == "ServiceAccount":
        result.pop("secrets", None)
    elif rt.kind in ("Deployment", "StatefulSet"):
        _clean_template_metadata(spec.get("template"))
        for claim in spec.get("volumeClaimTemplates") or []:
            if isinstance(claim, dict):
                claim.pop("status", None)
                _clean_template_metadata(claim)
                claim.setdefault("apiVersion", "v1")
                claim.setdefault("kind", "PersistentVolumeClaim")
    elif rt.kind == "CronJob":
        _clean_cronjob(result)
    return result


def clean_namespace(namespace_obj):
    """The labels and annotations of the Namespace itself (pod security levels, ...)."""
    meta = clean_metadata(_meta(namespace_obj or {}))
    labels = _clean_map(meta.get("labels"), SERVER_NAMESPACE_LABELS)
    result = {}
    if labels:
        result["labels"] = labels
    if meta.get("annotations"):
        result["annotations"] = meta["annotations"]
    return result


# ---------------------------------------------------------------------------------------
# The archive


def _load_yaml(data, where):
    try:
        return wl.load_yaml(data, where)
    except wl.YamlError as exc:
        raise ExportError(str(exc)) from None


class Export:
    """What one namespace's export holds: ``files`` (archive name -> bytes), ``counts``
    (objects per folder), ``left_out`` (``{object, reason}``) and the ``index``."""

    def __init__(self, files, counts, left_out, index):
        self.files = files
        self.counts = counts
        self.left_out = left_out
        self.index = index


def export_namespace(
    namespace,
    listed,
    namespace_obj=None,
    include_secrets=False,
    vault_password=None,
    vault_id=None,
    node_ports="auto",
):
    """Build the archive's files from ``listed``: ``[(ResourceType, [items])]`` in order.

    Secrets are encrypted with ``vault_password`` (required when Secrets are listed), with
    salts derived from each plaintext so that unchanged Secrets encrypt identically.
    """
    types = [rt for rt, _items in listed]
    if any(rt.kind == SECRET for rt in types):
        if not include_secrets:
            raise ExportError("Secrets are listed but include_secrets is false")
        if not vault_password:
            raise ExportError("Secrets are exported only encrypted: a vault password is required")
    salt_for = vault.SaltDeriver(vault_password) if include_secrets and vault_password else None
    files, counts, left_out, resources = {}, {}, [], []
    for rt, items in listed:
        counts[rt.dir] = 0
        for item in sorted(items, key=lambda obj: _meta(obj).get("name") or ""):
            reason = skip_reason(rt, item)
            if reason:
                left_out.append({"object": object_name(rt, item), "reason": reason})
                continue
            obj = clean(rt, item, node_ports=node_ports)
            data = wl.dump_yaml(obj)
            if rt.kind == SECRET:
                data = vault.encrypt(data, vault_password, salt=salt_for(data), vault_id=vault_id)
            files[member_name(rt, obj["metadata"]["name"])] = data
            counts[rt.dir] += 1
        entry = rt.to_index()
        entry["count"] = counts[rt.dir]
        if rt.custom:
            entry["custom"] = True
        resources.append(entry)
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "namespace": namespace,
        "namespace_metadata": clean_namespace(namespace_obj),
        "secrets": "encrypted" if include_secrets else "excluded",
        "encryption": vault.ENCRYPTION if include_secrets else "none",
        "resources": resources,
        "files": sorted(files),
    }
    files[INDEX] = wl.dump_yaml(index)
    return Export(files, counts, left_out, index)


def member_name(rt, name):
    if not name or "/" in name or name in (".", ".."):
        raise ExportError("%s has an invalid name %r" % (rt.kind, name))
    return "%s/%s.yaml" % (rt.dir, name)


def build_archive(files):
    """A tar.gz of ``files`` whose bytes depend on the contents only: sorted entries, mtime 0,
    owner 0/0 without names, modes 0700/0600, no name or time in the gzip header."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs = sorted({name.rpartition("/")[0] for name in files if "/" in name})
            for entry in dirs:
                info = _tarinfo(entry, tarfile.DIRTYPE, 0o700, 0)
                tar.addfile(info)
            for name in sorted(files):
                data = files[name]
                tar.addfile(_tarinfo(name, tarfile.REGTYPE, 0o600, len(data)), io.BytesIO(data))
    return raw.getvalue()


def _tarinfo(name, kind, mode, size):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def read_archive(data):
    """``(index, files)`` from archive bytes; refuses anything that is not plain files in
    folders (links, devices, absolute or ``..`` paths) and a missing or foreign index."""
    files = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = member.name
                parts = name.split("/")
                if name.startswith("/") or ".." in parts or posixpath.normpath(name) != name:
                    raise ExportError("the archive holds an unsafe path %r" % name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ExportError("the archive holds %r, which is not a plain file" % name)
                if member.size > MAX_MEMBER:
                    raise ExportError("%s in the archive is too large (%d bytes)" % (name, member.size))
                files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ExportError("the archive cannot be read: %s" % exc) from None
    if INDEX not in files:
        raise ExportError("the archive has no %s: it was not written by config_backup" % INDEX)
    index = _load_yaml(files.pop(INDEX), INDEX)
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ExportError("%s does not describe a %s archive" % (INDEX, FORMAT))
    if int(index.get("format_version") or 0) > FORMAT_VERSION:
        raise ExportError(
            "the archive's format_version %s is newer than this collection reads"
            % index.get("format_version")
        )
    listed = sorted(index.get("files") or [])
    if listed != sorted(files):
        missing = sorted(set(listed) - set(files))
        extra = sorted(set(files) - set(listed))
        raise ExportError(
            "the archive's files do not match its index (missing: %s; not listed: %s)"
            % (", ".join(missing) or "none", ", ".join(extra) or "none")
        )
    return index, files


def check_manifest(manifest, index):
    """Why the manifest and the archive's index disagree (empty: they agree)."""
    problems = []
    if manifest.get("kind") != MANIFEST_KIND:
        problems.append("the manifest's kind is %r, not %s" % (manifest.get("kind"), MANIFEST_KIND))
    if manifest.get("target") != index.get("namespace"):
        problems.append(
            "the manifest's target %r is not the archive's namespace %r"
            % (manifest.get("target"), index.get("namespace"))
        )
    counts = {entry.get("dir"): entry.get("count") for entry in index.get("resources") or []}
    if manifest.get("objects") is not None and manifest.get("objects") != counts:
        problems.append("the manifest's object counts do not match the archive's index")
    return problems


# ---------------------------------------------------------------------------------------
# Restore


def index_types(index):
    """The archive's kinds in restore order: built-ins by BUILTIN, then custom resources."""
    types = []
    for entry in index.get("resources") or []:
        kind, api_version, plural = entry.get("kind"), entry.get("apiVersion"), entry.get("plural")
        if not kind or not api_version or not plural:
            raise ExportError("%s lists a resource without kind, apiVersion or plural: %r" % (INDEX, entry))
        custom = bool(entry.get("custom"))
        rt = ResourceType(kind, api_version, plural, custom=custom)
        if rt.dir != entry.get("dir"):
            raise ExportError("%s: folder %r does not match %s" % (INDEX, entry.get("dir"), rt.dir))
        types.append(rt)
    builtin_rank = {rt.kind: i for i, rt in enumerate(BUILTIN)}
    return sorted(types, key=lambda rt: (1, 0) if rt.custom else (0, builtin_rank.get(rt.kind, len(BUILTIN))))


def selected(rt, name, kinds=None, names=None, exclude=None):
    """Whether ``Kind/name`` is chosen: ``kinds`` (folder or kind names), ``names`` and
    ``exclude`` (``Kind/name`` patterns, shell-style, or bare kinds)."""
    label = object_name(rt, name)

    def matches(pattern):
        if "/" not in pattern:
            return pattern in (rt.kind, rt.dir)
        return fnmatch.fnmatchcase(label, pattern) or fnmatch.fnmatchcase("%s/%s" % (rt.kind, name), pattern)

    if kinds and rt.kind not in kinds and rt.dir not in kinds:
        return False
    if names and not any(matches(p) for p in names):
        return False
    return not any(matches(p) for p in exclude or ())


def load_objects(index, files, vault_password=None, kinds=None, names=None, exclude=None):
    """``[(ResourceType, object)]`` chosen from the archive, in restore order.

    Encrypted Secrets need ``vault_password``; a wrong one fails here, before any change.
    """
    chosen = []
    for rt in index_types(index):
        prefix = rt.dir + "/"
        members = sorted(name for name in files if name.startswith(prefix))
        for member in members:
            name = member[len(prefix) : -len(".yaml")] if member.endswith(".yaml") else None
            if not name or "/" in name:
                raise ExportError("unexpected file %s in the archive" % member)
            if not selected(rt, name, kinds, names, exclude):
                continue
            data = files[member]
            if vault.is_encrypted(data):
                if not vault_password:
                    raise ExportError(
                        "%s is encrypted with ansible-vault: give the vault password, or leave Secrets "
                        "out (exclude: [Secret])" % member
                    )
                try:
                    data = vault.decrypt(data, vault_password)
                except vault.VaultError as exc:
                    raise ExportError("cannot decrypt %s: %s" % (member, exc)) from None
            elif rt.kind == SECRET:
                raise ExportError("%s is not encrypted; refusing a Secret stored in clear" % member)
            obj = _load_yaml(data, member)
            if not isinstance(obj, dict) or _meta(obj).get("name") != name or obj.get("kind") != rt.kind:
                raise ExportError("%s does not hold %s %s" % (member, rt.kind, name))
            chosen.append((rt, obj))
    return chosen


SA_GROUP_PREFIX = "system:serviceaccounts:"  # the group of all ServiceAccounts of a namespace
SA_USER_PREFIX = "system:serviceaccount:"  # the user name of one ServiceAccount


def retarget(rt, obj, source_namespace, target_namespace):
    """The object for the target namespace: its namespace, and RoleBinding subjects that
    pointed at the source namespace: a ``namespace`` field, and the ServiceAccounts of the
    source namespace named as a Group (``system:serviceaccounts:<ns>``) or a User
    (``system:serviceaccount:<ns>:<name>``)."""
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})["namespace"] = target_namespace
    if rt.kind == "RoleBinding" and source_namespace != target_namespace:
        for subject in obj.get("subjects") or []:
            if isinstance(subject, dict):
                _retarget_subject(subject, source_namespace, target_namespace)
    return obj


def _retarget_subject(subject, source_namespace, target_namespace):
    if subject.get("namespace") == source_namespace:
        subject["namespace"] = target_namespace
    name = subject.get("name")
    if not isinstance(name, str):
        return
    if subject.get("kind") == "Group" and name == SA_GROUP_PREFIX + source_namespace:
        subject["name"] = SA_GROUP_PREFIX + target_namespace
    elif subject.get("kind") == "User" and name.startswith(SA_USER_PREFIX + source_namespace + ":"):
        account = name[len(SA_USER_PREFIX + source_namespace + ":") :]
        if account and ":" not in account:
            subject["name"] = "%s%s:%s" % (SA_USER_PREFIX, target_namespace, account)


def scaled_by_autoscaler(objects):
    """``{(kind, name)}`` of workloads an archived HPA scales: their replicas are the HPA's
    business once they exist, so a restore sets them only when it creates the workload."""
    targets = set()
    for rt, obj in objects:
        if rt.kind == "HorizontalPodAutoscaler":
            ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") and ref.get("name"):
                targets.add((ref["kind"], ref["name"]))
    return targets


EXACT_MAPS = {"ConfigMap": ("data", "binaryData"), "Secret": ("data",)}


def desired_state(rt, obj, live, autoscaled=()):
    """What the restore compares and sends for an existing object: the archived object,
    without ``spec.replicas`` of a workload an HPA scales, with the live data keys the
    archive does not have set to None (removed) for ConfigMaps and Secrets, the live
    finalizers kept (the archived ones added), and a claim's live storage request kept
    when it is at least the archived one."""
    desired = copy.deepcopy(obj)
    if (rt.kind, _meta(obj).get("name")) in autoscaled and isinstance(desired.get("spec"), dict):
        desired["spec"].pop("replicas", None)
    _keep_live_finalizers(desired, live)
    if rt.kind == "Service":
        _keep_node_ports(desired, live)
    elif rt.kind == "PersistentVolumeClaim":
        _keep_expanded_storage(desired, live)
    for field in EXACT_MAPS.get(rt.kind, ()):
        extra = set((live or {}).get(field) or {}) - set(desired.get(field) or {})
        if extra:
            desired.setdefault(field, {}).update(dict.fromkeys(sorted(extra)))
    return desired


def _keep_live_finalizers(desired, live):
    """The archived finalizers are a set that the live list must hold, not the whole list:
    the server and controllers add their own (``kubernetes.io/pvc-protection``, left out of
    the archive), and a merge patch replaces a list whole. So the list compared and sent is
    the live one plus the archived finalizers it lacks: a restore never removes one."""
    meta = desired.get("metadata")
    wanted = meta.get("finalizers") if isinstance(meta, dict) else None
    have = _meta(live or {}).get("finalizers")
    if not isinstance(wanted, list) or not isinstance(have, list):
        return
    meta["finalizers"] = list(have) + [f for f in wanted if f not in have]


def _keep_expanded_storage(desired, live):
    """A claim expanded since the backup keeps its size: Kubernetes refuses to shrink a
    claim, so a live storage request of at least the archived one matches (and is what a
    patch sends)."""
    requests = ((desired.get("spec") or {}).get("resources") or {}).get("requests")
    live_requests = (((live or {}).get("spec") or {}).get("resources") or {}).get("requests") or {}
    if not isinstance(requests, dict) or "storage" not in requests or "storage" not in live_requests:
        return
    try:
        larger = parse_quantity(live_requests["storage"]) >= parse_quantity(requests["storage"])
    except (ValueError, TypeError):
        return
    if larger:
        requests["storage"] = live_requests["storage"]


def _keep_node_ports(desired, live):
    """Node ports the archive leaves to the server keep the live values: a merge patch
    replaces the ports list whole, and a port without nodePort would get a new one."""
    spec, live_spec = desired.get("spec"), (live or {}).get("spec") or {}
    if not isinstance(spec, dict) or spec.get("type", live_spec.get("type")) not in (
        "NodePort",
        "LoadBalancer",
    ):
        return
    allocated = {}
    for port in live_spec.get("ports") or []:
        if isinstance(port, dict) and port.get("nodePort"):
            allocated[(port.get("name"), port.get("port"), port.get("protocol", "TCP"))] = port["nodePort"]
    for port in spec.get("ports") or []:
        if isinstance(port, dict) and not port.get("nodePort"):
            key = (port.get("name"), port.get("port"), port.get("protocol", "TCP"))
            if key in allocated:
                port["nodePort"] = allocated[key]
    if "healthCheckNodePort" not in spec and live_spec.get("healthCheckNodePort"):
        if spec.get("externalTrafficPolicy", live_spec.get("externalTrafficPolicy")) == "Local":
            spec["healthCheckNodePort"] = live_spec["healthCheckNodePort"]


def merge_patch(desired):
    """The JSON merge patch (RFC 7386) that gives the live object every field of
    ``desired``; None values remove a field."""
    patch = copy.deepcopy(desired)
    patch.pop("apiVersion", None)
    patch.pop("kind", None)
    return patch


def project(live, desired):
    """The part of ``live`` at the fields ``desired`` sets (whole lists), for diffs."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {key: project(live[key], value) for key, value in desired.items() if key in live}
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [project(have, want) for have, want in zip(live, desired, strict=True)]
    return copy.deepcopy(live)


def _strip_none(value):
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def diff_entry(rt, label, live, desired):
    """An Ansible diff for one object: the live fields the archive sets, and the archive's."""
    after = _strip_none(desired)
    before = project(live, desired) if live is not None else None
    if rt.kind == SECRET:
        before, after = wl.redact_secret(before), wl.redact_secret(after, compared_to=before and live)
    return {
        "before_header": "%s (live)" % label,
        "after_header": "%s (archive)" % label,
        "before": wl.dump_yaml(before).decode("utf-8") if before is not None else "",
        "after": wl.dump_yaml(after).decode("utf-8"),
    }


class RestorePolicy(ap.Policy):
    """How the applier writes an archived object (see the module docstring): created as
    archived; an existing one gets the JSON merge patch of :func:`desired_state` and is
    applied when it already holds every field of that; diffs show the live values of the
    archived fields and the archived ones; failures read ``Failed to update Kind/name in
    namespace ns: HTTP 422 <the API's reason>``."""

    def __init__(self, autoscaled=()):
        self.autoscaled = set(autoscaled)

    def update(self, item, live):
        desired = desired_state(item.api_type, item.manifest, live, self.autoscaled)
        return ap.Update(merge_patch(desired), resources.MERGE, wl.is_subset(desired, live), desired=desired)

    def diff(self, item, live, answer, update, check_mode):
        return diff_entry(
            item.api_type, item.label, live, item.manifest if update is None else update.desired
        )

    def failure(self, item, verb, status, answer, host):
        return "Failed to %s %s%s: HTTP %d %s" % (
            "update" if verb == "patch" else verb,
            item.label,
            " in namespace %s" % item.namespace if item.namespace else "",
            status,
            status_message(answer) or "no reason given",
        )


def restore_plan(objects, target, autoscaled=(), namespace_metadata=None):
    """The applier's Plan of a restore of ``objects`` (``[(ResourceType, object)]`` in
    restore order, retargeted) into ``target``: one tier per kind, and before them the
    Namespace itself when ``namespace_metadata`` (its archived labels and annotations) is
    given. Replicas of the workloads in ``autoscaled`` are set only on create."""
    policy = RestorePolicy(autoscaled)
    items = []
    if namespace_metadata is not None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": dict(namespace_metadata, name=target)}
        label = object_name(resources.NAMESPACE.kind, target)
        items.append(ap.Item(resources.NAMESPACE, body, None, target, 0, 0, policy, label=label))
    tiers = {}
    for rt, obj in objects:
        name = _meta(obj)["name"]
        tier = tiers.setdefault(rt.dir, len(tiers) + 1)
        items.append(ap.Item(rt, obj, target, name, tier, len(items), policy, label=object_name(rt, name)))
    return ap.Plan(items)


def live_state(items, listed):
    """``{item.key: live object or None}`` of the archived objects among ``items``, from one
    LIST per kind (``[(ResourceType, items)]``); the listed items get the kind and
    apiVersion a LIST leaves out."""
    by_dir = {rt.dir: {_meta(obj).get("name"): obj for obj in found} for rt, found in listed}
    state = {}
    for item in items:
        rt = item.api_type
        if not isinstance(rt, ResourceType):
            continue
        live = (by_dir.get(rt.dir) or {}).get(item.name)
        if live is not None:
            live = dict(
                live, apiVersion=live.get("apiVersion") or rt.api_version, kind=live.get("kind") or rt.kind
            )
        state[item.key] = live
    return state


def exported_secrets(listed):
    """The Secrets of ``listed`` (``[(rt, items)]``) that an export writes: not those it
    leaves out (ServiceAccount tokens, owned ones), whose values never reach the archive."""
    return [obj for rt, items in listed if rt.kind == SECRET for obj in items if skip_reason(rt, obj) is None]


# ---------------------------------------------------------------------------------------
# The runners of multiagent.ops.config_backup and multiagent.ops.config_restore


def custom_types(client, specs):
    """The ResourceTypes of the ``custom_resources`` option; a spec without a plural is
    looked up with one discovery GET."""
    types = []
    for spec in specs:
        discovery = None
        if not spec.get("plural"):
            api_version = "%s/%s" % (spec["group"], spec["version"])
            discovery = client.get_optional(
                resources.discovery_path(api_version), "discover %s" % api_version
            )
            if discovery is None:
                raise ExportError(
                    "%s is not served by this cluster (is the CRD of %s installed?)"
                    % (api_version, spec["kind"])
                )
        types.append(custom_type(spec, discovery))
    dirs = [rt.dir for rt in types]
    if len(set(dirs)) != len(dirs):
        raise ExportError("a custom resource is listed twice: %s" % ", ".join(sorted(dirs)))
    return types


def run_backup(request, client, now=artifact.utcnow):
    """Export a namespace into an archive and its manifest (multiagent.ops.config_backup)."""
    p = request.params
    ns = p["namespace"]
    if p["include_secrets"] and not p["vault_password"]:
        raise OpsError("include_secrets needs vault_password: Secrets are only ever stored encrypted")
    if p["include_secrets"] and not vault.HAS_CRYPTOGRAPHY:
        raise OpsError("include_secrets needs the Python package cryptography (ansible-core depends on it)")
    started = now()
    try:
        types = builtin_types(p["kinds"], p["include_secrets"]) + custom_types(client, p["custom_resources"])
        namespace_obj = client.get_optional(resources.namespace_path(ns), "read namespace %s" % ns)
        if namespace_obj is None:
            raise OpsError(nothing_changed("namespace %s does not exist" % ns))
        listed = list_types(client, ns, types)
        export = export_namespace(
            ns,
            listed,
            namespace_obj=namespace_obj,
            include_secrets=p["include_secrets"],
            vault_password=p["vault_password"],
            vault_id=p["vault_id"],
            node_ports=p["node_ports"],
        )
        data = build_archive(export.files)
    except (ExportError, vault.VaultError) as exc:
        raise OpsError(nothing_changed("Cannot back up namespace %s: %s" % (ns, exc))) from None

    name = artifact.archive_name(p["prefix"] or "config-%s" % ns, started, ARCHIVE_EXT)
    digest = hashlib.sha256(data).hexdigest()

    def described(finished):
        manifest = artifact.new_manifest(
            MANIFEST_KIND,
            ns,
            name,
            ARCHIVE_FORMAT,
            COMPRESSION,
            size=len(data),
            sha256=digest,
            started=artifact.iso(started),
            finished=artifact.iso(finished),
            duration=round((finished - started).total_seconds(), 3),
            objects=export.counts,
            files=len(export.index["files"]),
            secrets_included=p["include_secrets"],
            encryption=export.index["encryption"],
            content_format="%s v%d" % (FORMAT, FORMAT_VERSION),
            cluster=client.host,
        )
        manifest["status"] = "complete"
        return manifest

    path = os.path.join(os.path.abspath(os.path.expanduser(p["path"])), name)
    result = dict(
        changed=True,
        backups=[artifact.backup_entry(path, described(now()))],
        objects=export.counts,
        files=export.index["files"],
        left_out=export.left_out,
        secrets_included=p["include_secrets"],
        encryption=export.index["encryption"],
    )
    # Only the Secrets in the archive; what the result shows anyway (the namespace, paths,
    # object names) is never starred out.
    request.mask(wl.maskable(wl.secret_values(exported_secrets(listed)), visible=[ns, p["path"], result]))
    if request.check_mode:
        return result
    store = written = None
    try:
        store = LocalStore(p["path"], create=True)
        written = store.write_bytes(name, data)
        if written != digest:
            raise StoreError(
                "%s was written with sha256 %s, expected %s" % (store.describe(name), written, digest)
            )
        manifest = described(now())
        store.write_bytes(artifact.manifest_name(name), artifact.encode_manifest(manifest))
    except (StoreError, artifact.ArtifactError, OSError) as exc:
        left = written is not None
        if left:
            # An archive without its manifest is no backup: do not leave one that looks like it.
            try:
                store.delete(name)
                left = False
            except (StoreError, OSError):
                pass
        text = "Cannot write the backup of namespace %s to %s: %s" % (ns, p["path"], exc)
        if left:
            text += (
                "; no backup was stored, and the incomplete archive %s could not be removed"
                % store.describe(name)
            )
        result.update(changed=left, backups=[])
        raise OpsError(text if left else nothing_changed(text), **result) from None
    result["backups"] = [artifact.backup_entry(store.describe(name), manifest, url=store.url(name))]
    return result


class Backup:
    """A verified archive: its ``manifest`` and ``index``, the chosen ``objects`` and
    ``autoscaled``, the workloads an HPA of the archive scales (chosen or not)."""

    def __init__(self, manifest, index, objects, autoscaled):
        self.manifest = manifest
        self.index = index
        self.objects = objects
        self.autoscaled = autoscaled


def read_backup(path, vault_password=None, kinds=None, names=None, exclude=None):
    """The archive at ``path`` verified against its manifest and read (Secrets decrypted);
    raises ExportError naming the problem, before anything else happens."""
    manifest, problems = artifact.verify_file(path)
    if problems:
        raise ExportError("the archive cannot be trusted: %s" % "; ".join(problems))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ExportError("cannot read it: %s" % exc) from None
    # What is read is what was verified (the file could be replaced in between).
    problems = artifact.check_content(manifest, hashlib.sha256(data).hexdigest(), len(data))
    if problems:
        raise ExportError("; ".join(problems))
    index, files = read_archive(data)
    problems = check_manifest(manifest, index)
    if problems:
        raise ExportError("; ".join(problems))
    objects = load_objects(index, files, vault_password, kinds=kinds, names=names, exclude=exclude)
    # Every HPA of the archive, chosen or not: a restore of the Deployments alone must not
    # reset the replicas an archived HPA manages either.
    autoscaled = scaled_by_autoscaler(load_objects(index, files, kinds=["HorizontalPodAutoscaler"]))
    return Backup(manifest, index, objects, autoscaled)


RESTORE_ACTIONS = {"created": "create", "updated": "update", "unchanged": "none"}


def restore_result(plan, outcome, result):
    """``result`` with what the restore did: ``namespace_created``, the ``created``,
    ``updated`` and ``unchanged`` objects and ``objects`` (``{object, action}``), in restore
    order; with ``failed_objects`` and ``not_attempted`` after a failure."""
    failed, later = [], []
    for key in ("created", "updated", "unchanged", "objects"):
        result[key] = []
    for item, entry in zip(plan.items, outcome.results, strict=True):
        action = entry["action"]
        if action == "failed":
            failed.append(item.label)
        elif action == "not_attempted":
            later.append(item.label)
        elif item.api_type.key == resources.NAMESPACE.key:
            result["namespace_created"] = action == "created"
        else:
            result[action].append(item.label)
            result["objects"].append({"object": item.label, "action": RESTORE_ACTIONS[action]})
    if failed:
        result.update(failed_objects=failed, not_attempted=later)
    return result


def restore_failure(plan, outcome, check_mode):
    """The message of a restore that failed (or whose dry run the API server refused)."""
    failures = "; ".join(outcome.failures)
    if check_mode:
        return nothing_changed("The API server rejects the restore (dry run): %s" % failures)
    applied, later = [], []
    for item, entry in zip(plan.items, outcome.results, strict=True):
        if entry["action"] in ("created", "updated"):
            applied.append(item.label)
        elif entry["action"] == "not_attempted":
            later.append(item.label)
    text = (
        "%s. Applied before the failure: %s. Not attempted: %s. The restore is idempotent: fix the cause "
        "and run it again" % (failures, ", ".join(applied) or "nothing", ", ".join(later) or "nothing")
    )
    return text + "." if outcome.changed else nothing_changed(text)


def run_restore(request, client):
    """Put a namespace's objects back from an archive (multiagent.ops.config_restore)."""
    p = request.params
    path = p["archive"]
    try:
        backup = read_backup(
            path, p["vault_password"], kinds=p["kinds"], names=p["names"], exclude=p["exclude"]
        )
    except (ExportError, vault.VaultError) as exc:
        raise OpsError(nothing_changed("Cannot restore from %s: %s" % (path, exc))) from None
    source = backup.index["namespace"]
    target = p["namespace"] or source
    # Only the Secrets restored; what the result shows anyway (namespaces, the archive's
    # path, object names) is never starred out.
    visible = [path, artifact.manifest_name(path), source, target, backup.manifest.get("sha256")]
    visible += [object_name(rt, obj) for rt, obj in backup.objects]
    secrets = [obj for rt, obj in backup.objects if rt.kind == SECRET]
    values = wl.secret_values(secrets)
    request.mask(wl.maskable(values, visible=[v for v in visible if v]))

    objects = [(rt, retarget(rt, obj, source, target)) for rt, obj in backup.objects]
    namespace_obj = client.get_optional(resources.namespace_path(target), "read namespace %s" % target)
    if namespace_obj is None and not p["create_namespace"]:
        raise OpsError(
            nothing_changed("namespace %s does not exist; set create_namespace to create it" % target)
        )
    if namespace_obj is not None and (
        _meta(namespace_obj).get("deletionTimestamp")
        or (namespace_obj.get("status") or {}).get("phase") == "Terminating"
    ):
        raise OpsError(
            nothing_changed("namespace %s is being deleted; wait until it is gone, then restore" % target)
        )
    created = None if namespace_obj is not None else backup.index.get("namespace_metadata") or {}
    plan = restore_plan(objects, target, backup.autoscaled, namespace_metadata=created)
    if namespace_obj is None:
        live = dict.fromkeys((item.key for item in plan.items), None)
    else:
        types = list({rt.dir: rt for rt, _obj in objects}.values())
        try:
            live = live_state(plan.items, list_types(client, target, types))
        except ExportError as exc:
            raise OpsError(nothing_changed("Cannot restore into namespace %s: %s" % (target, exc))) from None

    applier = Applier(client, check_mode=request.check_mode, diff=request.diff, secret_values=values)
    outcome = applier.apply(plan, live)
    result = dict(
        changed=outcome.changed,
        namespace=target,
        source_namespace=source,
        namespace_created=False,
        sha256=backup.manifest.get("sha256"),
    )
    restore_result(plan, outcome, result)
    if request.diff:
        result["diff"] = outcome.diffs
    if outcome.failures:
        raise OpsError(restore_failure(plan, outcome, request.check_mode), **result)
    return result
