#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k8s_apply
short_description: Apply many Kubernetes objects in one task, in dependency order, concurrently
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Creates or updates every object of O(resources) and O(secrets) in one task: a platform
    of about sixty objects costs one task, not sixty, and a run that changes nothing costs
    little more than the reads."
  - "B(Before anything is written) the module checks the whole batch, and fails naming
    the objects concerned, with nothing written, when: a kind is not served by the cluster
    (discovery is one GET per distinct group/version, not full discovery; kinds defined by a
    CustomResourceDefinition of the same batch count as served); the server's version is
    older than O(min_server_version); a namespaced object has no namespace; an object is
    given twice; a namespace the batch uses is missing and not in the batch (not checked
    when the credentials may not read namespaces); or a Secret or ConfigMap that a
    workload's pod template needs is neither in the batch, nor in O(secrets), nor in the
    cluster. Needed means referenced by C(env[].valueFrom.secretKeyRef)/C(configMapKeyRef),
    C(envFrom), C(volumes[].secret)/C(configMap), C(projected) volume sources or
    C(imagePullSecrets), and not marked C(optional: true)."
  - "Order: objects are applied in tiers. 1) Namespaces and CustomResourceDefinitions (the
    module then waits until new or changed CRDs are Established); 2) ServiceAccounts,
    ConfigMaps, Secrets, PersistentVolumeClaims, RBAC and other configuration kinds;
    3) Services; 4) Deployments, StatefulSets, DaemonSets, Jobs and CronJobs; 5)
    HorizontalPodAutoscalers, PodDisruptionBudgets, Ingresses, Routes, NetworkPolicies,
    custom resources and anything else. The objects of one tier are applied concurrently
    (O(concurrency) at a time). When an object fails, the rest of its tier is still
    applied, nothing after that tier is attempted, and the task fails naming each failed
    object with the API's reason; RV(results) says which objects were applied, which
    failed and which were not attempted."
  - "Per object: the live object is read. Absent, it is created. Present, it is left
    alone when every field of the manifest already has the manifest's value; otherwise it
    is patched: a strategic merge patch for built-in kinds, a JSON merge patch for custom
    resources (and for any kind whose server refuses strategic merge). Fields the manifest
    does not mention are left as they are (like M(kubernetes.core.k8s) with C(apply=false));
    nothing is pruned, and a key or field is removed only by setting it to C(null) in the
    manifest. C(status) and server-set metadata (C(resourceVersion), C(uid),
    C(generation), C(managedFields), C(creationTimestamp)) in a manifest are ignored.
    An object counts as changed when it is created or its C(resourceVersion) moved (the
    API server keeps it for a patch that changes nothing)."
  - "Replicas and HorizontalPodAutoscalers: a Deployment or StatefulSet that an HPA of the
    same batch scales (C(scaleTargetRef) kind and name, same namespace) never gets
    C(spec.replicas) in an update, so the replicas the HPA (or anyone) set are kept. When
    it is created without C(spec.replicas), it starts with the HPA's C(minReplicas). Its
    result says C(replicas_owner: hpa/<name>)."
  - "Configuration checksum: each workload's pod template gets the annotation
    C(multiagent.ops/config-checksum), a sha256 over the content of the ConfigMaps and
    Secrets of the batch (including O(secrets)) that its containers use (env, envFrom,
    volumes), so changed configuration rolls its pods and unchanged configuration does
    not. Only the digest is written, never a value. Objects referenced but not in the batch
    do not contribute (a change made to them elsewhere does not roll the pods), nor do
    image pull secrets (running pods never read them). A workload that uses nothing of
    the batch gets no annotation."
  - "Secrets: values never appear in the module's output. In diffs each value of C(data)
    or C(stringData) is replaced by C(<redacted>), or C(<redacted, changed>) where it
    differs from the live value; error messages have Secret values masked. Values given
    in O(secrets) are C(no_log) (masked everywhere by Ansible, also in C(-vvv)); values of
    Secrets in O(resources) of at least 6 characters are masked too (shorter ones would mask
    unrelated text), so prefer O(secrets) for credentials."
  - "With O(wait) (the default), after all writes succeeded, the module waits for the
    rollouts of the Deployments, StatefulSets and DaemonSets it created or changed (the rules
    of C(kubectl rollout status)); a rollout that fails or does not finish in O(wait_timeout)
    fails the task, naming the workloads, their pods' problems and still returning
    RV(results). O(wait_timeout) covers all the rollouts together."
  - "Failures name the object and the cause: an unreachable API, rejected credentials
    (401), a denied request (403, with the verb, resource and namespace), a conflict (409),
    an invalid object (422, with the fields the API names)."
