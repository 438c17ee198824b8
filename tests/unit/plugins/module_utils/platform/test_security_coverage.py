"""Coverage of the rendered NetworkPolicies: is pod A allowed to reach pod B on port P?

The evaluator is the audit's own (security/netpol.py, Flows): ``allowed()`` below is the one
place that calls it; everything else is data.

The emulator does not enforce network traffic, so this evaluation of the objects is what
proves the flows. Each flow is data: the source pod (its namespace's labels and its own
labels, or an address outside the cluster), the target (a pod's namespace and labels, or an
address), the port, the protocol, and whether the platform's policies must allow it. A flow is
allowed when the source's egress AND the target's ingress both allow it (a side selected by
no policy of that direction is open; the default deny selects every pod of the platform's
namespace for both).
"""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as pr
from ansible_collections.multiagent.ops.plugins.module_utils.security import netpol

from .test_render import inventory_spec

NS = "langgraph-multi-agent"
API_IP = "10.96.0.1"
INTERNET = "93.184.216.34"


def described():
    """LangGraph's description with its runbook's security (the commented inventory example):
    network policies, the API server at 10.96.0.1, the app with api_access and 443 egress."""
    spec = inventory_spec("langgraph")
    spec["ingress"]["enabled"] = False  # the inventory has none: every app Service is reachable
    spec["security"] = {"network_policies": True, "api_server": {"cidrs": [API_IP + "/32"]}}
    app = next(c for c in spec["components"] if c["name"] == "langgraph-multi-agent")
    app["api_access"] = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    app["egress_https"] = True
    app["metrics"] = {"path": "/api/v1/system/metrics"}
    return spec


def component_pod(name):
    return {
        "namespace": NS,
        "namespace_labels": {"kubernetes.io/metadata.name": NS},
        "labels": {
            "app.kubernetes.io/name": "langgraph",
            "app.kubernetes.io/component": name,
            "app.kubernetes.io/part-of": "langgraph",
        },
    }


def pod_in(namespace, **labels):
    return {
        "namespace": namespace,
        "namespace_labels": {"kubernetes.io/metadata.name": namespace},
        "labels": labels,
    }


def address(ip):
    return {"ip": ip}


