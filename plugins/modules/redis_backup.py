#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: redis_backup
short_description: Take an RDB snapshot of a Redis server into a checked, checksummed archive with a manifest
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - Takes a fresh RDB snapshot of a Redis server reached directly (a managed Redis, a
    port-forward, a Service address) and stores it in a directory as
    C(redis-<name>-<YYYYmmddTHHMMSSZ>.rdb.zst) (or C(.rdb)) with
    C(<archive>.manifest.json) beside it.
  - "B(How.) The module speaks the replication protocol that C(redis-cli --rdb) uses, over
    its own socket: C(AUTH), C(REPLCONF capa eof), C(REPLCONF rdb-only 1), C(SYNC). The
    server forks and streams a snapshot of that moment; with O(diskless) it streams it
    straight from the fork and writes nothing to its own disk. C(BGSAVE) and waiting would
    leave the file on the server, which is useless when its filesystem is not ours."
  - "Why not run C(redis-cli --rdb FILE): it is the same protocol and, measured on a
    330-440 MB RDB of mixed cache data, the same speed (the server's fork and serialisation
    set the pace; the client's CPU was 1.2-2 s either way), but the module writes the bytes
    once, straight into the atomic temporary file while hashing them, instead of re-reading a
    file redis-cli wrote; the password never leaves the module (no child process
    environment); its errors are the server's own (C(WRONGPASS), C(NOPERM), a transfer cut
    after N bytes); and no redis-cli is needed."
  - "B(Checks.) The raw RDB is checked with C(redis-check-rdb) before anything is kept. A
    snapshot it rejects, a cut transfer or a full disk leave no file under the final name
    and no manifest (the temporary files are removed), and older backups are untouched."
  - "B(Compression.) O(compression=zstd) (the default) compresses while the snapshot
    streams in. RDB strings are already LZF-compressed, so the gain depends on the data;
    measured on generated platform cache data (sessions with JSON state, conversation
    lists, cached LLM answers, counters, leaderboards, task streams): zstd -1 made the RDB
    22% smaller when it was text and JSON (331 MB to 260 MB; -3 gave 23%) and 14% smaller
    with a quarter of incompressible embedding vectors (442 MB to 382 MB), for a backup
    that took 8% longer (median of 3, interleaved, 23.9 s against 22.2 s) where level 3
    took 29% longer. Hence level 1 by default; O(compression=none) keeps the plain RDB."
  - "B(Manifest.) kind C(redis), target (O(name), else host:port), the server's Redis
    version and role, the RDB version, per-database key and expiry counts, raw RDB size
    and SHA-256, archive size and SHA-256, start, end and duration. The counts are exact at
    the snapshot: they are read from the RDB's own C(RESIZEDB) records
    (C(keyspace_source=rdb)), else from C(INFO keyspace) just before it (C(info))."
  - Every run that succeeds writes a new backup, so it reports a change; in check mode too, naming the archive it would write.
options:
  name:
    description:
      - What the backup is of, in the archive name (C(redis-<name>-<time>...)) and the
        manifest's C(target). Default host and port. Retention groups backups by it.
    type: str
  dest:
    description: Directory to write the archive and its manifest into; created (mode 0700) when missing.
    type: path
    required: true
  compression:
    description: C(zstd) or C(none) (the plain RDB).
    type: str
    choices: [zstd, none]
    default: zstd
  compression_level:
    description: zstd level, 1-19.
    type: int
    default: 1
  diskless:
    description:
      - Ask for the snapshot to be streamed from the server's fork (C(REPLCONF capa eof)),
        so the server writes no file. The server then waits C(repl-diskless-sync-delay)
        seconds (default 5) for other replicas before it forks.
      - With V(false) a server with C(repl-diskless-sync no) writes its RDB to its own disk
        first and starts without that delay.
    type: bool
    default: true
  check_rdb_binary:
    description: Path of C(redis-check-rdb); default from PATH (Debian package C(redis-tools)).
    type: path
  zstd_binary:
    description: Path of C(zstd); default from PATH.
    type: path
extends_documentation_fragment:
  - multiagent.ops.redis
  - multiagent.ops.lease_step
attributes:
  check_mode:
    support: full
    description: Connects, authenticates and reads INFO, and reports the archive it would write; writes nothing.
  diff_mode:
    support: full
    description: The archive before (absent) and after.
