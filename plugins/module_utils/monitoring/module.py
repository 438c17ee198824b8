# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of ``prometheus_query``: the way to Prometheus they choose (its URL,
or the Kubernetes API server's service proxy with the module's Kubernetes options), the
runner (query.py)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import query as runner

# How prometheus_query and capacity_report reach Prometheus (doc fragment
# multiagent.ops.prometheus_connection), beside the Kubernetes options.
CONNECTION_OPTIONS = dict(
    via=dict(type="str", choices=["direct", "service_proxy"], default="direct"),
    url=dict(type="str"),
    namespace=dict(type="str"),
    service=dict(type="str"),
    port=dict(type="str"),
    scheme=dict(type="str", choices=["http", "https"], default="http"),
    prometheus_auth=dict(
        type="dict",
        options=dict(
            bearer_token=dict(type="str", no_log=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            ca_cert=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
        ),
        mutually_exclusive=[["bearer_token", "username"]],
        required_together=[["client_cert", "client_key"]],
    ),
    timeout=dict(type="float", default=30),
    concurrency=dict(type="int", default=10),
)

# The ``prometheus`` option of the report modules (doc fragment multiagent.ops.prometheus).
PROMETHEUS_OPTIONS = dict(
    url=dict(type="str"),
    via=dict(type="str", choices=["direct", "service_proxy"], default="direct"),
    namespace=dict(type="str"),
    service=dict(type="str"),
    port=dict(type="str"),
    scheme=dict(type="str", choices=["http", "https"], default="http"),
    bearer_token=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=30),
)


def transport(module):
    """The way to Prometheus the options choose."""
    params = module.params
    if params["via"] == "service_proxy":
        try:
            client = k8s_module.make_client(module)
        except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
            module.fail_json(msg=k8s_module.connection_error(module, exc), changed=False)
        return prom_client.ServiceProxy(
            client, params["namespace"], params["service"], params["port"], params["scheme"]
        )
    auth = params.get("prometheus_auth") or {}
    return prom_client.Direct(
        params["url"],
        bearer_token=auth.get("bearer_token"),
        username=auth.get("username"),
        password=auth.get("password"),
        client_cert=auth.get("client_cert"),
        client_key=auth.get("client_key"),
        ca_cert=auth.get("ca_cert"),
        validate_certs=auth.get("validate_certs", True),
        maxsize=params["concurrency"],
    )


def main(module):
    params = module.params
    if params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1, not %d" % params["concurrency"], changed=False)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive, not %g" % params["timeout"], changed=False)
    prometheus = prom_client.Prometheus(transport(module), params["timeout"], params["concurrency"])
    finish(module, runner.run, prometheus)
