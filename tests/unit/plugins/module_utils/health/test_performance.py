"""The performance analysis' runner: what it measures, where it reads the data tier, and the
load check's report (health/performance.py, with probes.py's data-tier readers)."""

import threading

import pytest
from factories import pod

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.health import (
    collect,
    load_client,
    performance,
    probes,
)
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as k8s_exec
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError

ACTIVITY = b'{"by_state": {"active": 1}, "total": 3, "max_connections": 100, "pg_stat_statements": true}\n'
PERFORMANCE = (
    b'{"database": "mplp", "size_bytes": 1000, "blks_hit": 99, "blks_read": 1, "tables": '
    b'[{"schema": "public", "table": "t", "live": 3, "dead": 1, "size_bytes": 400}]}\n'
)
STATEMENTS = b'[{"query": "SELECT 1", "calls": 2, "total_ms": 4, "mean_ms": 2, "max_ms": 3, "rows": 2}]\n'
INFO = b"# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n# Stats\r\nkeyspace_hits:3\r\nkeyspace_misses:1\r\n"


def params(**more):
    base = {
        "namespace": "mplp",
        "host": None,
        "endpoints": [],
        "requests": 10,
        "concurrency": 3,
        "timeout": 2.0,
        "top": 10,
        "database": None,
        "cache": None,
        "load": None,
    }
    base.update(more)
    return base


def never_connect():
    raise AssertionError("no Kubernetes client may be made for this analysis")


class Reader:
    host = "https://fake:6443"
    api = object()

    def __init__(self, pods=(), error=None):
        self.pods = list(pods)
        self.error = error
        self.requests = []

    def list(self, path, what, label_selector=None, field_selector=None):
        if self.error:
            raise self.error
        return self.pods if path.endswith("/pods") else []

    def request(self, path, accept=None, timeout=None, retry=True):
        self.requests.append(path)
        return 200, b"{}"


def test_every_endpoint_gets_its_requests_concurrently_and_is_summarised(monkeypatch):
    lock = threading.Lock()
    seen = []
    in_flight = [0, 0]

    def get(self, url, timeout, headers=None, validate_certs=True, expect=None):
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            seen.append(url)
        threading.Event().wait(0.01)
        with lock:
            in_flight[0] -= 1
        if url.endswith("/bad"):
            return False, 500, "HTTP 500", 0.02
        return True, 200, None, 0.01

    monkeypatch.setattr(probes.HttpProber, "get", get)
    endpoints = [{"url": "http://a/health", "component": "core"}, {"url": "http://a/bad", "name": "bad"}]
    result = performance.run(Request(params(endpoints=endpoints)), never_connect)
    assert result["changed"] is False
    good, bad = result["report"]["endpoints"]
    assert seen.count("http://a/health") == 10 and seen.count("http://a/bad") == 10
    assert 1 < in_flight[1] <= 6  # three per endpoint at most
    assert (good["name"], good["component"], good["requests"], good["errors"], good["p95_ms"]) == (
        "http://a/health",
        "core",
        10,
        0,
        10.0,
    )
    assert (bad["errors"], bad["error_rate"], bad["statuses"]) == (10, 1.0, {"500": 10})
    assert result["report"]["findings"] == ["endpoint bad: 100.0 % of 10 requests failed (HTTP 500)"]
    assert result["report"]["load"] is None and result["report"]["database"] is None


def test_service_endpoints_go_through_the_api_proxy():
    reader = Reader()
    endpoints = [{"service": "mplp-core", "port": "8080", "path": "/api/v1/core/health"}]
    result = performance.run(Request(params(endpoints=endpoints, requests=4)), lambda: (reader, None))
    [ep] = result["report"]["endpoints"]
    assert ep["url"] == "service mplp-core:8080/api/v1/core/health (API proxy)" and ep["errors"] == 0
    assert len(reader.requests) == 4
    assert all(
        p.endswith("/namespaces/mplp/services/mplp-core:8080/proxy/api/v1/core/health")
        for p in reader.requests
    )


