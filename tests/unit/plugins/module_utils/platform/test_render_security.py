"""platform_render's security section: NetworkPolicies per flow, RBAC per component with
api_access, the security subset, and a description without them rendering as before.

The emulator does not enforce network traffic: these tests check the objects (selectors,
ports, namespaces); test_security_coverage.py(.pending) checks the flows they allow with the
NetworkPolicy evaluator of plugins/module_utils/security/netpol.py."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as pr

from .test_render import by_kind, inventory_spec, validate

ROOT = Path(__file__).resolve().parents[5]
API = ["10.96.0.1/32", "172.18.0.2/32"]
SECURITY_KINDS = {"NetworkPolicy", "Role", "RoleBinding"}
CONFIGMAP_READER = [{"resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


def secured(platform="mplp", **security):
    """An inventory's description with network policies on (the API server's addresses given)."""
    spec = inventory_spec(platform)
    spec["security"] = dict({"network_policies": True, "api_server": {"cidrs": list(API)}}, **security)
    return spec


def component(spec, name):
    return next(c for c in spec["components"] if c["name"] == name)


def policies(manifests):
    return by_kind(manifests, "NetworkPolicy")


def pods(spec, name):
    return {"matchLabels": pr.selector_labels(spec, component(spec, name))}


def ns_peer(namespace, labels=None):
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if labels:
        peer["podSelector"] = {"matchLabels": labels}
    return peer


def tcp(*ports):
    return [{"protocol": "TCP", "port": port} for port in ports]


# ------------------------------------------------------------------ nothing new unless asked


@pytest.mark.parametrize(
    "platform,host",
    [("mplp", None), ("mplp", "us-east-1"), ("mplp", "ap-southeast-1"), ("langgraph", None)],
)
def test_a_description_without_security_renders_as_before(platform, host):
    spec = inventory_spec(platform, host)
    rendered = pr.render_platform(spec)
    # the section's defaults (network_policies false) and an empty section change nothing
    for security in ({}, {"network_policies": False}, {"ingress_namespace": "ingress", "egress_https": True}):
        assert pr.render_platform(dict(spec, security=security)) == rendered
    assert not [m for m in rendered if m["kind"] in SECURITY_KINDS]
    accounts = by_kind(rendered, "ServiceAccount")
    assert list(accounts) == [spec["name"]]
    assert accounts[spec["name"]]["automountServiceAccountToken"] is False
    for workload in [m for m in rendered if m["kind"] in ("Deployment", "StatefulSet")]:
        pod = workload["spec"]["template"]["spec"]
        assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == (spec["name"], False)
    # the security subset of such a render is the shared account alone
    assert pr.security_objects(rendered) == [accounts[spec["name"]]]


# ------------------------------------------------------------------------- network policies


@pytest.mark.parametrize("platform", ["mplp", "langgraph"])
def test_secured_inventories_render_valid_unique_objects_denying_last(platform):
    spec = secured(platform)
    manifests = pr.render_platform(spec)
    assert validate(manifests) == []
    names = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(names) == len(set(names))
    nps = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    # the default deny comes after every allow policy: a first apply never cuts an allowed flow
    assert nps[-1]["metadata"]["name"] == "%s-default-deny" % spec["name"]
    assert manifests[-len(nps) :] == nps
    for policy in nps:
        assert policy["metadata"]["namespace"] == spec["namespace"]
        assert policy["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "multiagent.ops"
        assert policy["metadata"]["annotations"][records.FLOW]
        assert "app.kubernetes.io/version" not in policy["metadata"]["labels"]


def test_default_deny_selects_every_pod_for_ingress_and_egress():
    deny = policies(pr.render_platform(secured()))["mplp-default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_dns_over_udp_and_tcp_from_every_pod():
    dns = policies(pr.render_platform(secured()))["mplp-allow-dns"]
    assert dns["spec"] == {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [ns_peer("kube-system", {"k8s-app": "kube-dns"})],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        ],
    }
    spec = secured(dns={"namespace": "dns", "selector": {"app": "coredns"}, "port": 5353})
    egress = policies(pr.render_platform(spec))["mplp-allow-dns"]["spec"]["egress"][0]
    assert egress["to"] == [ns_peer("dns", {"app": "coredns"})]
    assert {p["port"] for p in egress["ports"]} == {5353}


def test_ingress_controller_reaches_the_routed_components_on_their_pod_ports():
    spec = secured()
    nps = policies(pr.render_platform(spec))
    routed = [c["name"] for c in spec["components"] if c.get("ingress_paths")]
    assert sorted(
        n for n in nps if n.startswith("mplp-allow-ingress-") and n != "mplp-allow-ingress-maintenance"
    ) == (sorted("mplp-allow-ingress-%s" % n for n in routed))
    core = nps["mplp-allow-ingress-core"]["spec"]
    assert core == {
        "podSelector": pods(spec, "core"),
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer("ingress-nginx")], "ports": tcp(8080)}],
    }
    # the database and cache get no traffic from the ingress controller
    assert "mplp-allow-ingress-postgresql" not in nps and "mplp-allow-ingress-redis" not in nps


def test_ingress_namespace_and_components_from_the_description():
    # LangGraph's inventory has no Ingress (nor paths for one): its app components with a
    # Service receive traffic
    spec = secured("langgraph", ingress_namespace="ingress-system")
    assert not by_kind(pr.render_platform(spec), "Ingress")
    assert policies(pr.render_platform(spec)) == policies(
        pr.render_platform(dict(spec, ingress=dict(spec["ingress"], enabled=False)))
    )
    nps = policies(pr.render_platform(spec))
    rule = nps["langgraph-allow-ingress-langgraph-multi-agent"]["spec"]["ingress"]
    assert rule == [{"from": [ns_peer("ingress-system")], "ports": tcp(8000)}]
    assert [n for n in nps if n.startswith("langgraph-allow-ingress-") and "maintenance" not in n] == [
        "langgraph-allow-ingress-langgraph-multi-agent"
    ]
    spec["security"]["ingress_components"] = ["postgres"]
    nps = policies(pr.render_platform(spec))
    assert "langgraph-allow-ingress-postgres" in nps
    assert "langgraph-allow-ingress-langgraph-multi-agent" not in nps


def _maintenance_page():
    """The maintenance page's pod selector and port as playbooks/maintenance.yml renders it."""
    play = yaml.safe_load((ROOT / "playbooks" / "maintenance.yml").read_text())[0]
    selector = play["vars"]["_mm_selector"]
    template = (ROOT / "playbooks" / "templates" / "maintenance_page.yml.j2").read_text()
    return selector, int(re.search(r"containerPort: (\d+)", template).group(1))


