# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a batch apply: pure functions, no I/O. applier.py does the talking.

A plan is a list of :class:`Item` in tiers. Each item carries its :class:`Policy`: what is
sent on create, the patch (and its type) computed from the live object with the test of
whether the live object already has it, how its diff and its failures read. Two policies
use the one applier: :class:`ManifestPolicy` (multiagent.ops.k8s_apply, below) and the
restore of an archived namespace (multiagent.ops.config_restore, backup/k8s_config.py).

For k8s_apply, from the manifests and what discovery said about their kinds, the plan says,
per object, where it lives (resource path, namespace), in which tier it is applied, whether
an HPA of the batch owns its replicas, which Secrets and ConfigMaps its pod template needs
and the checksum of those the batch carries. It also decides, from the live object and the
API's answers, whether an object is unchanged, and renders diffs with Secret values
redacted.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import from_status
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.resources import split_api_version
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.records import (
    APPLY_IF_SERVED,
    APPLY_UNLESS_SERVED,
    CONFIG_CHECKSUM,
    CONFIG_CHECKSUM_SKIP,
)

# Apply order: what others refer to comes first. A kind not listed goes in the last tier.
TIER_NAMES = ("namespaces and CRDs", "configuration", "services", "workloads", "the rest")
TIER_OF = {
    ("", "Namespace"): 0,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): 0,
    ("", "ServiceAccount"): 1,
    ("", "ConfigMap"): 1,
    ("", "Secret"): 1,
    ("", "PersistentVolumeClaim"): 1,
    ("", "PersistentVolume"): 1,
    ("", "ResourceQuota"): 1,
    ("", "LimitRange"): 1,
    ("rbac.authorization.k8s.io", "Role"): 1,
    ("rbac.authorization.k8s.io", "ClusterRole"): 1,
    ("rbac.authorization.k8s.io", "RoleBinding"): 1,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): 1,
    ("storage.k8s.io", "StorageClass"): 1,
    ("scheduling.k8s.io", "PriorityClass"): 1,
    ("networking.k8s.io", "IngressClass"): 1,
    ("", "Service"): 2,
    ("apps", "Deployment"): 3,
    ("apps", "StatefulSet"): 3,
    ("apps", "DaemonSet"): 3,
    ("batch", "Job"): 3,
    ("batch", "CronJob"): 3,
}
LAST_TIER = len(TIER_NAMES) - 1

# Where each workload keeps its pod template.
TEMPLATE_PATH = {
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}
ROLLOUT_KINDS = frozenset((("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet")))
HPA_SCALED = frozenset((("apps", "Deployment"), ("apps", "StatefulSet")))


# Set by the server on every object; never sent, never compared.
SERVER_METADATA = ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp", "selfLink")
ACTIONS = ("created", "updated", "unchanged", "failed", "not_attempted", "skipped")
# Objects that only make sense where an API is (or is not) served: an OpenShift Route where
# route.openshift.io is, the Ingress where it is not; a ServiceMonitor where the Prometheus
# operator's group is. The value is a group/version (``route.openshift.io/v1``).
PULL_SECRETS = "imagePullSecrets"


class PlanError(Exception):
    """A batch that must not be applied; the message names the objects and the cause."""


# ---------------------------------------------------------------------------------------
# Kinds and paths


def batch_crd_types(manifests):
    """``{(apiVersion, kind): Resource}`` for the kinds the batch's CRDs define (each served
    version): their objects can be planned before the CRD exists."""
    types = {}
    for obj in manifests:
        if (split_api_version(obj.get("apiVersion"))[0], obj.get("kind")) != (
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
        ):
            continue
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not group or not kind or not plural:
            continue
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("name") and version.get("served", True):
                api_type = resources.Resource(
                    group, version["name"], kind, plural, spec.get("scope") != "Cluster", from_batch=True
                )
                types[(api_type.api_version, kind)] = api_type
    return types


def api_versions(manifests):
    """The group/versions to discover, in first-seen order."""
    seen = []
    for obj in manifests:
        if obj["apiVersion"] not in seen:
            seen.append(obj["apiVersion"])
    return seen


