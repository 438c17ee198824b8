"""performance_analysis.yml against the local stack: the MPLP demo platform on both clusters
(us-east-1 at the stand-in's URLs, eu-west-1 through the API server's service proxy), its real
PostgreSQL and Redis read inside their pods, the reports, and the load check passing, failing
on a slow or erroring stand-in, and invalid when its rate cannot be reached."""

import json
import os
import uuid
from pathlib import Path

import pytest
import redis

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

PLAYBOOK = "playbooks/performance_analysis.yml"
LOOK = "Measure response times, the database and the cache"
VERDICT = "The load check held its thresholds at the target rate"
# A path of the stand-in no other test switches (it answers every /api/v1/<name>/health).
LOAD_PATH = "/api/v1/perfcheck/health"
# Only the load check: no endpoints, no data tier.
LOAD_ONLY = {
    "platform_components": [],
    "platform_health_paths": [],
    "ops_check_database": False,
    "ops_check_cache": False,
}


@pytest.fixture(scope="module")
def demo_platform(ansible):
    load = ansible("tests/stack/load_demo.yml")
    assert load.rc == 0, load.stdout[-3000:]


def slow_redis_command(stack_facts):
    """One entry in Redis' slow log (a script that counts for about 50 ms)."""
    facts = stack_facts["redis"]
    client = redis.Redis(
        host=facts["host"], port=facts["port"], password=Path(facts["password_file"]).read_text().strip()
    )
    try:
        client.eval("local i=0 while i<3000000 do i=i+1 end return i", 0)
    finally:
        client.close()


