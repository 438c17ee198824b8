"""The data tier in one look: which pod the check runs in, what an exec's failure means, and
how its results are judged (collect.py, probes.py, rules.py)."""

import pytest
from factories import NOW, pod, replicaset

from ansible_collections.multiagent.ops.plugins.module_utils.health import collect, probes
from ansible_collections.multiagent.ops.plugins.module_utils.health import rules as health
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as k8s_exec
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError


def sts_pod(name, **kw):
    return pod(name, owner_kind="StatefulSet", owner_name="mplp-postgresql", **kw)


# -- the pod ------------------------------------------------------------------------------


def test_the_first_running_and_ready_pod_of_the_workload_by_owner():
    pods = [
        sts_pod("mplp-postgresql-1"),
        sts_pod("mplp-postgresql-0", ready=False),
        pod("mplp-postgresql-imposter", owner_name="other-rs"),  # a name is not an owner
        sts_pod("mplp-postgresql-2"),
    ]
    assert collect.pick_pod(pods, [], "StatefulSet", "mplp-postgresql") == ("mplp-postgresql-1", 3)


def test_a_deployment_owns_its_pods_through_its_replicasets():
    pods = [pod("redis-abc", owner_name="redis-rs"), pod("core-abc", owner_name="core-rs")]
    rss = [replicaset("redis-rs", "redis"), replicaset("core-rs", "core")]
    assert collect.pick_pod(pods, rss, "Deployment", "redis") == ("redis-abc", 1)


def test_no_running_and_ready_pod():
    pods = [sts_pod("mplp-postgresql-0", ready=False), sts_pod("mplp-postgresql-1", phase="Pending")]
    assert collect.pick_pod(pods, [], "StatefulSet", "mplp-postgresql") == (None, 2)
    assert collect.pick_pod([], [], "StatefulSet", "mplp-postgresql") == (None, 0)


# -- an exec that failed -----------------------------------------------------------------


def test_a_forbidden_exec_is_unknown_and_names_the_permission():
    exc = ExecError('cannot exec in pod ns/p: pods "p" is forbidden (HTTP 403)', status=403)
    result = probes.exec_failure(exc, "mplp", "mplp-postgresql-0", "PostgreSQL")
    assert result["ok"] is None and result["unavailable"] is True
    assert result["missing_permission"] == "create pods/exec in namespace mplp"
    assert "permission denied, the credentials need create pods/exec in namespace mplp" in result["error"]


def test_a_cut_exec_is_unknown_and_a_silent_command_is_down():
    cut = probes.exec_failure(ExecError("stream cut", started=True), "ns", "p", "Redis")
    assert cut["ok"] is None and cut["unavailable"] and "missing_permission" not in cut
    silent = probes.exec_failure(ExecError("no output", started=True, timed_out=True), "ns", "p", "Redis")
    assert silent["ok"] is False and "unavailable" not in silent and "did not answer" in silent["error"]


def test_exec_checks_read_the_commands_answers():
    calls = []

    def run(answer):
        def runner(argv, seconds):
            calls.append((argv, seconds))
            return answer

        return runner

    up = probes.postgres_exec_check(run((0, b"pg_isready_exit=0\n1\n15.4\n", b"")), "ns", "pg-0", 5)
    assert (up["ok"], up["via"], up["pod"], up["server_version"]) == (True, "exec", "pg-0", "15.4")
    assert calls[-1][1] == 5 + probes.EXEC_MARGIN and calls[-1][0][-1] == "5"
    down = probes.redis_exec_check(run((1, b"", b"Could not connect to Redis\n")), "ns", "redis-0", 5)
    assert (down["ok"], down["via"], down["latency"]) == (False, "exec", None)

    def refused(argv, seconds):
        raise ExecError("forbidden", status=403)

    unknown = probes.redis_exec_check(refused, "ns", "redis-0", 5)
    assert unknown["unavailable"] and unknown["missing_permission"] == "create pods/exec in namespace ns"


def test_exec_statistics_say_when_pg_stat_statements_is_missing():
    answers = iter([(0, b'{"by_state": {"active": 1}, "total": 1, "max_connections": 10}\n', b"")])
    numbers = probes.postgres_exec_stats(lambda argv, seconds: next(answers), 5)
    assert numbers["connections"]["by_state"] == {"active": 1} and numbers["slow_queries"] is None
    assert "not installed" in numbers["slow_queries_note"]


def test_exec_statistics_of_an_unreadable_pg_stat_statements_keep_the_connections():
    answers = iter(
        [
            (0, b'{"by_state": {}, "total": 0, "max_connections": 10, "pg_stat_statements": true}\n', b""),
            (1, b"", b"ERROR:  pg_stat_statements must be loaded via shared_preload_libraries\n"),
        ]
    )
    numbers = probes.postgres_exec_stats(lambda argv, seconds: next(answers), 5)
    assert numbers["connections"]["pg_stat_statements"] is True and numbers["slow_queries"] is None
    assert "shared_preload_libraries" in numbers["slow_queries_note"]


# -- in the look --------------------------------------------------------------------------


class Reader:
    host = "https://fake:6443"
    api = object()

    def __init__(self, objects, errors=None):
        self.objects = objects
        self.errors = errors or {}

    def list(self, path, what, label_selector=None, field_selector=None):
        src = path.rstrip("/").split("/")[-1]
        if src in self.errors:
            raise self.errors[src]
        return self.objects.get(src, [])

    def get(self, path, what):
        return {"metadata": {"name": path.split("/")[-1]}}