def condition_versions(manifests):
    """The group/versions named by APPLY_IF_SERVED / APPLY_UNLESS_SERVED annotations."""
    seen = []
    for obj in manifests:
        annotations = _meta(obj).get("annotations") or {}
        for key in (APPLY_IF_SERVED, APPLY_UNLESS_SERVED):
            value = annotations.get(key)
            if value and value not in seen:
                seen.append(value)
    return seen


def select_served(manifests, discovered):
    """``(kept, skipped)``: the objects whose serving condition holds, and a result
    (action ``skipped``, with the reason) for each of the others. ``discovered`` maps a
    group/version to its resource list, or None when it is not served."""
    kept, skipped = [], []
    for obj in manifests:
        annotations = _meta(obj).get("annotations") or {}
        reason = None
        wanted = annotations.get(APPLY_IF_SERVED)
        unwanted = annotations.get(APPLY_UNLESS_SERVED)
        if wanted and discovered.get(wanted) is None:
            reason = "the cluster does not serve %s" % wanted
        elif unwanted and discovered.get(unwanted) is not None:
            reason = "the cluster serves %s" % unwanted
        if reason is None:
            kept.append(obj)
            continue
        meta = _meta(obj)
        skipped.append(
            {
                "kind": obj.get("kind"),
                "apiVersion": obj.get("apiVersion"),
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
                "action": "skipped",
                "reason": reason,
            }
        )
    return kept, skipped


def refused(pairs, keys):
    """Problems for the live objects (``[(item, live or None)]``) that carry one of the
    annotation ``keys``: each names the object, the annotation and its value."""
    problems = []
    for item, live in pairs:
        if not isinstance(live, dict):
            continue
        annotations = _meta(live).get("annotations") or {}
        found = ["%s=%s" % (key, annotations[key]) for key in keys if key in annotations]
        if found:
            problems.append("%s carries %s" % (item.label, ", ".join(found)))
    if problems:
        problems.insert(
            0,
            "objects carry the record of a change a runbook made (maintenance mode, a quiesce) that this"
            " apply would undo; finish that first (maintenance.yml -e maintenance_action=disable) or"
            " pass refuse_annotations: []",
        )
    return problems


def resolve_types(manifests, discovered):
    """``{(apiVersion, kind): Resource}`` from ``discovered`` (``{apiVersion: APIResourceList
    or None when the group/version is not served}``) and the batch's CRDs. Raises PlanError
    naming every object whose kind is not served."""
    from_crds = batch_crd_types(manifests)
    types, problems = {}, []
    for obj in manifests:
        key = (obj["apiVersion"], obj["kind"])
        if key in types:
            continue
        found = None
        resource_list = discovered.get(obj["apiVersion"])
        if resource_list is not None:
            found = resources.from_discovery(obj["apiVersion"], obj["kind"], resource_list)
        found = found or from_crds.get(key)
        if found is None:
            users = [_name_of(o) for o in manifests if (o["apiVersion"], o["kind"]) == key]
            reason = (
                "the cluster does not serve the group/version %s" % obj["apiVersion"]
                if resource_list is None
                else "%s does not serve kind %s" % (obj["apiVersion"], obj["kind"])
            )
            problems.append(
                "kind %s (apiVersion %s) of %s is not served by the cluster: %s (is its CRD installed?)"
                % (obj["kind"], obj["apiVersion"], ", ".join(users), reason)
            )
            types[key] = None
        else:
            types[key] = found
    if problems:
        raise PlanError("; ".join(problems))
    return types


# ---------------------------------------------------------------------------------------
# Manifests


def _meta(obj):
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _name_of(obj):
    meta = _meta(obj)
    name = meta.get("name")
    if meta.get("namespace"):
        return "%s %s/%s" % (obj.get("kind"), meta["namespace"], name)
    return "%s %s" % (obj.get("kind"), name)


def render_secret(spec, index=0):
    """A Secret manifest from one entry of the ``secrets`` option (values as stringData)."""
    name = spec.get("name")
    if not name:
        raise PlanError("secrets[%d] has no name" % index)
    meta = {"name": name}
    for key in ("namespace", "labels", "annotations"):
        if spec.get(key):
            meta[key] = copy.deepcopy(spec[key])
    data = {}
    for key, value in (spec.get("data") or {}).items():
        if value is None:
            raise PlanError("secrets[%d] (Secret %s): key %s has no value" % (index, name, key))
        data[str(key)] = wl.text(value)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": spec.get("type") or "Opaque",
        "stringData": data,
    }


