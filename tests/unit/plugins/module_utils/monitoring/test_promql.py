"""PromQL queries as data: durations, times, checks before sending, parameters, answers."""

import json
import math

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql

NOW = 1796083200.0  # 2026-12-01T00:00:00Z


@pytest.mark.parametrize(
    "text, seconds",
    [
        (300, 300.0),
        ("300", 300.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("7d", 604800.0),
        ("1.5", 1.5),
    ],
)
def test_duration(text, seconds):
    assert promql.duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "0", "-5m", True, "5m3", ""])
def test_duration_refuses(text):
    with pytest.raises(ValueError):
        promql.duration(text, "step")


@pytest.mark.parametrize(
    "text, expected",
    [
        (1795000000, 1795000000.0),
        ("1795000000.5", 1795000000.5),
        ("2026-12-01T00:00:00Z", NOW),
        ("2026-12-01T01:00:00+01:00", NOW),
        ("now", NOW),
        ("now-1h", NOW - 3600),
    ],
)
def test_timestamp(text, expected):
    assert promql.timestamp(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-12-01T00:00:00", "now-", "now-x"])
def test_timestamp_refuses(text):
    with pytest.raises(ValueError):
        promql.timestamp(text, NOW)


def test_normalize_instant_and_range():
    assert promql.normalize({"name": "a", "query": " up ", "time": "now"}, NOW) == {
        "name": "a",
        "query": "up",
        "type": "instant",
        "time": NOW,
    }
    assert promql.normalize({"name": "a", "query": "up"}, NOW) == {
        "name": "a",
        "query": "up",
        "type": "instant",
    }
    ranged = promql.normalize(
        {"name": "r", "query": "up", "type": "range", "start": "now-1d", "step": "5m"}, NOW
    )
    assert ranged == {
        "name": "r",
        "query": "up",
        "type": "range",
        "start": NOW - 86400,
        "end": NOW,
        "step": 300.0,
    }


@pytest.mark.parametrize(
    "spec, cause",
    [
        ({"name": "q", "query": ""}, "empty"),
        ({"name": "q", "query": "up", "type": "matrix"}, "instant or range"),
        ({"name": "q", "query": "up", "step": "5m"}, "step is for range queries"),
        ({"name": "q", "query": "up", "type": "range", "start": "now-1h"}, "needs step"),
        (
            {"name": "q", "query": "up", "type": "range", "time": 1, "start": 1, "step": 1},
            "time is for instant",
        ),
        (
            {"name": "q", "query": "up", "type": "range", "start": "now", "end": "now-1h", "step": 60},
            "before start",
        ),
        (
            {"name": "q", "query": "up", "type": "range", "start": "now-30d", "step": "60s"},
            "step of at least 236s",
        ),
        ({"name": "q", "query": "up", "time": "noon"}, "not Unix seconds"),
    ],
)
def test_normalize_refuses_naming_the_query(spec, cause):
    with pytest.raises(promql.QueryError) as err:
        promql.normalize(spec, NOW)
    assert str(err.value).startswith("Query 'q' failed: ")
    assert cause in str(err.value)


def test_normalize_all_wants_names_and_unique_ones():
    with pytest.raises(promql.QueryError, match="#2.*no name"):
        promql.normalize_all([{"name": "a", "query": "up"}, {"query": "up"}], NOW)
    with pytest.raises(promql.QueryError, match="Query 'a' failed: two queries have this name"):
        promql.normalize_all([{"name": "a", "query": "up"}, {"name": "a", "query": "down"}], NOW)


def test_thirty_days_at_five_minutes_fit():
    query = promql.normalize(
        {"name": "q", "query": "up", "type": "range", "start": "now-30d", "step": "5m"}, NOW
    )
    assert (query["end"] - query["start"]) / query["step"] + 1 <= promql.MAX_POINTS


def test_api_path_and_params():
    instant = {"name": "a", "query": "up", "type": "instant", "time": 1795000000.25}
    assert promql.api_path(instant) == "api/v1/query"
    assert promql.api_params(instant, 2.5) == [
        ("query", "up"),
        ("time", "1795000000.25"),
        ("timeout", "2.5s"),
    ]
    ranged = {"name": "r", "query": "up", "type": "range", "start": 100.0, "end": 400.0, "step": 300.0}
    assert promql.api_path(ranged) == "api/v1/query_range"
    assert promql.api_params(ranged) == [("query", "up"), ("start", "100"), ("end", "400"), ("step", "300")]


def body(doc):
    return json.dumps(doc).encode()


QUERY = {"name": "err", "query": "rate(x[5m])", "type": "instant"}


def test_answer_vector_values_are_floats():
    doc = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"job": "a"}, "value": [1795000000, "0.25"]},
                {"metric": {"job": "b"}, "value": [1795000000, "NaN"]},
                {"metric": {"job": "c"}, "value": [1795000000, "+Inf"]},
            ],
        },
    }
    result = promql.answer(QUERY, 200, body(doc))
    assert result["result_type"] == "vector"
    assert result["series"][0] == {"metric": {"job": "a"}, "value": 0.25, "time": 1795000000.0}
    assert math.isnan(result["series"][1]["value"])
    assert result["series"][2]["value"] == math.inf
    assert result["query"] == "rate(x[5m])" and result["warnings"] == []


def test_answer_matrix_scalar_string_and_warnings():
    matrix = {
        "status": "success",
        "warnings": ["partial"],
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "2.5"]]}]},
    }
    result = promql.answer(dict(QUERY, type="range"), 200, body(matrix))
    assert result["series"] == [{"metric": {}, "values": [[1.0, 1.0], [2.0, 2.5]]}]
    assert result["warnings"] == ["partial"]
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [5, "3"]}}
    assert promql.answer(QUERY, 200, body(scalar))["value"] == 3.0
    string = {"status": "success", "data": {"resultType": "string", "result": [5, "hi"]}}
    assert promql.answer(QUERY, 200, body(string))["value"] == "hi"


def test_answer_errors_name_query_status_and_type():
    doc = {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected end of input"}
    with pytest.raises(promql.QueryError) as err:
        promql.answer(QUERY, 400, body(doc))
    assert str(err.value) == "Query 'err' failed: HTTP 400, bad_data: parse error: unexpected end of input"
    assert (err.value.kind, err.value.status, err.value.error_type) == ("prometheus", 400, "bad_data")
    slow = {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}
    with pytest.raises(promql.QueryError) as err:
        promql.answer(QUERY, 503, body(slow))
    assert err.value.kind == "timeout"


def test_answer_not_prometheus():
    with pytest.raises(promql.QueryError, match=r"HTTP 502, not a Prometheus API answer: Bad Gateway"):
        promql.answer(QUERY, 502, b"Bad Gateway")
    status = {"kind": "Status", "status": "Failure", "message": 'no endpoints available for service "prom"'}
    with pytest.raises(promql.QueryError, match=r"HTTP 503 from the Kubernetes API server: no endpoints"):
        promql.answer(QUERY, 503, body(status))
    with pytest.raises(promql.QueryError, match="unreadable answer"):
        promql.answer(
            QUERY, 200, body({"status": "success", "data": {"resultType": "vector", "result": [{}]}})
        )
