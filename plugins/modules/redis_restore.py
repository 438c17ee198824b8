#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: redis_restore
short_description: Restore a verified Redis backup into a server reached directly, without its filesystem
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - Restores an archive written by M(multiagent.ops.redis_backup) into a Redis server
    reached directly (a managed Redis, a port-forward, a Service address).
  - "B(Verify first.) The archive's size and SHA-256 must match its manifest (kind
    C(redis), status C(complete)), and the raw RDB's size and SHA-256 must match as it is
    unpacked. A corrupt, truncated or foreign archive is refused before the target is
    even read."
  - "B(How.) A scratch C(redis-server) is started on this host, on a Unix socket in a
    private 0700 temporary directory (no TCP port, no password, no persistence), and loads
    the RDB: Redis itself parses every type and encoding, including streams and function
    libraries, and refuses a damaged file. Its key counts are compared with the manifest.
    The target is checked (a primary, not in cluster mode, each needed logical database
    selectable, able to read the scratch server's C(DUMP) payloads). Only then is the
    target flushed (O(flush)) and every key copied, database by database, with
    C(DUMP)/C(PTTL) from the scratch server and C(RESTORE key ttl payload REPLACE) into
    the target, pipelined in batches of O(batch_size) (the scratch side read by a second
    thread so both servers work at once); function libraries follow with
    C(FUNCTION DUMP)/C(FUNCTION RESTORE)."
  - "Why this way: the target's filesystem is not needed (a managed Redis, a pod), every
    key keeps its remaining time to live, and nothing is parsed by hand. Keys whose time to
    live ran out since the backup are not restored, as when Redis loads the RDB itself.
    Measured here (2 shared cores, median of 3): 136,000 keys of mixed cache data (a 330 MB
    RDB, 260 MB with zstd) in 21 s; unpacking took 1 s, the scratch server's load 5.5 s
    (what loading the RDB directly into the target would cost, had we its filesystem), the
    flush and the copy 15 s."
  - "B(Permissions first.) Before anything is flushed (and in check mode) the module finds
    out whether the ACL user may write every key of the backup: with C(ACL DRYRUN) (Redis >= 7,
    when the user may run it) it checks C(FLUSHALL), C(FUNCTION RESTORE) and a C(RESTORE) of
    each key against the user's ACL; otherwise it probes each key with C(EXISTS), which a key
    pattern the key does not match refuses (C(NOPERM)), and command permissions stay unknown.
    A denial fails the task naming the user, a denied key and the permission, with the target
    unchanged; RV(permissions) says what was checked. Keys are probed pipelined, O(batch_size) at
    a time."
  - "B(Then compare.) After a flush, the target must hold exactly the keys without a TTL
    that the backup holds, per database, and at most the restored keys with one; a
    difference fails the task (something wrote to the target meanwhile). With
    O(flush=false) (merge) the counts are reported only."
  - "B(On failure) half way the message says so: whether the target was flushed and how
    many keys were restored, and the task reports C(changed=true) once the target was flushed
    or keys were restored (a failure before that says nothing was changed); a re-run starts
    over (flush, copy). Stop the writers of the cache first (M(multiagent.ops.quiesce)) when a
    mixed state matters."
options:
  archive:
    description: The archive to restore (C(.rdb) or C(.rdb.zst)), with its manifest beside it.
    type: path
  src:
    description:
      - A directory; the newest archive in it that verifies is restored (of O(name) when given).
        Newer archives that do not verify are reported in RV(unverified).
    type: path
  name:
    description: With O(src), only archives of this backup name (C(redis-<name>-<time>...)).
    type: str
  flush:
    description:
      - Flush the target (C(FLUSHALL)) before restoring, so that it ends up holding exactly
        the backup. With V(false) the backup's keys are merged in, replacing keys of the
        same name and leaving the others.
      - Function libraries are replaced as a whole with V(true) (C(FUNCTION RESTORE ... FLUSH)),
        library by library with V(false); a backup without functions leaves the target's alone.
    type: bool
    default: true
  batch_size:
    description: Keys per pipelined round.
    type: int
    default: 1000
  redis_server_binary:
    description:
      - Path of the C(redis-server) for the scratch server; default from PATH. It must read
        the backup's RDB version, and its DUMP payload version must not be newer than the
        target's (use the target's release).
    type: path
  zstd_binary:
    description: Path of C(zstd); default from PATH.
    type: path
  tmp_dir:
    description: Where the scratch server's directory is made (it holds the unpacked RDB); default the system's.
    type: path
  load_timeout:
    description: Seconds the scratch server may take to load the RDB.
    type: int
    default: 600
  load_modules:
    description:
      - Module files (C(.so)) the scratch server loads (C(--loadmodule)), for a backup of a server
        whose keys include module data types (RedisJSON's C(ReJSON-RL), RediSearch...). Without the
        module that defines a type the scratch server cannot load the RDB, and the task fails
        naming the type. Use the modules (and versions) the backed-up server ran; the manifest's
        C(modules) lists them.
      - The target must have loaded the same modules; when the user may run C(MODULE LIST) a
        target without one of them is refused before anything is changed.
    type: list
    elements: path
extends_documentation_fragment:
  - multiagent.ops.redis
  - multiagent.ops.lease_step
attributes:
  check_mode:
    support: full
    description:
      - Verifies only. The archive is checked against its manifest, loaded into the scratch
        server and compared, and the target is read and checked; the target is not changed.
  diff_mode:
    support: full
    description: The target's key counts per database before, and the backup's.
notes:
  - "The user (O(username), else the default user) needs C(flushall), C(restore), C(select),
    C(info), C(exists) and, with functions, C(function), and write access to every key of the
    backup."
  - The host running the module needs C(redis-server) (it loads the RDB into memory there, so
    plan for the dataset's size) and C(zstd) for compressed archives; no Python Redis client.
  - Redis Cluster targets are refused (keys would need slot routing).
  - Without C(ACL DRYRUN) a user limited to read-only key patterns (C(%R~)) or denied C(restore)
    or C(flushall) is only found out when the command is refused; a refused C(FLUSHALL) leaves the
    target unchanged.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - redis-server
  - zstd (for compressed archives)
seealso:
  - module: multiagent.ops.redis_backup
"""

EXAMPLES = r"""
- name: Restore the newest verified backup of the platform cache
  multiagent.ops.redis_restore:
    host: mplp-redis-master.mplp-production.svc
    password: "{{ vault_mplp_redis_password }}"
    src: /var/backups/multiagent-ops/mplp-production/redis
    name: mplp-redis

- name: Only verify an archive against the live server (nothing changes)
  multiagent.ops.redis_restore:
    host: 127.0.0.1
    port: 16379
    password: "{{ vault_mplp_redis_password }}"
    archive: /var/backups/redis/redis-mplp-redis-20261122T020000Z.rdb.zst
  check_mode: true

- name: Merge a backup's keys into a server without flushing it
  multiagent.ops.redis_restore:
    host: cache.example.internal
    tls: true
    password: "{{ vault_cache_password }}"
    archive: /backups/redis/redis-cache-20261120T020000Z.rdb.zst
    flush: false
"""

RETURN = r"""
archive:
  description: The archive restored (or verified).
  returned: always
  type: str
unverified:
  description: Archives in O(src) newer than the one chosen that failed verification, each with C(archive) and C(problems).
  returned: with O(src)
  type: list
  elements: dict
manifest:
  description: The archive's manifest.
  returned: always
  type: dict
verified:
  description: The archive matched its manifest and the scratch server loaded what the manifest describes.
  returned: always
  type: bool
target:
  description: The target as host:port.
  returned: always
  type: str
flush:
  description: Whether the target was (or would be) flushed first.
  returned: always
  type: bool
keyspace_before:
  description: Keys and keys with a TTL per database in the target before.
  returned: always
  type: dict
  sample: {"0": {"keys": 10, "expires": 2}}
loaded:
  description: Keys per database the scratch server loaded from the archive.
  returned: always
  type: dict
functions:
  description: Function libraries in the backup.
  returned: always
  type: list
  elements: str
scratch_version:
  description: Redis version of the scratch server.
  returned: always
  type: str
permissions:
  description:
    - "What the permission check before the restore found out: C(user) the ACL user, C(method)
      V(acl dryrun), V(exists) or V(null) (the user may not run C(EXISTS) either, keys unchecked),
      C(commands) V(checked) or V(unknown), C(keys_checked) and C(keys_denied)."
  returned: when the archive loaded and the target was checked
  type: dict
  sample: {"user": "default", "method": "acl dryrun", "commands": "checked", "keys_checked": 174253, "keys_denied": 0}
restored:
  description: Per database, C(keys) restored, C(with_ttl) of them with a time to live, and C(expired_during_copy).
  returned: unless check mode
  type: dict
  sample: {"0": {"keys": 174252, "with_ttl": 120012, "expired_during_copy": 1}}
keyspace_after:
  description: Keys per database in the target after.
  returned: unless check mode
  type: dict
problems:
  description:
    - Differences between the target and the backup after the restore (empty when they match).
    - On a failed verification or permission check, what failed.
  returned: unless check mode, and on such failures
  type: list
  elements: str
duration_seconds:
  description: Seconds from the first look at the target to the last.
  returned: unless check mode
  type: float
module_type:
  description: When the scratch server could not load the RDB for lack of a module, the module data type it named.
  returned: on such a failure
  type: str
  sample: ReJSON-RL
cause:
  description: On failure, what failed (verify, load, target, permission, restore, compare, connection, timeout, auth, tool, storage, input).
  returned: on failure
  type: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.redis import module as redis_module
from ansible_collections.multiagent.ops.plugins.module_utils.redis import restore


def argspec():
    return redis_module.argspec(
        archive=dict(type="path"),
        src=dict(type="path"),
        name=dict(type="str"),
        flush=dict(type="bool", default=True),
        batch_size=dict(type="int", default=1000),
        redis_server_binary=dict(type="path"),
        zstd_binary=dict(type="path"),
        tmp_dir=dict(type="path"),
        load_timeout=dict(type="int", default=600),
        load_modules=dict(type="list", elements="path"),
    )


def main():
    module = redis_module.new_module(
        argspec(),
        supports_check_mode=True,
        mutually_exclusive=[("archive", "src")],
        required_one_of=[("archive", "src")],
    )
    redis_module.main(module, restore.run)


if __name__ == "__main__":
    main()
