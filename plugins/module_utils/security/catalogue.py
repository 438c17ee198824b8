# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rule catalogue of k8s_security_audit: the object checks (MAO-001..099, checks.py) and
the waiver rules (MAO-220..239, waivers.py), with stable ids that are never reused.

Each rule is a plain dict: ``id``, ``title``, ``severity`` (critical, high, medium, low,
info), ``hint`` (how to fix it, one sentence), ``scope`` (``manifest``: the check runs on
manifests and live objects alike; ``live``: only on a live cluster) and ``references``:
``pss`` (the Pod Security Standards level whose policy forbids it: ``baseline``,
``restricted`` or None), ``nsa`` (the section of the NSA/CISA Kubernetes Hardening Guide,
v1.2) and ``cis`` (the control of the CIS Kubernetes Benchmark v1.8, section 5, or None).

Other files define their own ``RULES`` (the RBAC and NetworkPolicy analysis, trivy);
:func:`catalogue` merges them, and :func:`markdown` renders the merged table the README
includes, so that the README and the checks cannot drift.
"""

from __future__ import annotations

SEVERITIES = ("critical", "high", "medium", "low", "info")
#: critical 0 .. info 4: lower is worse.
RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

PSS_DOCS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
NSA_DOCS = "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF"
CIS_DOCS = "https://www.cisecurity.org/benchmark/kubernetes"


def help_uri(entry):
    """Where a rule is explained: the Pod Security Standards, else the NSA/CISA guide, else CIS."""
    refs = entry["references"]
    if refs.get("pss"):
        return PSS_DOCS
    if refs.get("nsa"):
        return NSA_DOCS
    if refs.get("cis"):
        return CIS_DOCS
    return None


_NONROOT = "Kubernetes Pod security: use non-root containers"
_IMMUTABLE = "Kubernetes Pod security: immutable container file systems"
_IMAGES = "Kubernetes Pod security: building secure container images"
_POD_SECURITY = "Kubernetes Pod security: Pod security enforcement"
_TOKENS = "Kubernetes Pod security: protecting Pod service account tokens"
_HARDENING = "Kubernetes Pod security: hardening container environments"
_RESOURCES = "Network separation and hardening: resource policies"
_NETWORK = "Network separation and hardening: network policies"
_SECRETS = "Network separation and hardening: Secrets"
_NAMESPACES = "Network separation and hardening: namespaces"
_RBAC = "Authentication and authorization: role-based access control"
_APPS = "Upgrading and application security practices"


def rule(rule_id, title, severity, hint, pss=None, nsa=None, cis=None, scope="manifest"):
    """One catalogue entry in the shared shape."""
    if severity not in RANK:
        raise ValueError("rule %s: unknown severity %r" % (rule_id, severity))
    return {
        "id": rule_id,
        "title": title,
        "severity": severity,
        "hint": hint,
        "scope": scope,
        "references": {"pss": pss, "nsa": nsa, "cis": cis},
    }


RULES = (
    rule(
        "MAO-001",
        "Privileged container",
        "critical",
        "Remove securityContext.privileged or set it to false; grant only the capabilities needed.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.2",
    ),
    rule(
        "MAO-002",
        "allowPrivilegeEscalation is not false",
        "high",
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
        pss="restricted",
        nsa=_POD_SECURITY,
        cis="5.2.6",
    ),
    rule(
        "MAO-003",
        "runAsNonRoot is not true",
        "high",
        "Set securityContext.runAsNonRoot: true on the pod or on every container.",
        pss="restricted",
        nsa=_NONROOT,
        cis="5.2.7",
    ),
    rule(
        "MAO-004",
        "Runs as root (runAsUser 0)",
        "high",
        "Set securityContext.runAsUser to a non-zero UID (10000 or above).",
        pss="restricted",
        nsa=_NONROOT,
        cis="5.2.7",
    ),
    rule(
        "MAO-005",
        "runAsUser below 10000",
        "low",
        "Run as a UID of 10000 or above, so that it cannot collide with a host user.",
        nsa=_NONROOT,
    ),
    rule(
        "MAO-006",
        "Capabilities added beyond the baseline set",
        "high",
        "Do not add capabilities such as SYS_ADMIN or NET_RAW; add only the baseline ones that are needed.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.9",
    ),
    rule(
        "MAO-007",
        "Capabilities do not drop ALL",
        "medium",
        "Set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE where needed.",
        pss="restricted",
        nsa=_POD_SECURITY,
        cis="5.2.10",
    ),
    rule(
        "MAO-008",
        "readOnlyRootFilesystem is not true",
        "medium",
        "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes.",
        nsa=_IMMUTABLE,
    ),
    rule(
        "MAO-009",
        "seccomp profile is not RuntimeDefault or Localhost",
        "medium",
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        pss="restricted",
        nsa=_HARDENING,
        cis="5.7.2",
    ),
    rule(
        "MAO-010",
        "AppArmor profile is unconfined",
        "medium",
        "Remove the unconfined AppArmor profile; use runtime/default or a localhost profile.",
        pss="baseline",
        nsa=_HARDENING,
    ),
    rule(
        "MAO-011",
        "hostNetwork",
        "critical",
        "Remove hostNetwork: true; expose the pod through a Service.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.5",
    ),
    rule(
        "MAO-012",
        "hostPID",
        "critical",
        "Remove hostPID: true.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.3",
    ),
    rule(
        "MAO-013",
        "hostIPC",
        "critical",
        "Remove hostIPC: true.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.4",
    ),
    rule(
        "MAO-014",
        "hostPath volume",
        "high",
        "Replace the hostPath volume with an emptyDir, a ConfigMap or a PersistentVolumeClaim.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.12",
    ),
    rule(
        "MAO-015",
        "hostPort",
        "medium",
        "Remove hostPort from the container ports; expose the port through a Service.",
        pss="baseline",
        nsa=_POD_SECURITY,
        cis="5.2.13",
    ),
    rule(
        "MAO-016",
        "Image tag is latest or missing",
        "medium",
        "Pin the image to a version tag (and a digest).",
        nsa=_IMAGES,
    ),
    rule(
        "MAO-017",
        "Image without a digest",
        "low",
        "Reference the image by digest (image@sha256:...), so that what runs is what was scanned.",
        nsa=_IMAGES,
    ),
    rule(
        "MAO-018",
        "Image registry is not allowed",
        "high",
        "Pull the image from one of the allowed registries (option registries).",
        nsa=_IMAGES,
        cis="5.5.1",
    ),
    rule(
        "MAO-019",
        "imagePullPolicy is not Always on a tag without a digest",
        "low",
        "Set imagePullPolicy: Always, or reference the image by digest.",
        nsa=_IMAGES,
    ),
    rule("MAO-020", "CPU request missing", "low", "Set resources.requests.cpu.", nsa=_RESOURCES),
    rule("MAO-021", "Memory request missing", "low", "Set resources.requests.memory.", nsa=_RESOURCES),
    rule("MAO-022", "CPU limit missing", "low", "Set resources.limits.cpu.", nsa=_RESOURCES),
    rule("MAO-023", "Memory limit missing", "medium", "Set resources.limits.memory.", nsa=_RESOURCES),
    rule(
        "MAO-024",
        "Liveness probe missing",
        "low",
        "Add a livenessProbe to every long-running container.",
        nsa=_APPS,
    ),
    rule(
        "MAO-025",
        "Readiness probe missing",
        "low",
        "Add a readinessProbe to every long-running container.",
        nsa=_APPS,
    ),
    rule(
        "MAO-026",
        "The default ServiceAccount is used or bound",
        "medium",
        "Give the workload its own ServiceAccount; bind roles to that, never to default.",
        nsa=_TOKENS,
        cis="5.1.5",
    ),
    rule(
        "MAO-027",
        "ServiceAccount token automounted",
        "medium",
        "Set automountServiceAccountToken: false unless the pod talks to the Kubernetes API.",
        nsa=_TOKENS,
        cis="5.1.6",
    ),
    rule(
        "MAO-028",
        "Credential-looking literal in an environment variable",
        "high",
        "Move the value into a Secret (mounted as a file) and reference it.",
        nsa=_SECRETS,
        cis="5.4.1",
    ),
    rule(
        "MAO-029",
        "Secret exposed as an environment variable",
        "low",
        "Mount the Secret as a file instead of secretKeyRef or envFrom.secretRef.",
        nsa=_SECRETS,
        cis="5.4.1",
    ),
    rule(
        "MAO-030",
        "Service of type NodePort",
        "medium",
        "Use a ClusterIP Service behind an Ingress instead of a NodePort.",
        nsa=_NETWORK,
    ),
    rule(
        "MAO-031",
        "Service of type LoadBalancer",
        "low",
        "Expose the application through the Ingress controller, or restrict loadBalancerSourceRanges.",
        nsa=_NETWORK,
    ),
    rule(
        "MAO-032",
        "Ingress without TLS",
        "medium",
        "Add spec.tls with a certificate for every host of the Ingress.",
        nsa=_NETWORK,
    ),
    rule(
        "MAO-033",
        "No securityContext on the pod or a container",
        "medium",
        "Set a securityContext on the pod and on every container.",
        nsa=_POD_SECURITY,
        cis="5.7.3",
    ),
    rule(
        "MAO-034",
        "Object in the default namespace",
        "low",
        "Put the object into the platform's own namespace.",
        nsa=_NAMESPACES,
        cis="5.7.4",
    ),
    rule(
        "MAO-035",
        "Unsafe sysctls, Unmasked procMount or SELinux type override",
        "high",
        "Use only the safe sysctls, the Default procMount, and the container runtime's SELinux types.",
        pss="baseline",
        nsa=_POD_SECURITY,
    ),
    rule(
        "MAO-036",
        "ingress-nginx snippet annotation (CVE-2021-25742)",
        "high",
        "Remove the configuration-snippet and server-snippet annotations; use the controller's settings.",
        nsa=_APPS,
    ),
    rule(
        "MAO-040",
        "Wildcard in a Role or ClusterRole rule",
        "high",
        "List the apiGroups, resources and verbs the subject needs instead of '*'.",
        nsa=_RBAC,
        cis="5.1.3",
    ),
    rule(
        "MAO-041",
        "bind, escalate or impersonate in a Role or ClusterRole",
        "high",
        "Remove the bind, escalate and impersonate verbs unless the role administers RBAC.",
        nsa=_RBAC,
        cis="5.1.8",
    ),
    rule(
        "MAO-042",
        "Control over admission webhook configurations",
        "high",
        "Do not grant write verbs on validating or mutating webhook configurations.",
        nsa=_RBAC,
        cis="5.1.12",
    ),
    rule(
        "MAO-043",
        "Approval of CertificateSigningRequests",
        "high",
        "Do not grant update or patch on certificatesigningrequests/approval.",
        nsa=_RBAC,
        cis="5.1.11",
    ),
    rule(
        "MAO-220",
        "Expired waiver",
        "medium",
        "Fix what the waiver waived, or renew it with a new expiry and its reason.",
    ),
    rule(
        "MAO-221",
        "Malformed waiver",
        "medium",
        "Write the waiver as 'YYYY-MM-DD reason' for a known rule id (see the waivers documentation).",
    ),
)


def catalogue(*rule_tuples):
    """``{id: rule}`` of every rule of ``rule_tuples`` (the RULES of several files), in id
    order; a ValueError names an id defined twice."""
    merged = {}
    for rules in rule_tuples:
        for entry in rules:
            if entry["id"] in merged:
                raise ValueError("rule %s is defined twice in the catalogue" % entry["id"])
            merged[entry["id"]] = entry
    return dict(sorted(merged.items()))


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(rules):
    """The catalogue (``{id: rule}`` or a sequence of rules) as a Markdown table, one line a rule."""
    entries = rules.values() if isinstance(rules, dict) else rules
    lines = [
        "| id | severity | rule | PSS | NSA/CISA | CIS | fix |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        refs = entry["references"]
        lines.append(
            "| %s |"
            % " | ".join(
                _cell(value)
                for value in (
                    entry["id"],
                    entry["severity"],
                    entry["title"] + (" (live only)" if entry["scope"] == "live" else ""),
                    refs.get("pss") or "",
                    refs.get("nsa") or "",
                    refs.get("cis") or "",
                    entry["hint"],
                )
            )
        )
    return "\n".join(lines) + "\n"
