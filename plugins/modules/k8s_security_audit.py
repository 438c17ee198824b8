#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k8s_security_audit
short_description: Audit Kubernetes manifests or objects against a catalogue of security rules, with waivers and SARIF reports
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Checks Kubernetes objects against the rule catalogue (MAO-001 to MAO-099): pod and container
    security contexts (privileged, privilege escalation, root, capabilities, read-only root
    filesystem, seccomp, AppArmor, SELinux, sysctls), host namespaces, hostPath and hostPort,
    images (tag, digest, pull policy, registry allow-list), requests, limits and probes, the
    default ServiceAccount and token automount, credentials in environment literals and Secrets in
    the environment, NodePort and LoadBalancer Services, Ingresses without TLS or with NGINX
    snippets, and wildcards, bind, escalate, impersonate, webhook and CSR approval rights in
    Roles and ClusterRoles. Each rule has an id that is never reused, a severity, a fix hint and
    its references (Pod Security Standards level, NSA/CISA hardening guide, CIS benchmark)."
  - "Reads manifests (O(src): files or directories of multi-document YAML or JSON, C(List) kinds
    unwrapped; documents that are not Kubernetes objects are skipped with a warning) or objects
    (O(objects), a rendered platform before it is deployed), or a live cluster (O(namespaces) or
    O(all_namespaces)): one LIST per kind (pods, workloads, Services, Ingresses,
    NetworkPolicies, ServiceAccounts, Roles, RoleBindings, Namespaces, ClusterRoles,
    ClusterRoleBindings), sent concurrently."
  - "On a live cluster also (MAO-100 to MAO-199) - RBAC, computed from the Roles and Bindings
    themselves rather than by SubjectAccessReview (so it also works where the auditing identity
    may not ask the API server, and explains which binding grants what) - which subjects can
    read Secrets, exec into pods, escalate (bind, escalate, impersonate), hold wildcards or are
    bound to cluster-admin, with C(aggregationRule)s expanded and the built-in ClusterRoles
    known when their objects cannot be read; and NetworkPolicy coverage - pods no policy
    selects (per owning workload), namespaces without a default-deny for ingress or egress,
    egress left open. A LIST the API server refuses (403) or does not serve is a finding with
    status C(not_checked) naming what was not read; an analysis never runs on what it could
    not read, so a refusal never reads as clean."
  - "Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
    CronJob, bare Pod) are checked on their pod template, every container, init container and
    ephemeral container of it; a container inherits the pod's C(runAsUser), C(runAsNonRoot),
    C(seccompProfile), C(seLinuxOptions) and C(appArmorProfile) unless it sets its own.
    Findings are reported on the owning object: a Pod or ReplicaSet whose controller is among
    the objects audited is audited through it, not again."
  - "Waivers accept a finding for a reason until a date. On the object, one annotation per rule:
    C(multiagent.ops/waive.MAO-008: \"2027-03-31 PostgreSQL writes to its root filesystem\"), the
    expiry date (the last day it holds, UTC), spaces, and the reason; it waives the rule for
    every container of the object. In O(waivers) or O(waiver_file). And checkov's
    C(checkov.io/skip1: CKV_K8S_22=reason) annotations, for the checkov checks that map to a rule.
    An expired waiver waives nothing and is a MAO-220 finding; one that cannot be read (no
    date, no reason, an unknown rule) waives nothing and is a MAO-221 finding."
  - "The score is 100 less the share of the weighted checks that fail: each rule checked on
    each object counts once, weighted by its severity (critical 10, high 5, medium 2, low 1,
    info 0); waived checks pass; rounded down, so 100 means nothing fails."
  - "The task fails when a finding that is neither waived nor unchecked has at least the
    severity O(fail_on); the reports are written first."
options:
  src:
    description:
      - Manifest files, or directories searched recursively for C(.yaml), C(.yml) and C(.json) files.
    type: list
    elements: path
  objects:
    description:
      - Kubernetes objects to audit, for example the manifests a platform renders before it is deployed.
    type: list
    elements: dict
  namespaces:
    description:
      - Audit the live objects of these namespaces (the live reader; see the notes).
    type: list
    elements: str
  all_namespaces:
    description:
      - Audit the live objects of the whole cluster, cluster-scoped ones included (the live reader).
    type: bool
    default: false
  registries:
    description:
      - The registries (or registry paths, such as C(ghcr.io/example)) images may come from. An
        image from elsewhere is a MAO-018 finding. No allow-list when empty.
    type: list
    elements: str
    default: []
  waivers:
    description:
      - "Waivers: C(rule), C(reason) and C(expires) (C(YYYY-MM-DD), the last day it holds), and
        optionally C(kind), C(namespace), C(name) and C(container) to narrow it to some objects
        (absent: any)."
    type: list
    elements: dict
    default: []
  waiver_file:
    description:
      - A YAML or JSON file of waivers as in O(waivers) (a list, or a mapping with a C(waivers) list).
    type: path
  fail_on:
    description:
      - The least severity of a failing finding that fails the task; C(none) never fails it.
    type: str
    choices: [critical, high, medium, low, info, none]
    default: critical
  formats:
    description:
      - "The reports to write into O(report_dir): C(json) (C(<report_name>.json)), C(markdown)
        (C(.md)), C(sarif) (C(.sarif), SARIF 2.1.0 for code-scanning UIs, with the file and line
        of each manifest) and C(junit) (C(.junit.xml), one test case per rule and object)."
    type: list
    elements: str
    choices: [json, markdown, sarif, junit]
    default: [json, markdown, sarif, junit]
  max_findings:
    description:
      - At most this many findings in the task's result (RV(findings)), failing ones and the most
        severe first; the reports hold every finding. A result of tens of thousands of findings
        costs Ansible more time and memory than the audit itself.
    type: int
    default: 1000
  report_dir:
    description: Directory to write the reports into (created when missing). No files without it.
    type: path
  report_name:
    description: Name of the report files, without their extension.
    type: str
    default: security-audit
  trivy:
    description:
      - Image scanning with trivy (MAO-200 and MAO-201), of every image the audited objects run -
        C(auto) where trivy is installed (each image is otherwise a C(not_checked) finding),
        C(true) requires it (the task fails without trivy on PATH), C(false) never.
    type: str
    choices: [auto, "true", "false"]
    default: auto
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: Audits everything; writes no report, and says whether one would change.
  diff_mode:
    support: none
    description: The reports are not diffed.
notes:
  - Manifests and O(objects) need no cluster; the connection options are used by a live audit only.
  - The reports are written atomically and only when their content changed; they hold no time
    stamp, so an audit of the same objects changes nothing.
  - "The rules, with their references, are listed in the collection's README (generated from the
    catalogue)."
