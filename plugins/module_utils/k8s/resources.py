# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one registry of resource types: every Kubernetes REST path is built and quoted here.

A :class:`Resource` is a kind as the cluster serves it (group, version, plural, scope) and
says how its objects are patched. The kinds the modules use are registered below; other
kinds come from discovery (:func:`from_discovery`) or from a CustomResourceDefinition.
Every path segment that comes from data (namespace, name) is percent-quoted with nothing
kept: names of some kinds (RBAC) may hold characters with a meaning in URLs.
"""

from __future__ import annotations

from urllib.parse import quote

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
VERSION_PATH = "/version"

# Groups served by the kube-apiserver itself: their objects take strategic merge patches.
# Everything else (custom resources, aggregated APIs) gets a JSON merge patch.
BUILTIN_GROUPS = frozenset(
    (
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    )
)


class UnknownKind(ValueError):
    """A kind the registry does not know; the message names it."""


def segment(text):
    """One path segment, percent-quoted with nothing kept."""
    return quote(str(text), safe="")


def split_api_version(api_version):
    """``("apps", "v1")`` of ``apps/v1``, ``("", "v1")`` of ``v1``."""
    group, _sep, version = (api_version or "").rpartition("/")
    return group, version


def group_version_path(api_version):
    """``/apis/<group>/<version>`` (``/api/v1`` for the core group): discovery and roots."""
    group, version = split_api_version(api_version)
    return "/apis/%s/%s" % (group, version) if group else "/api/%s" % version


discovery_path = group_version_path


class Resource:
    """A kind as the cluster serves it: where its objects live and how they are patched.

    ``from_batch``: defined by a CustomResourceDefinition that is being applied, not (yet)
    served, so it takes a JSON merge patch and cannot be read before the CRD exists."""

    __slots__ = ("group", "version", "kind", "plural", "namespaced", "from_batch")

    def __init__(self, group, version, kind, plural, namespaced=True, from_batch=False):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
        self.from_batch = from_batch

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def key(self):
        return (self.group, self.kind)

    @property
    def resource(self):
        """``deployments.apps`` / ``configmaps``: how the apiserver names it in messages."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    @property
    def patch_type(self):
        return STRATEGIC if self.group in BUILTIN_GROUPS and not self.from_batch else MERGE

    def collection_path(self, namespace=None):
        """The collection: in ``namespace`` for a namespaced kind (across all namespaces
        when None), the cluster's for a cluster-scoped one."""
        root = group_version_path(self.api_version)
        if self.namespaced and namespace is not None:
            root += "/namespaces/%s" % segment(namespace)
        return "%s/%s" % (root, self.plural)

    def object_path(self, namespace, name, subresource=None):
        path = "%s/%s" % (self.collection_path(namespace if self.namespaced else None), segment(name))
        return "%s/%s" % (path, subresource) if subresource else path

    def label(self, namespace, name):
        """``Deployment ns/name`` (``Namespace name`` for a cluster-scoped kind)."""
        return "%s %s/%s" % (self.kind, namespace, name) if namespace else "%s %s" % (self.kind, name)

    def __eq__(self, other):
        return isinstance(other, Resource) and (
            self.api_version,
            self.kind,
            self.plural,
            self.namespaced,
            self.from_batch,
        ) == (other.api_version, other.kind, other.plural, other.namespaced, other.from_batch)

    def __hash__(self):
        return hash((self.api_version, self.kind, self.plural))

    def __repr__(self):
        return "Resource(%r, %r)" % (self.api_version, self.kind)


def _r(api_version, kind, plural, namespaced=True):
    group, version = split_api_version(api_version)
    return Resource(group, version, kind, plural, namespaced)


# The kinds the modules read and write, at the version they use.
KNOWN = (
    _r("v1", "Namespace", "namespaces", namespaced=False),
    _r("v1", "Node", "nodes", namespaced=False),
    _r("v1", "PersistentVolume", "persistentvolumes", namespaced=False),
    _r("v1", "Pod", "pods"),
    _r("v1", "Service", "services"),
    _r("v1", "Endpoints", "endpoints"),
    _r("v1", "Event", "events"),
    _r("v1", "ConfigMap", "configmaps"),
    _r("v1", "Secret", "secrets"),
    _r("v1", "ServiceAccount", "serviceaccounts"),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    _r("v1", "ResourceQuota", "resourcequotas"),
    _r("v1", "LimitRange", "limitranges"),
    _r("apps/v1", "Deployment", "deployments"),
    _r("apps/v1", "ReplicaSet", "replicasets"),
    _r("apps/v1", "StatefulSet", "statefulsets"),
    _r("apps/v1", "DaemonSet", "daemonsets"),
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("batch/v1", "Job", "jobs"),
    _r("batch/v1", "CronJob", "cronjobs"),
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    _r("networking.k8s.io/v1", "Ingress", "ingresses"),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False),
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", namespaced=False),
    _r("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False),
    _r("metrics.k8s.io/v1beta1", "PodMetrics", "pods"),
    _r("route.openshift.io/v1", "Route", "routes"),
)
_BY_KIND = {r.kind: r for r in KNOWN}
# Other served versions of registered kinds (an older cluster's autoscaling/v1).
_OTHER_VERSIONS = {
    ("autoscaling/v1", "HorizontalPodAutoscaler"): _r(
        "autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers"
    ),
}


def get(kind, api_version=None):
    """The registered Resource of ``kind`` (at ``api_version`` when given). Raises
    UnknownKind naming the kind when the registry does not have it."""
    found = _BY_KIND.get(kind)
    if found is not None and api_version not in (None, found.api_version):
        found = _OTHER_VERSIONS.get((api_version, kind))
    if found is None:
        raise UnknownKind(
            "kind %s%s is not one this collection knows without discovery"
            % (kind, " (%s)" % api_version if api_version else "")
        )
    return found


# Shorthands for the kinds every package uses.
NAMESPACE = get("Namespace")
POD = get("Pod")
SERVICE = get("Service")
ENDPOINTS = get("Endpoints")
EVENT = get("Event")
CONFIG_MAP = get("ConfigMap")
SECRET = get("Secret")
DEPLOYMENT = get("Deployment")
REPLICA_SET = get("ReplicaSet")
STATEFUL_SET = get("StatefulSet")
DAEMON_SET = get("DaemonSet")
CRON_JOB = get("CronJob")
LEASE = get("Lease")
HPA = get("HorizontalPodAutoscaler")
CRD = get("CustomResourceDefinition")
POD_METRICS = get("PodMetrics")


def from_discovery(api_version, kind, resource_list):
    """The Resource of ``kind`` in the APIResourceList of its group/version, or None."""
    group, version = split_api_version(api_version)
    for entry in (resource_list or {}).get("resources") or []:
        name = entry.get("name") or ""
        if "/" in name or entry.get("kind") != kind:
            continue
        return Resource(group, version, kind, name, bool(entry.get("namespaced")))
    return None


def namespace_path(name=None):
    return NAMESPACE.collection_path() if name is None else NAMESPACE.object_path(None, name)


def pod_log_path(namespace, pod):
    return POD.object_path(namespace, pod, "log")


def service_proxy_path(namespace, service, port, path, scheme=None):
    """The API server's proxy to a Service port: ``.../services/[scheme:]name[:port]/proxy/path``."""
    target = service if port in (None, "") else "%s:%s" % (service, port)
    if scheme and scheme != "http":
        target = "%s:%s" % (scheme, target)
    return "%s/%s/proxy%s" % (
        SERVICE.collection_path(namespace),
        quote(target, safe=":"),
        path if path.startswith("/") else "/" + path,
    )
