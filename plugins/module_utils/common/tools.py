# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the command-line tools a module runs on the host that runs it (pg_dump, psql,
zstd, redis-check-rdb).

A tool is looked up in the directories given first (a ``bin_dir`` option, the installed
PostgreSQL versions newest first), then on ``PATH``, then in the usual system directories,
which a minimal ``PATH`` (cron, some execution environments) may leave out. Nothing here
knows Ansible: a lookup answers a path or None, and the caller words the failure for its
users (which package to install, which option to set).
"""

from __future__ import annotations

import glob
import os
import re
import shutil

SYSTEM_DIRS = ("/usr/bin", "/usr/local/bin")


class ToolError(Exception):
    """A tool that cannot be used; the message names it and what was searched."""


def executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_tool(name, directories=(), search_path=True, fallback=SYSTEM_DIRS):
    """The path of the executable ``name``: in the first of ``directories`` that holds it,
    else on PATH (unless ``search_path`` is false), else in the first of ``fallback``; None
    when there is none."""
    for directory in directories:
        candidate = os.path.join(directory, name)
        if executable(candidate):
            return candidate
    if search_path:
        found = shutil.which(name)
        if found:
            return found
    for directory in fallback:
        candidate = os.path.join(directory, name)
        if executable(candidate):
            return candidate
    return None


def given_tool(path, name):
    """A tool's path chosen by the user: it must be an executable file (nothing is searched)."""
    if executable(path):
        return path
    raise ToolError("%s is not an executable file (given for %s)" % (path, name))


def version_of(path):
    """The last whole number between slashes in ``path`` (``/usr/lib/postgresql/15/bin``: 15), 0 without."""
    numbers = re.findall(r"/(\d+)(?=/|$)", path)
    return int(numbers[-1]) if numbers else 0


def versioned_dirs(pattern):
    """The directories matching the glob ``pattern`` (``/usr/lib/postgresql/*/bin``), the
    highest version first: the newest client reads every older server's dumps."""
    return sorted(glob.glob(pattern), key=version_of, reverse=True)