requirements:
  - python >= 3.11 (on the host that runs the module)
  - PyYAML (with libyaml for speed)
"""

EXAMPLES = r"""
- name: Audit the rendered platform before it is applied; fail on a critical finding not waived
  multiagent.ops.k8s_security_audit:
    objects: "{{ rendered.manifests }}"
    fail_on: critical

- name: Audit a directory of manifests for CI, with SARIF and JUnit reports
  multiagent.ops.k8s_security_audit:
    src: [deploy/k8s]
    registries: [registry.example.com, ghcr.io/example]
    waiver_file: deploy/security-waivers.yml
    fail_on: high
    formats: [sarif, junit, markdown]
    report_dir: reports
  register: audit

- name: Waive a known finding in the waiver list
  multiagent.ops.k8s_security_audit:
    src: [deploy/k8s]
    waivers:
      - rule: MAO-008
        kind: StatefulSet
        namespace: mplp
        name: mplp-postgresql
        reason: PostgreSQL writes to its root filesystem
        expires: "2027-03-31"
"""

RETURN = r"""
findings:
  description:
    - "The findings (at most O(max_findings); where there are more, the failing and most severe):
      C(rule), C(severity), C(message), C(object) (C(apiVersion), C(kind),
      C(namespace), C(name)), C(container), C(path) (the field, from the object's root),
      C(source) (C(file), C(document) from 0, C(line) from 1, for manifests), C(status)
      (C(fail), C(waived) or C(not_checked)) and C(waiver) (C(reason), C(expires), C(from):
      annotation, file or checkov)."
  returned: always
  type: list
  elements: dict
findings_omitted:
  description: How many findings O(max_findings) left out of RV(findings) (the reports hold them).
  returned: always
  type: int
summary:
  description:
    - "C(score) (0 to 100), C(objects) (audited), C(checks) (rules times objects), C(by_severity)
      (failing findings per severity), C(by_status) (findings per status) and C(fail_on)."
  returned: always
  type: dict
  sample:
    score: 87
    objects: 12
    checks: 380
    by_severity: {critical: 0, high: 2, medium: 7, low: 11, info: 0}
    by_status: {fail: 20, waived: 1, not_checked: 0}
    fail_on: critical
failed:
  description: Whether a failing finding reaches O(fail_on) (the task then fails).
  returned: always
  type: bool
files:
  description: The report files, C({path, changed}) each (in check mode, whether each would change).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import module as security_module


def argspec():
    return k8s_module.argspec(
        src=dict(type="list", elements="path"),
        objects=dict(type="list", elements="dict"),
        namespaces=dict(type="list", elements="str"),
        all_namespaces=dict(type="bool", default=False),
        registries=dict(type="list", elements="str", default=[]),
        waivers=dict(type="list", elements="dict", default=[]),
        waiver_file=dict(type="path"),
        fail_on=dict(
            type="str", choices=["critical", "high", "medium", "low", "info", "none"], default="critical"
        ),
        formats=dict(
            type="list",
            elements="str",
            choices=["json", "markdown", "sarif", "junit"],
            default=["json", "markdown", "sarif", "junit"],
        ),
        max_findings=dict(type="int", default=1000),
        report_dir=dict(type="path"),
        report_name=dict(type="str", default="security-audit"),
        trivy=dict(type="str", choices=["auto", "true", "false"], default="auto"),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    security_module.main(module)


if __name__ == "__main__":
    main()
