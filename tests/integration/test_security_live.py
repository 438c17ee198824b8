"""The live security analysis through the real client against the emulator: cluster.read
of a namespace with Roles, RoleBindings, NetworkPolicies, a Deployment's pods and a bare
pod, then the RBAC analysis and the NetworkPolicy coverage and flows on what was read.

The emulator serves RBAC and NetworkPolicy objects but neither authorizes nor enforces
traffic: this proves the reading and the analysis of real API answers (lists without
kind, controller-made ReplicaSets and pods with ownerReferences), not the enforcement."""

import time

import pytest
from conftest import create_namespace, delete_namespace
from kubernetes import client

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import Client
from ansible_collections.multiagent.ops.plugins.module_utils.security import cluster, netpol, rbac

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
CLUSTER = "us-east-1"


def create(api, namespace):
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    rbac_api = client.RbacAuthorizationV1Api(api)
    net = client.NetworkingV1Api(api)
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "mplp/core:1.0"}]},
                },
            },
        },
    )
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "db", "labels": {"app": "postgres"}},
            "spec": {
                "containers": [
                    {"name": "pg", "image": "postgres:15", "ports": [{"name": "pg", "containerPort": 5432}]}
                ]
            },
        },
    )
    rbac_api.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"]}],
        },
    )
    sa = [{"kind": "ServiceAccount", "name": "app", "namespace": namespace}]
    for name, kind, role, subjects in (
        ("app-reader", "Role", "reader", sa),
        (
            "ops-edit",
            "ClusterRole",
            "edit",
            [{"kind": "Group", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}],
        ),
        ("ghost", "Role", "gone", sa),
    ):
        rbac_api.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                "subjects": subjects,
            },
        )
    net.create_namespaced_network_policy(
        namespace,
        {
            "metadata": {"name": "postgres"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "postgres"}},
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "pg"}]}
                ],
            },
        },
    )


def wait_for_pods(api, namespace, count, timeout=10):
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    while True:
        pods = core.list_namespaced_pod(namespace).items
        if len(pods) >= count or time.monotonic() > deadline:
            return pods
        time.sleep(0.2)


@pytest.fixture
def namespace(kube):
    name = create_namespace(kube, "it-sec", CLUSTER)
    yield name
    delete_namespace(kube, name, CLUSTER)


def test_read_then_rbac_and_network_policy_coverage(kube, namespace):
    api = kube[CLUSTER]
    create(api, namespace)
    assert len(wait_for_pods(api, namespace, 3)) == 3

    objects, not_checked = cluster.read(Client(api), [namespace])
    assert not_checked == []
    assert {p["metadata"]["name"] for p in objects["Pod"]} >= {"db"}
    assert all(obj["kind"] == "RoleBinding" for obj in objects["RoleBinding"])

    # RBAC: only what was granted in this namespace (other tests' ClusterRoleBindings aside)
    mine = [
        f
        for f in rbac.analyze(objects, namespaces=[namespace])
        if f["object"]["namespace"] == namespace or namespace in f["message"]
    ]
    found = sorted((f["rule"], f["object"]["kind"], f["object"]["name"]) for f in mine)
    assert found == [
        ("MAO-103", "Group", "ops"),  # edit: the built-in role, whether or not the emulator has it
        ("MAO-103", "ServiceAccount", "app"),
        ("MAO-105", "Group", "ops"),
        ("MAO-107", "Group", "ops"),
        ("MAO-110", "RoleBinding", "ghost"),
    ]
    reader = next(f for f in mine if f["object"]["name"] == "app")
    assert (
        "RoleBinding %s/app-reader -> Role reader: get,list on configmaps,secrets" % namespace
        in reader["message"]
    )

    # NetworkPolicy coverage: the Deployment's two pods are one finding on the Deployment
    coverage = sorted(
        (f["rule"], f["object"]["kind"], f["object"]["name"]) for f in netpol.analyze(objects, [namespace])
    )
    assert coverage == [
        ("MAO-150", "Deployment", "web"),
        ("MAO-151", "Namespace", namespace),
        ("MAO-152", "Namespace", namespace),
    ]

    # flows over what was read: web may reach the database on its named port, nothing else may
    flows = netpol.flows(objects["NetworkPolicy"], objects["Pod"], objects["Namespace"])
    db = flows.pod(namespace, "db")
    web = next(p for p in objects["Pod"] if p["metadata"]["labels"].get("app") == "web")
    assert flows.allowed(web, db, 5432)
    assert flows.allowed(web, db, "pg")
    assert not flows.allowed(web, db, 5433)
    assert not flows.allowed({"metadata": {"namespace": "elsewhere", "labels": {"app": "web"}}}, db, 5432)