def look(monkeypatch, objects, answer, errors=None, extra=()):
    calls = []

    def fake_run(api, namespace, pod_name, argv, container=None, timeout=None):
        calls.append((namespace, pod_name, argv))
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(k8s_exec, "run", fake_run)
    monkeypatch.setattr(probes, "postgres_check", lambda params: pytest.fail("checked directly"))
    obs, extras = collect.Collector(Reader(objects, errors), "mplp").collect(
        components=[{"name": "postgresql", "kind": "StatefulSet", "workload": "mplp-postgresql"}],
        endpoints=[],
        database={"name": "postgresql", "workload": "mplp-postgresql", "kind": "StatefulSet", "timeout": 5},
        extra=extra,
    )
    return obs, extras, calls


def test_an_in_cluster_database_is_checked_in_its_ready_pod(monkeypatch):
    objects = {"pods": [sts_pod("mplp-postgresql-0")], "statefulsets": []}
    obs, _extras, calls = look(monkeypatch, objects, (0, b"pg_isready_exit=0\n1\n15.4\n", b""))
    [dep] = obs["dependencies"]
    assert (dep["name"], dep["type"], dep["ok"], dep["pod"]) == (
        "postgresql",
        "database",
        True,
        "mplp-postgresql-0",
    )
    assert [c[:2] for c in calls] == [("mplp", "mplp-postgresql-0")]


def test_without_a_ready_pod_the_check_does_not_run(monkeypatch):
    objects = {"pods": [sts_pod("mplp-postgresql-0", ready=False)]}
    obs, _extras, calls = look(monkeypatch, objects, (0, b"", b""))
    [dep] = obs["dependencies"]
    assert calls == [] and dep["skipped"] is True and dep["ok"] is None
    assert "no running and ready pod of StatefulSet mplp-postgresql (1 pod(s))" in dep["error"]


def test_pods_that_cannot_be_listed_leave_the_check_unknown(monkeypatch):
    err = ApiError("forbidden", "permission denied to list pods", 403)
    obs, _extras, calls = look(monkeypatch, {}, (0, b"", b""), errors={"pods": err})
    [dep] = obs["dependencies"]
    assert calls == [] and dep["unavailable"] is True and "permission denied to list pods" in dep["error"]


def test_collect_data_reads_the_statistics_in_the_same_pod(monkeypatch):
    objects = {"pods": [sts_pod("mplp-postgresql-0")]}
    answers = iter(
        [
            (0, b"pg_isready_exit=0\n1\n15.4\n", b""),
            (0, b'{"by_state": {"idle": 2}, "total": 2, "max_connections": 100}\n', b""),
        ]
    )
    calls = []

    def fake_run(api, namespace, pod_name, argv, container=None, timeout=None):
        calls.append(pod_name)
        return next(answers)

    monkeypatch.setattr(k8s_exec, "run", fake_run)
    _obs, extras = collect.Collector(Reader(objects), "mplp").collect(
        components=[],
        endpoints=[],
        database={"name": "postgresql", "workload": "mplp-postgresql", "kind": "StatefulSet"},
        extra=["data"],
    )
    database = extras["data_tier"]["database"]
    assert (database["via"], database["pod"], database["checked"]) == ("exec", "mplp-postgresql-0", True)
    assert database["connections"]["by_state"] == {"idle": 2} and calls == ["mplp-postgresql-0"] * 2


# -- judged -------------------------------------------------------------------------------


def evaluate(dep):
    obs = {"components": [], "dependencies": [dict(dep, name="postgresql", type="database")]}
    return health.evaluate(obs, now=NOW)


def test_a_refused_exec_is_unknown_never_down():
    report = evaluate(
        {
            "ok": None,
            "unavailable": True,
            "via": "exec",
            "pod": "pg-0",
            "error": "cannot check PostgreSQL inside pod pg-0: permission denied",
            "missing_permission": "create pods/exec in namespace mplp",
        }
    )
    pg = report["components"]["postgresql"]
    assert pg["status"] == "unknown" and report["status"] == "unknown"
    assert [f["rule"] for f in report["findings"]] == ["check_unavailable"]
    assert report["findings"][0]["details"] == {
        "check": "database",
        "missing_permission": "create pods/exec in namespace mplp",
    }
    assert pg["check"]["status"] == "unknown" and pg["check"]["ok"] is None
    assert pg["check"]["missing_permission"] == "create pods/exec in namespace mplp"


def test_a_check_without_a_ready_pod_has_no_finding_of_its_own():
    report = evaluate(
        {"ok": None, "skipped": True, "via": "exec", "pod": None, "error": "not checked: no pod"}
    )
    assert report["findings"] == [] and report["components"]["postgresql"]["check"]["status"] == "not_checked"


def test_an_exec_check_that_fails_is_dependency_unreachable():
    report = evaluate({"ok": False, "via": "exec", "pod": "pg-0", "error": "pg_isready: no response"})
    assert [f["rule"] for f in report["findings"]] == ["dependency_unreachable"]
    check = report["components"]["postgresql"]["check"]
    assert (check["status"], check["via"], check["pod"]) == ("down", "exec", "pg-0")
    assert report["components"]["postgresql"]["status"] == "down"
