#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_retention
short_description: Delete old backups from a directory or an S3-compatible bucket by a keep-last, GFS and max-age policy
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - Applies a retention policy to the backups in a location, the archives that
    M(multiagent.ops.postgresql_backup) and the other backup modules of this collection
    write, each with C(<archive>.manifest.json) beside it. A backup counts only when its
    manifest is stored next to it.
  - Backups are grouped by the manifest's C(kind) and C(target) (for example
    C(postgresql) and the database name) and the prefix of the archive's name, and each
    group is judged on its own; two series of one database (C(prod-...) and
    C(staging-...), or an hourly and a nightly job with their own prefixes) never decide
    about each other. O(kind) and O(target) limit a run to some of them.
  - "B(States.) I(verified): the manifest is complete (every required field, status
    C(complete)) and the archive's size and SHA-256 match it. I(complete): the manifest is
    complete and the stored size matches; the content was not hashed. I(incomplete): an
    archive without a manifest, a manifest that is incomplete, unreadable or whose archive
    is gone, or a size or checksum that does not match."
  - "B(Verification is lazy.) Hashing reads the whole archive, so in each group the
    complete backups are hashed newest first until one verifies; that is the group's
    newest verified backup. Older backups are judged by their manifest and stored size
    (O(verify=all) hashes every one). A backup that fails its hash is incomplete."
  - "B(Policy.) O(keep_last) keeps the N newest backups. O(keep_daily), O(keep_weekly)
    (ISO weeks), O(keep_monthly) and O(keep_yearly) keep the newest backup of each of the
    last N days, weeks, months or years that have one (grandfather-father-son), with
    periods counted in O(timezone). A backup is kept when any rule selects it. Only
    verified and complete backups fill these slots."
  - "O(max_age_days) takes every backup from more than O(max_age_days) x 24 hours ago out
    of all rules. Given alone it keeps everything younger: the shell idiom
    C(find DIR -mtime +7 -delete) becomes C(max_age_days: 7), without its dangers."
  - A backup's time is the manifest's C(started) (when the data was read), else the
    time in its name, else the stored file's modification time.
  - "B(Clock skew.) A backup dated more than an hour after the clock of the host that runs
    the module (the clock of the host that took it was ahead, or this one is behind) is
    kept, left out of the policy (it fills no slot and is never the newest verified
    backup, so it cannot push real backups out) and named in a warning."
  - "B(Invariants.) The newest verified backup of each group is never deleted, whatever the
    policy says, and neither is O(current). A group without any verified backup loses
    nothing to the policy. When the current backup failed (O(current_failed=true), or
    O(current) names a backup whose manifest is missing or incomplete or does not match
    its archive) nothing at all is deleted: the task succeeds, with a warning, RV(held)
    true and the backups the policy would have deleted in RV(would_have_deleted)."
  - "B(Incomplete backups) are reported in RV(incomplete) and never fill slots. They are
    deleted only with O(prune_incomplete=true), and only once all their files are older
    than O(incomplete_grace_hours) (a backup being written has no manifest yet). In a
    directory, the temporary file a killed backup leaves (C(.<archive>.<random>.partial))
    is such an incomplete backup."
  - "B(Deleting) removes the archive first, then its manifest, oldest backups first. A run
    that dies in between leaves a manifest whose archive is gone; the next run reports
    it as incomplete (archive missing) and removes it under the O(prune_incomplete) rule.
    The other order would leave a large archive without a manifest that cannot be told
    from one being written."
  - Reading or hashing errors fail the task before anything is deleted. A delete that
    fails stops the run; the message names the object, the cause and what was already
    deleted.
  - Only names the backup modules write are taken for backups,
    C(<prefix>-<YYYYmmddTHHMMSSZ>) with one of their archive extensions (C(.dump.zst),
    C(.globals.sql.zst), C(.rdb.zst), C(.rdb), C(.tar.gz)) and, for manifests,
    C(.manifest.json) after that. Other files are listed in RV(ignored) and never touched;
    so are symbolic links and other entries that are not regular files, and a backup whose
    archive or manifest is such an entry is left alone.
options:
  kind:
    description: Only backups whose manifest has this C(kind) (C(postgresql), C(redis), ...).
    type: str
  target:
    description:
      - Only backups whose manifest has this C(target) (a database name, a namespace).
      - An archive without a manifest belongs to the target whose other backups share its
        name prefix, or whose name is that prefix.
    type: str
  keep_last:
    description: Keep the N newest backups.
    type: int
  keep_daily:
    description: Keep the newest backup of each of the last N days that have one.
    type: int
  keep_weekly:
    description: Keep the newest backup of each of the last N ISO weeks (Monday to Sunday) that have one.
    type: int
  keep_monthly:
    description: Keep the newest backup of each of the last N calendar months that have one.
    type: int
  keep_yearly:
    description: Keep the newest backup of each of the last N years that have one.
    type: int
  max_age_days:
    description:
      - Backups taken more than this many days (of 24 hours) ago are not kept by any rule.
        Alone, it keeps every younger backup.
      - At least one of O(max_age_days) and the C(keep_*) options must be given.
    type: float
  timezone:
    description: IANA time zone in which days, weeks, months and years begin (C(Europe/Berlin)).
    type: str
    default: UTC
  verify:
    description:
      - C(newest) hashes each group's complete backups newest first until one verifies;
        C(all) hashes every complete backup (a full read of each).
    type: str
    choices: [newest, all]
    default: newest
  current:
    description:
      - The archives the backup step of this run just wrote, by name, path or URL (of the
        archive or of its manifest; only the last C(/)-separated part counts). Each is
        verified, also when it belongs to another target than O(target), and never
        deleted. When one is missing, incomplete or does not match its manifest, nothing
        is deleted.
    type: list
    elements: str
  current_failed:
    description: The backup step of this run failed; nothing is deleted.
    type: bool
    default: false
  prune_incomplete:
    description: Delete incomplete backups once all their files are older than O(incomplete_grace_hours).
    type: bool
    default: false
  incomplete_grace_hours:
    description: How long an incomplete backup is left alone, in hours (it may be one being written).
    type: float
    default: 24
