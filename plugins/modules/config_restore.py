#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: config_restore
short_description: Restore a namespace's Kubernetes configuration from a config_backup archive
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Verifies the archive first: its manifest (C(<archive>.manifest.json)) must be complete
    and of kind C(kubernetes-config), the archive's size and sha256 must match it, its
    C(index.yaml) must agree with the manifest and list exactly the files present, and every
    chosen encrypted Secret must decrypt with O(vault_password). Any problem fails the task
    before any object of the cluster is read or changed."
  - "Applies the chosen objects in dependency order: ServiceAccounts, Secrets, ConfigMaps,
    Roles, RoleBindings, PersistentVolumeClaims, Services, Deployments, StatefulSets,
    CronJobs, HorizontalPodAutoscalers, PodDisruptionBudgets, Ingresses, NetworkPolicies,
    then custom resources; when O(create_namespace) creates the namespace, that comes first.
    Objects of one kind are written concurrently; a kind with a failure stops the restore
    before the next kind. It is the apply engine of M(multiagent.ops.k8s_apply), with the
    restore's rules below (it reads the live objects with one LIST per kind)."
  - "Into the archive's namespace or another one (O(namespace)): C(metadata.namespace) is
    rewritten, and so are RoleBinding subjects that named the source namespace: a subject's
    C(namespace), and the source namespace's ServiceAccounts named as a Group
    (C(system:serviceaccounts:<namespace>)) or a User
    (C(system:serviceaccount:<namespace>:<name>)). References inside data (DNS names in
    ConfigMaps, namespace selectors of NetworkPolicies) are not."
  - "Idempotent: an object is unchanged when every field the archive sets has the archived
    value in the cluster (fields the server defaults or others add are not looked at).
    Otherwise it is created, or updated with a JSON merge patch of the archived object, which
    sets exactly the archived fields; lists are replaced whole, except C(metadata.finalizers):
    the archived finalizers are added to the live ones, and finalizers the server or
    controllers set (C(kubernetes.io/pvc-protection)) are never removed. ConfigMap and Secret
    data are restored exactly (keys added since the backup are removed). A
    PersistentVolumeClaim is never shrunk: a live storage request at least as large as the
    archived one (a claim expanded since the backup) counts as matching and is kept. The
    replicas of a workload that a HorizontalPodAutoscaler of the archive scales are set only
    when the workload is created, also when O(kinds), O(names) or O(exclude) leave the
    HorizontalPodAutoscaler out. Objects that are not in the archive are never deleted."
  - "Check mode reads and compares, and lets the API server validate each create and update
    with C(dryRun=All) (the namespace's create too; the objects of a namespace that does not
    exist yet cannot be validated); nothing is stored. As in a real run, the kinds after one
    the server refuses are not tried. An object counts as updated when the server's dry-run
    answer differs from the live object; in a real run, when its C(resourceVersion) moved."
  - "Diff mode shows, per object created or updated, the live values of the archived fields
    and the archived values. Secret values never appear: keys are shown with
    C(<redacted>), or C(<redacted, changed>) where the value changes."
options:
  archive:
    description: Path of the archive written by M(multiagent.ops.config_backup); its manifest must be beside it.
    type: path
    required: true
  namespace:
    description: Namespace to restore into; the archive's own namespace by default.
    type: str
  create_namespace:
    description: Create the namespace (with the archived namespace's labels and annotations) when it does not exist.
    type: bool
    default: false
  vault_password:
    description:
      - The ansible-vault password the archive's Secrets were encrypted with; needed when Secrets are restored.
      - Tried without leading and trailing whitespace (as C(ansible-vault) uses it), then as given.
    type: str
  kinds:
    description: Restore only these kinds (C(Deployment), C(ConfigMap), C(<Kind>.<group>) for custom resources).
    type: list
    elements: str
    default: []
  names:
    description:
      - Restore only objects matching one of these C(<Kind>/<name>) patterns (shell-style, for
        example C(ConfigMap/mplp-*)), or a bare kind.
    type: list
    elements: str
    default: []
  exclude:
    description: Leave out objects matching these C(<Kind>/<name>) patterns or bare kinds (for example C(Secret)).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: Compares and validates (server dry run); writes nothing.
  diff_mode:
    support: full
    description: The live and archived values of the fields the archive sets, Secret values redacted.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - PyYAML
  - cryptography (for archives with Secrets)
seealso:
  - module: multiagent.ops.config_backup
"""

EXAMPLES = r"""
- name: Put back the configuration of the platform namespace
  multiagent.ops.config_restore:
    archive: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz
    vault_password: "{{ backup_config_vault_password }}"
    create_namespace: true

- name: Copy the configuration into a staging namespace, without Secrets
  multiagent.ops.config_restore:
    archive: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz
    namespace: mplp-staging
    create_namespace: true
    exclude: [Secret]

- name: Only the ConfigMaps of one component, showing what would change
  multiagent.ops.config_restore:
    archive: "{{ archive }}"
    names: ["ConfigMap/mplp-core-*"]
  check_mode: true
  diff: true
"""

RETURN = r"""
namespace:
  description: The namespace restored into.
  returned: always
  type: str
source_namespace:
  description: The namespace the archive was taken from.
  returned: always
  type: str
namespace_created:
  description: Whether the namespace was (or, in check mode, would be) created.
  returned: always
  type: bool
created:
  description: Objects created (C(<Kind>/<name>)), in the order they were applied; on a failure, only those done.
  returned: always
  type: list
  elements: str
updated:
  description: Objects updated.
  returned: always
  type: list
  elements: str
unchanged:
  description: Objects that already matched the archive; on a failure, only those of the kinds attempted.
  returned: always
  type: list
  elements: str
objects:
  description:
    - Per chosen object, C(object) and C(action) (C(create), C(update) or C(none)), in restore order.
    - On a failure, only the objects of RV(created), RV(updated) and RV(unchanged).
  returned: always
  type: list
  elements: dict
sha256:
  description: SHA-256 of the verified archive.
  returned: always
  type: str
failed_objects:
  description: Objects whose create or update the API refused (the message says why); C(Namespace/<name>) when its create was refused.
  returned: failure while applying
  type: list
  elements: str
not_attempted:
  description: Objects of later kinds that were not applied because of the failure.
  returned: failure while applying
  type: list
  elements: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def argspec():
    return k8s_module.argspec(
        archive=dict(type="path", required=True),
        namespace=dict(type="str"),
        create_namespace=dict(type="bool", default=False),
        vault_password=dict(type="str", no_log=True),
        kinds=dict(type="list", elements="str", default=[]),
        names=dict(type="list", elements="str", default=[]),
        exclude=dict(type="list", elements="str", default=[]),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, k8s_config.run_restore)


if __name__ == "__main__":
    main()