notes:
  - The host running the module needs C(redis-check-rdb) (Debian C(redis-tools)) of a Redis
    release that reads the server's RDB version, and C(zstd) for compression; no Python
    Redis client is needed.
  - "The user (O(username), else the default user) must be allowed C(sync), C(replconf) and
    C(info) (for example C(+@admin)), and C(module|list) for RV(modules) to be known. Managed
    services that refuse the replication commands (several do) cannot be backed up this way;
    the message says so. The snapshot costs the server what a C(BGSAVE) costs (a fork,
    copy-on-write memory)."
  - The directory needs room for the raw RDB and the archive while the backup runs.
  - On a Redis Cluster node the snapshot is that node's shard only.
  - "Modules: C(redis-check-rdb) accepts keys of module data types (RedisJSON, RediSearch...),
    but M(multiagent.ops.redis_restore) can only load them with the same modules
    (its O(multiagent.ops.redis_restore#module:load_modules)). The modules the server has
    loaded (C(MODULE LIST)) are recorded in the manifest and RV(modules), with a warning."
requirements:
  - python >= 3.11 (on the host that runs the module)
  - redis-check-rdb (redis-tools)
  - zstd (for O(compression=zstd))
seealso:
  - module: multiagent.ops.redis_restore
  - module: multiagent.ops.backup_retention
"""

EXAMPLES = r"""
- name: Back up the platform cache
  multiagent.ops.redis_backup:
    host: mplp-redis-master.mplp-production.svc
    password: "{{ vault_mplp_redis_password }}"
    name: mplp-redis
    dest: /var/backups/multiagent-ops/mplp-production/redis
  register: redis_backup

- name: A managed Redis over TLS, an ACL user, the plain RDB
  multiagent.ops.redis_backup:
    host: cache.example.internal
    port: 6380
    username: backup
    password: "{{ vault_cache_backup_password }}"
    tls: true
    tls_ca_cert: /etc/ssl/certs/internal-ca.pem
    name: cache
    dest: /backups/redis
    compression: none

- name: Keep 7 daily and 4 weekly backups, nothing deleted when this backup failed
  multiagent.ops.backup_retention:
    location:
      path: /var/backups/multiagent-ops/mplp-production/redis
    kind: redis
    target: mplp-redis
    keep_daily: 7
    keep_weekly: 4
    current: "{{ redis_backup.backups | map(attribute='path') }}"
"""

RETURN = r"""
backups:
  description:
    - The archive written (in check mode, the one that would be written), as every backup
      module of the collection describes its archives; one entry.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(redis).
      type: str
    target:
      description: The manifest's target (O(name), else host:port).
      type: str
    path:
      description: Path of the archive.
      type: str
    manifest_path:
      description: Path of the manifest beside it.
      type: str
    url:
      description: Where the backup is kept (its path).
      type: str
    size:
      description: Archive size in bytes; V(null) in check mode.
      type: int
    sha256:
      description: SHA-256 of the archive; V(null) in check mode.
      type: str
    manifest:
      description: The manifest written beside the archive; V(null) in check mode.
      type: dict
  sample:
    - kind: redis
      target: mplp-redis
      path: /var/backups/redis/redis-mplp-redis-20261122T020000Z.rdb.zst
      manifest_path: /var/backups/redis/redis-mplp-redis-20261122T020000Z.rdb.zst.manifest.json
      url: /var/backups/redis/redis-mplp-redis-20261122T020000Z.rdb.zst
      size: 259651200
      sha256: 4413be040cb580737349fd6b97263671627d48ae6f588d7ff72203635206288f
      manifest:
        manifest_version: 1
        kind: redis
        target: mplp-redis
        file: redis-mplp-redis-20261122T020000Z.rdb.zst
        format: rdb
        compression: zstd
        compression_level: 1
        size: 259651200
        sha256: 4413be040cb580737349fd6b97263671627d48ae6f588d7ff72203635206288f
        rdb_size: 331128623
        rdb_sha256: 97e2ce8472bfea8c1ad1d7d5c02325600fb32a14cd8d1fa0ccef3a56ab4e9092
        rdb_version: 10
        redis_version: 7.0.15
        keyspace: {"0": {"keys": 204281, "expires": 150041}}
        keyspace_source: rdb
        modules: []
        keys_total: 204281
        expires_total: 150041
        started: "2026-11-22T02:00:00Z"
        finished: "2026-11-22T02:00:24Z"
        duration_seconds: 23.9
        status: complete
target:
  description: The manifest's target (O(name), else host:port).
  returned: always
  type: str
compression:
  description: C(zstd) or C(none).
  returned: always
  type: str
server:
  description: The server as INFO described it before the snapshot.
  returned: always
  type: dict
  contains:
    redis_version:
      description: Redis version.
      type: str
    role:
      description: C(master) or C(slave).
      type: str
    cluster_enabled:
      description: Whether the server is a Redis Cluster node.
      type: bool
    used_memory:
      description: Bytes of memory in use.
      type: int
    keyspace:
      description: Keys and keys with a TTL per database, from INFO.
      type: dict
      sample: {"0": {"keys": 1200, "expires": 800}}
modules:
  description:
    - Modules the server has loaded (C(MODULE LIST)), each with C(name) and C(version); also
      in the manifest. V(null) when the user may not run C(MODULE LIST).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ReJSON", "version": 20609}]
cause:
  description: On failure, what failed (connection, timeout, auth, permission, protocol, tool, check, storage, input).
  returned: on failure
  type: str
"""

from ansible_collections.multiagent.ops.plugins.module_utils.redis import module as redis_module
from ansible_collections.multiagent.ops.plugins.module_utils.redis import snapshot


def argspec():
    return redis_module.argspec(
        name=dict(type="str"),
        dest=dict(type="path", required=True),
        compression=dict(type="str", default="zstd", choices=list(snapshot.COMPRESSIONS)),
        compression_level=dict(type="int", default=1),
        diskless=dict(type="bool", default=True),
        check_rdb_binary=dict(type="path"),
        zstd_binary=dict(type="path"),
    )


def main():
    module = redis_module.new_module(argspec(), supports_check_mode=True)
    redis_module.main(module, snapshot.run)


if __name__ == "__main__":
    main()
