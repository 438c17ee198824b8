#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: postgresql_backup
short_description: Back up PostgreSQL databases into verified, checksummed zstd archives with a manifest
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "Dumps one database, several, or all of them (plus the globals: roles, tablespaces and
    grants, with C(pg_dumpall --globals-only), so a fresh server can take them) with
    C(pg_dump --format=custom --compress=0) piped through C(zstd -1 -T0). Measured on about
    1 GB of varied data (C(bench/backup_bench.py) in the collection), zstd level 1 makes a
    smaller archive than C(pg_dump | gzip) with a seventh of gzip's CPU time, spread over
    every core; the custom format lets pg_restore restore it in one transaction."
  - "Each archive is written under a temporary name, fsynced and renamed into place; then its
    manifest C(<archive>.manifest.json) is written the same way: database, server and client
    versions, format, compression, size, sha256, start, end, duration, and per table the row
    count and content checksum. A backup counts as done only when its manifest is there;
    any failure (the server going away, a full disk, a wrong password) leaves no partial file
    and never touches older backups. When a later database fails, the archives written
    before it stay: the task fails naming them, with C(changed=true)."
  - "Row counts and checksums are taken inside the dump's own snapshot: the module opens a
    REPEATABLE READ transaction, exports its snapshot (C(pg_export_snapshot())), runs
    C(pg_dump --snapshot) and computes them in that transaction while the dump runs. The
    checksum of a table is the sum modulo 2^64 of a 64-bit hash of every row, as 16 hex digits
    (order-independent): C(hashint8extended(hash_record_extended(row, 0), 0)) (method
    C(record), PostgreSQL 14 and later; the record hash is hashed once more because it is
    linear in the column hashes) or, for tables with a column type that has no hash function,
    C(hashtextextended(row::text, 0)) (method C(text)), with the settings the text form depends on
    pinned (C(TimeZone=UTC), C(DateStyle='ISO, MDY'), C(IntervalStyle=postgres),
    C(extra_float_digits=3), C(bytea_output=hex)). M(multiagent.ops.postgresql_restore) compares a restored database with them."
  - Names are C(<prefix>-<YYYYmmddTHHMMSSZ>.dump.zst) (globals C(.globals.sql.zst)), in UTC.
  - Retention is a separate step (M(multiagent.ops.backup_retention)), run only after a successful backup.
options:
  databases:
    description: Databases to dump. Empty with O(all_databases=false) dumps nothing but the globals.
    type: list
    elements: str
    default: []
  all_databases:
    description: Dump every database that accepts connections (templates excluded), minus O(exclude_databases).
    type: bool
    default: false
  exclude_databases:
    description: Databases O(all_databases) leaves out.
    type: list
    elements: str
    default: []
  globals:
    description: Also dump the globals (C(pg_dumpall --globals-only)); reading role passwords needs a superuser.
    type: bool
    default: false
  globals_no_role_passwords:
    description: Leave role passwords out of the globals (C(--no-role-passwords)), for non-superusers.
    type: bool
    default: false
  dest:
    description:
      - Directory of the backups (created with mode 0700 when missing).
      - With O(s3), the directory each backup is written to before it is uploaded.
    type: path
    required: true
  keep_local:
    description: With O(s3), keep the local copy in O(dest) after the upload.
    type: bool
    default: false
  prefix:
    description:
      - File name prefix; default the database name (globals C(<login_host>-globals)).
      - With several databases, the database name is appended (C(<prefix>-<database>)).
    type: str
  label:
    description: Free text kept in the manifest (for example the cluster or the run).
    type: str
  compression_level:
    description:
      - zstd level (1-19). Measured on varied data, level 1 compresses as well as 3 (within 1%)
        at half the CPU; higher levels cost much more CPU for a few percent.
    type: int
    default: 1
  threads:
    description: zstd worker threads; 0 uses every core.
    type: int
    default: 0
  checksums:
    description: Compute content checksums (row counts are always taken).
    type: bool
    default: true
  exclude_table_data:
    description:
      - Tables whose data is not dumped (their definition is); they are left out of the checks.
      - Each entry names one table as SQL does (C(schema.table), or C(table) found through the
        search path; unquoted names are folded to lower case, C("Mixed Case"."T") is taken as
        written). It is resolved on the server before the dump and given to pg_dump quoted, so
        it is never a pattern. An entry with C(*) or C(?), or one that names no table, fails the
        backup before anything is written.
    type: list
    elements: str
    default: []
  dump_args:
    description:
      - Extra arguments for pg_dump, one per item (for example C(--no-comments)).
      - Arguments that change what is dumped are refused, since the manifest's row counts and
        checksums would not describe the archive (C(-t)/C(--table), C(-T)/C(--exclude-table),
        C(-n)/C(--schema), C(-N)/C(--exclude-schema), C(-a)/C(--data-only), C(-s)/C(--schema-only),
        C(--exclude-table-data), C(-e)/C(--extension), C(--section), C(--filter) and their
        C(-and-children) forms); use O(exclude_table_data) to leave table data out.
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
    description: Connects, lists what would be dumped and where, and writes nothing.
  diff_mode:
    support: none
    description: A backup adds files; there is nothing to compare.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - pg_dump, pg_dumpall (direct mode; in the pod for in-cluster mode)
  - zstd on the host running the module
  - psycopg >= 3.1 (direct mode)
  - boto3 (with O(s3))
  - kubernetes >= 24.2.0 (in-cluster mode)