extends_documentation_fragment:
  - multiagent.ops.s3.location
attributes:
  check_mode:
    support: full
    description: Reads, hashes and reports what would be deleted (in RV(would_delete)), without deleting.
  diff_mode:
    support: full
    description: The backups of the location before and after, one name a line.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - boto3 (for S3 locations)
seealso:
  - module: multiagent.ops.postgresql_backup
"""

EXAMPLES = r"""
- name: Keep 7 daily, 4 weekly and 6 monthly backups of the database; nothing if this run's backup failed
  multiagent.ops.backup_retention:
    location:
      path: /backup/postgresql
    target: mplp_production
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 6
    timezone: Europe/Berlin
    current: "{{ backup_result.backups | map(attribute='path') }}"

- name: The seed's "find -mtime +7 -delete", safely
  multiagent.ops.backup_retention:
    location:
      path: /backup/postgresql
    max_age_days: 7

- name: A bucket at an S3-compatible endpoint; also remove failed backups older than a day
  multiagent.ops.backup_retention:
    location:
      s3:
        bucket: mplp-backups
        prefix: production/postgresql
        endpoint_url: https://minio.example.internal:9000
        region: us-east-1
        access_key: "{{ vault_backup_access_key }}"
        secret_key: "{{ vault_backup_secret_key }}"
    keep_last: 3
    keep_daily: 14
    prune_incomplete: true
    incomplete_grace_hours: 24

- name: In a rescue block after a failed backup, report what would have gone and keep everything
  multiagent.ops.backup_retention:
    location:
      path: /backup/postgresql
    keep_last: 5
    current_failed: true
"""

RETURN = r"""
location:
  description: The location, as a path or C(s3://bucket/prefix/) URL.
  returned: always
  type: str
  sample: s3://mplp-backups/production/postgresql/
policy:
  description: The rules applied.
  returned: always
  type: dict
  sample: {keep_daily: 7, keep_weekly: 4, timezone: UTC}
held:
  description: True when nothing was deleted because the current backup failed.
  returned: always
  type: bool
hold_reason:
  description: Why nothing was deleted, or null.
  returned: always
  type: str
  sample: the current backup failed
kept:
  description:
    - Verified and complete backups kept, oldest first, each with C(name), C(kind), C(target),
      C(time), C(size), C(state) (C(verified) or C(complete)), C(files) and C(reason).
  returned: always
  type: list
  elements: dict
  sample:
    - name: mplp_production-20261121T020000Z.dump.zst
      kind: postgresql
      target: mplp_production
      time: "2026-11-21T02:00:00Z"
      size: 104857600
      state: complete
      files: [mplp_production-20261121T020000Z.dump.zst, mplp_production-20261121T020000Z.dump.zst.manifest.json]
      reason: "kept: daily 2026-11-21, weekly 2026-W47"
deleted:
  description:
    - Backups deleted, same fields as RV(kept). Empty in check mode, which deletes nothing.
    - When a deletion fails, the backups deleted before it.
  returned: always
  type: list
  elements: dict
  sample: [{name: mplp_production-20261101T020000Z.dump.zst, reason: "deleted: older than 7 days"}]
would_delete:
  description: In check mode, the backups that would be deleted, same fields as RV(kept); empty otherwise.
  returned: always
  type: list
  elements: dict
  sample: [{name: mplp_production-20261101T020000Z.dump.zst, reason: "deleted: older than 7 days"}]
would_have_deleted:
  description: When RV(held), the backups the policy would have deleted.
  returned: always
  type: list
  elements: dict
incomplete:
  description: Incomplete backups, with C(problems) and the C(reason) they were kept or deleted.
  returned: always
  type: list
  elements: dict
  sample:
    - name: mplp_production-20261122T020000Z.dump.zst
      state: incomplete
      problems: ["no manifest: the backup failed, was interrupted or is being written"]
      reason: "kept: incomplete (no manifest: ...) for less than 24 hours"
ignored:
  description: Files that are not backups (names the backup modules do not write), symbolic links and other entries that are not regular files; never touched.
  returned: always
  type: list
  elements: str
newest_verified:
  description: Per group (kind, target and name prefix), the newest verified backup (C(kind), C(target), C(prefix), C(name), C(time), C(size), C(sha256)).
  returned: always
  type: list
  elements: dict
  sample: [{kind: postgresql, target: mplp_production, name: mplp_production-20261122T020000Z.dump.zst}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiagent.ops.plugins.module_utils.backup import retention, store
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish


def argspec():
    return dict(
        location=store.LOCATION_ARGSPEC,
        kind=dict(type="str"),
        target=dict(type="str"),
        keep_last=dict(type="int"),
        keep_daily=dict(type="int"),
        keep_weekly=dict(type="int"),
        keep_monthly=dict(type="int"),
        keep_yearly=dict(type="int"),
        max_age_days=dict(type="float"),
        timezone=dict(type="str", default="UTC"),
        verify=dict(type="str", default="newest", choices=["newest", "all"]),
        current=dict(type="list", elements="str"),
        current_failed=dict(type="bool", default=False),
        prune_incomplete=dict(type="bool", default=False),
        incomplete_grace_hours=dict(type="float", default=24),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    finish(module, retention.run)


if __name__ == "__main__":
    main()
