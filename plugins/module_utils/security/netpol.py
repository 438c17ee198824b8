# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkPolicy coverage and flows, computed from the objects (pure).

``analyze(objects)`` finds, per namespace: the workloads whose pods no NetworkPolicy
selects (MAO-150, one finding per owning workload, not per pod), the missing default-deny
for ingress (MAO-151) and for egress (MAO-152), and egress rules open to everything
(MAO-153). ``flows(policies, pods, namespaces)`` answers whether traffic from one pod (or
an address outside the cluster) to another pod (or address) on a port is allowed: the
coverage tests of the policies the security role renders use it, because the emulator does
not enforce traffic.

The semantics are the API's:
- a policy applies to the pods of its own namespace that its ``podSelector`` selects (``{}``
  selects them all); a pod that some policy of a direction selects is isolated in that
  direction and receives (sends) only what one of those policies' rules allows;
- ``policyTypes`` missing means Ingress, plus Egress when the policy has egress rules;
- a rule without ``from``/``to`` (or with an empty list) admits every peer; a rule without
  ``ports`` every port; a port without ``port`` every port of its protocol (TCP by default);
  ``endPort`` makes a range; a named port is resolved against the target pod's containers;
- a peer with only ``podSelector`` means pods of the policy's namespace; with
  ``namespaceSelector`` pods of the selected namespaces (every namespace carries
  ``kubernetes.io/metadata.name``); ``ipBlock`` an address range minus its ``except``es.

A default-deny for a direction is a policy that selects every pod (``podSelector: {}``),
has that direction in its types and no rule for it.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.multiagent.ops.plugins.module_utils.security import owners as own
from ansible_collections.multiagent.ops.plugins.module_utils.security.finding import (
    SYSTEM_NAMESPACES,
    make,
    object_ref,
    ref,
    rule,
)
from ansible_collections.multiagent.ops.plugins.module_utils.security.selectors import is_empty, matches

NSA = "Network separation and hardening: network policies"
RULES = (
    rule(
        "MAO-150",
        "Pods selected by no NetworkPolicy",
        "medium",
        "Add a NetworkPolicy that selects the workload's pods (or a default-deny for the namespace)",
        nsa=NSA,
        cis="5.3.2",
    ),
    rule(
        "MAO-151",
        "Namespace without a default-deny NetworkPolicy for ingress",
        "medium",
        "Add a NetworkPolicy with podSelector {} and policyTypes [Ingress] and no ingress rules",
        nsa=NSA,
        cis="5.3.2",
    ),
    rule(
        "MAO-152",
        "Namespace without a default-deny NetworkPolicy for egress",
        "medium",
        "Add a NetworkPolicy with podSelector {} and policyTypes [Egress] and no egress rules",
        nsa=NSA,
        cis="5.3.2",
    ),
    rule(
        "MAO-153",
        "Egress open to every destination on every port",
        "medium",
        "Limit the egress rule to the destinations and ports the pods need (DNS, the database, 443)",
        nsa=NSA,
    ),
    rule(
        "MAO-199",
        "NetworkPolicy coverage not checked: pods, policies or namespaces could not be read",
        "info",
        "Grant the auditing identity list on pods, networkpolicies and namespaces",
    ),
)
NETPOL_API = "networking.k8s.io/v1"
METADATA_NAME = "kubernetes.io/metadata.name"
DONE_PHASES = ("Succeeded", "Failed")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _meta(obj):
    return obj.get("metadata") or {}


