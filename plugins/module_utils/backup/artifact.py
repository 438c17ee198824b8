# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup artefacts: atomic, checksummed files and the JSON manifest beside each one.

Every backup this collection writes (PostgreSQL, Redis, Kubernetes configuration) is one
archive file plus ``<archive>.manifest.json``. The archive is written under a temporary
name in the same directory, fsynced, renamed into place and the directory fsynced, so a
crash or a full disk never leaves a file that looks finished. The manifest is written the
same way and last: a backup counts as done only when its manifest is stored next to it.

The temporary file is locked (``flock``) while it is written: a file nobody holds the lock
of was left by a writer that died (a SIGKILL), and remove_stale_partials() removes it.

A backup is *verified* when its manifest is complete (every required field, status
``complete``) and the archive's size and SHA-256 match the manifest.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import stat
import tempfile
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel

try:
    import fcntl
except ImportError:  # not a POSIX system: no lock, and no stale file is ever proven dead
    fcntl = None

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_VERSION = 1
REQUIRED = (
    "manifest_version",
    "kind",
    "target",
    "file",
    "format",
    "compression",
    "size",
    "sha256",
    "started",
    "finished",
    "status",
)
CHUNK = 1 << 20
# A temporary file younger than this is not judged: its writer may not hold the lock yet.
STALE_AFTER = 5.0
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<prefix>.+)-(?P<stamp>\d{8}T\d{6}Z)(?P<ext>\..+)$")
# AtomicWriter's temporary names: "." + the final name + "." + mkstemp's letters + ".partial".
_PARTIAL = re.compile(r"^\.(?P<final>.+)\.[a-z0-9_]+\.partial$")
# The archives this collection's backup modules write, by extension, with the manifest kind
# of each: only such names are taken for backups (retention leaves every other file alone).
ARCHIVE_KINDS = {
    ".dump.zst": "postgresql",
    ".globals.sql.zst": "postgresql-globals",
    ".rdb.zst": "redis",
    ".rdb": "redis",
    ".tar.gz": "kubernetes-config",
}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ArtifactError(Exception):
    """A backup file or manifest that cannot be trusted or written; the message says why."""


def utcnow():
    return datetime.datetime.now(datetime.UTC)