def collect(resources, secrets=()):
    """The batch: a deep copy of each manifest (``kind: List`` flattened, empty entries
    skipped) and a Secret per ``secrets`` entry. Raises PlanError for anything that is not
    an object with apiVersion, kind and metadata.name."""
    flat = []
    for index, item in enumerate(resources or []):
        if item is None:
            continue
        where = "resources[%d]" % index
        if not isinstance(item, dict):
            raise PlanError("%s is not a Kubernetes object (a mapping) but %s" % (where, type(item).__name__))
        if item.get("kind") == "List" and isinstance(item.get("items"), list):
            flat.extend(("%s.items[%d]" % (where, i), sub) for i, sub in enumerate(item["items"]))
        else:
            flat.append((where, item))
    manifests = []
    for where, item in flat:
        if not isinstance(item, dict):
            raise PlanError("%s is not a Kubernetes object (a mapping)" % where)
        missing = [k for k in ("apiVersion", "kind") if not isinstance(item.get(k), str) or not item.get(k)]
        if not _meta(item).get("name"):
            missing.append("metadata.name (generateName is not supported: a re-run would create another)")
        if missing:
            raise PlanError(
                "%s (%s) has no %s" % (where, item.get("kind") or "unknown kind", " and no ".join(missing))
            )
        manifests.append(copy.deepcopy(item))
    for index, spec in enumerate(secrets or []):
        manifests.append(render_secret(spec, index))
    return manifests