def policy_types(policy):
    """The directions a policy isolates: ``{"Ingress", "Egress"}`` or a part."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def selects(policy, pod):
    """Whether ``policy`` applies to ``pod`` (same namespace, podSelector matches)."""
    if _meta(policy).get("namespace") != _meta(pod).get("namespace"):
        return False
    return matches((policy.get("spec") or {}).get("podSelector") or {}, _meta(pod).get("labels"))


def is_default_deny(policy, direction):
    """A policy that isolates every pod of its namespace in ``direction`` and allows nothing."""
    spec = policy.get("spec") or {}
    key = direction.lower()
    return is_empty(spec.get("podSelector") or {}) and direction in policy_types(policy) and not spec.get(key)


def open_egress_rules(policy):
    """Indexes of the egress rules that allow every destination on every port."""
    if "Egress" not in policy_types(policy):
        return []
    found = []
    for index, egress in enumerate((policy.get("spec") or {}).get("egress") or []):
        if egress.get("ports"):
            continue
        peers = egress.get("to") or []
        if not peers or any(
            (peer.get("ipBlock") or {}).get("cidr") in OPEN_CIDRS
            and not (peer.get("ipBlock") or {}).get("except")
            for peer in peers
        ):
            found.append(index)
    return found


def _live(pod):
    return ((pod.get("status") or {}).get("phase")) not in DONE_PHASES


def analyze(objects, namespaces=None, skip_namespaces=SYSTEM_NAMESPACES):
    """Coverage findings for ``namespaces`` (every namespace with pods or policies, less
    ``skip_namespaces``, when None). ``objects``: lists by kind ("Pod", "NetworkPolicy",
    "Namespace", "ReplicaSet", "Job")."""
    pods = [p for p in objects.get("Pod") or [] if _live(p)]
    policies = objects.get("NetworkPolicy") or []
    if namespaces is None:
        seen = {_meta(o).get("namespace") for o in pods + policies}
        seen |= {_meta(ns).get("name") for ns in objects.get("Namespace") or []}
        namespaces = sorted(n for n in seen if n and n not in skip_namespaces)
    owners = own.pod_owners(pods, objects.get("ReplicaSet") or [], objects.get("Job") or [])
    findings = []
    for namespace in namespaces:
        mine = [p for p in policies if _meta(p).get("namespace") == namespace]
        ns_ref = ref("v1", "Namespace", None, namespace)
        for direction, rule_id in (("Ingress", "MAO-151"), ("Egress", "MAO-152")):
            if not any(is_default_deny(p, direction) for p in mine):
                findings.append(
                    make(
                        rule_id,
                        "medium",
                        "namespace %s has no default-deny NetworkPolicy for %s"
                        % (namespace, direction.lower()),
                        ns_ref,
                    )
                )
        uncovered = {}
        for pod in pods:
            if _meta(pod).get("namespace") != namespace or any(selects(p, pod) for p in mine):
                continue
            owner = owners[own.pod_key(pod)]
            uncovered.setdefault((owner["kind"], owner["name"]), (owner, []))[1].append(
                _meta(pod).get("name")
            )
        for _key, (owner, names) in sorted(uncovered.items()):
            findings.append(
                make(
                    "MAO-150",
                    "medium",
                    "%d pod(s) of %s %s are selected by no NetworkPolicy (%s)"
                    % (len(names), owner["kind"], owner["name"], ", ".join(sorted(names)[:3])),
                    owner,
                )
            )
        for policy in sorted(mine, key=lambda p: _meta(p).get("name") or ""):
            for index in open_egress_rules(policy):
                findings.append(
                    make(
                        "MAO-153",
                        "medium",
                        "NetworkPolicy %s allows egress to every destination on every port"
                        % _meta(policy).get("name"),
                        object_ref(policy, "NetworkPolicy", NETPOL_API),
                        path="spec.egress[%d]" % index,
                    )
                )
    return findings


# -- flows ----------------------------------------------------------------------------------


def _ip_in(block, address):
    try:
        ip = ipaddress.ip_address(address)
        if ip not in ipaddress.ip_network(block.get("cidr"), strict=False):
            return False
        return not any(ip in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    except (TypeError, ValueError):
        return False


def resolve_port(pod, port, protocol):
    """A container port's number by name on ``pod`` (None when it has none of that name)."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    if not isinstance(pod, dict):
        return None
    spec = pod.get("spec") or {}
    for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        for cport in container.get("ports") or []:
            if cport.get("name") == port and (cport.get("protocol") or "TCP") == protocol:
                return cport.get("containerPort")
    return None


