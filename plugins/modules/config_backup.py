#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: config_backup
short_description: Export a namespace's Kubernetes configuration into a checksummed archive
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - Reads a namespace's Deployments, StatefulSets, Services, ConfigMaps, Ingresses,
    HorizontalPodAutoscalers (C(autoscaling/v2)), PodDisruptionBudgets (C(policy/v1)),
    NetworkPolicies, ServiceAccounts, Roles, RoleBindings, CronJobs and
    PersistentVolumeClaims (their spec, not their data), Secrets when O(include_secrets) is
    set, and the custom resources listed in O(custom_resources). One paged LIST per kind,
    all kinds at once.
  - "Keeps what a person or a tool wrote: drops C(status); every metadata field except
    name, namespace, labels, annotations and finalizers (so C(uid), C(resourceVersion),
    C(managedFields), C(creationTimestamp), C(generation), C(selfLink), C(deletionTimestamp)
    go); server-set annotations (C(kubectl.kubernetes.io/last-applied-configuration),
    C(deployment.kubernetes.io/revision), C(pv.kubernetes.io/*), provisioner and selected-node
    annotations); the C(kubernetes.io/pvc-protection) finalizer; a Service's C(clusterIP)/
    C(clusterIPs) (kept for headless Services, whose C(None) is intended) and, see
    O(node_ports), its node ports; a claim's C(volumeName); a ServiceAccount's C(secrets) list;
    Job-controller labels and selectors copied into a CronJob's job template."
  - "Leaves out objects that are not configuration: objects with C(ownerReferences) (their
    owner recreates them), objects being deleted, the C(kube-root-ca.crt) ConfigMap,
    ServiceAccount token Secrets and the C(default) ServiceAccount unless it is configured
    (image pull secrets, token automount, labels or annotations). RV(left_out) names them."
  - "Writes one YAML file per object, C(<Kind>/<name>.yaml) (C(<Kind>.<group>/<name>.yaml) for
    custom resources), and C(index.yaml) into C(<prefix>-<YYYYmmddTHHMMSSZ>.tar.gz) in O(path),
    atomically (temporary name, fsync, rename), then the manifest
    C(<archive>.manifest.json) (kind C(kubernetes-config), target the namespace, size,
    sha256, times, objects per kind, whether Secrets are included and how they are
    encrypted). The backup is complete only when its manifest exists."
  - "The archive's bytes depend only on the objects (sorted keys and files, fixed times and
    owners in the tar and gzip headers): an unchanged namespace gives the same sha256."
  - "Secrets are stored encrypted, each file an ansible-vault (1.1, AES256) document that
    C(ansible-vault view) opens with the same password. Each Secret's salt is derived from
    its content with a key stretched from the password, so unchanged Secrets encrypt to the
    same bytes too; this reveals only whether a Secret changed between two backups made with
    the same password. No Secret value is ever returned or logged; as a second line of
    defence, the values of the exported Secrets are masked in what the module returns, except
    a value that is part of the namespace, the archive's path or an object's name, which the
    result shows anyway."
options:
  namespace:
    description: The namespace to export.
    type: str
    required: true
  path:
    description: Directory the archive and its manifest are written to; created (mode 0700) when missing.
    type: path
    required: true
  prefix:
    description: Name of the archive before its time stamp; default C(config-<namespace>).
    type: str
  kinds:
    description:
      - Built-in kinds to export (for example C([ConfigMap, Deployment])); all of them by default.
      - C(Secret) is exported only with O(include_secrets), whatever this says.
    type: list
    elements: str
    default: []
  custom_resources:
    description: Custom resources to export as well (namespaced kinds only).
    type: list
    elements: dict
    default: []
    suboptions:
      group:
        description: API group, for example C(monitoring.coreos.com).
        type: str
        required: true
      version:
        description: API version in the group, for example C(v1).
        type: str
        required: true
      kind:
        description: Kind, for example C(ServiceMonitor).
        type: str
        required: true
      plural:
        description: Resource name in URLs, for example C(servicemonitors); looked up through API discovery when not given.
        type: str
  include_secrets:
    description: Export Secrets too, encrypted with O(vault_password).
    type: bool
    default: false
  vault_password:
    description:
      - The ansible-vault password the Secrets are encrypted with; required with O(include_secrets).
      - Leading and trailing whitespace (a trailing newline from a file lookup) is ignored, as
        C(ansible-vault) ignores it in password files and prompts; a password of whitespace only is refused.
      - Take it from a vaulted variable or an AWX credential, never from a plain file in a repository.
    type: str
  vault_id:
    description: A vault ID label written into each encrypted file's header (format 1.2), to pick the password with C(--vault-id).
    type: str
  node_ports:
    description:
      - "What to keep of a Service's node ports (C(nodePort), C(healthCheckNodePort)). C(auto):
        only those its C(kubectl.kubernetes.io/last-applied-configuration) sets explicitly, as
        the server picks the others and a picked port restored into another namespace of the
        same cluster collides with the original. C(keep): all (restores into the same cluster
        keep their ports, firewalls and load balancers stay valid). C(drop): none."
    type: str
    default: auto
    choices: [auto, keep, drop]
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: Reads the namespace and reports what the archive would hold; writes nothing.
  diff_mode:
    support: none
    description: A backup adds a new archive; there is nothing to compare.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - PyYAML
  - cryptography (with O(include_secrets))
notes:
  - Reading Secrets needs C(list) on C(secrets); without O(include_secrets) they are not read at all.
  - Cluster-scoped objects (ClusterRoles, PersistentVolumes, CRDs, StorageClasses) are not part
    of a namespace backup; the namespace's own labels and annotations are kept in C(index.yaml).
seealso:
  - module: multiagent.ops.config_restore
"""

EXAMPLES = r"""
- name: Back up the platform namespace's configuration, without Secrets
  multiagent.ops.config_backup:
    namespace: mplp-production
    path: /var/backups/k8s-config/us-east-1

- name: With Secrets, encrypted for ansible-vault, and a custom resource
  multiagent.ops.config_backup:
    namespace: mplp-production
    path: /var/backups/k8s-config/us-east-1
    include_secrets: true
    vault_password: "{{ backup_config_vault_password }}"
    custom_resources:
      - {group: monitoring.coreos.com, version: v1, kind: ServiceMonitor, plural: servicemonitors}
  register: config_backup

- name: Say where it went
  ansible.builtin.debug:
    msg: "{{ config_backup.backups[0].path }}: sha256 {{ config_backup.backups[0].sha256 }}"

# Later, on any machine with ansible:
#   tar -xzf config-mplp-production-20261122T020000Z.tar.gz Secret/app-credentials.yaml
#   ansible-vault view Secret/app-credentials.yaml
"""

RETURN = r"""
backups:
  description:
    - The backup, one entry in the shape every backup module of the collection returns.
    - "C(path) of the archive (in check mode, the one that would be written), C(manifest_path)
      beside it, C(url) (where it is kept, here the path), C(size) and C(sha256) of the archive,
      and C(manifest), the manifest written beside it (in check mode, the one that would be)."
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Path of the archive.
      type: str
    manifest_path:
      description: Path of its manifest.
      type: str
    url:
      description: Where the backup is kept (here the path).
      type: str
    size:
      description: Bytes of the archive; null in check mode.
      type: int
    sha256:
      description: SHA-256 of the archive; null in check mode.
      type: str
    manifest:
      description: The manifest written beside the archive (in check mode, the one that would be).
      type: dict
  sample:
    - path: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz
      manifest_path: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz.manifest.json
      url: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz
      size: 48213
      sha256: 3b1f7c2e9a0d4e5f8a6b7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f
      manifest: {kind: kubernetes-config, target: mplp-production, status: complete, objects: {Deployment: 10}}
objects:
  description: Objects exported per kind (folder name in the archive).
  returned: always
  type: dict
  sample: {Deployment: 10, Service: 12, ConfigMap: 4, HorizontalPodAutoscaler: 10}
files:
  description: Files in the archive besides C(index.yaml), sorted (names only, never contents).
  returned: always
  type: list
  elements: str
left_out:
  description: Objects listed in the namespace but not exported, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{object: ConfigMap/kube-root-ca.crt, reason: created by Kubernetes in every namespace}]
secrets_included:
  description: Whether Secrets are in the archive.
  returned: always
  type: bool
encryption:
  description: C(ansible-vault-1.1-aes256) when Secrets are included, else C(none).
  returned: always
  type: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        path=dict(type="path", required=True),
        prefix=dict(type="str"),
        kinds=dict(type="list", elements="str", default=[]),
        custom_resources=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                group=dict(type="str", required=True),
                version=dict(type="str", required=True),
                kind=dict(type="str", required=True),
                plural=dict(type="str"),
            ),
        ),
        include_secrets=dict(type="bool", default=False, no_log=False),
        vault_password=dict(type="str", no_log=True),
        vault_id=dict(type="str"),
        node_ports=dict(type="str", default="auto", choices=list(k8s_config.NODE_PORT_CHOICES)),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, k8s_config.run_backup)


if __name__ == "__main__":
    main()
