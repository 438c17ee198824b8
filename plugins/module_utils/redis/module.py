# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue the Redis backup and restore modules share: the connection options (the
``multiagent.ops.redis`` doc fragment), the ``lease`` option (k8s/module.py, doc fragment
``multiagent.ops.lease_step``), the module, and main(). A module's ``main()``::

    module = redis_module.new_module(argspec(), supports_check_mode=True)
    redis_module.main(module, snapshot.run)
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish, keeps_remote_files
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def connection_argspec():
    """The options of the connection to the server (wire.CONNECTION, wire.connection())."""
    return dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=6379),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tls=dict(type="bool", default=False),
        tls_ca_cert=dict(type="path"),
        tls_client_cert=dict(type="path"),
        tls_client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=30),
    )


def argspec(**options):
    """The connection options, ``lease``, and the module's own."""
    spec = connection_argspec()
    spec.update(k8s_module.lease_argspec())
    spec.update(options)
    return spec


def new_module(spec, **kwargs):
    return AnsibleModule(argument_spec=spec, **kwargs)


def main(module, runner):
    """Run ``runner(request)`` and end the task with its result or failure; a SIGTERM, the end
    of the parent or the loss of the ``lease`` cancels it (common/cancel.py)."""
    cancel.forget_wrapper(keep=keeps_remote_files(module))
    finish(module, cancel.cancellable(runner, around=k8s_module.lease_keeper(module)))
