#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: postgresql_restore
short_description: Restore or test-restore a PostgreSQL backup and check it against its manifest
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Restores an archive written by M(multiagent.ops.postgresql_backup). First, always, the
    archive is checked against its manifest (complete, size and sha256 match, the manifest's
    C(file) is the archive's name, every C(tables) entry has a row count and, when present, a
    16-hex-digit checksum and a C(record) or C(text) method): a corrupt, truncated, unfinished
    or mismatched backup is refused before anything is touched. A login user or password with
    a line break is refused then too."
  - "A database manifest without C(tables) (nothing to check the content against) fails
    O(state=verified) before anything is touched; O(state=restored) restores it with a
    warning (O(check_content=false) silences it)."
  - "O(state=restored): ends the other sessions on the target database, then streams
    C(zstd -d | pg_restore --single-transaction --clean --if-exists --exit-on-error) into it:
    one transaction, so a restore that fails half way (an error, the server or the
    connection going away) is rolled back and leaves the database as it was. Then every
    table's row count and content checksum are compared with the manifest's; a difference
    fails the task naming the tables. When O(restore_args) select part of the archive
    (C(--table), C(-L), C(--schema-only)), pg_restore stops reading early; that is not a failure."
  - "Checksums are computed with the session settings the text form of values depends on
    pinned (C(TimeZone=UTC), C(DateStyle='ISO, MDY'), C(IntervalStyle=postgres),
    C(extra_float_digits=3), C(bytea_output=hex)), as the backup did, so a database-level
    setting such as C(ALTER DATABASE ... SET timezone) does not change them."
  - "O(state=verified): restores into a new scratch database (owners and privileges left
    out), compares it with the manifest, and drops it. The live database is not touched.
    This is the proof that a backup can be restored."
  - A globals archive (C(postgresql-globals)) is replayed with psql into O(maintenance_db);
    roles that already exist are reported by psql and left as they are.
  - Gating (maintenance window, lock), the safety backup and stopping the application are the
    runbook's job (C(restore_database.yml)); this module does the database part only.
