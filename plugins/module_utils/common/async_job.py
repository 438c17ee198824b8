# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status file of an Ansible async job (a task run with ``async: N`` and ``poll: 0``).

Ansible's async wrapper writes ``<async_dir>/<jid>`` (atomically, by rename): first
``{"started": true, "finished": false, ...}``, then the module's result, which has no
``started``. ``async_dir`` is the shell option ``async_dir`` (``ANSIBLE_ASYNC_DIR``,
default ``~/.ansible_async``), as ansible.builtin.async_status finds it.
"""

from __future__ import annotations

import json
import os

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError

DEFAULT_DIR = "~/.ansible_async"


def finished(status):
    """Whether a status (the parsed file, None while it is unreadable) says the job ended."""
    if not isinstance(status, dict):
        return False
    return "started" not in status or bool(status.get("finished"))


def status_path(async_dir, jid):
    return os.path.join(os.path.expanduser(async_dir or DEFAULT_DIR), jid)


def reader(async_dir, jid):
    """A function returning the job's status now; it raises OpsError when the job has no
    status file (a wrong job id or async_dir: the wrapper writes it before the task returns)."""
    path = status_path(async_dir, jid)

    def read():
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise OpsError(
                "async job %s has no status file %s: was it started with that job id, on this host, "
                "with this async_dir?" % (jid, path),
                changed=False,
                job=jid,
            ) from None
        try:
            return json.loads(text)
        except ValueError:
            return None  # being written: still running

    read.path = path
    return read
