# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of ``capacity_report``: Prometheus reached the way prometheus_query reaches it
(the same options: its URL, or the Kubernetes API server's service proxy), the runner
(report.py)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import arrays, planning, report
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish, require
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import module as query_module
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql


class Prometheus(prom_client.Prometheus):
    """client.Prometheus whose answers keep the samples as Prometheus wrote them (planning.answer)."""

    def query(self, query):
        params = promql.api_params(query, self.timeout)
        try:
            status, body = self.transport.get(promql.api_path(query), params, self.timeout)
        except prom_client.TransportError as exc:
            raise promql.QueryError(query["name"], exc.cause, kind=exc.kind) from None
        return planning.answer(query, status, body)


def main(module):
    params = module.params
    require(module, "numpy", arrays.IMPORT_ERROR, "for the report's arithmetic")
    if params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1, not %d" % params["concurrency"], changed=False)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive, not %g" % params["timeout"], changed=False)
    prometheus = Prometheus(query_module.transport(module), params["timeout"], params["concurrency"])
    finish(module, report.run, prometheus)
