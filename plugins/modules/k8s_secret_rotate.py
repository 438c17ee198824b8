#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k8s_secret_rotate
short_description: Rotate a Secret, restart only the workloads that read it, and roll it back from an encrypted record
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "O(state=rotated): gives keys of a Secret new values (O(data), from vault variables, or
    O(generate)d here), and restarts the Deployments, StatefulSets and DaemonSets whose pod
    template reads the Secret (env, envFrom, volumes, projected volumes) and no other. One LIST
    per kind, sent concurrently with the read of the Secret."
  - "A workload is restarted the way a deploy would restart it: when C(multiagent.ops.k8s_apply)
    stamped its C(multiagent.ops/config-checksum) and the live Secrets and ConfigMaps it reads
    reproduce the stamp, the stamp is recomputed over the same objects with the new values,
    which is exactly what the next deploy (its vault holding the new values) computes, so that
    deploy changes nothing. Otherwise C(kubectl.kubernetes.io/restartedAt) is set, which a
    deploy leaves alone. A workload whose C(multiagent.ops/config-checksum-skip) annotation names
    the Secret (the deploy role puts it on PostgreSQL, which reads its credentials only when it
    initialises its data directory) keeps running."
  - "Before anything changes, the previous values (and the new ones, which may have been
    generated) are written to a record in O(record_dir), encrypted with ansible-vault
    (C(ansible-vault view) opens it), atomically and with mode 0600. O(state=rolled_back) puts
    the recorded previous values back (the newest record of the Secret, or O(record)) and
    restarts the same workloads again; their config checksum is then the one they had before
    the rotation."
  - "With O(database), the key O(database.key) is the password of a PostgreSQL role:
    C(ALTER ROLE) runs first, with a SCRAM-SHA-256 (or md5, as the server's
    C(password_encryption) says) verifier computed here, so the password itself never reaches the
    server, its log or an exec's stdin; then a new login with the new password proves it (a
    refused login puts the old password back and fails). The Secret is updated only after that;
    if the update fails, the role gets its old password back. The rollback changes the role
    back first, then the Secret."
  - The Secret is updated with its C(resourceVersion) as read, so a change made meanwhile by
    someone else is refused, not overwritten.
  - "No value is ever returned, logged or shown in a diff: the new values, the values read from
    the cluster and the record's are masked like C(no_log) values."
