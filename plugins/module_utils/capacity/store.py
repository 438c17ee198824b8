# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report directory: files written atomically (a temporary file in the same directory,
fsynced, renamed into place), and only when their content differs, so that a report of the
same data changes nothing."""

from __future__ import annotations

import os
import tempfile


def same(path, data):
    """Whether the file at ``path`` holds exactly ``data`` (bytes)."""
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def write(path, data, mode=0o644):
    """Put ``data`` (bytes) at ``path`` atomically; the directory must exist."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def put(directory, files, check_mode=False, out=None):
    """Write ``files`` ({name: bytes}) into ``directory`` (created when missing) where their
    content differs -> ``[{path, changed}]`` (appended to ``out`` as they are done, so a
    failure leaves there what was written before it). In check mode nothing is written:
    ``changed`` says what would be."""
    out = [] if out is None else out
    for name, data in files.items():
        path = os.path.join(directory, name)
        changed = not same(path, data)
        if changed and not check_mode:
            os.makedirs(directory, exist_ok=True)
            write(path, data)
        out.append({"path": path, "changed": changed})
    return out
