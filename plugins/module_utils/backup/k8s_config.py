# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration backup of a namespace: export, archive, and the plan of a restore.

Export: what the API server returns is cleaned down to what a person or a tool wrote
(server-set fields, controller-owned and auto-generated objects left out, see clean() and
skip_reason()), one YAML file per object, ``<Kind>/<name>.yaml`` (``<Kind>.<group>/...``
for custom resources, whose kinds may repeat built-in ones), plus ``index.yaml`` that
describes the archive. The archive is a tar in gzip with sorted entries, fixed times and
owners and sorted YAML keys, so an unchanged namespace gives the same bytes.

Secrets are exported only when asked for, and then each file is an ansible-vault
document (see vault.py): ``ansible-vault view Secret/x.yaml`` opens it.

Restore: objects are applied in dependency order (the order of BUILTIN, custom resources
last) into the same or another namespace. An object is unchanged when every field the
archive sets has the archived value in the live object (fields the server or others
added are not looked at); otherwise it is updated with a JSON merge patch of the archived
object, which sets exactly those fields. ConfigMap and Secret ``data``/``binaryData`` are
restored exactly (keys added since the backup are removed).
"""

from __future__ import annotations

import base64
import binascii
import copy
import fnmatch
import gzip
import io
import json
import posixpath
import tarfile
from concurrent.futures import ThreadPoolExecutor

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

from ansible_collections.multiagent.ops.plugins.module_utils.backup import vault
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.quantity import parse_quantity

FORMAT = "multiagent.ops/kubernetes-config"
FORMAT_VERSION = 1
MANIFEST_KIND = "kubernetes-config"
INDEX = "index.yaml"
ARCHIVE_EXT = ".tar.gz"
ARCHIVE_FORMAT = "tar"
COMPRESSION = "gzip"
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"
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
# YAML and the archive

# Characters YAML 1.1 counts as line breaks besides CR and LF (NEL, LINE SEPARATOR,
# PARAGRAPH SEPARATOR): only a double-quoted scalar, which escapes them, keeps them.
YAML_ONLY_QUOTED = ("\x85", "\u2028", "\u2029")


if HAS_YAML:

    class _Dumper(yaml.SafeDumper):
        """Sorted keys; multi-line strings (config files in ConfigMaps) as literal blocks."""

    def _represent_str(dumper, value):
        if any(ch in value for ch in YAML_ONLY_QUOTED):
            # YAML reads these as line breaks in any other style (a plain or block scalar
            # would come back with a newline or a space): double quotes escape them.
            style = '"'
        elif "\n" in value:
            style = "|"
        else:
            style = None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _represent_str)


def dump_yaml(obj):
    if not HAS_YAML:
        raise ExportError("the Python package PyYAML is needed")
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16
    ).encode("utf-8")


def load_yaml(data, where):
    if not HAS_YAML:
        raise ExportError("the Python package PyYAML is needed")
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ExportError("%s is not valid YAML: %s" % (where, str(exc).splitlines()[0])) from None


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
            data = dump_yaml(obj)
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
    files[INDEX] = dump_yaml(index)
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
    index = load_yaml(files.pop(INDEX), INDEX)
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
            obj = load_yaml(data, member)
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


def is_subset(desired, live):
    """True when every field ``desired`` sets has that value in ``live`` (lists compared
    element by element with the same rule, and of the same length). A ``None`` in
    ``desired`` matches a missing field."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        for key, value in desired.items():
            if value is None:
                if live.get(key) is not None:
                    return False
            elif key not in live or not is_subset(value, live[key]):
                return False
        return True
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(want, have) for want, have in zip(desired, live, strict=True))
        )
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    return desired == live


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