def test_both_clusters_measured_with_the_data_tier_in_its_pods_and_reports_written(
    ansible, demo_platform, stack_facts, tmp_path
):
    slow_redis_command(stack_facts)
    load = {"rate": 20, "duration": 2, "p95_ms": 500, "max_error_rate": 0.01, "path": LOAD_PATH}
    run = ansible(
        PLAYBOOK,
        extra_vars={
            "ops_report_dir": str(tmp_path),
            "performance_requests": 10,
            "performance_concurrency": 5,
            "performance_load": load,
        },
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    reports = {}
    for cluster in ("us-east-1", "eu-west-1"):
        report = reports[cluster] = run.results(LOOK, cluster)["report"]
        endpoints = {ep["name"]: ep for ep in report["endpoints"]}
        # every health path of the ten modules, and the platform's own
        assert {"core /api/v1/core/health", "network /api/v1/network/health", "/health"} <= set(endpoints)
        for ep in endpoints.values():
            assert (ep["requests"], ep["errors"], ep["statuses"]) == (10, 0, {"200": 10}), ep
            assert 0 < ep["p50_ms"] <= ep["p95_ms"] <= ep["p99_ms"] <= ep["max_ms"]
        # the real PostgreSQL, asked inside its pod
        db = report["database"]
        assert (db["via"], db["pod"], db.get("error")) == ("exec", "mplp-postgresql-0", None)
        assert db["connections"]["max_connections"] > 0 and db["connections"]["total"] >= 1
        assert 0 < db["connections"]["usage_percent"] <= 100
        assert 0 < db["cache_hit_ratio"] <= 1 and db["size_bytes"] > 0
        assert all(t["estimated_bloat_bytes"] <= t["size_bytes"] for t in db["tables"])
        if db["connections"]["pg_stat_statements"]:
            assert isinstance(db["top_statements"], list)
        else:
            assert db["top_statements"] is None and "not installed" in db["top_statements_note"]
        # the real Redis, asked inside its pod: no maxmemory is unlimited, not 0 % or a division by 0
        cache = report["cache"]
        assert (cache["via"], cache["pod"], cache.get("error")) == ("exec", "mplp-redis-master-0", None)
        assert cache["memory"]["used_memory"] > 0 and cache["stats"]["total_commands_processed"] > 0
        if not cache["memory"]["maxmemory"]:
            assert cache["memory"]["usage_percent"] is None
        assert any(
            e["command"].startswith("EVAL local i=0") and e["duration_ms"] >= 10 for e in cache["slowlog"]
        )
        # the load check passed at its modest rate
        checked = report["load"]
        assert checked["verdict"] == "passed", checked["message"]
        assert checked["url"].endswith(LOAD_PATH) and checked["started"] == checked["scheduled"] == 40
        assert checked["achieved_rate"] >= 19
    assert endpoints["core /api/v1/core/health"]["url"].endswith("(API proxy)")  # eu-west-1
    assert reports["us-east-1"]["endpoints"][0]["url"].startswith("http://127.0.0.1")
    assert "load check on us-east-1 passed: " in run.results(VERDICT, "us-east-1")["msg"]

    written = json.loads((tmp_path / "performance.json").read_text())
    assert set(written) == {"us-east-1", "eu-west-1"}
    markdown = (tmp_path / "performance.md").read_text()
    for text in (
        "## eu-west-1 (namespace mplp-production)",
        "### PostgreSQL postgresql (exec in pod mplp-postgresql-0)",
        "### Redis redis (exec in pod mplp-redis-master-0)",
        "| core /api/v1/core/health | core | 10 | 0 (0.0 %) |",
        "**PASSED**: passed: ",
    ):
        assert text in markdown
    page = (tmp_path / "performance.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "PASSED</span>" in page
    assert "<script" not in page and "<link" not in page  # self-contained


def test_a_rate_that_cannot_be_reached_is_invalid_and_check_mode_writes_nothing(
    ansible, stack_facts, tmp_path
):
    # one request in flight at most, 1000 a second: every answer would have to take under 1 ms
    load = {"rate": 1000, "duration": 1, "max_in_flight": 1, "p95_ms": 5000, "path": LOAD_PATH}
    reports = tmp_path / "reports"
    run = ansible(
        PLAYBOOK,
        limit="us-east-1",
        extra_vars=dict(LOAD_ONLY, ops_report_dir=str(reports), performance_load=load),
        args=["--check"],
    )
    assert run.rc != 0
    checked = run.results(LOOK, "us-east-1")["report"]["load"]
    assert checked["verdict"] == "invalid" and checked["dropped"] > 50 and checked["errors"] == 0
    assert checked["achieved_rate"] < 950
    [message] = run.failure_messages()
    assert message.startswith("us-east-1: load check on us-east-1 invalid: reached ")
    assert "of the target 1000/s (at least 95 % is needed)" in message
    assert not reports.exists()  # check mode: no report directory, no file


@pytest.mark.global_state
def test_a_slow_or_erroring_service_fails_the_load_check(ansible, faults, stack_facts):
    faults.endpoint("us-east-1", LOAD_PATH, "slow", delay=0.3)
    faults.endpoint("eu-west-1", LOAD_PATH, "error", status=503)
    load = {"rate": 10, "duration": 1.5, "p95_ms": 200, "max_error_rate": 0.01, "path": LOAD_PATH}
    run = ansible(PLAYBOOK, extra_vars=dict(LOAD_ONLY, performance_load=load))
    assert run.rc != 0
    slow = run.results(LOOK, "us-east-1")["report"]["load"]
    assert slow["verdict"] == "failed" and slow["p95_ms"] >= 290 and slow["error_rate"] == 0
    failing = run.results(LOOK, "eu-west-1")["report"]["load"]
    assert failing["verdict"] == "failed" and failing["error_reasons"] == {"HTTP 503": 15}
    messages = sorted(run.failure_messages())
    assert messages[0].startswith(
        "eu-west-1: load check on eu-west-1 failed: error_rate 1 above the threshold 0.01"
    )
    assert messages[1].startswith("us-east-1: load check on us-east-1 failed: p95_ms ")
    assert messages[1].endswith("above the threshold 200")


@pytest.fixture
def deploy_namespace(kube):
    from kubernetes import client

    name = "it-perf-%s" % uuid.uuid4().hex[:8]
    yield name
    for delete in (
        lambda: client.CoreV1Api(kube["us-east-1"]).delete_namespace(name),
        # the platform lock of a first deploy lives in default
        lambda: client.CoordinationV1Api(kube["us-east-1"]).delete_namespaced_lease(
            "maops-lock-platform-%s" % name, "default"
        ),
    ):
        try:
            delete()
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def test_deploy_runs_the_load_check_after_the_deploy_when_asked(ansible, deploy_namespace):
    component = {
        "name": "core",
        "workload": "mplp-core",
        "image": os.environ.get("MAOPS_TEST_IMAGE") or "mplp/core",
        "replicas": 1,
        "service": {"name": "mplp-core", "port": 8080},
        "health_paths": ["/api/v1/core/health"],
    }
    load = {"rate": 10, "duration": 1, "p95_ms": 1000, "max_error_rate": 0.01, "path": LOAD_PATH}
    run = ansible(
        "playbooks/deploy.yml",
        limit="us-east-1",
        extra_vars={
            "platform_namespace": deploy_namespace,
            "platform_components": [component],
            "deploy_load_check": load,
        },
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    checked = run.results("Load check | 10 requests/s for 1 s", "us-east-1")["report"]["load"]
    assert checked["verdict"] == "passed" and checked["started"] == 10
    assert (
        "passed: " in run.results("Load check | the thresholds hold at the target rate", "us-east-1")["msg"]
    )