def _clean(obj, api_type, namespace):
    """What is sent: no status, no server-set metadata, the namespace set (or dropped for
    a cluster-scoped kind)."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    if api_type.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    return obj


# ---------------------------------------------------------------------------------------
# References from pod templates


class Ref:
    """A Secret or ConfigMap that a pod template needs (unless ``optional``)."""

    __slots__ = ("kind", "name", "optional", "via")

    def __init__(self, kind, name, optional, via):
        self.kind = kind
        self.name = name
        self.optional = bool(optional)
        self.via = via

    def __repr__(self):
        return "Ref(%r, %r, optional=%r, via=%r)" % (self.kind, self.name, self.optional, self.via)


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def pod_template(obj, key):
    """The pod template of a workload (``key`` = (group, kind)), or None."""
    node = obj
    for step in TEMPLATE_PATH.get(key, ()):
        node = node.get(step) if isinstance(node, dict) else None
    return node if key in TEMPLATE_PATH and isinstance(node, dict) else None


def pod_references(pod_spec):
    """Every Secret and ConfigMap a pod spec refers to, in the order written."""
    refs = []
    if not isinstance(pod_spec, dict):
        return refs
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(pod_spec.get(field)):
            cname = container.get("name")
            for env in _dicts(container.get("env")):
                source = env.get("valueFrom") if isinstance(env.get("valueFrom"), dict) else {}
                for ref_key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    ref = source.get(ref_key)
                    if isinstance(ref, dict) and ref.get("name"):
                        via = "env %s of container %s" % (env.get("name"), cname)
                        refs.append(Ref(kind, ref["name"], ref.get("optional"), via))
            for env_from in _dicts(container.get("envFrom")):
                for ref_key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    ref = env_from.get(ref_key)
                    if isinstance(ref, dict) and ref.get("name"):
                        via = "envFrom of container %s" % cname
                        refs.append(Ref(kind, ref["name"], ref.get("optional"), via))
    for volume in _dicts(pod_spec.get("volumes")):
        via = "volume %s" % volume.get("name")
        secret = volume.get("secret")
        if isinstance(secret, dict) and secret.get("secretName"):
            refs.append(Ref("Secret", secret["secretName"], secret.get("optional"), via))
        config_map = volume.get("configMap")
        if isinstance(config_map, dict) and config_map.get("name"):
            refs.append(Ref("ConfigMap", config_map["name"], config_map.get("optional"), via))
        projected = volume.get("projected")
        for source in _dicts(projected.get("sources") if isinstance(projected, dict) else None):
            for ref_key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                ref = source.get(ref_key)
                if isinstance(ref, dict) and ref.get("name"):
                    refs.append(Ref(kind, ref["name"], ref.get("optional"), via))
    for pull in _dicts(pod_spec.get(PULL_SECRETS)):
        if pull.get("name"):
            refs.append(Ref("Secret", pull["name"], False, PULL_SECRETS))
    return refs


# ---------------------------------------------------------------------------------------
# Configuration content and its checksum


def _b64decode(value):
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return wl.text(value).encode("utf-8")


def config_content(obj):
    """``{key: bytes}`` of a ConfigMap or Secret manifest, as the pods will see it
    (Secret ``stringData`` wins over ``data``, as on the server). Keys set to null (a
    deletion in a patch) are left out."""
    content = {}
    if obj.get("kind") == "ConfigMap":
        for key, value in (obj.get("binaryData") or {}).items():
            if value is not None:
                content[key] = _b64decode(value)
        for key, value in (obj.get("data") or {}).items():
            if value is not None:
                content[key] = wl.text(value).encode("utf-8")
    else:
        for key, value in (obj.get("data") or {}).items():
            if value is not None:
                content[key] = _b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            if value is not None:
                content[key] = wl.text(value).encode("utf-8")
    return content


def checksum_skips(obj):
    """``{(kind, name)}`` that a workload's ``multiagent.ops/config-checksum-skip`` annotation
    (``Secret/a,ConfigMap/b``, on its own metadata) leaves out of its config checksum."""
    value = (_meta(obj).get("annotations") or {}).get(CONFIG_CHECKSUM_SKIP) or ""
    skips = set()
    for entry in str(value).split(","):
        kind, name = (entry.strip().split("/", 1) + [""])[:2]
        if kind in ("Secret", "ConfigMap") and name:
            skips.add((kind, name))
    return skips


def config_checksum(refs, contents):
    """sha256 over the content of the referenced objects that ``contents`` (``{(kind,
    name): {key: bytes}}``) holds, or None when it holds none of them. Sorted, so the order
    of references and keys does not matter; image pull secrets do not count (the kubelet
    reads them when it pulls, running pods never do)."""
    used = sorted({(r.kind, r.name) for r in refs if r.via != PULL_SECRETS and (r.kind, r.name) in contents})
    if not used:
        return None
    canonical = [
        [
            kind,
            name,
            [
                [key, base64.b64encode(value).decode("ascii")]
                for key, value in sorted(contents[(kind, name)].items())
            ],
        ]
        for kind, name in used
    ]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------
# The plan


class Item:
    """One object of a batch and how it is applied: ``policy`` (a :class:`Policy`) says
    what is sent; ``tier`` orders the writes; ``label`` names it in results and messages
    (``Kind namespace/name`` by default). ``hpa``, ``refs`` and ``checksum`` are k8s_apply's
    (see :func:`plan`)."""

    __slots__ = (
        "api_type",
        "manifest",
        "namespace",
        "name",
        "tier",
        "index",
        "label",
        "policy",
        "hpa",
        "refs",
        "checksum",
    )

    def __init__(self, api_type, manifest, namespace, name, tier, index, policy, label=None):
        self.api_type = api_type
        self.manifest = manifest
        self.namespace = namespace
        self.name = name
        self.tier = tier
        self.index = index
        self.policy = policy
        self.label = label or api_type.label(namespace, name)
        self.hpa = None  # (name, minReplicas) of the batch's HPA that scales this workload
        self.refs = []
        self.checksum = None

    @property
    def kind(self):
        return self.api_type.kind

    @property
    def key(self):
        return (self.api_type.group, self.kind, self.namespace, self.name)

    @property
    def is_secret(self):
        return self.api_type.key == ("", "Secret")

    @property
    def replicas_owner(self):
        return "hpa/%s" % self.hpa[0] if self.hpa else None

    def path(self):
        return self.api_type.object_path(self.namespace, self.name)

    def collection_path(self):
        return self.api_type.collection_path(self.namespace)

    def result(self, action, error=None):
        entry = {
            "kind": self.kind,
            "apiVersion": self.api_type.api_version,
            "namespace": self.namespace,
            "name": self.name,
            "action": action,
        }
        if self.replicas_owner:
            entry["replicas_owner"] = self.replicas_owner
        if error:
            entry["error"] = error
        return entry


class Update:
    """What an existing object gets: ``body`` sent as a patch of ``content_type``, unless
    ``applied`` (the live object already has every field the patch sets: nothing is sent).
    ``held``: field paths left as they are; ``desired``: the object's state the diff shows
    (None: the policy's diff uses the server's answer)."""

    __slots__ = ("body", "content_type", "applied", "held", "desired")

    def __init__(self, body, content_type, applied, held=(), desired=None):
        self.body = body
        self.content_type = content_type
        self.applied = applied
        self.held = list(held)
        self.desired = desired


class Policy:
    """How the objects of a batch are written; one instance serves many items.

    ``create_body(item)``: what a create sends. ``update(item, live)``: the :class:`Update`
    of an existing object. ``diff(item, live, answer, update, check_mode)``: Ansible's diff
    entry of a created (``live`` and ``update`` None) or updated object. ``failure(item,
    verb, status, answer, host)``: the message of a refused create (``verb`` create) or
    patch (``patch``)."""

    def create_body(self, item):
        return copy.deepcopy(item.manifest)

    def update(self, item, live):
        raise NotImplementedError

    def diff(self, item, live, answer, update, check_mode):
        return diff_entry(item, live, answer, check_mode)

    def failure(self, item, verb, status, answer, host):
        return failure_message(item, verb, status, answer, host)


class ManifestPolicy(Policy):
    """multiagent.ops.k8s_apply's: an object is created as its manifest (a workload the
    batch's HPA scales starts with the HPA's minReplicas when the manifest leaves replicas
    out); an existing one gets its manifest as a strategic merge patch (a JSON merge patch
    for kinds the kube-apiserver does not serve itself), without the replicas the batch's
    HPA owns and without the fields ``hold_fields`` holds (``{annotation: [dotted paths]}``:
    while the live object carries the annotation); it is applied when the live object has
    every field of that patch."""

    def __init__(self, hold_fields=None):
        self.hold_fields = dict(hold_fields or {})

    def create_body(self, item):
        return create_body(item)

    def update(self, item, live):
        held = held_paths(live, self.hold_fields)
        body = without_paths(patch_body(item), held)
        return Update(body, item.api_type.patch_type, already_applied(item, live, body), held)


class Plan:
    """``items`` in the order they are applied (tier by tier); ``tiers``: the non-empty tiers,
    in order, each with its items in the order given. k8s_apply's preflight adds
    ``lookups``: ``[(workload Item, Ref)]``, references the batch does not carry (checked in
    the cluster), and ``namespaces``: ``{namespace: [labels]}`` of namespaced objects whose
    namespace the batch does not create."""

    def __init__(self, items, lookups=(), namespaces=None):
        self.items = items
        self.tiers = [[i for i in items if i.tier == tier] for tier in sorted({i.tier for i in items})]
        self.lookups = list(lookups)
        self.namespaces = dict(namespaces or {})


def _hpa_targets(items):
    """``{(namespace, group, kind, name): (hpa name, minReplicas)}`` of the batch's HPA targets
    (the first HPA by name wins when two scale the same workload)."""
    targets = {}
    for item in sorted(items, key=lambda i: i.name):
        if item.api_type.key != ("autoscaling", "HorizontalPodAutoscaler"):
            continue
        spec = item.manifest.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") and ref.get("name"):
            group = split_api_version(ref.get("apiVersion") or "apps/v1")[0]
            min_replicas = spec.get("minReplicas")
            targets.setdefault(
                (item.namespace, group, ref["kind"], ref["name"]),
                (item.name, 1 if min_replicas is None else int(min_replicas)),
            )
    return targets


def plan(manifests, types, default_namespace=None, hold_fields=None):
    """The Plan of a batch (each item with a ManifestPolicy of ``hold_fields``): every
    object placed, workloads annotated with their config checksum, HPA ownership and the
    references to look up. Raises PlanError (naming the objects) for a namespaced object
    without a namespace or an object given twice."""
    policy = ManifestPolicy(hold_fields)
    items, problems, seen = [], [], {}
    for index, obj in enumerate(manifests):
        api_type = types[(obj["apiVersion"], obj["kind"])]
        meta = _meta(obj)
        namespace = None
        if api_type.namespaced:
            namespace = meta.get("namespace") or default_namespace
            if not namespace:
                problems.append(
                    "%s has no metadata.namespace and the namespace option is not set" % _name_of(obj)
                )
                continue
        item = Item(
            api_type,
            _clean(obj, api_type, namespace),
            namespace,
            meta["name"],
            TIER_OF.get(api_type.key, LAST_TIER),
            index,
            policy,
        )
        if item.key in seen:
            problems.append("%s is given twice (in resources or secrets)" % item.label)
            continue
        seen[item.key] = item
        items.append(item)
    if problems:
        raise PlanError("; ".join(problems))

    contents = {}
    for item in items:
        if item.api_type.key in (("", "ConfigMap"), ("", "Secret")):
            contents[(item.namespace, item.kind, item.name)] = config_content(item.manifest)
    hpas = _hpa_targets(items)
    lookups = []
    for item in items:
        group = item.api_type.group
        if item.api_type.key in HPA_SCALED:
            item.hpa = hpas.get((item.namespace, group, item.kind, item.name))
        template = pod_template(item.manifest, item.api_type.key)
        if template is None:
            continue
        item.refs = pod_references(template.get("spec"))
        local = {(k, n): c for (ns, k, n), c in contents.items() if ns == item.namespace}
        skips = checksum_skips(item.manifest)
        item.checksum = config_checksum(item.refs, {k: c for k, c in local.items() if k not in skips})
        if item.checksum:
            meta = template.get("metadata")
            if not isinstance(meta, dict):
                meta = template["metadata"] = {}
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                annotations = meta["annotations"] = {}
            annotations[CONFIG_CHECKSUM] = item.checksum
        done = set()
        for ref in item.refs:
            if ref.optional or (ref.kind, ref.name) in local or (ref.kind, ref.name) in done:
                continue
            done.add((ref.kind, ref.name))
            lookups.append((item, ref))

    created = {i.name for i in items if i.api_type.key == ("", "Namespace")}
    namespaces = {}
    for item in items:
        if item.namespace and item.namespace not in created:
            namespaces.setdefault(item.namespace, []).append(item.label)
    ordered = sorted(items, key=lambda i: (i.tier, i.index))
    return Plan(ordered, lookups, namespaces)


def missing_reference_message(item, ref):
    return "%s needs %s %s (%s), which is neither in this batch nor in the cluster" % (
        item.label,
        ref.kind,
        ref.name,
        ref.via,
    )


# ---------------------------------------------------------------------------------------
# What is sent, and what counts as a change


def create_body(item):
    """The object as created: the manifest, with the HPA's minReplicas when the manifest
    leaves replicas to the HPA."""
    body = copy.deepcopy(item.manifest)
    if item.hpa:
        spec = body.setdefault("spec", {})
        if spec.get("replicas") is None:
            spec["replicas"] = item.hpa[1]
    return body


def patch_body(item):
    """The patch of an existing object: the manifest, without spec.replicas when an HPA of
    the batch owns them."""
    body = copy.deepcopy(item.manifest)
    body.pop("apiVersion", None)
    body.pop("kind", None)
    if item.hpa and isinstance(body.get("spec"), dict):
        body["spec"].pop("replicas", None)
    return body


def held_paths(live, hold_fields):
    """The field paths (``spec.minReplicas``) the live object holds: ``hold_fields`` maps an
    annotation to the paths that stay as they are while the live object carries it."""
    annotations = _meta(live).get("annotations") or {} if isinstance(live, dict) else {}
    paths = []
    for annotation, fields in (hold_fields or {}).items():
        if annotation in annotations:
            paths.extend(fields)
    return paths


def without_paths(body, paths):
    """``body`` without the dotted ``paths`` (a copy when anything is removed)."""
    if not paths:
        return body
    body = copy.deepcopy(body)
    for path in paths:
        parts = path.split(".")
        node = body
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return body


def comparable(item, obj):
    """``obj`` as the server would store it, for comparisons: a Secret's stringData
    becomes base64 data."""
    if not item.is_secret or not isinstance(obj.get("stringData"), dict):
        return obj
    obj = copy.deepcopy(obj)
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    for key, value in obj.pop("stringData").items():
        data[key] = (
            None if value is None else base64.b64encode(wl.text(value).encode("utf-8")).decode("ascii")
        )
    obj["data"] = data
    return obj


def already_applied(item, live, body=None):
    """True when every field the patch would set already has that value: the patch would
    change nothing, so it is not sent (lists must match element by element, so a list the
    server would merge differently is always sent and left to the server to decide)."""
    return wl.is_subset(comparable(item, patch_body(item) if body is None else body), live)


def normalize(obj):
    """An object without what the server sets on every write (for comparisons and diffs)."""
    if not isinstance(obj, dict):
        return obj
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in SERVER_METADATA:
            meta.pop(key, None)
    return obj


def resource_version(obj):
    return _meta(obj or {}).get("resourceVersion")


def changed_by_dry_run(live, answer):
    return normalize(live) != normalize(answer)


# ---------------------------------------------------------------------------------------
# Secrets in output


def redact(item, obj, compared_to=None):
    """A Secret with each value of data/stringData replaced by a marker (``<redacted>``, or
    ``<redacted, changed>`` where it differs from ``compared_to``); other kinds as they are."""
    return wl.redact_secret(obj, compared_to) if item.is_secret else obj


def diff_entry(item, before, after, check_mode):
    """One entry of Ansible's diff list: the live object and the applied (or dry-run)
    answer, without server-set fields, Secret values redacted."""
    before = normalize(before) if before is not None else None
    after = comparable(item, normalize(after))
    redacted_before = redact(item, before)
    redacted_after = redact(item, after, compared_to=before if before is not None else None)
    return {
        "before_header": "%s (live)" % item.label,
        "after_header": "%s (%s)" % (item.label, "dry run" if check_mode else "applied"),
        "before": wl.dump_yaml(redacted_before).decode("utf-8") if before is not None else "",
        "after": wl.dump_yaml(redacted_after).decode("utf-8"),
    }


# ---------------------------------------------------------------------------------------
# Failures and versions


def api_error(status, answer, host, what):
    """An ApiError for a non-2xx answer (``answer``: the decoded Status, if any)."""
    return from_status(status, answer, host, what)


def invalid_fields(answer):
    """The fields a 422 Status names in its causes."""
    details = answer.get("details") if isinstance(answer, dict) else None
    causes = (details or {}).get("causes") if isinstance(details, dict) else None
    fields = []
    for cause in causes or []:
        if isinstance(cause, dict) and cause.get("field") and cause["field"] not in fields:
            fields.append(cause["field"])
    return fields


def failure_message(item, verb, status, answer, host):
    """What went wrong with one request, naming the object, the verb, the resource and
    the namespace, and the API's reason (with the invalid fields of a 422)."""
    where = "in namespace %s" % item.namespace if item.namespace else "(cluster-scoped)"
    what = "%s %s %s" % (verb, item.api_type.resource, where)
    text = str(api_error(status, answer, host, what))
    if status == 422:
        fields = invalid_fields(answer)
        if fields:
            text += " (invalid: %s)" % ", ".join(fields)
    elif status == 409:
        text += " (conflict: the object changed meanwhile or is being deleted; run again)"
    return "%s: %s" % (item.label, text)


