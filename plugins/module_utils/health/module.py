# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of multiagent.ops.platform_health: k8s/module.py's, except that a Kubernetes API
the check cannot reach (or that refuses the credentials) is a finding of the check, reported
with whatever else it could look at, not a failure before it looks. A configuration that
cannot be loaded still fails at once: there is no cluster to report on. The performance
analysis (performance.py) is glued the same way."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.health import check, performance
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError


def connect(module):
    """``(client, None)``, or ``(None, exception)`` when the client could not be made
    (check.run classifies it); OpsError when the configuration cannot be used."""
    try:
        return k8s_module.make_client(module), None
    except k8s_module.CONFIG_ERRORS as exc:  # kubeconfig, context or credentials cannot be loaded
        raise OpsError(k8s_module.connection_error(module, exc)) from None
    except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
        return None, exc


def main(module):
    """Run check.run(request, connect) and end the task with its result."""
    try:
        finish(module, check.run, lambda: connect(module))
    except ApiError as exc:
        module.fail_json(msg=str(exc))


def analyse(module):
    """Run performance.run(request, connect) (multiagent.ops.performance_analysis): an API it
    cannot use is an error of the parts that need it, never of the whole analysis."""
    try:
        finish(module, performance.run, lambda: connect(module))
    except ApiError as exc:
        module.fail_json(msg=str(exc))