class Flows:
    """Answers whether traffic between two endpoints is allowed by the policies.

    An endpoint is a pod (a dict with metadata namespace and labels, optionally spec ports and
    status.podIP) or an address outside the cluster (a string such as ``"10.96.0.1"``)."""

    def __init__(self, policies, pods=(), namespaces=()):
        self.policies = list(policies or [])
        self.pods = list(pods or [])
        self.ns_labels = {}
        for ns in namespaces or []:
            name = _meta(ns).get("name")
            self.ns_labels[name] = dict(_meta(ns).get("labels") or {}, **{METADATA_NAME: name})

    def pod(self, namespace, name):
        """One of the pods given, by namespace and name (KeyError when absent)."""
        for pod in self.pods:
            if _meta(pod).get("namespace") == namespace and _meta(pod).get("name") == name:
                return pod
        raise KeyError("%s/%s" % (namespace, name))

    def _labels_of_ns(self, name):
        return self.ns_labels.get(name) or {METADATA_NAME: name}

    def _peer(self, peer, policy_ns, endpoint):
        if "ipBlock" in peer:
            address = endpoint if isinstance(endpoint, str) else (endpoint.get("status") or {}).get("podIP")
            return bool(address) and _ip_in(peer["ipBlock"], address)
        if isinstance(endpoint, str):
            return False
        namespace = _meta(endpoint).get("namespace")
        if "namespaceSelector" in peer:
            if not matches(peer.get("namespaceSelector") or {}, self._labels_of_ns(namespace)):
                return False
        elif namespace != policy_ns:
            return False
        if "podSelector" in peer:
            return matches(peer.get("podSelector") or {}, _meta(endpoint).get("labels"))
        return True

    @staticmethod
    def _ports(rule_ports, port, protocol, target):
        if not rule_ports:
            return True
        for entry in rule_ports:
            if (entry.get("protocol") or "TCP") != protocol:
                continue
            if entry.get("port") is None:
                return True
            start = resolve_port(target, entry["port"], protocol)
            if start is None:
                continue
            end = entry.get("endPort") or start
            if start <= port <= end:
                return True
        return False

    def _side(self, direction, selected, peer, port, protocol, target):
        """``(allowed, why)`` for one side: ``selected`` is the pod the policies apply to."""
        if isinstance(selected, str):
            return True, "outside the cluster"
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        applying = [p for p in self.policies if direction in policy_types(p) and selects(p, selected)]
        if not applying:
            return True, "not isolated for %s" % key
        for policy in applying:
            namespace = _meta(policy).get("namespace")
            for item in (policy.get("spec") or {}).get(key) or []:
                peers = item.get(peers_key) or []
                if (not peers or any(self._peer(pe, namespace, peer) for pe in peers)) and self._ports(
                    item.get("ports"), port, protocol, target
                ):
                    return True, "allowed by NetworkPolicy %s" % _meta(policy).get("name")
        return False, "denied: isolated for %s by %s" % (
            key,
            ", ".join(sorted(_meta(p).get("name") for p in applying)),
        )

    def check(self, source, target, port, protocol="TCP"):
        """``{"allowed", "egress", "ingress"}``: the verdict and why on each side."""
        number = resolve_port(target, port, protocol)
        if number is None:
            return {
                "allowed": False,
                "egress": "port %s is not a port of the target" % port,
                "ingress": "port %s is not a port of the target" % port,
            }
        egress_ok, egress_why = self._side("Egress", source, target, number, protocol, target)
        ingress_ok, ingress_why = self._side("Ingress", target, source, number, protocol, target)
        return {"allowed": egress_ok and ingress_ok, "egress": egress_why, "ingress": ingress_why}

    def allowed(self, source, target, port, protocol="TCP"):
        return self.check(source, target, port, protocol)["allowed"]


def flows(policies, pods=(), namespaces=()):
    """A :class:`Flows` over the policies, pods and namespaces of a cluster or a rendering."""
    return Flows(policies, pods, namespaces)