_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text):
    """``(major, minor, patch)`` of ``1.25``, ``v1.33.0+k3s1``...; None if it is not one."""
    match = _VERSION.match(str(text or "").strip())
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def server_version(version_doc):
    """``(text, (major, minor, patch))`` of the /version answer."""
    doc = version_doc or {}
    text = doc.get("gitVersion") or "%s.%s" % (doc.get("major", "?"), doc.get("minor", "?"))
    parsed = parse_version(text)
    if parsed is None:
        major = re.sub(r"\D", "", str(doc.get("major") or ""))
        minor = re.sub(r"\D", "", str(doc.get("minor") or ""))
        parsed = (int(major), int(minor), 0) if major and minor else None
    return text, parsed


def version_problem(version_doc, minimum):
    """Why the server is too old for ``minimum`` (None: it is not)."""
    if not minimum:
        return None
    wanted = parse_version(minimum)
    if wanted is None:
        return "min_server_version %r is not a version like 1.25" % (minimum,)
    text, have = server_version(version_doc)
    if have is None:
        return "the cluster's version %r cannot be read; min_server_version is %s" % (text, minimum)
    if have < wanted:
        return "the cluster runs Kubernetes %s, older than min_server_version %s" % (text, minimum)
    return None


def summary(results):
    counts = dict.fromkeys(ACTIONS, 0)
    for entry in results:
        counts[entry["action"]] += 1
    return counts
