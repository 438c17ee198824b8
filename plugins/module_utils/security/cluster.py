# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live security audit's one read of the cluster, through the one k8s Client.

``read(client, namespaces)`` LISTs, concurrently, what the live analyses need: pods, the
workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs), Services,
Ingresses, NetworkPolicies, ServiceAccounts, Roles and RoleBindings of the namespaces (one
cluster-wide LIST per kind when no namespace is given), the Namespaces, and the cluster's
ClusterRoles and ClusterRoleBindings. That is 16 LISTs for the whole cluster, or 13 per
namespace plus one GET per namespace and 2.

A LIST that is refused (403) or not served (404), or fails otherwise after the Client's
retries, does not stop the read: it becomes a "not_checked" finding naming what could not be
read and which analysis misses it (MAO-149 RBAC, MAO-199 NetworkPolicy coverage, MAO-148 the
object checks), and the rest goes on. A 403 on ClusterRoles is "RBAC not checked", never
"clean". Only an unreachable API server or rejected credentials (nothing can be read) raise.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.security.finding import make, ref, rule

NAMESPACED = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Service",
    "Ingress",
    "NetworkPolicy",
    "ServiceAccount",
    "Role",
    "RoleBinding",
)
CLUSTER = ("ClusterRole", "ClusterRoleBinding")
RBAC_KINDS = frozenset(("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"))
NETWORK_KINDS = frozenset(("NetworkPolicy", "Namespace", "Pod"))
CONCURRENCY = 8
RULES = (
    rule(
        "MAO-148",
        "Objects not checked: a kind could not be read from the cluster",
        "info",
        "Grant the auditing identity list on the kind named (a read-only ClusterRole such as view)",
    ),
)


def _what(kind, namespace):
    plural = resources.get(kind).plural
    return "list %s in namespace %s" % (plural, namespace) if namespace else "list %s" % plural


def _rule_of(kind):
    if kind in RBAC_KINDS:
        return "MAO-149", "the RBAC analysis"
    if kind in NETWORK_KINDS:
        return "MAO-199", "the NetworkPolicy coverage" + (" and the object checks" if kind == "Pod" else "")
    return "MAO-148", "the object checks"


def not_checked(kind, namespace, error, name=None):
    """The "not_checked" finding of a kind that could not be read (``error``: an ApiError);
    ``name`` for a single object (a Namespace read by name)."""
    rule_id, analysis = _rule_of(kind)
    resource = resources.get(kind)
    reason = {"forbidden": "permission denied (403)", "not_found": "not served by this cluster (404)"}.get(
        error.kind, str(error)
    )
    if name:
        what = "%s %s" % (kind, name)
    elif namespace:
        what = "%s in namespace %s" % (resource.plural, namespace)
    else:
        what = resource.plural + (" across the cluster" if resource.namespaced else "")
    return make(
        rule_id,
        "info",
        "%s could not be read: %s; %s did not run on them" % (what, reason, analysis),
        ref(resource.api_version, kind, namespace, name),
        status="not_checked",
    )


def unread_kinds(findings):
    """The kinds that some not_checked finding of read() names."""
    return {f["object"]["kind"] for f in findings if f["status"] == "not_checked" and f["object"]}


def unread_scope(findings, kinds):
    """``(every namespace, {namespaces})`` for which a LIST of one of ``kinds`` failed."""
    everywhere, namespaces = False, set()
    for f in findings:
        obj = f.get("object") or {}
        if obj.get("kind") in kinds:
            if obj.get("namespace"):
                namespaces.add(obj["namespace"])
            elif obj.get("kind") != "Namespace" or not obj.get("name"):
                everywhere = True
    return everywhere, namespaces


def read(client, namespaces=None, concurrency=CONCURRENCY):
    """``(objects, not_checked)``: ``objects`` maps each kind (and "Namespace") to its items
    (apiVersion and kind filled in), ``not_checked`` the findings of what could not be read.
    ``namespaces``: names, or None for every namespace. Raises ApiError when the API server
    cannot be reached or refuses the credentials."""
    jobs = []  # (kind, namespace, callable)
    if namespaces is None:
        scopes = [None]
        jobs.append(("Namespace", None, lambda: client.list(resources.namespace_path(), "list namespaces")))
    else:
        scopes = list(dict.fromkeys(namespaces))
        for name in scopes:
            jobs.append(("Namespace", name, _get_namespace(client, name)))
    for kind in NAMESPACED:
        resource = resources.get(kind)
        for namespace in scopes:
            path = resource.collection_path(namespace)
            jobs.append((kind, namespace, _lister(client, path, _what(kind, namespace))))
    for kind in CLUSTER:
        jobs.append((kind, None, _lister(client, resources.get(kind).collection_path(), _what(kind, None))))

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs)))) as pool:
        futures = [(kind, namespace, pool.submit(call)) for kind, namespace, call in jobs]
        answers = []
        for kind, namespace, future in futures:
            try:
                answers.append((kind, namespace, future.result(), None))
            except ApiError as exc:
                answers.append((kind, namespace, None, exc))

    objects, findings = {}, []
    for kind, namespace, items, error in answers:
        if error is not None:
            if error.fatal:
                raise error
            if kind == "Namespace" and error.kind == "not_found" and namespace:
                objects.setdefault(kind, [])
                continue  # a namespace that does not exist holds nothing to audit
            if kind == "Namespace":
                findings.append(not_checked(kind, None, error, name=namespace))
            else:
                findings.append(not_checked(kind, namespace, error))
            continue
        resource = resources.get(kind)
        listed = objects.setdefault(kind, [])
        for item in items:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", kind)
            listed.append(item)
    return objects, findings


def _lister(client, path, what):
    return lambda: client.list(path, what)


def _get_namespace(client, name):
    def call():
        found = client.get(resources.namespace_path(name), "read namespace %s" % name)
        return [found]

    return call
