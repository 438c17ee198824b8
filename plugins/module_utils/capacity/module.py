# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of ``capacity_report``: Prometheus reached the way prometheus_query reaches it
(the same options: its URL, or the Kubernetes API server's service proxy), the runner
(report.py)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import report
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as query_module


def main(module):
    params = module.params
    if params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1, not %d" % params["concurrency"], changed=False)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive, not %g" % params["timeout"], changed=False)
    prometheus = prom_client.Prometheus(
        query_module.transport(module), params["timeout"], params["concurrency"]
    )
    finish(module, report.run, prometheus)