def test_the_maintenance_page_is_reachable_from_the_ingress_controller():
    spec = secured()
    selector, port = _maintenance_page()
    labels = {k: v.replace("{{ platform_name }}", spec["name"]) for k, v in selector.items()}
    page = policies(pr.render_platform(spec))["mplp-allow-ingress-maintenance"]["spec"]
    assert page == {
        "podSelector": {"matchLabels": labels},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer("ingress-nginx")], "ports": tcp(port)}],
    }
    assert "mplp-allow-ingress-maintenance" not in policies(
        pr.render_platform(secured(maintenance_page=False))
    )


def test_app_components_reach_the_database_and_cache():
    spec = secured()
    nps = policies(pr.render_platform(spec))
    apps = [c["name"] for c in spec["components"] if c.get("role", "app") == "app"]
    app_pods = {
        "matchLabels": {"app.kubernetes.io/name": "mplp"},
        "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": apps}],
    }
    for data, port in (("postgresql", 5432), ("redis", 6379)):
        assert nps["mplp-allow-apps-to-%s" % data]["spec"] == {
            "podSelector": app_pods,
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": pods(spec, data)}], "ports": tcp(port)}],
        }
        assert nps["mplp-allow-%s-from-apps" % data]["spec"] == {
            "podSelector": pods(spec, data),
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": app_pods}], "ports": tcp(port)}],
        }


