"""The runner of prometheus_query: the task's queries, results by name, failures together."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import query as runner

NOW = 1796083200.0


class FakePrometheus:
    def __init__(self, failing=()):
        self.failing = set(failing)
        self.seen = []

    def run(self, queries):
        self.seen.append(queries)
        results = {
            q["name"]: {"query": q["query"], "series": []} for q in queries if q["name"] not in self.failing
        }
        errors = {n: promql.QueryError(n, "HTTP 400, bad_data: nope") for n in self.failing}
        return results, errors


def params(**kw):
    base = {f: None for f in runner.QUERY_FIELDS}
    base.update(query=None, queries=None)
    base.update(kw)
    return base


def test_single_query_takes_the_top_level_times():
    prom = FakePrometheus()
    result = runner.run(
        Request(params(query="up", type="range", start="now-1h", step="1m")), prom, now=lambda: NOW
    )
    assert result == {
        "changed": False,
        "query_results": {"query": {"query": "up", "series": []}},
        "errors": {},
    }
    assert prom.seen[0] == [
        {"name": "query", "query": "up", "type": "range", "start": NOW - 3600, "end": NOW, "step": 60.0}
    ]


def test_many_queries_keyed_by_name_in_check_mode_too():
    specs = [{"name": "a", "query": "up"}, {"name": "b", "query": "down", "time": "now"}]
    result = runner.run(Request(params(queries=specs), check_mode=True), FakePrometheus(), now=lambda: NOW)
    assert list(result["query_results"]) == ["a", "b"]
    assert result["changed"] is False


def test_invalid_query_fails_before_anything_is_sent():
    prom = FakePrometheus()
    specs = [{"name": "a", "query": "up"}, {"name": "b", "query": "up", "type": "range"}]
    with pytest.raises(OpsError) as err:
        runner.run(Request(params(queries=specs)), prom, now=lambda: NOW)
    assert err.value.msg == "Query 'b' failed: a range query needs start and step"
    assert err.value.result["changed"] is False
    assert prom.seen == []


def test_failures_keep_the_answers_and_name_every_failed_query():
    specs = [{"name": "q%d" % i, "query": "up"} for i in range(9)]
    failing = ["q%d" % i for i in range(1, 8)]
    with pytest.raises(OpsError) as err:
        runner.run(Request(params(queries=specs)), FakePrometheus(failing), now=lambda: NOW)
    assert err.value.msg.startswith("7 of 9 queries failed: Query 'q")
    assert err.value.msg.endswith("(and 2 more)")
    assert sorted(err.value.result["query_results"]) == ["q0", "q8"]
    assert sorted(err.value.result["errors"]) == failing
    assert err.value.result["changed"] is False
