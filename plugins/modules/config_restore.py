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
    before the cluster is contacted or anything is changed."
  - "Applies the chosen objects in dependency order: ServiceAccounts, Secrets, ConfigMaps,
    Roles, RoleBindings, PersistentVolumeClaims, Services, Deployments, StatefulSets,
    CronJobs, HorizontalPodAutoscalers, PodDisruptionBudgets, Ingresses, NetworkPolicies,
    then custom resources. Objects of one kind are written concurrently; a kind with a
    failure stops the restore before the next kind."
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
    with C(dryRun=All) when the namespace exists; nothing is stored."
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
  api_timeout:
    description: Timeout in seconds of each Kubernetes API request.
    type: float
    default: 30
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Compares and validates (server dry run); writes nothing.
  diff_mode:
    support: full
    description: The live and archived values of the fields the archive sets, Secret values redacted.
requirements:
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
  description: Objects that already matched the archive.
  returned: always
  type: list
  elements: str
objects:
  description: Per chosen object, C(object) and C(action) (C(create), C(update) or C(none)), in restore order.
  returned: always
  type: list
  elements: dict
sha256:
  description: SHA-256 of the verified archive.
  returned: always
  type: str
failed_objects:
  description: Objects whose create or update the API refused (the message says why).
  returned: failure while applying
  type: list
  elements: str
not_attempted:
  description: Objects of later kinds that were not applied because of the failure.
  returned: failure while applying
  type: list
  elements: str
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact, vault
from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module

WORKERS = 8


def argspec():
    return kube_module.argspec(
        archive=dict(type="path", required=True),
        namespace=dict(type="str"),
        create_namespace=dict(type="bool", default=False),
        vault_password=dict(type="str", no_log=True),
        kinds=dict(type="list", elements="str", default=[]),
        names=dict(type="list", elements="str", default=[]),
        exclude=dict(type="list", elements="str", default=[]),
        api_timeout=dict(type="float", default=30),
    )


class Loaded:
    """The verified archive: its manifest and index, the chosen objects, and ``autoscaled``,
    the workloads an HPA of the archive scales (whether or not the HPA is chosen)."""

    def __init__(self, manifest, index, objects, autoscaled=None):
        self.manifest = manifest
        self.index = index
        self.objects = objects
        self.autoscaled = kx.scaled_by_autoscaler(objects) if autoscaled is None else set(autoscaled)