APP = component_pod("langgraph-multi-agent")
POSTGRES = component_pod("postgres")
REDIS = component_pod("redis")
INGRESS = pod_in("ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = pod_in("monitoring", **{"app.kubernetes.io/name": "prometheus"})
COREDNS = pod_in("kube-system", **{"k8s-app": "kube-dns"})
OTHER_NS = pod_in("other", app="curl")
MAINTENANCE = pod_in(
    NS,
    **{
        "app.kubernetes.io/name": "langgraph-maintenance",
        "app.kubernetes.io/component": "maintenance-page",
    },
)
BACKUP = pod_in(
    NS, **{"app.kubernetes.io/name": "multiagent-ops-backup", "app.kubernetes.io/instance": NS + "-db-backup"}
)

# (what, source, target, port, protocol, allowed)
FLOWS = [
    # ingress from the ingress controller's namespace to the app port, nothing else
    ("ingress controller -> app 8000", INGRESS, APP, 8000, "TCP", True),
    ("ingress controller -> app 9999", INGRESS, APP, 9999, "TCP", False),
    ("ingress controller -> postgres", INGRESS, POSTGRES, 5432, "TCP", False),
    ("another namespace -> app", OTHER_NS, APP, 8000, "TCP", False),
    # the maintenance page
    ("ingress controller -> maintenance page 8080", INGRESS, MAINTENANCE, 8080, "TCP", True),
    ("another namespace -> maintenance page", OTHER_NS, MAINTENANCE, 8080, "TCP", False),
    # app to database and cache, and nobody else to them
    ("app -> postgres 5432", APP, POSTGRES, 5432, "TCP", True),
    ("app -> redis 6379", APP, REDIS, 6379, "TCP", True),
    ("app -> postgres 6379", APP, POSTGRES, 6379, "TCP", False),
    ("redis -> postgres", REDIS, POSTGRES, 5432, "TCP", False),
    ("maintenance page -> postgres", MAINTENANCE, POSTGRES, 5432, "TCP", False),
    ("another namespace -> postgres", OTHER_NS, POSTGRES, 5432, "TCP", False),
    # DNS over UDP and TCP from every pod of the namespace, to the DNS pods only
    ("app -> DNS udp", APP, COREDNS, 53, "UDP", True),
    ("app -> DNS tcp", APP, COREDNS, 53, "TCP", True),
    ("postgres -> DNS udp", POSTGRES, COREDNS, 53, "UDP", True),
    ("backup job -> DNS udp", BACKUP, COREDNS, 53, "UDP", True),
    ("app -> another pod of kube-system on 53", APP, pod_in("kube-system", app="other"), 53, "UDP", False),
    # the Kubernetes API for the component with api_access and the backup CronJob only
    ("app (api_access) -> API 443", APP, address(API_IP), 443, "TCP", True),
    ("app (api_access) -> API 6443", APP, address(API_IP), 6443, "TCP", True),
    ("backup job -> API 443", BACKUP, address(API_IP), 443, "TCP", True),
    ("postgres -> API", POSTGRES, address(API_IP), 443, "TCP", False),
    ("redis -> API", REDIS, address(API_IP), 6443, "TCP", False),
    # the backup CronJob to the database
    ("backup job -> postgres 5432", BACKUP, POSTGRES, 5432, "TCP", True),
    ("backup job -> redis", BACKUP, REDIS, 6379, "TCP", False),
    # Prometheus scrapes the app's metrics port from the monitoring namespace only
    ("prometheus -> app metrics", PROMETHEUS, APP, 8000, "TCP", True),
    ("prometheus -> redis", PROMETHEUS, REDIS, 6379, "TCP", False),
    # the API server's service proxy is no pod: without api_server_probes it is denied like any address
    ("API server -> app 8000 (service proxy)", address(API_IP), APP, 8000, "TCP", False),
    # 443 egress where the description asks (the app), nowhere else
    ("app -> internet 443", APP, address(INTERNET), 443, "TCP", True),
    ("app -> internet 80", APP, address(INTERNET), 80, "TCP", False),
    ("postgres -> internet 443", POSTGRES, address(INTERNET), 443, "TCP", False),
    ("backup job -> internet 443", BACKUP, address(INTERNET), 443, "TCP", False),
]


def _endpoint(end):
    """The flows' data as netpol.Flows takes it: an address as a string, a pod as an object."""
    if "ip" in end:
        return end["ip"]
    return {"metadata": {"namespace": end["namespace"], "labels": end["labels"]}}


def allowed(policies, source, target, port, protocol):
    """Whether ``policies`` (the rendered NetworkPolicies) let ``source`` reach ``target``:
    the source's egress and the target's ingress (netpol.Flows)."""
    namespaces = [
        {"metadata": {"name": end["namespace"], "labels": end["namespace_labels"]}}
        for end in (source, target)
        if "namespace" in end
    ]
    return netpol.flows(policies, namespaces=namespaces).allowed(
        _endpoint(source), _endpoint(target), port, protocol
    )


@pytest.mark.parametrize("what,source,target,port,protocol,expected", FLOWS, ids=[f[0] for f in FLOWS])
def test_the_rendered_policies_allow_exactly_the_described_flows(
    what, source, target, port, protocol, expected
):
    policies = [m for m in pr.render_platform(described()) if m["kind"] == "NetworkPolicy"]
    assert bool(allowed(policies, source, target, port, protocol)) is expected, what


PROBES = [
    # api_server_probes: the health check's probes through the service proxy reach the probed
    # component's port, from the API server's address only; nothing else opens
    ("API server -> app 8000 (service proxy)", address(API_IP), APP, 8000, "TCP", True),
    ("API server -> app 9999", address(API_IP), APP, 9999, "TCP", False),
    ("API server -> postgres (no health paths)", address(API_IP), POSTGRES, 5432, "TCP", False),
    ("another address -> app 8000", address(INTERNET), APP, 8000, "TCP", False),
    ("another namespace -> app", OTHER_NS, APP, 8000, "TCP", False),
]


@pytest.mark.parametrize("what,source,target,port,protocol,expected", PROBES, ids=[f[0] for f in PROBES])
def test_api_server_probes_open_the_probed_ports_to_the_api_server_only(
    what, source, target, port, protocol, expected
):
    spec = described()
    spec["security"]["api_server_probes"] = True
    policies = [m for m in pr.render_platform(spec) if m["kind"] == "NetworkPolicy"]
    assert bool(allowed(policies, source, target, port, protocol)) is expected, what


def test_without_network_policies_every_flow_is_open():
    """The shipped inventories (no security section): nothing is denied, as before."""
    policies = [m for m in pr.render_platform(inventory_spec("langgraph")) if m["kind"] == "NetworkPolicy"]
    assert policies == []
    for _what, source, target, port, protocol, _expected in FLOWS:
        assert allowed(policies, source, target, port, protocol)
