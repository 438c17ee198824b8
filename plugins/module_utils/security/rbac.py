# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who can do what: RBAC analysis computed from the Roles and Bindings themselves (pure).

``analyze(objects)`` reads Roles, ClusterRoles, RoleBindings and ClusterRoleBindings (plain
dicts, as LISTed) and reports, per subject (User, Group, ServiceAccount with its namespace)
and scope (a namespace, or the whole cluster), which subjects can read Secrets, exec into
pods, escalate their rights, hold wildcards, or are bound to cluster-admin. Each finding
names the binding(s) and the role rule(s) that grant it: the "why".

It is computed from the objects, not asked of the API server with SubjectAccessReview
(``kubectl auth can-i``): that needs one request per subject, verb and resource, an
authorizer, and rights to create reviews, and it answers yes or no without the binding that
grants. From the objects the whole picture costs the four LISTs, works against the API
emulator of the tests (which serves RBAC objects but does not authorize) and against a
rendered platform before deploy.

What it knows:
- ``aggregationRule``: a ClusterRole's rules are its own plus those of every ClusterRole
  that one of its ``clusterRoleSelectors`` selects (matchLabels and matchExpressions),
  recursively, as the aggregation controller keeps them;
- the built-in ClusterRoles (cluster-admin, admin, edit, view and the
  ``system:aggregate-to-*`` roles with their ``rbac.authorization.k8s.io/aggregate-to-*``
  labels) stand in for objects absent from the read, e.g. when ClusterRoles cannot be
  listed by a namespaced auditor; so ``RoleBinding -> ClusterRole edit`` is understood
  anyway. Their rules here are the bootstrap policy's, abbreviated to what is analysed;
- a binding to a role that does not exist grants nothing today and anything once someone
  creates the role: MAO-110 (info). When ClusterRoles could not be read at all, a binding
  to a ClusterRole that is not built in is "not checked" (MAO-149), never clean.

System subjects are left out by default (``include_system=False``), so an audit of a real
cluster is not flooded by the control plane's own grants: Users and Groups named
``system:*`` (the controllers, nodes, ``system:masters``) and ServiceAccounts of
``kube-system``, ``kube-public`` and ``kube-node-lease``. The broad groups
``system:authenticated``, ``system:unauthenticated``, ``system:anonymous``,
``system:serviceaccounts`` and ``system:serviceaccounts:<ns>`` are always reported: a grant
to them is a grant to everyone. Membership of ``system:masters`` (which the authorizer lets
do anything, whatever RBAC says) lives in client certificates, not in API objects, and
cannot be seen here.

Out of scope, said so rather than guessed: indirect escalation through what a subject may
create (pods in a namespace whose ServiceAccounts are privileged, Secrets of tokens, admission
webhooks: the object checks MAO-041..043 look at the roles for the last two) and
``nonResourceURLs``.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.security.finding import (
    SYSTEM_NAMESPACES,
    make,
    object_ref,
    ref,
    rule,
)
from ansible_collections.multiagent.ops.plugins.module_utils.security.selectors import matches

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
NSA = "Authentication and authorization: role-based access control"
RULES = (
    rule(
        "MAO-100",
        "Subject bound to cluster-admin across the cluster",
        "critical",
        "Bind a ClusterRole holding only the verbs the subject needs, in the namespaces it needs",
        nsa=NSA,
        cis="5.1.1",
    ),
    rule(
        "MAO-101",
        "Subject bound to cluster-admin within a namespace",
        "high",
        "Bind the admin or edit ClusterRole, or a Role with only the verbs needed",
        nsa=NSA,
        cis="5.1.1",
    ),
    rule(
        "MAO-102",
        "Subject can read Secrets across the cluster",
        "high",
        "Grant get/list/watch on secrets only in the namespaces, and for the names, that need it",
        nsa=NSA,
        cis="5.1.2",
    ),
    rule(
        "MAO-103",
        "Subject can read Secrets in a namespace",
        "medium",
        "Grant get on secrets only for the names needed (resourceNames), and not list or watch",
        nsa=NSA,
        cis="5.1.2",
    ),
    rule(
        "MAO-104",
        "Subject can exec into pods across the cluster",
        "high",
        "Remove create/get on pods/exec from the subject's roles",
        nsa=NSA,
    ),
    rule(
        "MAO-105",
        "Subject can exec into pods in a namespace",
        "medium",
        "Remove create/get on pods/exec, or keep it to an operators' group",
        nsa=NSA,
    ),
    rule(
        "MAO-106",
        "Subject can escalate privileges across the cluster (escalate, bind, impersonate)",
        "critical",
        "Remove escalate and bind on roles and clusterroles, and impersonate, from the subject's roles",
        nsa=NSA,
        cis="5.1.8",
    ),
    rule(
        "MAO-107",
        "Subject can escalate privileges in a namespace (escalate, bind, impersonate)",
        "high",
        "Remove escalate and bind on roles, and impersonate, from the subject's roles",
        nsa=NSA,
        cis="5.1.8",
    ),
    rule(
        "MAO-108",
        "Subject holds a wildcard (verbs, resources or apiGroups '*') across the cluster",
        "high",
        "List the verbs, resources and API groups the subject needs instead of '*'",
        nsa=NSA,
        cis="5.1.3",
    ),
    rule(
        "MAO-109",
        "Subject holds a wildcard (verbs, resources or apiGroups '*') in a namespace",
        "medium",
        "List the verbs, resources and API groups the subject needs instead of '*'",
        nsa=NSA,
        cis="5.1.3",
    ),
    rule(
        "MAO-110",
        "Binding to a Role or ClusterRole that does not exist",
        "info",
        "Delete the binding, or create the role it names with only the verbs needed",
    ),
    rule(
        "MAO-149",
        "RBAC not checked: roles or bindings could not be read",
        "info",
        "Grant the auditing identity list on roles, rolebindings, clusterroles and clusterrolebindings",
    ),
)
SEVERITY = {r["id"]: r["severity"] for r in RULES}