def test_an_api_that_cannot_be_reached_fails_the_parts_that_need_it_only():
    endpoints = [{"service": "mplp-core", "path": "/health"}]
    database = {"name": "postgresql", "workload": "mplp-postgresql", "kind": "StatefulSet", "timeout": 5}
    result = performance.run(
        Request(params(endpoints=endpoints, requests=2, database=database)),
        lambda: (None, ConnectionRefusedError("[Errno 111] Connection refused")),
    )
    [ep] = result["report"]["endpoints"]
    assert ep["error_rate"] == 1.0 and "no Kubernetes API client" in next(iter(ep["error_reasons"]))
    assert "no pod to analyse in" in result["report"]["database"]["error"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"requests": 0}, "requests must be at least 1, got 0"),
        ({"concurrency": 0}, "concurrency must be at least 1, got 0"),
        ({"timeout": 0}, "timeout must be > 0, got 0"),
        ({"endpoints": [{"url": "ftp://x"}]}, "Invalid input: endpoint 'ftp://x': malformed url"),
        (
            {"load": {"url": "http://x/", "rate": 0, "duration": 1}},
            "Invalid input: load.rate must be a positive",
        ),
        (
            {"load": {"url": "nope", "rate": 1, "duration": 1}},
            "Invalid input: endpoint 'load': malformed url",
        ),
    ],
)
def test_bad_input_fails_before_anything_is_contacted(change, message):
    with pytest.raises(OpsError) as err:
        performance.run(Request(params(**change)), never_connect)
    assert str(err.value).startswith(message)


def exec_answers(monkeypatch, answers):
    calls = []

    def fake_run(api, namespace, pod_name, argv, container=None, timeout=None):
        calls.append((pod_name, argv))
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(k8s_exec, "run", fake_run)
    return calls


def test_the_in_cluster_data_tier_is_read_in_a_ready_pod(monkeypatch):
    calls = exec_answers(
        monkeypatch,
        [(0, ACTIVITY, b""), (0, PERFORMANCE, b""), (0, STATEMENTS, b"")],
    )
    reader = Reader(
        [
            pod("mplp-postgresql-1", owner_kind="StatefulSet", owner_name="mplp-postgresql"),
            pod("mplp-postgresql-0", owner_kind="StatefulSet", owner_name="mplp-postgresql", ready=False),
        ]
    )
    database = {"name": "postgresql", "workload": "mplp-postgresql", "kind": "StatefulSet", "timeout": 5}
    report = performance.run(Request(params(database=database)), lambda: (reader, None))["report"]
    db = report["database"]
    assert (db["via"], db["pod"], db["name"]) == ("exec", "mplp-postgresql-1", "postgresql")
    assert {c[0] for c in calls} == {"mplp-postgresql-1"} and len(calls) == 3
    assert db["connections"]["usage_percent"] == 3.0 and db["cache_hit_ratio"] == 0.99
    assert db["tables"][0]["estimated_bloat_bytes"] == 100
    assert db["top_statements"][0]["query"] == "SELECT 1"


def test_without_a_ready_pod_the_data_tier_is_not_analysed(monkeypatch):
    exec_answers(monkeypatch, [])
    reader = Reader([pod("redis-0", owner_kind="StatefulSet", owner_name="redis", ready=False)])
    cache = {"name": "redis", "workload": "redis", "kind": "StatefulSet", "timeout": 5}
    report = performance.run(Request(params(cache=cache)), lambda: (reader, None))["report"]
    assert report["cache"]["error"] == (
        "not analysed: no running and ready pod of StatefulSet redis (1 pod(s))"
    )
    assert report["findings"] == [
        "Redis redis: not analysed: no running and ready pod of StatefulSet redis (1 pod(s))"
    ]


def test_the_external_data_tier_is_read_directly(monkeypatch):
    monkeypatch.setattr(probes, "postgres_performance", lambda p: {"via": "direct", "cache_hit_ratio": 1.0})
    monkeypatch.setattr(probes, "redis_performance", lambda p, top: {"via": "direct", "top": top})
    report = performance.run(
        Request(
            params(database={"host": "db", "name": "pg"}, cache={"host": "redis", "name": "cache"}, top=3)
        ),
        never_connect,
    )["report"]
    assert report["database"] == {"via": "direct", "cache_hit_ratio": 1.0, "name": "pg"}
    assert report["cache"] == {"via": "direct", "top": 3, "name": "cache"}