def test_an_external_database_is_reached_at_its_addresses():
    spec = secured("langgraph")
    component(spec, "postgres").update(kind="external", external={"host": "10.1.2.3", "port": 5433})
    nps = policies(pr.render_platform(spec))
    egress = nps["langgraph-allow-apps-to-postgres"]["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}], "ports": tcp(5433)}]
    assert "langgraph-allow-postgres-from-apps" not in nps  # no pods of ours to admit it
    assert nps["langgraph-allow-backup-to-postgres"]["spec"]["egress"] == egress
    component(spec, "postgres")["external"] = {"host": "db.example.com", "cidrs": ["10.8.0.0/24"]}
    egress = policies(pr.render_platform(spec))["langgraph-allow-apps-to-postgres"]["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "10.8.0.0/24"}}], "ports": tcp(5432)}]


def test_connects_to_allows_one_component_to_reach_another():
    spec = secured()
    component(spec, "plan")["connects_to"] = ["core"]
    nps = policies(pr.render_platform(spec))
    assert nps["mplp-allow-plan-to-core"]["spec"]["podSelector"] == pods(spec, "plan")
    assert nps["mplp-allow-plan-to-core"]["spec"]["egress"] == [
        {"to": [{"podSelector": pods(spec, "core")}], "ports": tcp(8080)}
    ]
    assert nps["mplp-allow-core-from-plan"]["spec"]["ingress"] == [
        {"from": [{"podSelector": pods(spec, "plan")}], "ports": tcp(8080)}
    ]


def test_prometheus_scrapes_the_components_with_metrics():
    spec = secured("langgraph", monitoring_namespace="observability")
    component(spec, "postgres")["metrics"] = {"port": 9187, "service": "pg-metrics", "selector": {"a": "b"}}
    nps = policies(pr.render_platform(spec))
    assert nps["langgraph-allow-scrape-langgraph-multi-agent"]["spec"] == {
        "podSelector": pods(spec, "langgraph-multi-agent"),
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [ns_peer("observability")], "ports": tcp(8000)}],
    }
    # an exporter beside the database: its own port on the database's pods
    assert nps["langgraph-allow-scrape-postgres"]["spec"]["ingress"][0]["ports"] == tcp(9187)
    assert "langgraph-allow-scrape-redis" not in nps  # no metrics described


def test_kubernetes_api_egress_for_api_access_and_the_backup_job():
    spec = secured(api_server={"cidrs": API, "ports": [6443]})
    component(spec, "core")["api_access"] = CONFIGMAP_READER
    nps = policies(pr.render_platform(spec))
    rule = [{"to": [{"ipBlock": {"cidr": c}} for c in API], "ports": tcp(6443)}]
    assert nps["mplp-allow-core-to-api"]["spec"] == {
        "podSelector": pods(spec, "core"),
        "policyTypes": ["Egress"],
        "egress": rule,
    }
    assert not [
        n
        for n in nps
        if n.endswith("-to-api") and n not in ("mplp-allow-core-to-api", "mplp-allow-backup-to-api")
    ]
    backup = nps["mplp-allow-backup-to-api"]["spec"]
    assert backup["egress"] == rule
    assert nps["mplp-allow-backup-to-postgresql"]["spec"]["podSelector"] == backup["podSelector"]
    assert nps["mplp-allow-postgresql-from-backup"]["spec"]["ingress"] == [
        {"from": [{"podSelector": backup["podSelector"]}], "ports": tcp(5432)}
    ]


def test_api_server_probes_let_the_service_proxy_reach_the_probed_components():
    spec = secured(api_server={"cidrs": API, "ports": [6443]})
    assert not [n for n in policies(pr.render_platform(spec)) if "-allow-probes-" in n]  # off by default
    spec["security"]["api_server_probes"] = True
    nps = policies(pr.render_platform(spec))
    probed = [c["name"] for c in spec["components"] if c.get("health_paths") and c.get("service")]
    assert probed and sorted(n for n in nps if "-allow-probes-" in n) == sorted(
        "mplp-allow-probes-%s" % name for name in probed
    )
    core = component(spec, "core")
    assert nps["mplp-allow-probes-core"]["spec"] == {
        "podSelector": pods(spec, "core"),
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"ipBlock": {"cidr": c}} for c in API], "ports": tcp(pr._container_port(core, {}))}
        ],
    }
    assert "service proxy" in nps["mplp-allow-probes-core"]["metadata"]["annotations"][records.FLOW]
    # the data tier has no health paths: the health check reaches it through exec or directly
    assert "mplp-allow-probes-postgresql" not in nps