# Capabilities, each with its rule id per scope (cluster, namespace).
CAPABILITIES = (
    ("cluster-admin", "MAO-100", "MAO-101", "is bound to cluster-admin"),
    ("secrets", "MAO-102", "MAO-103", "can read Secrets"),
    ("exec", "MAO-104", "MAO-105", "can exec into pods"),
    ("escalate", "MAO-106", "MAO-107", "can escalate privileges"),
    ("wildcard", "MAO-108", "MAO-109", "holds a wildcard"),
)

BROAD_GROUPS = frozenset(
    ("system:authenticated", "system:unauthenticated", "system:anonymous", "system:serviceaccounts")
)
READ = frozenset(("get", "list", "watch"))
IMPERSONATE = (
    ("", "users"),
    ("", "groups"),
    ("", "serviceaccounts"),
    ("authentication.k8s.io", "userextras"),
    ("authentication.k8s.io", "uids"),
)
WRITE = ("create", "delete", "deletecollection", "patch", "update")


def _r(groups, resources, verbs):
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def _aggregate(label):
    return {
        "clusterRoleSelectors": [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-%s" % label: "true"}}
        ]
    }


def _labels(*names):
    return {"rbac.authorization.k8s.io/aggregate-to-%s" % n: "true" for n in names}


_VIEW_CORE = (
    "configmaps",
    "endpoints",
    "persistentvolumeclaims",
    "pods",
    "pods/log",
    "pods/status",
    "replicationcontrollers",
    "serviceaccounts",
    "services",
    "events",
    "limitranges",
    "resourcequotas",
    "namespaces",
)
_APPS = (
    "daemonsets",
    "deployments",
    "replicasets",
    "statefulsets",
    "deployments/scale",
    "statefulsets/scale",
)
_POD_SUBRESOURCES = ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy")