@pytest.mark.global_state  # undoing a deny rule clears every deny rule of the emulator
@pytest.mark.emulator_only
def test_a_refused_list_is_not_checked_through_the_real_client(kube, namespace, faults):
    # denied in this namespace only (a deny on clusterroles would change what every test sees;
    # the unit tests cover that answer)
    faults.deny(CLUSTER, "list", "networking.k8s.io", "networkpolicies", namespace=namespace)
    objects, not_checked = cluster.read(Client(kube[CLUSTER]), [namespace])
    assert [(f["rule"], f["status"], f["object"]["kind"], f["object"]["namespace"]) for f in not_checked] == [
        ("MAO-199", "not_checked", "NetworkPolicy", namespace)
    ]
    assert "permission denied (403)" in not_checked[0]["message"]
    assert "Pod" in objects and "ClusterRole" in objects  # the rest was read


def test_the_module_audits_a_live_namespace_in_one_task(kube, namespace, ansible, tmp_path):
    """k8s_security_audit on the namespace: the object checks on the Deployment (not again
    on its pods), RBAC and coverage findings, the reports; a critical finding fails the task
    after the reports are written, and a waiver with a reason and a date lets it pass."""
    api = kube[CLUSTER]
    create(api, namespace)
    wait_for_pods(api, namespace, 3)
    task = "Audit the namespaces"
    extra = {"ops_hosts": CLUSTER, "security_namespaces": [namespace], "security_report_dir": str(tmp_path)}

    run = ansible("tests/integration/playbooks/security_audit.yml", limit=CLUSTER, extra_vars=extra)
    result = run.results(task, CLUSTER)
    assert run.rc == 0, run.failure_messages()
    mine = {
        (f["rule"], f["object"]["kind"], f["object"]["name"])
        for f in result["findings"]
        if f["object"]["namespace"] == namespace or namespace in f["message"]
    }
    # the object checks: on the Deployment (no securityContext) and on the bare pod (no digest)
    assert ("MAO-033", "Deployment", "web") in mine and ("MAO-017", "Pod", "db") in mine
    assert ("MAO-150", "Deployment", "web") in mine and ("MAO-103", "ServiceAccount", "app") in mine
    assert not [f for f in result["findings"] if f["object"]["kind"] in ("ReplicaSet",)]
    assert not [
        f
        for f in result["findings"]
        if f["object"]["kind"] == "Pod" and f["object"]["name"].startswith("web-")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "security-audit.json",
        "security-audit.junit.xml",
        "security-audit.sarif",
    ]

    # privileged: a critical finding fails the task, naming it; a waiver accepts it
    client.AppsV1Api(api).patch_namespaced_deployment(
        "web",
        namespace,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}
                }
            }
        },
    )
    run = ansible("tests/integration/playbooks/security_audit.yml", limit=CLUSTER, extra_vars=extra)
    assert run.rc != 0 and any("MAO-001" in m and "web" in m for m in run.failure_messages())
    waiver = {"rule": "MAO-001", "kind": "Deployment", "namespace": namespace, "name": "web"}
    waiver.update(reason="the CNI agent needs it", expires="2099-12-31")
    run = ansible(
        "tests/integration/playbooks/security_audit.yml",
        limit=CLUSTER,
        extra_vars=dict(extra, security_waivers=[waiver]),
    )
    assert run.rc == 0, run.failure_messages()
    statuses = {f["status"] for f in run.results(task, CLUSTER)["findings"] if f["rule"] == "MAO-001"}
    assert statuses == {"waived"}


def test_the_runbook_audits_every_cluster_in_one_task_each(kube, ansible, tmp_path):
    """playbooks/security_audit.yml over both clusters of the demo inventory: one audit task per
    cluster, the four reports per cluster, fail_on none reads and fails nothing."""
    namespaces = {name: create_namespace(kube, "it-secrb", name) for name in kube}
    try:
        for name, ns in namespaces.items():
            create(kube[name], ns)
        extra = {
            "security_audit_namespaces": sorted(namespaces.values()),
            "security_audit_fail_on": "none",
            "security_audit_trivy": "false",
            "security_audit_dir": str(tmp_path),
        }
        run = ansible("playbooks/security_audit.yml", extra_vars=extra)
        assert run.rc == 0, run.failure_messages()
        task = (
            "Audit the platform's namespaces on the cluster (objects, RBAC, NetworkPolicy coverage, images)"
        )
        for name, ns in namespaces.items():
            result = run.results(task, name)
            assert result["changed"] is True and result["summary"]["score"] < 100
            assert ("MAO-103", "app") in {
                (f["rule"], f["object"]["name"]) for f in result["findings"] if ns in f["message"]
            }
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            "security-audit-%s.%s" % (name, ext)
            for name in kube
            for ext in ("json", "md", "sarif", "junit.xml")
        )
    finally:
        for name, ns in namespaces.items():
            delete_namespace(kube, ns, name)
