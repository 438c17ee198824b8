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

# The options platform_health and performance_analysis share: the endpoints, the database and
# the cache to reach (directly, or through the API server: the service proxy, pods/exec).
ENDPOINTS = dict(
    type="list",
    elements="dict",
    default=[],
    options=dict(
        name=dict(type="str"),
        url=dict(type="str"),
        service=dict(type="str"),
        port=dict(type="str"),
        path=dict(type="str", default="/health"),
        scheme=dict(type="str", default="http", choices=["http", "https"]),
        component=dict(type="str"),
        expect_status=dict(type="list", elements="int"),
        timeout=dict(type="float"),
        headers=dict(type="dict"),
        validate_certs=dict(type="bool", default=True),
    ),
    mutually_exclusive=[("url", "service")],
    required_one_of=[("url", "service")],
)

DATABASE = dict(
    type="dict",
    required_one_of=[("host", "workload")],
    options=dict(
        name=dict(type="str", default="postgresql"),
        workload=dict(type="str"),
        kind=dict(type="str", default="StatefulSet", choices=["Deployment", "StatefulSet", "DaemonSet"]),
        container=dict(type="str"),
        host=dict(type="str"),
        port=dict(type="int", default=5432),
        user=dict(type="str", default="postgres"),
        password=dict(type="str", no_log=True),
        dbname=dict(type="str", default="postgres"),
        sslmode=dict(type="str", default="prefer"),
        timeout=dict(type="float", default=5),
    ),
)

CACHE = dict(
    type="dict",
    required_one_of=[("host", "workload")],
    options=dict(
        name=dict(type="str", default="redis"),
        workload=dict(type="str"),
        kind=dict(type="str", default="StatefulSet", choices=["Deployment", "StatefulSet", "DaemonSet"]),
        container=dict(type="str"),
        host=dict(type="str"),
        port=dict(type="int", default=6379),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        db=dict(type="int", default=0),
        tls=dict(type="bool", default=False),
        timeout=dict(type="float", default=5),
    ),
)


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