# The bootstrap ClusterRoles of kube-apiserver, abbreviated to what is analysed here.
BUILTIN_CLUSTER_ROLES = {
    "cluster-admin": {
        "rules": [_r(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}],
    },
    "admin": {"aggregationRule": _aggregate("admin")},
    "edit": {"aggregationRule": _aggregate("edit"), "labels": _labels("admin")},
    "view": {"aggregationRule": _aggregate("view"), "labels": _labels("admin", "edit")},
    "system:aggregate-to-admin": {
        "labels": _labels("admin"),
        "rules": [
            _r(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
            _r([RBAC_GROUP], ["roles", "rolebindings"], sorted(READ) + list(WRITE)),
        ],
    },
    "system:aggregate-to-edit": {
        "labels": _labels("admin", "edit"),
        "rules": [
            _r([""], _POD_SUBRESOURCES + ("secrets", "services/proxy"), sorted(READ)),
            _r([""], ["serviceaccounts"], ["impersonate"]),
            _r([""], ("pods",) + _POD_SUBRESOURCES, WRITE),
            _r(
                [""],
                ("configmaps", "persistentvolumeclaims", "secrets", "serviceaccounts", "services"),
                WRITE,
            ),
            _r([""], ["serviceaccounts/token"], ["create"]),
            _r(["apps"], _APPS, WRITE),
            _r(["batch"], ["cronjobs", "jobs"], WRITE),
            _r(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
        ],
    },
    "system:aggregate-to-view": {
        "labels": _labels("admin", "edit", "view"),
        "rules": [
            _r([""], _VIEW_CORE, sorted(READ)),
            _r(["apps"], _APPS + ("controllerrevisions",), sorted(READ)),
            _r(["batch"], ["cronjobs", "jobs"], sorted(READ)),
            _r(["networking.k8s.io"], ["ingresses", "networkpolicies"], sorted(READ)),
        ],
    },
}


def builtin_cluster_roles():
    """The built-in ClusterRoles as objects (what a cluster's read would return for them)."""
    result = []
    for name, entry in BUILTIN_CLUSTER_ROLES.items():
        obj = {
            "apiVersion": RBAC_API,
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": dict(entry.get("labels") or {})},
            "rules": [dict(r) for r in entry.get("rules") or []],
        }
        if "aggregationRule" in entry:
            obj["aggregationRule"] = entry["aggregationRule"]
        result.append(obj)
    return result


def _meta(obj):
    return obj.get("metadata") or {}


# -- roles and their rules ---------------------------------------------------------------


def expand_cluster_roles(cluster_roles):
    """``{name: [(rule, from ClusterRole name)]}``: every ClusterRole's effective rules, its
    aggregationRule expanded (recursively, cycles cut)."""
    by_name = {_meta(cr).get("name"): cr for cr in cluster_roles}
    done = {}

    def effective(name, visiting):
        if name in done:
            return done[name]
        role = by_name[name]
        rules = [(r, name) for r in role.get("rules") or []]
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if selectors:
            for other, candidate in sorted(by_name.items()):
                if other == name or other in visiting:
                    continue
                labels = _meta(candidate).get("labels")
                if any(matches(sel, labels) for sel in selectors):
                    for pair in effective(other, visiting | {name}):
                        if pair not in rules:
                            rules.append(pair)
        if not visiting:
            done[name] = rules
        return rules

    return {name: effective(name, frozenset()) for name in sorted(by_name)}


def _has(values, wanted):
    values = values or []
    return "*" in values or wanted in values


def _resource_matches(resources, wanted):
    """RBAC resource matching: ``*``, the name itself, ``pods/*`` and ``*/exec``."""
    base, _sep, sub = wanted.partition("/")
    for res in resources or []:
        if res in ("*", wanted):
            return True
        if sub and res in ("%s/*" % base, "*/%s" % sub):
            return True
    return False


def _grants(rbac_rule, group, resource, verbs):
    if "nonResourceURLs" in rbac_rule and not rbac_rule.get("resources"):
        return False
    if not _has(rbac_rule.get("apiGroups"), group) or not _resource_matches(
        rbac_rule.get("resources"), resource
    ):
        return False
    return any(_has(rbac_rule.get("verbs"), verb) for verb in verbs)


def capabilities(rbac_rule):
    """The capabilities (secrets, exec, escalate, wildcard) one PolicyRule grants."""
    found = set()
    if _grants(rbac_rule, "", "secrets", READ):
        found.add("secrets")
    if _grants(rbac_rule, "", "pods/exec", ("create", "get")):
        found.add("exec")
    if any(_grants(rbac_rule, RBAC_GROUP, res, ("escalate", "bind")) for res in ("roles", "clusterroles")):
        found.add("escalate")
    if any(_grants(rbac_rule, group, res, ("impersonate",)) for group, res in IMPERSONATE):
        found.add("escalate")
    if any("*" in (rbac_rule.get(key) or []) for key in ("verbs", "resources", "apiGroups")):
        found.add("wildcard")
    return found


def rule_text(rbac_rule):
    """``create,get on pods/exec`` (groups shown when not the core group)."""
    groups = [g for g in rbac_rule.get("apiGroups") or [] if g]
    resources = rbac_rule.get("resources") or rbac_rule.get("nonResourceURLs") or []
    where = ",".join(resources)
    if groups:
        where += " (%s)" % ",".join(groups)
    if rbac_rule.get("resourceNames"):
        where += " named %s" % ",".join(rbac_rule["resourceNames"])
    return "%s on %s" % (",".join(rbac_rule.get("verbs") or []), where)


# -- subjects ----------------------------------------------------------------------------


def subject_key(subject, binding_namespace=None):
    """``(kind, namespace or None, name)``; a User ``system:serviceaccount:ns:name`` is
    that ServiceAccount."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User" and (name or "").startswith("system:serviceaccount:"):
        parts = name.split(":")
        if len(parts) == 4:
            return ("ServiceAccount", parts[2], parts[3])
    if kind == "ServiceAccount":
        return (kind, subject.get("namespace") or binding_namespace, name)
    return (kind, None, name)


def is_system(key, system_namespaces=SYSTEM_NAMESPACES):
    """Whether a subject is the control plane's own (left out by default; see the docstring)."""
    kind, namespace, name = key
    if kind == "ServiceAccount":
        return namespace in system_namespaces
    if name in BROAD_GROUPS or (name or "").startswith("system:serviceaccounts:"):
        return False
    return (name or "").startswith("system:")


def subject_ref(key):
    kind, namespace, name = key
    if kind == "ServiceAccount":
        return ref("v1", kind, namespace, name)
    return ref(RBAC_API, kind, None, name)


def _subject_label(key):
    kind, namespace, name = key
    return "ServiceAccount %s/%s" % (namespace, name) if kind == "ServiceAccount" else "%s %s" % (kind, name)


def _binding_label(binding, kind):
    namespace = _meta(binding).get("namespace")
    name = _meta(binding).get("name")
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


# -- the analysis ------------------------------------------------------------------------


def analyze(
    objects,
    namespaces=None,
    cluster_roles_read=True,
    include_system=False,
    system_namespaces=SYSTEM_NAMESPACES,
):
    """RBAC findings. ``objects``: lists by kind ("Role", "ClusterRole", "RoleBinding",
    "ClusterRoleBinding"); ``namespaces``: the RoleBindings looked at (all when None;
    ClusterRoleBindings always count). ``cluster_roles_read``: False when ClusterRoles could
    not be listed (a binding to one that is not built in is then "not checked")."""
    read = list(objects.get("ClusterRole") or [])
    present = {_meta(cr).get("name") for cr in read}
    cluster_roles = read + [cr for cr in builtin_cluster_roles() if _meta(cr).get("name") not in present]
    effective = expand_cluster_roles(cluster_roles)
    roles = {(_meta(r).get("namespace"), _meta(r).get("name")): r for r in objects.get("Role") or []}

    findings = []
    grants = {}  # (capability, subject key, scope) -> [why]
    bindings = [("ClusterRoleBinding", b) for b in objects.get("ClusterRoleBinding") or []]
    bindings += [
        ("RoleBinding", b)
        for b in objects.get("RoleBinding") or []
        if namespaces is None or _meta(b).get("namespace") in namespaces
    ]
    for kind, binding in bindings:
        namespace = _meta(binding).get("namespace") if kind == "RoleBinding" else None
        role_ref = binding.get("roleRef") or {}
        ref_kind, ref_name = role_ref.get("kind"), role_ref.get("name")
        binding_ref = object_ref(binding, kind, RBAC_API)
        label = _binding_label(binding, kind)
        if ref_kind == "ClusterRole":
            rules = effective.get(ref_name)
            if rules is None and not cluster_roles_read:
                findings.append(
                    make(
                        "MAO-149",
                        "info",
                        "%s grants ClusterRole %s, which could not be read: not checked" % (label, ref_name),
                        binding_ref,
                        status="not_checked",
                    )
                )
                continue
        elif ref_kind == "Role" and namespace is not None:
            role = roles.get((namespace, ref_name))
            rules = None if role is None else [(r, ref_name) for r in role.get("rules") or []]
        else:
            rules = None
        if rules is None:
            findings.append(
                make(
                    "MAO-110",
                    "info",
                    "%s refers to %s %s, which does not exist" % (label, ref_kind, ref_name),
                    binding_ref,
                    path="roleRef",
                )
            )
            continue
        granted = {}
        if ref_kind == "ClusterRole" and ref_name == "cluster-admin":
            granted["cluster-admin"] = ["%s -> ClusterRole cluster-admin" % label]
        for rbac_rule, origin in rules:
            for cap in capabilities(rbac_rule):
                via = "" if origin == ref_name else " (aggregated from %s)" % origin
                granted.setdefault(cap, []).append(
                    "%s -> %s %s%s: %s" % (label, ref_kind, ref_name, via, rule_text(rbac_rule))
                )
        for subject in binding.get("subjects") or []:
            key = subject_key(subject, _meta(binding).get("namespace"))
            if not include_system and is_system(key, system_namespaces):
                continue
            for cap, why in granted.items():
                grants.setdefault((cap, key, namespace), []).extend(why)

    admins = {(key, scope) for (cap, key, scope) in grants if cap == "cluster-admin"}
    cluster_admins = {key for (key, scope) in admins if scope is None}
    for cap, cluster_rule, ns_rule, verb in CAPABILITIES:
        for (got, key, scope), why in sorted(grants.items(), key=lambda item: _sort_key(item[0])):
            if got != cap:
                continue
            # cluster-admin implies the rest: one finding says it all
            if cap != "cluster-admin" and ((key, scope) in admins or key in cluster_admins):
                continue
            if cap == "cluster-admin" and scope is not None and key in cluster_admins:
                continue
            rule_id = cluster_rule if scope is None else ns_rule
            where = "across the cluster" if scope is None else "in namespace %s" % scope
            findings.append(
                make(
                    rule_id,
                    SEVERITY[rule_id],
                    "%s %s %s, granted by %s"
                    % (_subject_label(key), verb, where, "; ".join(dict.fromkeys(why))),
                    subject_ref(key),
                )
            )
    return findings


def _sort_key(item):
    cap, (kind, namespace, name), scope = item
    return (cap, scope or "", kind, namespace or "", name or "")