def test_the_backup_policies_select_the_backup_roles_cronjob_pods():
    """The labels and the default name of roles/backup's CronJob (templates/schedule.yml.j2,
    backup_schedule_name) select its pods."""
    template = (ROOT / "roles" / "backup" / "templates" / "schedule.yml.j2").read_text()
    labels_line = re.search(r"\{% set labels = (\{.*?\}) %\}", template).group(1)
    defaults = yaml.safe_load((ROOT / "roles" / "backup" / "defaults" / "main.yml").read_text())
    assert defaults["backup_schedule_name"] == "{{ backup_namespace }}-db-backup"
    assert defaults["backup_namespace"].startswith("{{ platform_namespace")
    spec = secured()
    name = "%s-db-backup" % spec["namespace"]
    selector = policies(pr.render_platform(spec))["mplp-allow-backup-to-api"]["spec"]["podSelector"]
    assert "'app.kubernetes.io/name': '%s'" % selector["matchLabels"]["app.kubernetes.io/name"] in labels_line
    assert "'app.kubernetes.io/instance': backup_schedule_name" in labels_line
    assert selector["matchLabels"]["app.kubernetes.io/instance"] == name
    # another name, or none at all
    spec = secured(backup={"name": "nightly"})
    selector = policies(pr.render_platform(spec))["mplp-allow-backup-to-api"]["spec"]["podSelector"]
    assert selector["matchLabels"]["app.kubernetes.io/instance"] == "nightly"
    assert not [n for n in policies(pr.render_platform(secured(backup=False))) if "backup" in n]