seealso:
  - module: multiagent.ops.postgresql_restore
  - module: multiagent.ops.backup_retention
notes:
  - The archive can be read without this collection; C(zstd -dc FILE | pg_restore -l) lists it.
"""

EXAMPLES = r"""
- name: Back up the platform database (direct, through a port-forward or a managed endpoint)
  multiagent.ops.postgresql_backup:
    login_host: 127.0.0.1
    login_port: 5432
    login_user: mplp
    login_password: "{{ vault_mplp_db_password }}"
    databases: [mplp_production]
    dest: /backup/postgresql

- name: Back up every database and the globals from inside the PostgreSQL pod
  multiagent.ops.postgresql_backup:
    mode: in_cluster
    namespace: mplp-production
    pod_selector: app=mplp-postgresql
    login_user: postgres
    all_databases: true
    globals: true
    dest: /backup/postgresql
"""

RETURN = r"""
backups:
  description:
    - One entry per archive written (or, in check mode, that would be written), also when the
      task then failed (the archives written before the failure).
    - The entry of every backup module of this collection has the same shape (C(path),
      C(manifest_path), C(url), C(size), C(sha256), C(manifest)).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(postgresql) or C(postgresql-globals).
      type: str
    target:
      description: Database name (globals, the prefix).
      type: str
    path:
      description: Path of the archive.
      type: str
    manifest_path:
      description: Path of its manifest.
      type: str
    url:
      description: Where the backup is stored (C(s3://bucket/prefix/name) with O(s3), else the path).
      type: str
    size:
      description: Bytes (null in check mode).
      type: int
    sha256:
      description: SHA-256 of the archive (null in check mode).
      type: str
    manifest:
      description:
        - The manifest written beside the archive (null in check mode), as in C(manifest_path).
        - Its C(tables) are keyed by the table's name as SQL writes it, each part quoted only
          when it is not a plain lower-case identifier (C(public.orders), C(public."Orders"),
          C("a.b".c)); C(table_key_format) is 2. Manifests of 0.1.0 have no C(table_key_format)
          and join the two names with a bare dot.
      type: dict
    duration_seconds:
      description: How long the dump took.
      type: float
    tables:
      description: Number of tables counted and checksummed (not in check mode).
      type: int
    rows:
      description: Total rows in them (not in check mode).
      type: int
  sample:
    - kind: postgresql
      target: mplp_production
      path: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst
      manifest_path: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst.manifest.json
      url: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst
      size: 73217664
      sha256: 1de123fc12f5f499dfd1daa9c9967c42cf80a34079ef434fec4810697f04b1ff
      manifest: {kind: postgresql, target: mplp_production, table_key_format: 2, tables: {}}
      duration_seconds: 3.9
      tables: 4
      rows: 982680
databases:
  description: Databases dumped (or that would be).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump
from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module


def argspec():
    return pg_module.argspec(
        databases=dict(type="list", elements="str", default=[]),
        all_databases=dict(type="bool", default=False),
        exclude_databases=dict(type="list", elements="str", default=[]),
        globals=dict(type="bool", default=False),
        globals_no_role_passwords=dict(type="bool", default=False, no_log=False),
        dest=dict(type="path", required=True),
        keep_local=dict(type="bool", default=False),
        s3=dict(type="dict", options=stores.S3_ARGSPEC),
        prefix=dict(type="str"),
        label=dict(type="str"),
        compression_level=dict(type="int", default=1),
        threads=dict(type="int", default=0),
        checksums=dict(type="bool", default=True),
        exclude_table_data=dict(type="list", elements="str", default=[]),
        dump_args=dict(type="list", elements="str", default=[]),
    )


def main():
    module = pg_module.new_module(argspec(), supports_check_mode=True)
    pg_module.main(module, dump.run)


if __name__ == "__main__":
    main()
