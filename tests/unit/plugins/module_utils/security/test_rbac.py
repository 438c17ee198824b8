"""RBAC analysis from literal Roles and Bindings."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import rbac

NS = "langgraph"
API = "rbac.authorization.k8s.io/v1"


def role(name, rules, namespace=NS):
    return {
        "apiVersion": API,
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules,
    }


def cluster_role(name, rules=(), labels=None, aggregation=None):
    obj = {"apiVersion": API, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}}
    obj["rules"] = list(rules)
    if aggregation is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregation}
    return obj


def sa(name, namespace=NS):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def binding(name, ref_kind, ref_name, subjects, namespace=NS):
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
        "subjects": subjects,
    }


def rule(groups, resources, verbs, **more):
    return dict({"apiGroups": groups, "resources": resources, "verbs": verbs}, **more)


def found(findings):
    return sorted(
        (f["rule"], f["object"]["kind"], f["object"]["namespace"], f["object"]["name"]) for f in findings
    )


def analyze(**objects):
    options = {
        k: objects.pop(k) for k in ("namespaces", "cluster_roles_read", "include_system") if k in objects
    }
    return rbac.analyze(objects, **options)


# -- the seed's Role: read-only, secrets included ------------------------------------------


def test_the_seeds_role_reads_secrets_in_its_namespace_and_says_why():
    seed = role(
        "langgraph-role",
        [
            rule([""], ["pods", "services", "configmaps", "secrets"], ["get", "list", "watch"]),
            rule(["apps"], ["deployments"], ["get", "list", "watch"]),
        ],
    )
    rb = binding("langgraph-role-binding", "Role", "langgraph-role", [sa("langgraph-service-account")])
    findings = analyze(Role=[seed], RoleBinding=[rb])
    assert found(findings) == [("MAO-103", "ServiceAccount", NS, "langgraph-service-account")]
    finding = findings[0]
    assert finding["severity"] == "medium" and finding["status"] == "fail"
    assert finding["object"]["apiVersion"] == "v1"
    assert finding["message"] == (
        "ServiceAccount langgraph/langgraph-service-account can read Secrets in namespace langgraph, "
        "granted by "
        "RoleBinding langgraph/langgraph-role-binding -> Role langgraph-role: "
        "get,list,watch on pods,services,configmaps,secrets"
    )
    # without secrets the same role is clean
    seed["rules"][0]["resources"].remove("secrets")
    assert analyze(Role=[seed], RoleBinding=[rb]) == []


# -- each capability -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, capability",
    [
        ([rule([""], ["secrets"], ["get"])], "secrets"),
        ([rule([""], ["secrets"], ["watch"], resourceNames=["db"])], "secrets"),
        ([rule([""], ["secrets"], ["create", "delete"])], None),
        ([rule(["apps"], ["secrets"], ["get"])], None),  # not the core group's secrets
        ([rule([""], ["pods/exec"], ["create"])], "exec"),
        ([rule([""], ["pods/exec"], ["get"])], "exec"),
        ([rule([""], ["pods/*"], ["create"])], "exec"),
        ([rule([""], ["pods"], ["create"])], None),
        ([rule([""], ["pods/log"], ["get"])], None),
        ([rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate"])], "escalate"),
        ([rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"])], "escalate"),
        ([rule(["rbac.authorization.k8s.io"], ["rolebindings"], ["create"])], None),
        ([rule([""], ["users", "groups"], ["impersonate"])], "escalate"),
        ([rule([""], ["serviceaccounts"], ["impersonate"])], "escalate"),
        ([rule(["apps"], ["deployments"], ["*"])], "wildcard"),
        ([rule(["*"], ["deployments"], ["get"])], "wildcard"),
        ([{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}], None),
    ],
)
def test_capabilities_of_a_rule(rules, capability):
    rb = binding("b", "Role", "r", [sa("app")])
    findings = analyze(Role=[role("r", rules)], RoleBinding=[rb])
    expected = {
        None: [],
        "secrets": ["MAO-103"],
        "exec": ["MAO-105"],
        "escalate": ["MAO-107"],
        "wildcard": ["MAO-109"],
    }[capability]
    assert [f["rule"] for f in findings] == expected


def test_a_full_wildcard_grants_every_capability_each_reported():
    cr = cluster_role("everything-custom", [rule(["*"], ["*"], ["*"])])
    crb = binding(
        "ops", "ClusterRole", "everything-custom", [{"kind": "User", "name": "alice"}], namespace=None
    )
    findings = analyze(ClusterRole=[cr], ClusterRoleBinding=[crb])
    assert [f["rule"] for f in findings] == ["MAO-102", "MAO-104", "MAO-106", "MAO-108"]
    assert {f["object"]["kind"] for f in findings} == {"User"}
    assert all("across the cluster" in f["message"] for f in findings)
    assert findings[0]["object"] == {"apiVersion": API, "kind": "User", "namespace": None, "name": "alice"}


def test_cluster_admin_is_one_finding_that_implies_the_rest():
    crb = binding("root", "ClusterRole", "cluster-admin", [{"kind": "Group", "name": "ops"}], namespace=None)
    rb = binding("local", "ClusterRole", "cluster-admin", [sa("deployer")])
    extra = binding("more", "ClusterRole", "edit", [{"kind": "Group", "name": "ops"}])
    findings = analyze(ClusterRoleBinding=[crb], RoleBinding=[rb, extra])
    assert found(findings) == [
        ("MAO-100", "Group", None, "ops"),
        ("MAO-101", "ServiceAccount", NS, "deployer"),
    ]
    severities = {f["rule"]: f["severity"] for f in findings}
    assert severities == {"MAO-100": "critical", "MAO-101": "high"}


# -- built-ins and aggregation -----------------------------------------------------------


def test_builtin_cluster_roles_are_known_when_their_objects_are_absent():
    subjects = [sa("editor")]
    findings = analyze(RoleBinding=[binding("b", "ClusterRole", "edit", subjects)], cluster_roles_read=False)
    assert [f["rule"] for f in findings] == ["MAO-103", "MAO-105", "MAO-107"]  # secrets, exec, impersonate
    assert "(aggregated from system:aggregate-to-edit)" in findings[0]["message"]
    view = analyze(RoleBinding=[binding("b", "ClusterRole", "view", subjects)], cluster_roles_read=False)
    assert view == []  # view reads no Secrets
    admin = analyze(RoleBinding=[binding("b", "ClusterRole", "admin", subjects)], cluster_roles_read=False)
    assert [f["rule"] for f in admin] == ["MAO-103", "MAO-105", "MAO-107"]


def test_a_read_cluster_role_replaces_the_builtin_of_its_name():
    tame_edit = cluster_role("edit", [rule([""], ["configmaps"], ["get"])])
    findings = analyze(ClusterRole=[tame_edit], RoleBinding=[binding("b", "ClusterRole", "edit", [sa("x")])])
    assert findings == []


def test_aggregation_by_labels_and_expressions():
    custom = cluster_role(
        "crd-secrets-reader",
        [rule([""], ["secrets"], ["list"])],
        labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    )
    by_expression = cluster_role(
        "monitoring",
        aggregation=[{"matchExpressions": [{"key": "team", "operator": "In", "values": ["obs", "sre"]}]}],
    )
    execer = cluster_role("debug-exec", [rule([""], ["pods/exec"], ["create"])], labels={"team": "sre"})
    other = cluster_role("other-exec", [rule([""], ["pods/exec"], ["create"])], labels={"team": "dev"})
    objects = {
        "ClusterRole": [custom, by_expression, execer, other],
        "RoleBinding": [
            binding("viewer", "ClusterRole", "view", [sa("viewer")]),
            binding("mon", "ClusterRole", "monitoring", [sa("mon")]),
        ],
    }
    findings = rbac.analyze(objects)
    assert found(findings) == [
        ("MAO-103", "ServiceAccount", NS, "viewer"),  # view (built in) aggregates the custom role
        ("MAO-105", "ServiceAccount", NS, "mon"),  # monitoring selects debug-exec, not other-exec
    ]
    assert "aggregated from crd-secrets-reader" in findings[0]["message"]
    effective = rbac.expand_cluster_roles(objects["ClusterRole"] + rbac.builtin_cluster_roles())
    # admin and edit pick it up too, through the labels the view role's sources carry
    assert any(origin == "crd-secrets-reader" for _r, origin in effective["admin"])
    assert not any(origin == "other-exec" for _r, origin in effective["monitoring"])


def test_aggregation_cycles_end():
    a = cluster_role(
        "a", [rule([""], ["secrets"], ["get"])], labels={"x": "a"}, aggregation=[{"matchLabels": {"x": "b"}}]
    )
    b = cluster_role(
        "b",
        [rule([""], ["pods/exec"], ["create"])],
        labels={"x": "b"},
        aggregation=[{"matchLabels": {"x": "a"}}],
    )
    effective = rbac.expand_cluster_roles([a, b])
    assert {origin for _r, origin in effective["a"]} == {"a", "b"}
    assert {origin for _r, origin in effective["b"]} == {"a", "b"}


# -- missing roles and unreadable ClusterRoles -----------------------------------------------


def test_bindings_to_missing_roles_are_info_findings():
    objects = {
        "RoleBinding": [binding("ghost", "Role", "gone", [sa("app")])],
        "ClusterRoleBinding": [binding("ghost-c", "ClusterRole", "gone-too", [sa("app")], namespace=None)],
    }
    findings = rbac.analyze(objects)
    assert found(findings) == [
        ("MAO-110", "ClusterRoleBinding", None, "ghost-c"),
        ("MAO-110", "RoleBinding", NS, "ghost"),
    ]
    assert all(f["severity"] == "info" and f["path"] == "roleRef" for f in findings)
    assert "Role gone, which does not exist" in found_message(findings, "ghost")


def found_message(findings, name):
    return next(f["message"] for f in findings if f["object"]["name"] == name)


def test_unreadable_cluster_roles_mean_not_checked_never_clean():
    rb = binding("b", "ClusterRole", "custom-thing", [sa("app")])
    findings = rbac.analyze({"RoleBinding": [rb]}, cluster_roles_read=False)
    assert [(f["rule"], f["status"]) for f in findings] == [("MAO-149", "not_checked")]
    assert "could not be read" in findings[0]["message"]


# -- subjects ----------------------------------------------------------------------------


def test_system_subjects_are_left_out_by_default_and_broad_groups_never():
    secrets = cluster_role("secret-reader", [rule([""], ["secrets"], ["get"])])
    subjects = [
        {"kind": "User", "name": "system:kube-controller-manager"},
        {"kind": "Group", "name": "system:nodes"},
        sa("generic-garbage-collector", "kube-system"),
        {"kind": "User", "name": "system:serviceaccount:kube-system:replicaset-controller"},
        {"kind": "Group", "name": "system:authenticated"},
        {"kind": "Group", "name": "system:serviceaccounts:team"},
        {"kind": "User", "name": "system:serviceaccount:team:app"},
    ]
    crb = binding("readers", "ClusterRole", "secret-reader", subjects, namespace=None)
    objects = {"ClusterRole": [secrets], "ClusterRoleBinding": [crb]}
    assert found(rbac.analyze(objects)) == [
        ("MAO-102", "Group", None, "system:authenticated"),
        ("MAO-102", "Group", None, "system:serviceaccounts:team"),
        ("MAO-102", "ServiceAccount", "team", "app"),  # the User form of a ServiceAccount
    ]
    assert len(rbac.analyze(objects, include_system=True)) == len(subjects)


def test_findings_are_per_subject_and_scope_with_every_binding_that_grants():
    reader = role("reader", [rule([""], ["secrets"], ["get"])])
    other = role("reader", [rule([""], ["secrets"], ["get"])], namespace="other")
    bindings = [
        binding("one", "Role", "reader", [sa("app")]),
        binding("two", "Role", "reader", [sa("app")]),
        binding("three", "Role", "reader", [sa("app", NS)], namespace="other"),
    ]
    findings = analyze(Role=[reader, other], RoleBinding=bindings)
    assert len(findings) == 2
    mine = next(f for f in findings if "in namespace langgraph" in f["message"])
    assert "RoleBinding langgraph/one" in mine["message"] and "RoleBinding langgraph/two" in mine["message"]
    # a namespaced audit looks at the RoleBindings of its namespaces only
    assert len(analyze(Role=[reader, other], RoleBinding=bindings, namespaces=["other"])) == 1


def test_rules_are_catalogue_entries_in_the_rbac_range():
    ids = [r["id"] for r in rbac.RULES]
    assert ids == sorted(set(ids)) and all("MAO-100" <= i <= "MAO-149" for i in ids)
    assert all(set(r) == {"id", "title", "severity", "hint", "scope", "references"} for r in rbac.RULES)


def test_the_user_form_of_a_service_account_is_the_same_subject():
    reader = cluster_role("secret-reader", [rule([""], ["secrets"], ["get"])])
    bindings = [
        binding("as-sa", "ClusterRole", "secret-reader", [sa("app", "team")], namespace=None),
        binding(
            "as-user",
            "ClusterRole",
            "secret-reader",
            [{"kind": "User", "name": "system:serviceaccount:team:app"}],
            namespace=None,
        ),
    ]
    findings = rbac.analyze({"ClusterRole": [reader], "ClusterRoleBinding": bindings})
    assert found(findings) == [("MAO-102", "ServiceAccount", "team", "app")]
    assert "ClusterRoleBinding as-sa" in findings[0]["message"]
    assert "ClusterRoleBinding as-user" in findings[0]["message"]