def test_https_egress_where_the_description_asks_for_it():
    spec = secured(egress_https=True)
    component(spec, "core")["egress_https"] = ["203.0.113.0/24"]
    component(spec, "plan")["egress_https"] = False
    nps = policies(pr.render_platform(spec))
    # the platform's true: every app component to any address on 443, no data component
    assert nps["mplp-allow-context-to-https"]["spec"]["egress"] == [{"ports": tcp(443)}]
    assert nps["mplp-allow-core-to-https"]["spec"]["egress"] == [
        {"ports": tcp(443), "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}
    ]
    assert "mplp-allow-plan-to-https" not in nps
    assert "mplp-allow-postgresql-to-https" not in nps and "mplp-allow-backup-to-https" not in nps
    # asked nowhere: no 443 egress at all
    assert not [n for n in policies(pr.render_platform(secured())) if n.endswith("-to-https")]
    spec = secured(backup={"egress_https": ["198.51.100.7/32"]})
    assert policies(pr.render_platform(spec))["mplp-allow-backup-to-https"]["spec"]["egress"] == [
        {"ports": tcp(443), "to": [{"ipBlock": {"cidr": "198.51.100.7/32"}}]}
    ]


def test_disabled_components_get_no_policies():
    spec = secured()
    component(spec, "core")["enabled"] = False
    nps = policies(pr.render_platform(spec))
    assert not [n for n in nps if "-core" in n]
    values = nps["mplp-allow-apps-to-postgresql"]["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert "core" not in values


# -------------------------------------------------------------------------------------- RBAC


def test_api_access_gives_the_component_its_own_account_role_and_binding():
    spec = inventory_spec("mplp")  # RBAC needs no network policies
    component(spec, "core")["api_access"] = CONFIGMAP_READER + [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get"],
            "resourceNames": ["x"],
        }
    ]
    manifests = pr.render_platform(spec)
    assert not policies(manifests)
    account = by_kind(manifests, "ServiceAccount")["mplp-core"]
    role = by_kind(manifests, "Role")["mplp-core"]
    binding = by_kind(manifests, "RoleBinding")["mplp-core"]
    assert account["automountServiceAccountToken"] is False  # only the pod template mounts it
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get"],
            "resourceNames": ["x"],
        },
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "mplp-core",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "mplp-core", "namespace": spec["namespace"]}
    ]
    for obj in (account, role, binding):
        assert obj["metadata"]["labels"]["app.kubernetes.io/component"] == "core"
        assert "app.kubernetes.io/version" not in obj["metadata"]["labels"]
    deployments = by_kind(manifests, "Deployment")
    pod = deployments["mplp-core"]["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("mplp-core", True)
    for name, deployment in deployments.items():
        if name != "mplp-core":
            pod = deployment["spec"]["template"]["spec"]
            assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("mplp", False)
    # accounts, Roles and bindings come before the workloads that use them
    kinds = [m["kind"] for m in manifests]
    assert kinds.index("RoleBinding") < kinds.index("Deployment")
    assert validate(manifests) == []


# ---------------------------------------------------------------------- the security subset


def test_security_objects_are_the_renders_own_and_never_change_with_the_run():
    spec = secured()
    component(spec, "core")["api_access"] = CONFIGMAP_READER
    rendered = pr.render_platform(spec)
    subset = pr.security_objects(rendered)
    assert {m["kind"] for m in subset} == {"ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"}
    assert all(obj in rendered for obj in subset)  # the same objects with the same content
    assert len(subset) == len([m for m in rendered if m["kind"] in SECURITY_KINDS | {"ServiceAccount"}])
    assert pr.security_manifests(spec) == subset
    assert pr.security_manifests(spec, with_namespace=True) == [rendered[0]] + subset
    # what deploy applies for one component, for an upgrade, or another region's sizes: the
    # same security objects, so deploy and harden never undo each other
    upgraded = dict(spec, version="2.0.0", tags={"core": "2.1.0"}, overrides={"plan": {"replicas": 4}})
    assert pr.security_objects(pr.render_platform(upgraded)) == subset
    assert pr.security_objects(pr.render_platform(spec, only=["plan"])) == subset
    assert pr.render_platform(copy.deepcopy(spec)) == rendered
    subset[0]["metadata"]["name"] = "changed"  # copies: the render is untouched
    assert rendered[1]["metadata"]["name"] == "mplp"


# ---------------------------------------------------------------------------------- checks


def _problems(mutate, platform="mplp"):
    spec = secured(platform)
    mutate(spec)
    return pr.check_spec(spec)


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda s: s.update(security=["x"]), "security must be a dict"),
        (lambda s: s["security"].update(network_policy=True), "security has unknown field(s) network_policy"),
        (
            lambda s: s["security"].update(network_policies="yes"),
            "security.network_policies must be true or false",
        ),
        (
            lambda s: s["security"].update(ingress_namespace="Ingress NS"),
            "security.ingress_namespace 'Ingress NS'",
        ),
        (lambda s: s["security"].update(monitoring_namespace=""), "security.monitoring_namespace ''"),
        (lambda s: s["security"].update(dns={"selector": {}}), "security.dns.selector must map label names"),
        (lambda s: s["security"].update(dns={"port": 70000}), "security.dns.port must be a port number"),
        (lambda s: s["security"].update(dns="kube-dns"), "security.dns must be a dict"),
        (
            lambda s: s["security"].update(api_server={"cidrs": ["10.0.0.300/32"]}),
            "security.api_server.cidrs entry",
        ),
        (
            lambda s: s["security"].update(api_server={"cidrs": API, "ports": []}),
            "security.api_server.ports must be",
        ),
        (
            lambda s: s["security"].update(api_server={"cidrs": []}),
            "security.api_server.cidrs is needed: the backup",
        ),
        (
            lambda s: s["security"].update(egress_https="yes"),
            "security.egress_https must be true, false or a list",
        ),
        (
            lambda s: s["security"].update(egress_https=["nope"]),
            "security.egress_https entry 'nope' is not a CIDR",
        ),
        (lambda s: s["security"].update(backup="daily"), "security.backup must be true, false or a dict"),
        (
            lambda s: s["security"].update(backup={"name": "Nightly Job"}),
            "security.backup.name 'Nightly Job'",
        ),
        (lambda s: s["security"].update(backup={"when": 1}), "security.backup has unknown field(s) when"),
        (
            lambda s: s["security"].update(ingress_components=["nope"]),
            "security.ingress_components names unknown",
        ),
        (lambda s: component(s, "core").update(api_access=[]), "component 'core': api_access must be a list"),
        (
            lambda s: component(s, "core").update(api_access=[{"resources": ["pods"], "verbs": ["*"]}]),
            "component 'core': api_access[0].verbs holds '*'",
        ),
        (
            lambda s: component(s, "core").update(
                api_access=[{"resources": ["roles"], "verbs": ["escalate"]}]
            ),
            "component 'core': api_access[0].verbs holds escalate",
        ),
        (
            lambda s: component(s, "core").update(api_access=[{"resources": ["pods"]}]),
            "component 'core': api_access[0].verbs must be a list of strings",
        ),
        (
            lambda s: component(s, "core").update(
                api_access=[{"resources": ["pods"], "verbs": ["get"], "urls": 1}]
            ),
            "component 'core': api_access[0] has unknown field(s) urls",
        ),
        (
            lambda s: component(s, "core").update(
                api_access=CONFIGMAP_READER, automount_service_account_token=False
            ),
            "component 'core': api_access mounts the ServiceAccount token",
        ),
        (
            lambda s: component(s, "core").update(api_access=CONFIGMAP_READER, workload="mplp"),
            "component 'core': its own ServiceAccount would be named 'mplp'",
        ),
        (
            lambda s: component(s, "core").update(egress_https="always"),
            "component 'core': egress_https must be",
        ),
        (
            lambda s: component(s, "core").update(connects_to=["nope"]),
            "component 'core': connects_to names unknown",
        ),
        (
            lambda s: component(s, "postgresql").update(kind="external", external={"host": "db.example.com"}),
            "component 'postgresql': its external host db.example.com is a DNS name",
        ),
        (
            lambda s: s["components"].append(
                dict(component(s, "plan"), name="backup", workload="mplp-backup", api_access=CONFIGMAP_READER)
            ),
            "NetworkPolicy name(s) mplp-allow-backup-to-api would be rendered twice",
        ),
    ],
)
def test_check_spec_names_the_security_field(mutate, expected):
    problems = _problems(mutate)
    assert any(expected in p for p in problems), problems


