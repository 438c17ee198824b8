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
  api_timeout:
    description: Timeout in seconds of each Kubernetes API request.
    type: float
    default: 30
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Reads the namespace and reports what the archive would hold; writes nothing.
  diff_mode:
    support: none
    description: A backup adds a new archive; there is nothing to compare.
requirements:
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

# Later, on any machine with ansible:
#   tar -xzf config-mplp-production-20261122T020000Z.tar.gz Secret/app-credentials.yaml
#   ansible-vault view Secret/app-credentials.yaml
"""

RETURN = r"""
archive:
  description: Path of the archive (in check mode, the one that would be written).
  returned: always
  type: str
  sample: /var/backups/k8s-config/us-east-1/config-mplp-production-20261122T020000Z.tar.gz
manifest:
  description: Path of the manifest beside the archive; not returned in check mode.
  returned: success and not check mode
  type: str
sha256:
  description: SHA-256 of the archive.
  returned: always
  type: str
size:
  description: Size of the archive in bytes.
  returned: always
  type: int
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

import hashlib
import os

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact, vault
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.backup.store import LocalStore, StoreError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module


def argspec():
    return kube_module.argspec(
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
        node_ports=dict(type="str", default="auto", choices=list(kx.NODE_PORT_CHOICES)),
        api_timeout=dict(type="float", default=30),
    )


def _custom_types(reader, specs):
    types = []
    for spec in specs:
        discovery = None
        if not spec.get("plural"):
            path = "/apis/%s/%s" % (spec["group"], spec["version"])
            discovery = reader.get_optional(path, "discover %s/%s" % (spec["group"], spec["version"]))
            if discovery is None:
                raise kx.ExportError(
                    "%s/%s is not served by this cluster (is the CRD of %s installed?)"
                    % (spec["group"], spec["version"], spec["kind"])
                )
        types.append(kx.custom_type(spec, discovery))
    dirs = [rt.dir for rt in types]
    if len(set(dirs)) != len(dirs):
        raise kx.ExportError("a custom resource is listed twice: %s" % ", ".join(sorted(dirs)))
    return types


def run(module, reader):
    p = module.params
    ns = p["namespace"]
    if p["include_secrets"] and not p["vault_password"]:
        module.fail_json(msg="include_secrets needs vault_password: Secrets are only ever stored encrypted")
    if p["include_secrets"] and not vault.HAS_CRYPTOGRAPHY:
        module.fail_json(
            msg="include_secrets needs the Python package cryptography (ansible-core depends on it)"
        )
    started = artifact.utcnow()
    try:
        types = kx.builtin_types(p["kinds"], p["include_secrets"]) + _custom_types(
            reader, p["custom_resources"]
        )
        namespace_obj = reader.get_optional("/api/v1/namespaces/%s" % ns, "read namespace %s" % ns)
        if namespace_obj is None:
            module.fail_json(msg="namespace %s does not exist; nothing was written" % ns)
        listed = kx.list_types(reader, ns, types)
        export = kx.export_namespace(
            ns,
            listed,
            namespace_obj=namespace_obj,
            include_secrets=p["include_secrets"],
            vault_password=p["vault_password"],
            vault_id=p["vault_id"],
            node_ports=p["node_ports"],
        )
        data = kx.build_archive(export.files)
    except (kx.ExportError, vault.VaultError) as exc:
        module.fail_json(msg="Cannot back up namespace %s: %s; nothing was written" % (ns, exc))

    name = artifact.archive_name(p["prefix"] or "config-%s" % ns, started, kx.ARCHIVE_EXT)
    digest = hashlib.sha256(data).hexdigest()
    result = dict(
        changed=True,
        archive=os.path.join(os.path.abspath(p["path"]), name),
        sha256=digest,
        size=len(data),
        objects=export.counts,
        files=export.index["files"],
        left_out=export.left_out,
        secrets_included=p["include_secrets"],
        encryption=export.index["encryption"],
    )
    # Only the Secrets in the archive; what the result shows anyway (the namespace, paths,
    # object names) is never starred out.
    kx.mask(
        module,
        kx.secret_values(kx.exported_secrets(listed)),
        visible=[ns, p["path"], result, artifact.manifest_name(result["archive"])],
    )
    if module.check_mode:
        module.exit_json(**result)
    store = written = None
    try:
        store = LocalStore(p["path"], create=True)
        written = store.write_bytes(name, data)
        if written != digest:
            raise StoreError(
                "%s was written with sha256 %s, expected %s" % (store.describe(name), written, digest)
            )
        finished = artifact.utcnow()
        manifest = artifact.new_manifest(
            kx.MANIFEST_KIND,
            ns,
            name,
            kx.ARCHIVE_FORMAT,
            kx.COMPRESSION,
            size=len(data),
            sha256=digest,
            started=artifact.iso(started),
            finished=artifact.iso(finished),
            duration=round((finished - started).total_seconds(), 3),
            objects=export.counts,
            files=len(export.index["files"]),
            secrets_included=p["include_secrets"],
            encryption=export.index["encryption"],
            content_format="%s v%d" % (kx.FORMAT, kx.FORMAT_VERSION),
            cluster=reader.host,
        )
        manifest["status"] = "complete"
        manifest_file = artifact.manifest_name(name)
        store.write_bytes(manifest_file, artifact.encode_manifest(manifest))
    except (StoreError, artifact.ArtifactError, OSError) as exc:
        if written is not None:
            # An archive without its manifest is no backup: do not leave one that looks like it.
            try:
                store.delete(name)
            except (StoreError, OSError):
                pass
        module.fail_json(
            msg="Cannot write the backup of namespace %s to %s: %s; no backup was stored"
            % (ns, p["path"], exc),
            **result,
        )
    result["manifest"] = store.describe(manifest_file)
    module.exit_json(**result)


def main():
    module = kube_module.new_module(argspec(), supports_check_mode=True)
    kube_module.legacy_main(module, run)


if __name__ == "__main__":
    main()