def iso(moment):
    """ISO 8601 in UTC with a Z, to the second (manifests, reports)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """The inverse of iso(); also accepts offsets and fractions. None when unparsable."""
    if not text or not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def safe_part(text):
    """A name part safe in file names and object keys (database, namespace, label)."""
    cleaned = _SAFE.sub("_", str(text)).strip("._")
    return cleaned or "backup"


def archive_name(prefix, moment, ext):
    """``<prefix>-<YYYYmmddTHHMMSSZ><ext>``: sorts by time, one per second per prefix."""
    return "%s-%s%s" % (safe_part(prefix), moment.astimezone(datetime.UTC).strftime(_STAMP), ext)


def parse_archive_name(name):
    """``(prefix, moment, ext)`` of a name made by archive_name(), or None."""
    match = _NAME.match(os.path.basename(name))
    if not match:
        return None
    try:
        moment = datetime.datetime.strptime(match.group("stamp"), _STAMP).replace(tzinfo=datetime.UTC)
    except ValueError:  # the pattern's digits but no real time (month 13...)
        return None
    return match.group("prefix"), moment, match.group("ext")


def archive_kind(name):
    """The kind of backup a name made by archive_name() holds, from its extension; None for
    any other name (not a backup of this collection)."""
    parsed = parse_archive_name(name)
    return ARCHIVE_KINDS.get(parsed[2]) if parsed else None


def parse_partial_name(name):
    """The final name of an AtomicWriter's temporary file (left behind when the writing
    process was killed), or None."""
    match = _PARTIAL.match(os.path.basename(name))
    return match.group("final") if match else None


def remove_stale_partials(directory, stale_after=STALE_AFTER, clock=time.time):
    """Remove the AtomicWriter temporary files in ``directory`` whose writer is gone: no
    process holds their lock (a writer killed with SIGKILL could not remove its own). Files
    younger than ``stale_after`` seconds, links and files of other names are left alone.
    Returns the paths removed."""
    removed = []
    if fcntl is None:
        return removed
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return removed
    for name in names:
        if parse_partial_name(name) is None:
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or clock() - info.st_mtime < stale_after:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its writer is alive
            os.unlink(path)
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def manifest_name(archive):
    return archive + MANIFEST_SUFFIX


def is_manifest(name):
    return name.endswith(MANIFEST_SUFFIX)


def fsync_dir(path):
    """Make a rename or unlink in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicWriter:
    """A file written under a temporary name and renamed into place when committed.

    ``write()`` hashes what it writes (``sha256``, ``size``). Leaving the ``with`` block
    with an exception, or without commit(), removes the temporary file: nothing partial is
    ever left under the final name. ``mode`` is applied before the rename.
    """

    def __init__(self, path, mode=0o600, overwrite=False):
        self.path = os.path.abspath(path)
        self.directory = os.path.dirname(self.path)
        self.mode = mode
        self.overwrite = overwrite
        self.size = 0
        self._hash = hashlib.sha256()
        self._file = None
        self.temp_path = None
        self.committed = False

    def __enter__(self):
        if not os.path.isdir(self.directory):
            raise ArtifactError("the backup directory %s does not exist" % self.directory)
        if not self.overwrite and os.path.lexists(self.path):
            raise ArtifactError("%s already exists; refusing to overwrite a backup" % self.path)
        fd, self.temp_path = tempfile.mkstemp(
            prefix="." + os.path.basename(self.path) + ".", suffix=".partial", dir=self.directory
        )
        self._file = os.fdopen(fd, "wb")
        if fcntl is not None:
            # held until the file is closed, by this process or by its death
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    @property
    def sha256(self):
        return self._hash.hexdigest()

    def fileno(self):
        return self._file.fileno()

    def write(self, data):
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def commit(self):
        """fsync, chmod, rename into place, fsync the directory."""
        self._file.flush()
        os.fsync(self._file.fileno())
        os.fchmod(self._file.fileno(), self.mode)
        self._file.close()
        if not self.overwrite and os.path.lexists(self.path):
            raise ArtifactError("%s appeared while writing; refusing to overwrite it" % self.path)
        os.replace(self.temp_path, self.path)
        fsync_dir(self.directory)
        self.committed = True

    def abort(self, cause=None):
        """Close and remove the temporary file; a Cancelled ``cause`` is told it was removed."""
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError:  # the buffered rest cannot be written either (a full disk)
                pass
        if self.temp_path and not self.committed:
            try:
                os.unlink(self.temp_path)
                cancel.note_removed(cause, self.temp_path)
            except FileNotFoundError:
                pass

    def __exit__(self, exc_type, exc, tb):
        self.abort(exc)
        return False


def write_bytes(path, data, mode=0o600, overwrite=False):
    """Write ``data`` atomically; returns its sha256."""
    with AtomicWriter(path, mode=mode, overwrite=overwrite) as out:
        out.write(data)
        out.commit()
        return out.sha256


def sha256_file(path):
    """``(sha256 hex, size)`` of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def new_manifest(kind, target, file, fmt, compression, **extra):
    """A manifest skeleton; the writer fills size, sha256, times and status."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": kind,
        "target": target,
        "file": os.path.basename(file),
        "format": fmt,
        "compression": compression,
        "status": "running",
    }
    manifest.update(extra)
    return manifest


def encode_manifest(manifest):
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_manifest(archive_path, manifest, overwrite=False):
    """Store the manifest next to the archive, atomically; returns its path."""
    path = manifest_name(archive_path)
    write_bytes(path, encode_manifest(manifest), mode=0o600, overwrite=overwrite)
    return path