options:
  resources:
    description:
      - "The objects to apply, as dicts (for example a template's YAML documents read with
        C(ansible.builtin.from_yaml_all)). Each needs C(apiVersion), C(kind) and
        C(metadata.name) (C(generateName) is refused: every run would create another
        object); a C(kind: List) is applied item by item; empty entries are skipped."
      - "An object annotated C(multiagent.ops/apply-if-served: <group/version>) is applied
        only when the cluster serves that group/version, one annotated
        C(multiagent.ops/apply-unless-served: <group/version>) only when it does not (an
        OpenShift Route or else an Ingress; a ServiceMonitor only where the Prometheus
        operator is installed). The others are reported with action C(skipped) and the
        reason; the decision costs no request beyond the discovery the module does anyway."
      - Required unless O(secrets) is given.
    type: list
    elements: dict
  namespace:
    description: Namespace of namespaced objects (and O(secrets)) that do not name one.
    type: str
  secrets:
    description:
      - Secrets to apply along with O(resources), given as plain strings. Each becomes a
        Secret whose values are sent as C(stringData) and compared with the live
        C(data) (base64). Their names stay visible in the output, their values never do.
      - Keys the live Secret has but O(secrets[].data) does not are kept (no pruning).
    type: list
    elements: dict
    suboptions:
      data:
        description: The Secret's keys and values; values are converted to strings.
        type: dict
        default: {}
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Its namespace; O(namespace) by default.
        type: str
      type:
        description: The Secret's type (immutable once created).
        type: str
        default: Opaque
      labels:
        description: Labels of the Secret.
        type: dict
      annotations:
        description: Annotations of the Secret.
        type: dict
  concurrency:
    description: How many objects of one tier are applied at the same time.
    type: int
    default: 8
  field_manager:
    description: The C(fieldManager) named in every create and patch.
    type: str
    default: multiagent.ops
  min_server_version:
    description: The oldest Kubernetes version (C(major.minor), for example C("1.25")) the batch may be applied to.
    type: str
  refuse_annotations:
    description:
      - Annotation keys that make the module refuse, before any write, when a live object of
        the batch carries one of them, naming the objects and the values.
      - The runbooks record what they change on the objects themselves (maintenance mode's
        C(multiagent.ops/recorded-selector) on Services, C(multiagent.ops/recorded-replicas)
        on quiesced workloads); a deploy over such an object would undo the change while
        its record stays. The deploy role passes those two unless told otherwise.
      - Every object is then read before the first write (the same reads the apply does
        anyway, earlier).
    type: list
    elements: str
    default: []
  hold_fields:
    description:
      - "Fields a live object keeps while it carries an annotation, as a mapping of the
        annotation to dotted field paths (C({multiagent.ops/recorded-min-replicas:
        [spec.minReplicas]})). Those fields are left out of the patch (and of the
        comparison), and the object's result lists them under C(held)."
      - "The deploy role holds an HPA's C(minReplicas)/C(maxReplicas) while
        M(multiagent.ops.scale) has them changed (its record is on the HPA), so that an
        upgrade during a traffic peak does not shrink the range back; C(scale.yml -e
        scale_restore_hpa=true) ends that."
    type: dict
    default: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description:
      - Reads, and sends each create and update with C(dryRun=All) (a server-side dry run,
        validated and defaulted by the API server, stored nowhere); an object is changed
        when the dry-run answer differs from the live object (server-set metadata and
        C(status) aside). Objects in a namespace, or of a kind, that the batch itself
        would create cannot be validated yet; they are reported as created with
        C(validated=false). O(wait) is skipped.
  diff_mode:
    support: full
    description:
      - Per created or updated object, the live object and the applied (or dry-run) one,
        without server-set metadata and C(status), Secret values redacted.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - PyYAML
