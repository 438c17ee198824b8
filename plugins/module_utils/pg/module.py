# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of the PostgreSQL backup and restore modules: their shared options (the
``multiagent.ops.postgresql`` doc fragment, with k8s/module.py's authentication options,
``api_timeout`` and ``lease``), the module class, and main(), which hands the work to a runner.

A module's ``main()``::

    module = pg_module.new_module(argspec(), supports_check_mode=True)
    pg_module.main(module, dump.run)

The runner is called ``runner(request, kubernetes)``: ``kubernetes()`` gives a k8s Client
(k8s_module.make_client) and is called in in-cluster mode only, so that a direct backup never
loads the kubernetes library (about a second).
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish, keeps_remote_files
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.pg.argv import BackupError

OPTIONS = dict(
    mode=dict(type="str", default="direct", choices=["direct", "in_cluster"]),
    login_host=dict(type="str", default="localhost"),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str"),
    login_password=dict(type="str", no_log=True),
    ssl_mode=dict(
        type="str",
        default="prefer",
        choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
    ),
    connect_timeout=dict(type="int", default=10),
    maintenance_db=dict(type="str", default="postgres"),
    bin_dir=dict(type="path"),
    namespace=dict(type="str"),
    pod=dict(type="str"),
    pod_selector=dict(type="str"),
    container=dict(type="str"),
    exec_timeout=dict(type="int", default=600),
)


def argspec(**options):
    """k8s_module.argspec() (authentication, ``api_timeout``), the connection options, and
    the module's own."""
    return k8s_module.argspec(**dict(OPTIONS, **k8s_module.lease_argspec(), **options))


def new_module(spec, **kwargs):
    """kubernetes.core's module class without its requirement checks, which load the
    kubernetes library: kubernetes() below asks for it when in-cluster mode needs it (its
    websocket runs the tools in the pod)."""
    return k8s_module.new_module(spec, **kwargs)


def main(module, runner):
    """Run ``runner(request, kubernetes)`` and end the task with its result or failure; a
    SIGTERM, the end of the parent or the loss of the ``lease`` cancels it (common/cancel.py,
    k8s_module.lease_keeper())."""

    def kubernetes():
        try:
            return k8s_module.make_client(module, library=True)
        except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
            raise BackupError(k8s_module.connection_error(module, exc)) from exc

    cancel.forget_wrapper(keep=keeps_remote_files(module))
    finish(module, cancel.cancellable(runner, around=k8s_module.lease_keeper(module)), kubernetes)