def test_api_access_on_a_component_without_pods_is_refused_even_without_policies():
    spec = inventory_spec("mplp")
    component(spec, "postgresql").update(kind="external", external={"host": "db.example.com"})
    component(spec, "postgresql")["api_access"] = CONFIGMAP_READER
    assert (
        "component 'postgresql': api_access needs pods (kind Deployment or StatefulSet), not kind external"
        in (pr.check_spec(spec))
    )
    # without network policies a managed database by DNS name is fine, as before
    del component(spec, "postgresql")["api_access"]
    assert pr.check_spec(spec) == []


def test_api_server_probes_need_the_api_servers_addresses():
    spec = secured(api_server={"cidrs": []}, api_server_probes=True, backup=False)
    assert any("api_server_probes lets the API server's service proxy" in p for p in pr.check_spec(spec))
    spec["security"]["api_server_probes"] = "yes"
    assert "security.api_server_probes must be true or false, got 'yes'" in pr.check_spec(spec)


def test_render_refuses_a_description_with_security_problems():
    spec = secured(api_server={"cidrs": []})
    with pytest.raises(pr.RenderError, match="security.api_server.cidrs is needed"):
        pr.render_platform(spec)
    # without the backup CronJob and api_access nothing talks to the API: no addresses needed
    spec["security"]["backup"] = False
    assert "mplp-allow-backup-to-api" not in policies(pr.render_platform(spec))


# ------------------------------------------------------------------ the inventories' examples


def commented(path, key, indent=""):
    """The commented-out YAML block of ``path`` that starts with ``<indent># <key>:``."""
    lines = path.read_text().splitlines()
    start = lines.index("%s# %s:" % (indent, key))
    block = []
    for line in lines[start:]:
        if not (line.startswith(indent + "#   ") or re.match(re.escape(indent) + r"# [a-z_]+:", line)):
            break
        block.append(line[len(indent) + 2 :])
    return yaml.safe_load("\n".join(block))


@pytest.mark.parametrize("platform", ["mplp", "langgraph"])
def test_the_inventories_commented_examples_render(platform):
    path = ROOT / "inventories" / platform / "group_vars" / "all" / "platform.yml"
    spec = inventory_spec(platform)
    assert spec["security"] == {}  # shipped off: deploy renders what it always did
    spec["security"] = commented(path, "platform_security")["platform_security"]
    if platform == "langgraph":
        component(spec, "langgraph-multi-agent").update(commented(path, "api_access", indent="    "))
    assert pr.check_spec(spec) == []
    manifests = pr.render_platform(spec)
    assert validate(manifests) == []
    nps = policies(manifests)
    assert "%s-default-deny" % spec["name"] in nps and "%s-allow-backup-to-api" % spec["name"] in nps
    if platform == "langgraph":
        # the runbook's flows: 8000 from the ingress controller, 443 out, its own account
        assert nps["langgraph-allow-ingress-langgraph-multi-agent"]["spec"]["ingress"][0]["ports"] == tcp(
            8000
        )
        assert nps["langgraph-allow-langgraph-multi-agent-to-https"]["spec"]["egress"] == [
            {"ports": tcp(443)}
        ]
        assert "secrets" not in str(by_kind(manifests, "Role")["langgraph-multi-agent"]["rules"])
        backup = nps["langgraph-allow-backup-to-api"]["spec"]["podSelector"]["matchLabels"]
        assert backup["app.kubernetes.io/instance"] == "%s-db-backup" % spec["namespace"]