def load(module):
    """Verify and read the archive; fail (naming the problem) before anything else happens."""
    p = module.params
    path = p["archive"]
    manifest, problems = artifact.verify_file(path)
    if problems:
        module.fail_json(
            msg="The archive %s cannot be trusted: %s; nothing was changed" % (path, "; ".join(problems))
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        # What is read is what was verified (the file could be replaced in between).
        problems = artifact.check_content(manifest, hashlib.sha256(data).hexdigest(), len(data))
        if problems:
            raise kx.ExportError("; ".join(problems))
        index, files = kx.read_archive(data)
        problems = kx.check_manifest(manifest, index)
        if problems:
            raise kx.ExportError("; ".join(problems))
        objects = kx.load_objects(
            index, files, p["vault_password"], kinds=p["kinds"], names=p["names"], exclude=p["exclude"]
        )
        # Every HPA of the archive, chosen or not: a restore of the Deployments alone must
        # not reset the replicas an archived HPA manages either.
        autoscaled = kx.scaled_by_autoscaler(kx.load_objects(index, files, kinds=["HorizontalPodAutoscaler"]))
    except (kx.ExportError, vault.VaultError, OSError) as exc:
        module.fail_json(msg="Cannot restore from %s: %s; nothing was changed" % (path, exc))
    # Only the Secrets restored; what the result shows anyway (namespaces, the archive's
    # path, object names) is never starred out.
    visible = [
        path,
        artifact.manifest_name(path),
        index.get("namespace"),
        p["namespace"],
        manifest.get("sha256"),
    ]
    visible += [kx.object_name(rt, obj) for rt, obj in objects]
    kx.mask(module, kx.secret_values(objects), visible=[v for v in visible if v])
    return Loaded(manifest, index, objects, autoscaled)


def _message(answer):
    if isinstance(answer, dict) and answer.get("message"):
        return answer["message"]
    return "no reason given"


def _write(reader, namespace, step, dry_run, autoscaled=()):
    """Send one create or update; returns None or the failure text (never the object)."""
    rt = step["rt"]
    name = step["object"]["metadata"]["name"]
    query = "?dryRun=All" if dry_run else ""
    if step["action"] == "create":
        method, path = "POST", rt.collection_path(namespace) + query
    else:
        method, path = "PATCH", rt.object_path(namespace, name) + query
    status, answer = reader.send(method, path, step["body"], "%s %s" % (step["action"], step["label"]))
    if status == 409 and step["action"] == "create" and not dry_run:
        # Made meanwhile (a new namespace's default ServiceAccount appears right after the
        # namespace): compare with it, and update it if needed, as if it had been listed.
        live = reader.get_optional(rt.object_path(namespace, name), "read %s" % step["label"])
        if live is not None:
            again = kx.plan([(rt, step["object"])], {rt.dir: {name: live}}, autoscaled)[0]
            step.update(action=again["action"], body=again["body"], live=again["live"])
            step["desired"] = again.get("desired")
            return None if again["action"] == "none" else _write(reader, namespace, step, dry_run)
    if 200 <= status < 300:
        return None
    return "Failed to %s %s in namespace %s: HTTP %d %s" % (
        step["action"],
        step["label"],
        namespace,
        status,
        _message(answer),
    )


def _summarise(result, steps):
    """The result's per-object lists from the steps' (final) actions."""
    for key in ("objects", "created", "updated", "unchanged"):
        result[key] = []
    for step in steps:
        result["objects"].append({"object": step["label"], "action": step["action"]})
        key = {"create": "created", "update": "updated", "none": "unchanged"}[step["action"]]
        result[key].append(step["label"])


def run(module, reader, loaded):
    p = module.params
    source = loaded.index["namespace"]
    target = p["namespace"] or source
    objects = [(rt, kx.retarget(rt, obj, source, target)) for rt, obj in loaded.objects]

    result = dict(
        changed=False,
        namespace=target,
        source_namespace=source,
        namespace_created=False,
        created=[],
        updated=[],
        unchanged=[],
        objects=[],
        sha256=loaded.manifest.get("sha256"),
    )
    namespace_obj = reader.get_optional("/api/v1/namespaces/%s" % target, "read namespace %s" % target)
    if namespace_obj is not None:
        meta = namespace_obj.get("metadata") or {}
        if meta.get("deletionTimestamp") or (namespace_obj.get("status") or {}).get("phase") == "Terminating":
            module.fail_json(
                msg="namespace %s is being deleted; wait until it is gone, then restore" % target
            )
    elif not p["create_namespace"]:
        module.fail_json(
            msg="namespace %s does not exist; set create_namespace to create it; nothing was changed" % target
        )

    types = []
    for rt, _obj in objects:
        if rt.dir not in {t.dir for t in types}:
            types.append(rt)
    live = {}
    if namespace_obj is not None:
        try:
            listed = kx.list_types(reader, target, types)
        except kx.ExportError as exc:
            module.fail_json(msg="Cannot restore into namespace %s: %s; nothing was changed" % (target, exc))
        live = {rt.dir: {(o.get("metadata") or {}).get("name"): o for o in items} for rt, items in listed}
    autoscaled = loaded.autoscaled
    steps = kx.plan(objects, live, autoscaled)

    diffs = []
    if namespace_obj is None:
        result.update(changed=True, namespace_created=True)
        namespace_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
        namespace_body["metadata"].update(loaded.index.get("namespace_metadata") or {})
        diffs.append(
            {
                "before_header": "Namespace/%s (live)" % target,
                "after_header": "Namespace/%s (archive)" % target,
                "before": "",
                "after": kx.dump_yaml(namespace_body).decode("utf-8"),
            }
        )
    _summarise(result, steps)
    for step in steps:
        if step["action"] != "none":
            result["changed"] = True
            diffs.append(
                kx.diff_entry(step["rt"], step["label"], step["live"], step.get("desired") or step["body"])
            )
    if module._diff:
        result["diff"] = diffs

    pending = [s for s in steps if s["action"] != "none"]
    if module.check_mode:
        if namespace_obj is not None and pending:
            failures = [f for f in _apply(reader, target, pending, dry_run=True) if f]
            if failures:
                module.fail_json(
                    msg="The API server rejects the restore (dry run, nothing was changed): %s"
                    % "; ".join(failures),
                    **result,
                )
        module.exit_json(**result)

    if namespace_obj is None:
        status, answer = reader.send(
            "POST", "/api/v1/namespaces", namespace_body, "create namespace %s" % target
        )
        if not 200 <= status < 300:
            module.fail_json(
                msg="Failed to create namespace %s: HTTP %d %s; nothing was changed"
                % (target, status, _message(answer)),
                **result,
            )
    done = []
    groups = _groups(pending)
    for position, group in enumerate(groups):
        outcomes = _apply(reader, target, group, autoscaled=autoscaled)
        done += [step["label"] for step, failure in zip(group, outcomes, strict=True) if not failure]
        failures = [failure for failure in outcomes if failure]
        if failures:
            later = [step["label"] for rest in groups[position + 1 :] for step in rest]
            _summarise(result, [step for step in steps if step["action"] == "none" or step["label"] in done])
            result["failed_objects"] = [
                step["label"] for step, failure in zip(group, outcomes, strict=True) if failure
            ]
            result["not_attempted"] = later
            module.fail_json(
                msg="%s. Applied before the failure: %s. Not attempted: %s. The restore is idempotent: "
                "fix the cause and run it again."
                % ("; ".join(failures), ", ".join(done) or "nothing", ", ".join(later) or "nothing"),
                **result,
            )
    _summarise(result, steps)
    module.exit_json(**result)


def _groups(steps):
    groups = []
    for step in steps:
        if groups and groups[-1][0]["rt"].dir == step["rt"].dir:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _apply(reader, namespace, steps, dry_run=False, autoscaled=()):
    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(steps)))) as pool:
        return list(pool.map(lambda step: _write(reader, namespace, step, dry_run, autoscaled), steps))


def main():
    module = kube_module.new_module(argspec(), supports_check_mode=True)
    loaded = load(module)
    kube_module.legacy_main(module, lambda mod, reader: run(mod, reader, loaded))


if __name__ == "__main__":
    main()
