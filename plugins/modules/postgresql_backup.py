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
    and never touches older backups."
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
attributes:
  check_mode:
    support: full
    description: Connects, lists what would be dumped and where, and writes nothing.
  diff_mode:
    support: none
    description: A backup adds files; there is nothing to compare.
requirements:
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
  description: One entry per archive written (or, in check mode, that would be written).
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
      description: Bytes.
      type: int
    sha256:
      description: SHA-256 of the archive.
      type: str
    duration_seconds:
      description: How long the dump took.
      type: float
    tables:
      description: Number of tables counted and checksummed.
      type: int
    rows:
      description: Total rows in them.
      type: int
  sample:
    - kind: postgresql
      target: mplp_production
      path: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst
      manifest_path: /backup/postgresql/mplp_production-20261122T020000Z.dump.zst.manifest.json
      size: 73217664
      sha256: 1de123fc12f5f499dfd1daa9c9967c42cf80a34079ef434fec4810697f04b1ff
      duration_seconds: 3.9
      tables: 4
      rows: 982680
databases:
  description: Databases dumped (or that would be).
  returned: always
  type: list
  elements: str
"""

import os

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.module import new_module
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
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


def list_databases(target, maintenance_db, exclude):
    session = target.session(maintenance_db)
    try:
        names = session.value(
            "SELECT coalesce(jsonb_agg(datname ORDER BY datname), '[]'::jsonb)::text FROM pg_database "
            "WHERE datallowconn AND NOT datistemplate"
        )
    finally:
        session.close()
    return [name for name in names or [] if name not in set(exclude)]


def summary(manifest, path):
    tables = manifest.get("tables") or {}
    return {
        "kind": manifest["kind"],
        "target": manifest["target"],
        "path": path,
        "manifest_path": artifact.manifest_name(path),
        "size": manifest["size"],
        "sha256": manifest["sha256"],
        "duration_seconds": manifest.get("duration_seconds"),
        "tables": len(tables),
        "rows": sum(int(t.get("rows") or 0) for t in tables.values()),
    }


def run(module):
    p = module.params
    if not 1 <= p["compression_level"] <= 19:
        module.fail_json(msg="compression_level must be between 1 and 19, not %s" % p["compression_level"])
    if not (p["databases"] or p["all_databases"] or p["globals"]):
        module.fail_json(msg="nothing to back up: give databases, all_databases=true or globals=true")
    try:
        pgbackup.refuse_narrowing_dump_args(p["dump_args"])
        pgbackup.check_login(pg_module.conn_params(module))
    except pgbackup.BackupError as exc:
        module.fail_json(msg="%s; nothing was backed up" % exc)
    remote = None
    if p["s3"]:
        try:
            remote = stores.open_store({"s3": p["s3"]})
            remote.list()  # fails now, naming the bucket, when it cannot be used
        except stores.StoreError as exc:
            module.fail_json(msg="cannot use the S3 location: %s; nothing was backed up" % exc)
    target = pg_module.make_target(module)
    try:
        databases = list(p["databases"])
        if p["all_databases"]:
            for name in list_databases(target, p["maintenance_db"], p["exclude_databases"]):
                if name not in databases:
                    databases.append(name)
    except pgsql.SqlError as exc:
        module.fail_json(msg="cannot list the databases: %s" % exc)

    now = artifact.utcnow()
    several = len(databases) > 1
    prefixes = {
        db: (("%s-%s" % (p["prefix"], db)) if several else p["prefix"]) if p["prefix"] else db
        for db in databases
    }
    globals_prefix = "%s-globals" % (
        p["prefix"] or (p["login_host"] if p["mode"] == "direct" else p["namespace"])
    )
    if module.check_mode:
        planned = [
            {
                "kind": "postgresql",
                "target": db,
                "path": os.path.join(
                    p["dest"], artifact.archive_name(prefixes[db], now, pgbackup.EXT["custom"])
                ),
            }
            for db in databases
        ]
        if p["globals"]:
            planned.append(
                {
                    "kind": "postgresql-globals",
                    "target": globals_prefix,
                    "path": os.path.join(
                        p["dest"], artifact.archive_name(globals_prefix, now, pgbackup.EXT["globals"])
                    ),
                }
            )
        module.exit_json(changed=True, backups=planned, databases=databases)

    if not os.path.isdir(p["dest"]):
        try:
            os.makedirs(p["dest"], mode=0o700, exist_ok=True)
        except OSError as exc:
            module.fail_json(msg="cannot create the backup directory %s: %s" % (p["dest"], exc.strerror))
    written = []

    def keep(manifest, path):
        item = summary(manifest, path)
        item["url"] = path
        if remote is not None:
            try:
                item["url"] = stores.publish(remote, path)
            except (stores.StoreError, artifact.ArtifactError, OSError) as exc:
                raise pgbackup.BackupError(
                    "uploading %s failed, it was not stored: %s" % (path, exc)
                ) from exc
            if not p["keep_local"]:
                for local in (path, artifact.manifest_name(path)):
                    os.unlink(local)
        written.append(item)

    try:
        for db in databases:
            manifest, path = pgbackup.backup_database(
                target,
                db,
                p["dest"],
                prefix=prefixes[db],
                level=p["compression_level"],
                threads=p["threads"],
                checksums=p["checksums"],
                exclude_table_data=p["exclude_table_data"],
                extra_args=p["dump_args"],
                label=p["label"],
            )
            keep(manifest, path)
        if p["globals"]:
            manifest, path = pgbackup.backup_globals(
                target,
                p["dest"],
                globals_prefix,
                level=p["compression_level"],
                no_role_passwords=p["globals_no_role_passwords"],
                label=p["label"],
            )
            keep(manifest, path)
    except (pgbackup.BackupError, pgsql.SqlError) as exc:
        done = ", ".join(item["path"] for item in written)
        module.fail_json(
            msg="backup failed: %s%s" % (exc, "; completed before the failure: %s" % done if done else ""),
            backups=written,
            databases=databases,
        )
    module.exit_json(changed=True, backups=written, databases=databases)


def main():
    # The kubernetes library is loaded only for in-cluster mode (see pg_module.make_target).
    module = new_module(argspec(), supports_check_mode=True, check_k8s=False)
    run(module)


if __name__ == "__main__":
    main()