seealso:
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Deploy the platform in one task and wait until it runs
  multiagent.ops.k8s_apply:
    namespace: mplp-production
    resources: "{{ lookup('ansible.builtin.template', 'platform.yml.j2') | ansible.builtin.from_yaml_all | list }}"
    secrets:
      - name: mplp-postgresql-credentials
        data:
          password: "{{ vault_mplp_db_password }}"
    min_server_version: "1.25"
    wait_timeout: 600
  register: deploy

- name: What would change, with diffs (Secret values redacted)
  multiagent.ops.k8s_apply:
    namespace: mplp-production
    resources: "{{ platform_objects }}"
  check_mode: true
  diff: true

- name: The same connection settings for every Kubernetes module of a play
  hosts: clusters
  module_defaults:
    group/multiagent.ops.k8s:
      kubeconfig: "{{ k8s_kubeconfig }}"
      context: "{{ k8s_context }}"
  tasks:
    - name: Apply
      multiagent.ops.k8s_apply:
        resources: "{{ platform_objects }}"
"""

RETURN = r"""
results:
  description:
    - "Per object, in the order applied (tier by tier, within a tier as given), C(kind),
      C(apiVersion), C(namespace) (null for cluster-scoped kinds), C(name) and C(action):
      C(created), C(updated), C(unchanged), C(failed) (with C(error), the cause) or
      C(not_attempted) (a tier before it failed), or C(skipped) (with C(reason): its
      C(apply-if-served)/C(apply-unless-served) condition does not hold). In check mode the
      actions say what would happen."
    - "C(replicas_owner) (C(hpa/<name>)) for a workload whose replicas an HPA of the batch owns."
    - "C(held): the field paths left as they are because of O(hold_fields)."
    - "C(validated) (false) in check mode for objects the server could not dry-run because
      their namespace or kind is created by the same batch."
    - "C(error) is also set on a CustomResourceDefinition that was created but did not become Established."
  returned: always, also on failure after the preflight
  type: list
  elements: dict
  sample:
    - {kind: Namespace, apiVersion: v1, namespace: null, name: mplp-production, action: unchanged}
    - {kind: Deployment, apiVersion: apps/v1, namespace: mplp-production, name: mplp-core, action: updated, replicas_owner: hpa/mplp-core}
summary:
  description: How many objects had each action.
  returned: always, also on failure after the preflight
  type: dict
  sample: {created: 0, updated: 2, unchanged: 58, failed: 0, not_attempted: 0, skipped: 1}
rollouts:
  description:
    - With O(wait), the rollout of each Deployment, StatefulSet and DaemonSet this run
      created or changed, C(kind), C(namespace), C(name), C(done), C(failed), C(message),
      C(replicas), C(updated), C(ready), C(available), C(seconds), and for failures
      C(pods) (the unready pods and why); C(timed_out) when it was still in progress at the
      end of the wait (not failed by itself). Empty otherwise.
  returned: always
  type: list
  elements: dict
server_version:
  description: The Kubernetes version of the cluster (its C(gitVersion)).
  returned: after the preflight
  type: str
  sample: v1.33.0
diff:
  description: In diff mode, one C(before)/C(after) entry (YAML text with headers) per created or updated object.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import runner


def argspec():
    return k8s_module.argspec(
        wait=True,
        resources=dict(type="list", elements="dict"),
        namespace=dict(type="str"),
        secrets=dict(
            type="list",
            elements="dict",
            no_log=False,  # the names are not secret; the values (data) are
            options=dict(
                data=dict(type="dict", no_log=True, default={}),
                name=dict(type="str", required=True),
                namespace=dict(type="str"),
                type=dict(type="str", default="Opaque"),
                labels=dict(type="dict"),
                annotations=dict(type="dict"),
            ),
        ),
        concurrency=dict(type="int", default=8),
        field_manager=dict(type="str", default="multiagent.ops"),
        min_server_version=dict(type="str"),
        refuse_annotations=dict(type="list", elements="str", default=[], no_log=False),
        hold_fields=dict(type="dict", default={}),
    )


def main():
    module = k8s_module.new_module(
        argspec(), supports_check_mode=True, required_one_of=[("resources", "secrets")]
    )
    k8s_module.main(module, runner.run)


if __name__ == "__main__":
    main()
