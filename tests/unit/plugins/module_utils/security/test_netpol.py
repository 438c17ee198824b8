"""NetworkPolicy coverage and flows with literal objects."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import netpol

NS = "mplp"


def pod(name, labels, namespace=NS, ports=(), ip=None, owner=None, phase="Running"):
    meta = {"name": name, "namespace": namespace, "uid": "uid-%s-%s" % (namespace, name), "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True}]
    containers = [{"name": "c", "ports": [dict(p) for p in ports]}]
    status = {"phase": phase}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "spec": {"containers": containers}, "status": status}


def policy(name, spec, namespace=NS):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def namespace(name, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}}}


DENY_ALL = policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def rules_of(findings):
    return sorted((f["rule"], f["object"]["kind"], f["object"]["name"]) for f in findings)


# -- policyTypes and default-deny -----------------------------------------------------------


def test_policy_types_default_to_ingress_plus_egress_when_it_has_egress_rules():
    assert netpol.policy_types(policy("a", {"podSelector": {}})) == {"Ingress"}
    assert netpol.policy_types(policy("a", {"podSelector": {}, "egress": [{}]})) == {"Ingress", "Egress"}
    assert netpol.policy_types(policy("a", {"podSelector": {}, "policyTypes": ["Egress"]})) == {"Egress"}


def test_default_deny_in_each_direction():
    only_ingress = policy("deny-in", {"podSelector": {}})
    assert netpol.is_default_deny(only_ingress, "Ingress")
    assert not netpol.is_default_deny(only_ingress, "Egress")
    assert netpol.is_default_deny(DENY_ALL, "Egress") and netpol.is_default_deny(DENY_ALL, "Ingress")
    # a policy that selects some pods, or allows something, is no default-deny
    assert not netpol.is_default_deny(policy("p", {"podSelector": {"matchLabels": {"a": "b"}}}), "Ingress")
    allows = policy("p", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    assert not netpol.is_default_deny(allows, "Ingress")


def test_namespace_without_default_deny_is_reported_per_direction():
    objects = {"Pod": [], "NetworkPolicy": [policy("deny-in", {"podSelector": {}})]}
    findings = netpol.analyze(objects, namespaces=[NS])
    assert rules_of(findings) == [("MAO-152", "Namespace", NS)]
    assert "egress" in findings[0]["message"]
    objects["NetworkPolicy"] = [DENY_ALL]
    assert netpol.analyze(objects, namespaces=[NS]) == []
    assert rules_of(netpol.analyze({"Pod": []}, namespaces=[NS])) == [
        ("MAO-151", "Namespace", NS),
        ("MAO-152", "Namespace", NS),
    ]


# -- coverage by workload ----------------------------------------------------------------


def test_uncovered_pods_are_reported_once_per_owning_workload():
    rs = {"metadata": {"name": "web-1", "namespace": NS, "uid": "rs1"}}
    rs["metadata"]["ownerReferences"] = [
        {"kind": "Deployment", "name": "web", "uid": "d1", "controller": True}
    ]
    pods = [
        pod("web-1-a", {"app": "web"}, owner=("ReplicaSet", "web-1", "rs1")),
        pod("web-1-b", {"app": "web"}, owner=("ReplicaSet", "web-1", "rs1")),
        pod("db-0", {"app": "db"}, owner=("StatefulSet", "db", "s1")),
        pod("done", {"app": "job"}, phase="Succeeded"),
        pod("other-ns", {"app": "web"}, namespace="elsewhere"),
    ]
    db_only = policy("db", {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]})
    findings = netpol.analyze(
        {"Pod": pods, "ReplicaSet": [rs], "NetworkPolicy": [DENY_ALL, db_only]}, namespaces=[NS]
    )
    assert rules_of(findings) == []  # the default-deny selects every pod
    findings = netpol.analyze({"Pod": pods, "ReplicaSet": [rs], "NetworkPolicy": [db_only]}, namespaces=[NS])
    uncovered = [f for f in findings if f["rule"] == "MAO-150"]
    assert [(f["object"]["kind"], f["object"]["name"]) for f in uncovered] == [("Deployment", "web")]
    assert uncovered[0]["message"].startswith("2 pod(s) of Deployment web")
    assert uncovered[0]["object"]["apiVersion"] == "apps/v1" and uncovered[0]["status"] == "fail"


def test_all_namespaces_leave_out_system_namespaces_unless_named():
    pods = [pod("a", {}, namespace="kube-system"), pod("b", {}, namespace="team")]
    found = {f["object"]["namespace"] or f["object"]["name"] for f in netpol.analyze({"Pod": pods})}
    assert found == {"team"}
    named = netpol.analyze({"Pod": pods}, namespaces=["kube-system"])
    assert {f["object"]["namespace"] or f["object"]["name"] for f in named} == {"kube-system"}


# -- open egress -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "egress, is_open",
    [
        ([{}], True),
        ([{"to": []}], True),
        ([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}], True),
        ([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}], False),
        ([{"to": [], "ports": [{"port": 443}]}], False),
        ([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}], False),
        ([{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}], False),
    ],
)
def test_open_egress(egress, is_open):
    pol = policy("egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress})
    findings = [
        f for f in netpol.analyze({"NetworkPolicy": [pol]}, namespaces=[NS]) if f["rule"] == "MAO-153"
    ]
    assert bool(findings) is is_open
    if is_open:
        assert findings[0]["path"] == "spec.egress[0]" and findings[0]["object"]["name"] == "egress"


def test_rules_are_catalogue_entries():
    ids = [r["id"] for r in netpol.RULES]
    assert ids == sorted(set(ids)) and all("MAO-150" <= i <= "MAO-199" for i in ids)
    assert all(r["scope"] == "live" and r["severity"] in ("medium", "info") for r in netpol.RULES)


# -- flows -------------------------------------------------------------------------------

INGRESS_NS = namespace("ingress-nginx", {"team": "edge"})
CONTROLLER = pod("controller", {"app": "ingress-nginx"}, namespace="ingress-nginx")
APP = pod("app", {"app": "langgraph"}, ports=[{"name": "http", "containerPort": 8000}], ip="10.1.0.5")
DB = pod("db", {"app": "postgres"}, ports=[{"name": "pg", "containerPort": 5432}])
DNS = pod("coredns", {"k8s-app": "kube-dns"}, namespace="kube-system", ports=[{"containerPort": 53}])
SEED = policy(
    "langgraph",
    {
        "podSelector": {"matchLabels": {"app": "langgraph"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
                ],
                "ports": [{"protocol": "TCP", "port": "http"}],
            }
        ],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}], "ports": [{"port": 5432}]},
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]},
        ],
    },
)
DB_POLICY = policy(
    "postgres",
    {
        "podSelector": {"matchLabels": {"app": "postgres"}},
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "langgraph"}}}], "ports": [{"port": "pg"}]}
        ],
    },
)


@pytest.fixture
def seed_flows():
    return netpol.flows([SEED, DB_POLICY], [CONTROLLER, APP, DB, DNS], [INGRESS_NS, namespace(NS)])


def test_ingress_only_from_the_ingress_controllers_namespace_on_the_named_port(seed_flows):
    assert seed_flows.allowed(CONTROLLER, APP, 8000)
    assert seed_flows.allowed(CONTROLLER, APP, "http")  # named port resolved on the target
    assert not seed_flows.allowed(CONTROLLER, APP, 9090)
    assert not seed_flows.allowed(DB, APP, 8000)  # same namespace, not the controller's
    verdict = seed_flows.check(DB, APP, 8000)
    assert verdict["ingress"] == "denied: isolated for ingress by langgraph"
    assert verdict["egress"] == "not isolated for egress"


def test_app_to_database_needs_both_sides(seed_flows):
    assert seed_flows.allowed(APP, DB, 5432)
    assert seed_flows.check(APP, DB, 5432)["ingress"] == "allowed by NetworkPolicy postgres"
    assert not seed_flows.allowed(CONTROLLER, DB, 5432)  # the database's policy admits the app only
    assert not seed_flows.allowed(APP, DB, 5433)
    assert not seed_flows.allowed(APP, DB, "metrics")  # not a port of the target


def test_dns_over_udp_and_tcp(seed_flows):
    assert seed_flows.allowed(APP, DNS, 53, "UDP")
    assert seed_flows.allowed(APP, DNS, 53, "TCP")
    assert not seed_flows.allowed(APP, DNS, 53, "SCTP")
    other_dns = pod("dns", {"k8s-app": "kube-dns"}, namespace="other", ports=[{"containerPort": 53}])
    assert not seed_flows.allowed(APP, other_dns, 53, "UDP")  # namespace and pod selector together


def test_egress_to_addresses_outside_the_cluster(seed_flows):
    assert seed_flows.allowed(APP, "93.184.216.34", 443)
    assert not seed_flows.allowed(APP, "93.184.216.34", 80)
    assert not seed_flows.allowed(APP, "10.96.0.1", 443)  # excepted: the cluster's own range
    assert seed_flows.check(APP, "93.184.216.34", 443)["ingress"] == "outside the cluster"
    # an address as the source only meets the target's ingress rules
    assert not seed_flows.allowed("93.184.216.34", APP, 8000)


def test_ip_block_peers_match_pods_by_their_address():
    pol = policy(
        "from-app-ip",
        {
            "podSelector": {"matchLabels": {"app": "postgres"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/24"}}]}],
        },
    )
    f = netpol.flows([pol], [APP, DB])
    assert f.allowed(APP, DB, 5432)
    assert not f.allowed(CONTROLLER, DB, 5432)  # no podIP: not in the block


def test_port_ranges_and_protocol_wide_ports():
    pol = policy(
        "ranges",
        {
            "podSelector": {},
            "ingress": [{"ports": [{"port": 8000, "endPort": 8010}, {"protocol": "UDP"}]}],
        },
    )
    f = netpol.flows([pol], [APP])
    assert f.allowed(DB, APP, 8005) and not f.allowed(DB, APP, 8011)
    assert f.allowed(DB, APP, 12345, "UDP")


def test_a_policy_applies_only_in_its_own_namespace():
    pol = policy("deny", {"podSelector": {}}, namespace="elsewhere")
    assert netpol.flows([pol], [APP]).allowed(DB, APP, 8000)


def test_pod_lookup():
    f = netpol.flows([], [APP])
    assert f.pod(NS, "app") is APP
    with pytest.raises(KeyError):
        f.pod(NS, "missing")