def decode_manifest(data, where):
    try:
        manifest = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise ArtifactError("the manifest %s is not valid JSON: %s" % (where, exc)) from exc
    if not isinstance(manifest, dict):
        raise ArtifactError("the manifest %s is not a JSON object" % where)
    return manifest


def read_manifest(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise ArtifactError("no manifest %s: the backup is incomplete or not ours" % path) from exc
    return decode_manifest(data, path)


def manifest_problems(manifest):
    """Why a manifest does not describe a finished backup (empty when it does)."""
    problems = ["missing field %s" % key for key in REQUIRED if manifest.get(key) in (None, "")]
    if manifest.get("status") not in (None, "", "complete"):
        problems.append("status is %s, not complete" % manifest.get("status"))
    for key in ("kind", "target", "file"):
        if manifest.get(key) not in (None, "") and not isinstance(manifest[key], str):
            problems.append("%s is not a string" % key)
    version = manifest.get("manifest_version")
    if version not in (None, "") and (not isinstance(version, int) or isinstance(version, bool)):
        problems.append("manifest_version %r is not an integer" % (version,))
    elif version not in (None, "") and version > MANIFEST_VERSION:
        problems.append(
            "manifest_version %s is newer than this collection reads" % manifest["manifest_version"]
        )
    sha = manifest.get("sha256")
    if sha and not re.match(r"^[0-9a-f]{64}$", str(sha)):
        problems.append("sha256 is not a SHA-256 hex digest")
    if parse_iso(manifest.get("started")) is None and manifest.get("started"):
        problems.append("started is not an ISO 8601 time")
    return problems


def file_problems(manifest, archive_name):
    """Why the manifest is not the one of the archive named ``archive_name`` (its ``file``
    names another; empty: it does not, or names none)."""
    name = manifest.get("file")
    if name in (None, "", archive_name):
        return []
    return ["the manifest describes %s, not %s" % (name, archive_name)]


def check_content(manifest, sha256, size):
    """Why the archive's actual digest and size do not match the manifest (empty: they do)."""
    problems = []
    try:
        expected = None if manifest.get("size") is None else int(manifest["size"])
    except (TypeError, ValueError):
        expected = None
        problems.append("the manifest's size %r is not a number of bytes" % (manifest["size"],))
    if expected is not None and expected != size:
        problems.append(
            "size is %d bytes, the manifest says %s (truncated or replaced?)" % (size, manifest["size"])
        )
    if manifest.get("sha256") and manifest["sha256"] != sha256:
        problems.append("sha256 is %s, the manifest says %s" % (sha256, manifest["sha256"]))
    return problems


def verify_file(archive_path, manifest=None):
    """Check an archive against its manifest (read from beside it when not given).

    Returns ``(manifest, problems)``; no problems means verified. Never raises for a bad
    archive or manifest: the problems say what is wrong.
    """
    if manifest is None:
        try:
            manifest = read_manifest(manifest_name(archive_path))
        except ArtifactError as exc:
            return None, [str(exc)]
    problems = manifest_problems(manifest)
    if not os.path.exists(archive_path):
        return manifest, problems + ["the archive %s does not exist" % archive_path]
    digest, size = sha256_file(archive_path)
    return manifest, problems + check_content(manifest, digest, size)


def backup_entry(path, manifest=None, url=None, **extra):
    """One entry of a backup module's ``backups`` result, the same in every backup module:
    ``path``, ``manifest_path``, ``url`` (where it is kept: ``s3://...`` or the path),
    ``size`` and ``sha256`` (None until written: in check mode), ``manifest`` (the dict
    written beside the archive, None in check mode), and what the module adds."""
    manifest = manifest or None
    entry = {
        "path": path,
        "manifest_path": manifest_name(path),
        "url": url or path,
        "size": (manifest or {}).get("size"),
        "sha256": (manifest or {}).get("sha256"),
        "manifest": manifest,
    }
    entry.update(extra)
    return entry