def redact(rt, obj, compared_to=None):
    """A Secret with every value replaced (keys kept); a changed value (against the same
    key in ``compared_to``) reads differently, so a diff shows which keys change."""
    if rt.kind != SECRET or not isinstance(obj, dict):
        return obj
    result = copy.deepcopy(obj)
    other = (compared_to or {}) if isinstance(compared_to, dict) else {}
    for field in ("data", "stringData"):
        values = result.get(field)
        if not isinstance(values, dict):
            continue
        before = other.get(field) if isinstance(other.get(field), dict) else None
        result[field] = {
            key: (
                REDACTED_CHANGED
                if before is not None and (key not in before or before[key] != value)
                else REDACTED
            )
            for key, value in values.items()
        }
    annotations = _meta(result).get("annotations")
    if isinstance(annotations, dict) and "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = REDACTED
    return result


def diff_entry(rt, label, live, desired):
    """An Ansible diff for one object: the live fields the archive sets, and the archive's."""
    after = _strip_none(desired)
    before = project(live, desired) if live is not None else None
    if rt.kind == SECRET:
        before, after = redact(rt, before), redact(rt, after, compared_to=before and live)
    return {
        "before_header": "%s (live)" % label,
        "after_header": "%s (archive)" % label,
        "before": dump_yaml(before).decode("utf-8") if before is not None else "",
        "after": dump_yaml(after).decode("utf-8"),
    }


def plan(objects, live_by_type, autoscaled=()):
    """Per object ``{rt, object, label, action, body}``: ``create`` (body: the object),
    ``update`` (body: a merge patch) or ``none``. ``live_by_type``: ``{dir: {name: live}}``."""
    steps = []
    for rt, obj in objects:
        name = _meta(obj)["name"]
        live = (live_by_type.get(rt.dir) or {}).get(name)
        if live is not None:
            # Items of a LIST carry no kind or apiVersion of their own.
            live = dict(
                live, apiVersion=live.get("apiVersion") or rt.api_version, kind=live.get("kind") or rt.kind
            )
        step = {"rt": rt, "object": obj, "label": object_name(rt, name), "live": live}
        if live is None:
            step.update(action="create", body=copy.deepcopy(obj))
        else:
            desired = desired_state(rt, obj, live, autoscaled)
            if is_subset(desired, live):
                step.update(action="none", body=None)
            else:
                step.update(action="update", body=merge_patch(desired), desired=desired)
        steps.append(step)
    return steps


MASK_MIN = 6  # shorter Secret values would mask unrelated text (names, numbers) in the output


def mask(module, values, visible=()):
    """Have Ansible replace these values in anything the module returns (a second line of
    defence: results are built without Secret values in the first place).

    ``visible``: what the result shows anyway (the namespace, paths, object names; strings,
    or lists and dicts of them, keys included). A value found in one of them is not masked:
    starring it out would corrupt the result (``config-********-...tar.gz``) and hide
    nothing, the text being in the result already.
    """
    shown = list(_strings(visible))
    target = getattr(module, "_module", module)  # kubernetes.core's class wraps AnsibleModule
    target.no_log_values.update(
        v
        for v in values
        if isinstance(v, str) and len(v) >= MASK_MIN and not any(v in text for text in shown)
    )


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)


def exported_secrets(listed):
    """``[(rt, Secret)]`` of ``listed`` (``[(rt, items)]``) that an export writes: not those
    it leaves out (ServiceAccount tokens, owned ones), whose values never reach the archive."""
    return [
        (rt, obj)
        for rt, items in listed
        if rt.kind == SECRET
        for obj in items
        if skip_reason(rt, obj) is None
    ]


def secret_values(objects):
    """Every Secret value (base64 as stored, and decoded when it is text) of the objects,
    for the module to mask in anything it prints."""
    values = set()
    for rt, obj in objects:
        if rt.kind != SECRET:
            continue
        for value in (obj.get("data") or {}).values():
            if not isinstance(value, str):
                continue
            values.add(value)
            try:
                values.add(base64.b64decode(value, validate=True).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                pass
        for value in (obj.get("stringData") or {}).values():
            values.add(str(value))
    return values
