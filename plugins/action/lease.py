# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""multiagent.ops.lease, on the controller side of a call with ``job``.

A run waits for an async job in an ``until`` loop of lease calls, which Ansible retries in
its worker process. When ansible-playbook is killed (SIGKILL: no handler runs), that worker
lives on and would go on retrying, renewing the Lease, so the job, which stops only once
its Lease is no longer renewed, would not die with the run. So with ``job`` the call first
checks that the process that forked the worker is still its parent, and fails without
renewing when it is not. It also gives the module ``async_dir`` as
ansible.builtin.async_status finds it (the shell option: ANSIBLE_ASYNC_DIR,
``ansible_async_dir``, else ``~/.ansible_async``).
"""

from __future__ import annotations

import multiprocessing
import os

from ansible.plugins.action import ActionBase


def controller_alive(parent=None, ppid=None):
    """Whether the process that started this one (an Ansible worker) is still its parent;
    true outside a worker (nothing to tell)."""
    parent = parent if parent is not None else multiprocessing.parent_process()
    if parent is None:
        return True
    return (ppid if ppid is not None else os.getppid()) == parent.pid


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if args.get("job"):
            if not controller_alive():
                result.update(
                    failed=True,
                    changed=False,
                    job=args["job"],
                    job_finished=False,
                    msg="the ansible-playbook run that waits for async job %s is gone: lease %s/%s is no "
                    "longer renewed, and the job stops once it expires"
                    % (args["job"], args.get("namespace"), args.get("name")),
                )
                return result
            if not args.get("async_dir"):
                async_dir = self.get_shell_option("async_dir", default="~/.ansible_async")
                args["async_dir"] = self._remote_expand_user(async_dir)
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        return result
