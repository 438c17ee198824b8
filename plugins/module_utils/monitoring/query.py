# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of ``prometheus_query``: the task's queries checked, sent at once, and their
results keyed by name (``query_results``: Ansible keeps ``results`` for loops). A read: it
runs the same in check mode and never changes anything."""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql

SINGLE = "query"  # the result's name of the `query` option
QUERY_FIELDS = ("type", "time", "start", "end", "step")
MAX_LISTED = 5  # failures named in the message; every one is in `errors`


def specs(params):
    """The task's queries: the ``queries`` list, or one query named ``query`` from the
    ``query`` option and the top-level type, time, start, end and step."""
    if params.get("queries"):
        return [dict(q) for q in params["queries"]]
    spec = {"name": SINGLE, "query": params.get("query")}
    spec.update({f: params.get(f) for f in QUERY_FIELDS})
    return [spec]


def failure_message(errors, total):
    names = list(errors)
    listed = "; ".join(str(errors[n]) for n in names[:MAX_LISTED])
    more = " (and %d more)" % (len(names) - MAX_LISTED) if len(names) > MAX_LISTED else ""
    return "%d of %d queries failed: %s%s" % (len(names), total, listed, more)


def run(request, prometheus, now=time.time):
    """``{changed: false, query_results: {name: result}, errors: {}}``; OpsError with the
    results that did answer and ``errors`` (name: message) when any query failed or cannot be sent."""
    try:
        queries = promql.normalize_all(specs(request.params), now())
    except promql.QueryError as exc:
        raise OpsError(str(exc), changed=False, query_results={}, errors={exc.name: str(exc)}) from None
    results, errors = prometheus.run(queries)
    if errors:
        raise OpsError(
            failure_message(errors, len(queries)),
            changed=False,
            query_results=results,
            errors={name: str(exc) for name, exc in errors.items()},
        )
    return {"changed": False, "query_results": results, "errors": {}}