options:
  archive:
    description:
      - Path of the archive; its manifest is read from beside it.
      - With O(s3), the archive's name in the bucket's prefix (or its C(s3://) URL); it and its
        manifest are downloaded into a private directory under O(staging_dir) first, and
        removed afterwards.
    type: path
    required: true
  staging_dir:
    description: Where an archive from O(s3) is downloaded to (needs room for it).
    type: path
  state:
    description: C(restored) into O(database), or C(verified) through a scratch database.
    type: str
    default: restored
    choices: [restored, verified]
  database:
    description: Database to restore into; default the one the backup was taken from.
    type: str
  create:
    description: Create O(database) (from template0) when it does not exist.
    type: bool
    default: true
  terminate_sessions:
    description: End the other sessions on O(database) first (pg_restore --clean needs the tables free).
    type: bool
    default: true
  lock_timeout:
    description:
      - Seconds the restore may wait for any one lock (O(state=restored)). A session that
        holds a table the restore must drop or fill (one that connected again after the
        others were ended, or any with O(terminate_sessions=false)) would otherwise hang it
        for ever with the application stopped; pg_restore cannot be given a lock timeout,
        because the archive itself sets C(lock_timeout = 0).
      - While pg_restore runs, the module looks every second for its session waiting on a
        lock; past this many seconds it cancels it (C(pg_cancel_backend)), the transaction
        rolls back, and the task fails naming the sessions that held the lock (pid, user,
        application, client, query).
      - C(0) waits for ever.
    type: float
    default: 60
  scratch_database:
    description:
      - Name of the scratch database of O(state=verified); default C(<database>_verify_<time>), the
        database name cut to 40 bytes of UTF-8 (PostgreSQL names have at most 63 bytes).
    type: str
  keep_scratch:
    description: Keep the scratch database after O(state=verified) (for inspection).
    type: bool
    default: false
  no_owner:
    description: Restore without owners and privileges (when the backup's roles do not exist on the server).
    type: bool
    default: false
  single_transaction:
    description: Restore in one transaction (all or nothing).
    type: bool
    default: true
  clean:
    description: Drop the backup's objects before recreating them (C(--clean --if-exists)).
    type: bool
    default: true
  check_content:
    description: Compare row counts and checksums with the manifest after restoring.
    type: bool
    default: true
  restore_args:
    description: Extra arguments for pg_restore, one per item.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - multiagent.ops.postgresql
  - multiagent.ops.s3
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.lease_step
attributes:
  check_mode:
    support: full
    description: Verifies the archive and connects; reports what would be restored; changes nothing.
  diff_mode:
    support: full
    description: Row counts per table before (now) and after (the backup's).
requirements:
  - python >= 3.11 (on the host that runs the module)
  - pg_restore and psql (direct mode; in the pod for in-cluster mode)
  - zstd on the host running the module
seealso:
  - module: multiagent.ops.postgresql_backup
notes:
  - "C(changed) is true when something persisted, also when the task failed: pg_restore
    committed (C(restored)), or the module created the database (C(database_created)), or a
    restore with O(single_transaction=false) failed part way. A restore in one transaction
    that failed (an error, a lock wait past O(lock_timeout), the connection lost) was rolled
    back and reports C(changed=false) unless it created the database; ending the other
    sessions is not a change. O(state=verified) reports C(changed=true) only when the scratch
    database is left behind (O(keep_scratch), or a drop that failed)."
  - "Manifests of version 0.1.0 (without C(table_key_format)) are still read: their table
    keys join schema and table with a bare dot. Where two tables share such a key
    (C(\"a.b\".c) and C(a.\"b.c\")), it stands for the one 0.1.0 recorded, and the other is
    listed in C(extra_tables)."
"""

EXAMPLES = r"""
- name: Prove last night's backup restores (scratch database, compared, dropped)
  multiagent.ops.postgresql_restore:
    archive: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst
    state: verified
    login_host: 127.0.0.1
    login_user: postgres
    login_password: "{{ vault_pg_superuser_password }}"

- name: Restore it over the live database (after the runbook's gate, safety backup, scale-down)
  multiagent.ops.postgresql_restore:
    archive: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst
    database: mplp_production
    login_host: 127.0.0.1
    login_user: mplp
    login_password: "{{ vault_mplp_db_password }}"
"""

RETURN = r"""
database:
  description: Database restored into (the scratch one for O(state=verified)).
  returned: always
  type: str
manifest:
  description: The backup's C(kind), C(target), C(started), C(size), C(sha256), C(server_version).
  returned: always
  type: dict
sessions_terminated:
  description: Other sessions ended on the database before the restore.
  returned: when state is restored
  type: int
database_exists:
  description: Whether O(database) existed before the restore (the check-mode plan says it too).
  returned: when state is restored
  type: bool
database_created:
  description: Whether the module created the database (O(database), or the scratch one), also when it then failed.
  returned: when the module got as far as the restore, also on failure
  type: bool
restored:
  description:
    - Whether pg_restore ran to the end and committed (the database holds the backup), also when
      the task then failed (for example the content check found a difference).
    - C(false) when the restore failed and, in one transaction, was rolled back.
  returned: when the module got as far as the restore, also on failure
  type: bool
checks:
  description:
    - C(tables_checked), C(rows_checked), C(problems) (empty when equal), C(extra_tables) (present
      now, not described by the backup's manifest).
    - Tables are named as in the manifest (C(public.orders), C(public."Orders"), C("a.b".c)).
  returned: when the content was checked
  type: dict
  sample: {tables_checked: 4, rows_checked: 982680, problems: [], extra_tables: []}
"""

from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module
from ansible_collections.multiagent.ops.plugins.module_utils.pg import restore


def argspec():
    return pg_module.argspec(
        archive=dict(type="path", required=True),
        staging_dir=dict(type="path"),
        s3=dict(type="dict", options=stores.S3_ARGSPEC),
        state=dict(type="str", default="restored", choices=["restored", "verified"]),
        database=dict(type="str"),
        create=dict(type="bool", default=True),
        terminate_sessions=dict(type="bool", default=True),
        lock_timeout=dict(type="float", default=60),
        scratch_database=dict(type="str"),
        keep_scratch=dict(type="bool", default=False),
        no_owner=dict(type="bool", default=False),
        single_transaction=dict(type="bool", default=True),
        clean=dict(type="bool", default=True),
        check_content=dict(type="bool", default=True),
        restore_args=dict(type="list", elements="str", default=[]),
    )


def main():
    module = pg_module.new_module(argspec(), supports_check_mode=True)
    pg_module.main(module, restore.run)


if __name__ == "__main__":
    main()