def test_exec_readers_of_postgresql_say_when_statements_are_missing_or_refused():
    answers = iter([(0, ACTIVITY.replace(b"true", b"false"), b""), (0, PERFORMANCE, b"")])
    db = probes.postgres_exec_performance(lambda argv, s: next(answers), "mplp", "pg-0", 5)
    assert db["top_statements"] is None and "not installed" in db["top_statements_note"]
    answers = iter([(0, ACTIVITY, b""), (0, PERFORMANCE, b""), (1, b"", b"ERROR:  permission denied\n")])
    db = probes.postgres_exec_performance(lambda argv, s: next(answers), "mplp", "pg-0", 5)
    assert db["connections"]["total"] == 3 and db["top_statements_note"].endswith("ERROR:  permission denied")

    def refused(argv, seconds):
        raise ExecError("forbidden", status=403)

    db = probes.postgres_exec_performance(refused, "mplp", "pg-0", 5)
    assert "create pods/exec in namespace mplp" in db["error"] and db["via"] == "exec"


def test_exec_readers_of_redis_read_info_and_the_slowlog():
    argvs = []
    answers = iter([(0, INFO, b""), (0, b'[[7,100,25000,["GET","k"],"c:1",""]]', b"")])

    def run(argv, seconds):
        argvs.append(argv)
        return next(answers)

    cache = probes.redis_exec_performance(run, "mplp", "redis-0", 5, 4)
    assert argvs[0][4:] == ["INFO"] and argvs[1][4:] == ["--json", "SLOWLOG", "GET", "4"]
    assert cache["memory"]["usage_percent"] is None and cache["stats"]["hit_rate"] == 0.75
    assert cache["slowlog"][0]["command"] == "GET k" and cache["slowlog"][0]["duration_ms"] == 25.0
    answers = iter([(0, INFO, b""), (1, b"", b"Unrecognized option or bad number of args for: '--json'\n")])
    cache = probes.redis_exec_performance(lambda argv, s: next(answers), "mplp", "redis-0", 5, 4)
    assert cache["slowlog"] is None and "redis-cli 7 or later" in cache["slowlog_note"]
    assert cache["stats"]["keyspace_hits"] == 3
    cache = probes.redis_exec_performance(
        lambda argv, s: (0, b"NOAUTH Authentication required.", b""), "n", "r", 5, 4
    )
    assert cache["error"] == "Redis statistics could not be read: INFO: NOAUTH Authentication required."


def test_the_load_check_runs_after_the_look_and_is_judged(monkeypatch):
    order = []
    monkeypatch.setattr(
        performance.Analysis, "look", lambda self, eps: order.append("look") or {"endpoints": []}
    )

    def run_load(load):
        order.append(("load", load["timeout"]))
        return {
            "rate": 10.0,
            "duration": 2.0,
            "scheduled": 20,
            "dropped": 0,
            "last_start": 1.9,
            "max_lag": 0.002,
            "elapsed": 2.3,
            "max_in_flight": 100,
            "samples": [(True, 200, None, 0.9)] * 19 + [(False, 503, "HTTP 503", 0.1)],
        }

    monkeypatch.setattr(load_client, "run_load", run_load)
    load = {"url": "http://ingress/health", "rate": 10, "duration": 2, "p95_ms": 500, "max_error_rate": 0.01}
    report = performance.run(Request(params(load=load)), never_connect)["report"]
    assert order == ["look", ("load", 2.0)]  # the module's timeout when the load has none
    result = report["load"]
    assert (result["started"], result["achieved_rate"], result["error_rate"]) == (20, 10.0, 0.05)
    assert result["verdict"] == "failed" and result["p95_ms"] == 900.0
    assert result["message"] == (
        "failed: p95_ms 900 above the threshold 500; error_rate 0.05 above the threshold 0.01"
    )
    assert report["findings"] == ["load check: " + result["message"]]


def test_a_forbidden_pod_list_names_the_cause(monkeypatch):
    exec_answers(monkeypatch, [])
    reader = Reader(error=ApiError("forbidden", "permission denied to list pods", 403))
    cache = {"name": "redis", "workload": "redis", "kind": "Deployment", "timeout": 5}
    report = performance.run(Request(params(cache=cache)), lambda: (reader, None))["report"]
    assert report["cache"]["error"] == "no pod to analyse in: permission denied to list pods"
    assert collect.pick_pod([], [], "Deployment", "redis") == (None, 0)