options:
  namespace:
    description: Namespace of the Secret and of the workloads that read it.
    type: str
    required: true
  name:
    description: Name of the Secret.
    type: str
    required: true
  state:
    description:
      - V(rotated) gives the keys their new values; V(rolled_back) puts back what a record says
        they held before.
    type: str
    choices: [rotated, rolled_back]
    default: rotated
  data:
    description:
      - The new values by key (typically vault variables). Keys of the Secret not listed keep
        their values; a key not in the Secret is added. An empty value is refused.
      - A rotation whose values the Secret already holds changes nothing (a second run).
    type: dict
  generate:
    description:
      - Keys whose new value is generated here (letters and digits from the system's CSPRNG).
        Their values are in the record only; put them into the inventory's vault before the
        next deploy, or that deploy writes the old ones back.
    type: list
    elements: str
    default: []
  generate_length:
    description: Length of each generated value (at least 16).
    type: int
    default: 32
  record_dir:
    description:
      - Directory for the records (created 0700 when missing), on the host that runs the
        module. Required with O(state=rotated); with O(state=rolled_back) the newest record of
        the Secret there is used unless O(record) is given.
    type: path
  record:
    description: The record to roll back from (O(state=rolled_back)).
    type: path
  vault_password:
    description: The ansible-vault password that encrypts (and decrypts) the records.
    type: str
    required: true
  vault_id:
    description: Vault id label written in the record's header (format 1.2).
    type: str
  restart:
    description: Restart the workloads that read the Secret (V(false) only updates the Secret).
    type: bool
    default: true
  database:
    description:
      - The PostgreSQL role whose password is O(database.key) of the Secret.
    type: dict
    suboptions:
      key:
        description: The key of the Secret that holds the role's password.
        type: str
        required: true
      role:
        description: The role (user) whose password it is.
        type: str
        required: true
      mode:
        description:
          - V(direct) connects from the host running the module to O(database.host);
            V(in_cluster) runs psql in the database pod through the exec API.
        type: str
        choices: [direct, in_cluster]
        default: direct
      host:
        description: Host of the server (V(direct)).
        type: str
        default: localhost
      port:
        description: Port of the server.
        type: int
        default: 5432
      dbname:
        description: Database to connect to.
        type: str
        default: postgres
      login_user:
        description:
          - A role allowed to change the role's password (C(CREATEROLE) or superuser). By
            default the role changes its own password, logging in with its current one.
        type: str
      login_password:
        description: Password of O(database.login_user).
        type: str
      ssl_mode:
        description: libpq C(sslmode).
        type: str
        default: prefer
      connect_timeout:
        description: Seconds to wait for a connection.
        type: int
        default: 10
      namespace:
        description: Namespace of the database pod (V(in_cluster)); default O(namespace).
        type: str
      pod:
        description: The database pod (V(in_cluster)).
        type: str
      pod_selector:
        description: Label selector of the database pod (V(in_cluster)), when O(database.pod) is not given.
        type: str
      container:
        description: Container of the database pod.
        type: str
      exec_timeout:
        description: Seconds an exec may take.
        type: int
        default: 60
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description:
      - Reads the Secret and the workloads, reports which keys would change and which
        workloads would restart; writes no record, changes no role and no object.
  diff_mode:
    support: full
    description:
      - The keys that change, each shown as C((value hidden)), and per workload the annotation
        that restarts it, before and after. Never a value.
notes:
  - "The service account needs C(get) and C(patch) on the Secret, C(list) on Deployments,
    StatefulSets and DaemonSets, C(get) on the Secrets and ConfigMaps they read, C(patch) on the
    workloads, and C(create) on C(pods/exec) for O(database.mode=in_cluster)."
  - Pods created later by a CronJob or a Job read the new values when they start; they are not
    restarted.
seealso:
  - module: multiagent.ops.k8s_apply
  - module: multiagent.ops.k8s_rollout
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
  - cryptography (for the records)
  - psycopg >= 3.1 (with O(database) in V(direct) mode)
"""

EXAMPLES = r"""
- name: Rotate the database password from the vault, restarting only what reads it
  multiagent.ops.k8s_secret_rotate:
    namespace: mplp-production
    name: mplp-postgresql-credentials
    data:
      POSTGRES_PASSWORD: "{{ vault_mplp_db_password }}"
    database:
      key: POSTGRES_PASSWORD
      role: mplp
      mode: in_cluster
      pod_selector: app.kubernetes.io/component=postgresql
    record_dir: /var/backups/multiagent-ops/rotations
    vault_password: "{{ vault_rotation_password }}"
  register: rotated

- name: Put the previous values back (the newest record of the Secret)
  multiagent.ops.k8s_secret_rotate:
    namespace: mplp-production
    name: mplp-postgresql-credentials
    state: rolled_back
    record: "{{ rotated.record.path }}"
    database:
      key: POSTGRES_PASSWORD
      role: mplp
      mode: in_cluster
      pod_selector: app.kubernetes.io/component=postgresql
    vault_password: "{{ vault_rotation_password }}"

- name: Generate a new API token (its value is in the record; put it into the vault)
  multiagent.ops.k8s_secret_rotate:
    namespace: langgraph
    name: langgraph-api-token
    generate: [TOKEN]
    record_dir: /var/backups/multiagent-ops/rotations
    vault_password: "{{ vault_rotation_password }}"
"""

RETURN = r"""
secret:
  description: The Secret, C({namespace, name}).
  returned: always
  type: dict
keys:
  description: The keys whose value changed (or would, or were put back). Never their values.
  returned: always
  type: list
  elements: str
generated:
  description: The keys whose value was generated.
  returned: state=rotated
  type: list
  elements: str
record:
  description:
    - The record, C({path, sha256, encryption}) (C({path}) when rolling back); null when nothing
      changed or in check mode.
  returned: always
  type: dict
  sample:
    path: /var/backups/multiagent-ops/rotations/mplp-production.mplp-postgresql-credentials.20261206T221500123456Z.rotation.vault
    sha256: 9f2c...
    encryption: ansible-vault-1.1-aes256
database:
  description: What was done to the role, C({role, altered, verified, method}); null without O(database).
  returned: always
  type: dict
workloads:
  description:
    - "The workloads that read the Secret, each C({kind, name, how, before, after}): C(how) is
      C(checksum) (the config checksum, as a deploy stamps it), C(restartedAt), C(kept) (reads it
      only at start-up; C(reason) says so) or C(unchanged); C(status) is its rollout once waited for."
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Deployment, name: mplp-core, how: checksum, before: 3f1e..., after: 8c0a...}
    - {kind: StatefulSet, name: mplp-postgresql, how: kept, before: null, after: null}
message:
  description: What was done, in words.
  returned: always
  type: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import module as security_module


def argspec():
    return k8s_module.argspec(
        wait=True,
        namespace=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["rotated", "rolled_back"], default="rotated"),
        data=dict(type="dict", no_log=True),
        generate=dict(type="list", elements="str", default=[], no_log=False),
        generate_length=dict(type="int", default=32),
        record_dir=dict(type="path"),
        record=dict(type="path"),
        vault_password=dict(type="str", required=True, no_log=True),
        vault_id=dict(type="str"),
        restart=dict(type="bool", default=True),
        database=dict(
            type="dict",
            options=dict(
                key=dict(type="str", required=True, no_log=False),
                role=dict(type="str", required=True),
                mode=dict(type="str", choices=["direct", "in_cluster"], default="direct"),
                host=dict(type="str", default="localhost"),
                port=dict(type="int", default=5432),
                dbname=dict(type="str", default="postgres"),
                login_user=dict(type="str"),
                login_password=dict(type="str", no_log=True),
                ssl_mode=dict(type="str", default="prefer"),
                connect_timeout=dict(type="int", default=10),
                namespace=dict(type="str"),
                pod=dict(type="str"),
                pod_selector=dict(type="str"),
                container=dict(type="str"),
                exec_timeout=dict(type="int", default=60),
            ),
        ),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    security_module.rotate_main(module)


if __name__ == "__main__":
    main()
