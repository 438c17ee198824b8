# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup locations: where archives and their manifests are kept.

A location is a directory (on the Ansible host, or a PVC mounted into the backup
CronJob). Every store offers the same small interface, so the backup, restore and
retention code does not care where the files are:

- ``list()``: the stored files (``Entry``: name, size, modified), temporary files excluded;
- ``read_bytes(name)`` / ``write_bytes(name, data)`` (atomic);
- ``put_file(local_path, name)``: store a finished local file under ``name``;
- ``local_path(name)``: a path to read the file from (None when it must be fetched);
- ``fetch(name, local_path)``: copy a stored file to a local path;
- ``delete(name)``, ``exists(name)``, ``describe(name=None)``.
"""

from __future__ import annotations

import datetime
import os
import shutil

from ansible_collections.multiagent.ops.plugins.module_utils import artifact


class StoreError(Exception):
    """A location that cannot be read or written; the message names it and the cause."""


class Entry:
    __slots__ = ("name", "size", "modified")

    def __init__(self, name, size, modified):
        self.name = name
        self.size = size
        self.modified = modified

    def __repr__(self):
        return "Entry(%r, %r, %r)" % (self.name, self.size, self.modified)


class LocalStore:
    """A directory; names are file names in it (no sub-directories)."""

    kind = "directory"

    def __init__(self, path, create=False, mode=0o700):
        self.path = os.path.abspath(os.path.expanduser(path))
        if create and not os.path.isdir(self.path):
            try:
                os.makedirs(self.path, mode=mode, exist_ok=True)
            except OSError as exc:
                raise StoreError("cannot create the backup directory %s: %s" % (self.path, exc)) from exc

    def describe(self, name=None):
        return os.path.join(self.path, name) if name else self.path

    def _path(self, name):
        if not name or os.path.basename(name) != name or name in (".", ".."):
            raise StoreError("%r is not a plain file name in %s" % (name, self.path))
        return os.path.join(self.path, name)

    def list(self):
        if not os.path.isdir(self.path):
            raise StoreError("the backup directory %s does not exist" % self.path)
        entries = []
        with os.scandir(self.path) as scan:
            for item in scan:
                if item.name.startswith(".") or not item.is_file(follow_symlinks=False):
                    continue
                stat = item.stat(follow_symlinks=False)
                modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC)
                entries.append(Entry(item.name, stat.st_size, modified))
        return sorted(entries, key=lambda entry: entry.name)

    def exists(self, name):
        return os.path.isfile(self._path(name))

    def read_bytes(self, name):
        try:
            with open(self._path(name), "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise StoreError("cannot read %s: %s" % (self._path(name), exc.strerror or exc)) from exc

    def write_bytes(self, name, data, overwrite=False):
        try:
            return artifact.write_bytes(self._path(name), data, overwrite=overwrite)
        except OSError as exc:
            raise StoreError("cannot write %s: %s" % (self._path(name), exc.strerror or exc)) from exc

    def put_file(self, local_path, name):
        target = self._path(name)
        if os.path.abspath(local_path) == target:
            return
        try:
            with open(local_path, "rb") as source, artifact.AtomicWriter(target) as out:
                shutil.copyfileobj(source, out, artifact.CHUNK)
                out.commit()
        except OSError as exc:
            raise StoreError("cannot store %s as %s: %s" % (local_path, target, exc.strerror or exc)) from exc

    def local_path(self, name):
        return self._path(name)

    def fetch(self, name, local_path):
        shutil.copyfile(self._path(name), local_path)

    def delete(self, name):
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        artifact.fsync_dir(self.path)
        return True
