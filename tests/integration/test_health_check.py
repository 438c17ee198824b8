"""health_check.yml against the local stack: healthy and unhealthy platforms.

A test that breaks the platform's pods gets its own (small_platform); the others only read
it, with a fault in the stand-in, Redis or the API, and share one (shared_platform)."""

import json
import time
import uuid

import pytest
from conftest import SMALL_PLATFORM, delete_namespace, platform_vars, write_kubeconfig

pytestmark = pytest.mark.integration

HEALTH = "playbooks/health_check.yml"


def wait_for(predicate, timeout=20.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def test_demo_platform_is_healthy_on_both_clusters(ansible, stack_facts, tmp_path):
    """The full MPLP demo platform (as `make demo` loads it), both clusters at once, checked
    from outside the cluster: the connections name the in-cluster Services (*.svc), which do
    not resolve on this machine, and the data tier is healthy all the same, checked inside
    its pods (the demo pods' environment points their tools at the stack's servers)."""
    load = ansible("tests/stack/load_demo.yml")
    assert load.rc == 0, load.stdout[-3000:]
    db = dict(stack_facts["postgresql"], name="postgresql", host="mplp-postgresql.mplp-production.svc")
    db.pop("password_file")
    cache = {"name": "redis", "host": "mplp-redis-master.mplp-production.svc", "port": 6379}
    run = ansible(
        HEALTH,
        extra_vars={"ops_report_dir": str(tmp_path), "platform_database": db, "platform_cache": cache},
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    for cluster in ("us-east-1", "eu-west-1"):
        report = run.report(cluster)
        assert report["status"] == "healthy", report["findings"]
        assert report["score"] == 100
        comps = report["components"]
        # ten modules, the two StatefulSets and the platform-level endpoints
        assert {"core", "network", "extension", "postgresql", "redis", "platform"} <= set(comps)
        assert comps["role"]["replicas"] == {**comps["role"]["replicas"], "desired": 3, "ready": 3}
        # the real PostgreSQL and Redis answered, asked from inside their pods
        for name, pod in (("postgresql", "mplp-postgresql-0"), ("redis", "mplp-redis-master-0")):
            check = comps[name]["check"]
            assert (check["ok"], check["status"], check["via"], check["pod"]) == (True, "up", "exec", pod)
        assert comps["postgresql"]["check"]["server_version"].startswith("15")
        assert comps["core"]["pod_counts"] == {"total": 3, "ready": 3}
        assert comps["core"]["pods"] == []  # healthy pods are counted, listed only when asked
    # us-east-1 probes URLs, eu-west-1 goes through the API server's service proxy
    assert run.report("us-east-1")["components"]["core"]["endpoints"][0]["url"].startswith("http://127.0.0.1")
    assert "API proxy" in run.report("eu-west-1")["components"]["core"]["endpoints"][0]["url"]
    written = json.loads((tmp_path / "health.json").read_text())
    assert set(written) == {"us-east-1", "eu-west-1"}
    markdown = (tmp_path / "health.md").read_text()
    assert "## us-east-1 — HEALTHY (score 100/100)" in markdown
    assert "| core | healthy | 3/3 | 0 |" in markdown


def test_crash_looping_pod_fails_naming_component_and_finding(ansible, small_platform, faults, tmp_path):
    ns = small_platform["namespace"]
    faults.crashloop("us-east-1", ns, "mplp-core")
    kube_apps = faults.core("us-east-1")

    def crashlooping():
        pods = kube_apps.list_namespaced_pod(ns).items
        return any(
            cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff"
            for p in pods
            for cs in (p.status.container_statuses or [])
        )

    wait_for(crashlooping)
    run = ansible(
        HEALTH, limit="us-east-1", extra_vars=platform_vars(small_platform, ops_report_dir=str(tmp_path))
    )
    assert run.rc != 0
    failure = " ".join(run.failure_messages())
    assert "core | pod_crashloop | container core of pod mplp-core-" in failure
    assert "CrashLoopBackOff" in failure
    report = run.report("us-east-1")
    core = report["components"]["core"]
    # the rollout stalls: old pods keep serving, so the component is degraded, not down
    assert core["status"] == "degraded"
    assert core["replicas"]["ready"] == 2
    assert report["score"] <= 50
    assert report["components"]["plan"]["status"] == "healthy"
    # the report was written before the play failed
    assert json.loads((tmp_path / "health.json").read_text())["us-east-1"]["critical"] is True


def test_endpoint_down_is_critical_for_its_component(ansible, shared_platform, faults):
    faults.endpoint("us-east-1", "/api/v1/plan/health", "error", status=500)
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    assert run.rc != 0
    failure = " ".join(run.failure_messages())
    assert "plan | endpoints_all_failing" in failure and "HTTP 500" in failure
    report = run.report("us-east-1")
    assert report["components"]["plan"]["status"] == "down"
    assert report["components"]["core"]["status"] == "healthy"


def test_endpoint_closed_connection_is_a_failure(ansible, shared_platform, faults):
    faults.endpoint("us-east-1", "/ready", "closed")
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    report = run.report("us-east-1")
    platform = report["components"]["platform"]
    failing = [e for e in platform["endpoints"] if not e["ok"]]
    assert [e["name"] for e in failing] == ["/ready"]
    assert failing[0]["status"] is None and failing[0]["error"]
    # one of the two platform endpoints fails: a warning, the check itself passes
    assert [f["rule"] for f in platform["findings"]] == ["endpoint_failing"]
    assert run.rc == 0


def test_slow_endpoint_is_a_warning_with_p95(ansible, shared_platform, faults):
    faults.endpoint("us-east-1", "/api/v1/core/health", "slow", delay=0.6)
    run = ansible(
        HEALTH,
        limit="us-east-1",
        extra_vars=platform_vars(shared_platform, platform_health_thresholds={"slow_p95": 0.4}),
    )
    assert run.rc == 0, run.failure_messages()
    report = run.report("us-east-1")
    slow = [f for f in report["findings"] if f["rule"] == "endpoint_slow"]
    assert len(slow) == 1 and slow[0]["component"] == "core" and slow[0]["severity"] == "warning"
    assert slow[0]["details"]["p95_seconds"] >= 0.6
    assert report["components"]["core"]["status"] == "degraded"


def test_slow_endpoint_past_the_probe_timeout_fails(ansible, shared_platform, faults):
    faults.endpoint("us-east-1", "/api/v1/core/health", "slow", delay=3)
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform, ops_probe_timeout=0.5))
    assert run.rc != 0
    assert "core | endpoints_all_failing" in " ".join(run.failure_messages())
    assert "timed out" in " ".join(run.failure_messages())


def test_redis_stopped_is_critical(ansible, shared_platform, faults):
    faults.stop_redis()
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    assert run.rc != 0
    failure = " ".join(run.failure_messages())
    assert "redis | dependency_unreachable" in failure
    report = run.report("us-east-1")
    assert report["components"]["redis"]["status"] == "down"
    assert report["components"]["postgresql"]["check"]["ok"] is True


def external(components, name):
    """The components, ``name`` made an external (managed) one: no workload, reached directly."""
    return [
        {"name": c["name"], "role": c.get("role", "app"), "kind": "external"} if c["name"] == name else c
        for c in components
    ]


def test_external_database_is_checked_directly_and_its_password_not_leaked(
    ansible, shared_platform, stack_facts
):
    db = dict(stack_facts["postgresql"], name="postgresql", password="not-the-password")
    db.pop("password_file")
    components = external(shared_platform["components"], "postgresql")
    run = ansible(
        HEALTH,
        limit="us-east-1",
        extra_vars=platform_vars(shared_platform, platform_components=components, platform_database=db),
        json_output=False,
    )
    assert run.rc != 0
    assert "postgresql | dependency_unreachable" in run.stdout
    assert "password authentication failed" in run.stdout  # the connection of the inventory was used
    assert "not-the-password" not in run.stdout + run.stderr


def test_external_database_answering_is_up_via_direct(ansible, shared_platform):
    components = external(shared_platform["components"], "postgresql")
    run = ansible(
        HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform, platform_components=components)
    )
    assert run.rc == 0, run.failure_messages()
    check = run.report("us-east-1")["components"]["postgresql"]["check"]
    assert (check["ok"], check["via"]) == (True, "direct") and "pod" not in check


def test_in_cluster_database_is_checked_in_its_pod_not_at_the_host(ansible, shared_platform):
    """The inventory's host and password are not used for an in-cluster database: a name
    that does not resolve and a wrong password change nothing."""
    db = {"name": "postgresql", "host": "mplp-postgresql.nowhere.svc", "password": "not-the-password"}
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform, platform_database=db))
    assert run.rc == 0, run.failure_messages()
    report = run.report("us-east-1")
    check = report["components"]["postgresql"]["check"]
    assert (check["ok"], check["via"], check["pod"]) == (True, "exec", "mplp-postgresql-0")
    assert report["components"]["postgresql"]["status"] == "healthy"


@pytest.fixture
def broken_database_platform(ansible, kube, faults):
    """The small platform whose database pod's tools point at a port nothing listens on: the
    pod runs and is ready, but pg_isready gets no response from inside it."""
    namespace = "it-pgdown-%s" % uuid.uuid4().hex[:6]
    run = ansible(
        "tests/stack/load_demo.yml",
        limit="us-east-1",
        extra_vars={
            "platform_namespace": namespace,
            "platform_components": SMALL_PLATFORM,
            "demo_pod_env": {
                "postgresql": [{"name": "PGHOST", "value": "127.0.0.1"}, {"name": "PGPORT", "value": "1"}]
            },
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    yield {"namespace": namespace, "components": SMALL_PLATFORM}
    faults.reset_all()
    delete_namespace(kube, namespace)


def test_database_pod_whose_server_does_not_answer_is_down(ansible, broken_database_platform):
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(broken_database_platform))
    assert run.rc != 0
    failure = " ".join(run.failure_messages())
    assert "postgresql | dependency_unreachable" in failure and "pg_isready: no response" in failure
    report = run.report("us-east-1")
    pg = report["components"]["postgresql"]
    assert pg["status"] == "down" and pg["replicas"]["ready"] == 1  # the pod is fine, the server is not
    assert (pg["check"]["status"], pg["check"]["via"]) == ("down", "exec")


@pytest.mark.emulator_only
def test_forbidden_pods_exec_is_unknown_naming_the_permission(ansible, shared_platform, faults):
    faults.deny("us-east-1", "create", "", "pods/exec")
    ns = shared_platform["namespace"]
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    assert run.rc == 0, run.failure_messages()  # unknown is not critical
    report = run.report("us-east-1")
    pg = report["components"]["postgresql"]
    assert pg["status"] == "unknown"
    assert (pg["check"]["ok"], pg["check"]["status"]) == (None, "unknown")
    assert pg["check"]["missing_permission"] == "create pods/exec in namespace %s" % ns
    [finding] = pg["findings"]
    assert finding["rule"] == "check_unavailable" and finding["severity"] == "unknown"
    assert "create pods/exec in namespace %s" % ns in finding["message"] and "403" in finding["message"]
    assert not [f for f in report["findings"] if f["rule"] == "dependency_unreachable"]


def test_api_unreachable_fails_with_the_cause(ansible, shared_platform, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", "whatever")
    run = ansible(
        HEALTH,
        limit="us-east-1",
        extra_vars=platform_vars(
            shared_platform,
            k8s_kubeconfig=kubeconfig,
            k8s_context="x",
            k8s_api_timeout=3,
            ops_report_dir=str(tmp_path),
        ),
    )
    assert run.rc != 0
    # The inventory's k8s_api_timeout bounds how long the refused reads are retried.
    look = run.results(
        "Look at the platform (workloads, pods, events, endpoints, database, cache)", "us-east-1"
    )
    assert look["invocation"]["module_args"]["api_timeout"] == 3
    failure = " ".join(run.failure_messages())
    assert "cannot reach the Kubernetes API" in failure and "connection refused" in failure
    # the in-cluster database is checked through the API (pods/exec): not run either
    assert "checks not run: database, events, pods, workloads" in failure
    assert "Traceback" not in run.stdout
    # endpoints were still probed, and the report says which checks could not run
    report = json.loads((tmp_path / "health.json").read_text())["us-east-1"]
    assert report["components"]["core"]["endpoints"][0]["ok"] is True
    assert {f["rule"] for f in report["components"]["core"]["findings"]} == {"check_unavailable"}


@pytest.mark.emulator_only
def test_wrong_credentials_fail_with_401(ansible, shared_platform, stack_facts, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", stack_facts["clusters"]["us-east-1"]["api"], "wrong-token")
    run = ansible(
        HEALTH,
        limit="us-east-1",
        extra_vars=platform_vars(shared_platform, k8s_kubeconfig=kubeconfig, k8s_context="x"),
    )
    assert run.rc != 0
    failure = " ".join(run.failure_messages())
    assert "rejected the credentials (401 Unauthorized)" in failure
    assert "Traceback" not in run.stdout


def test_unknown_namespace_is_named(ansible, shared_platform):
    run = ansible(
        HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform, platform_namespace="no-such-ns")
    )
    assert run.rc != 0
    assert "namespace 'no-such-ns' does not exist" in " ".join(run.failure_messages())


@pytest.mark.emulator_only
def test_forbidden_pods_make_components_unknown_not_failed(ansible, shared_platform, faults):
    faults.deny("us-east-1", "list", "", "pods")
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    assert run.rc == 0, run.failure_messages()
    report = run.report("us-east-1")
    assert report["status"] == "unknown"
    assert report["components"]["core"]["status"] == "unknown"
    assert report["sources"]["pods"]["reason"] == "forbidden"
    assert 'pods is forbidden: User "system:serviceaccount' in report["sources"]["pods"]["error"]


@pytest.mark.emulator_only
def test_pending_and_restarting_pods_are_warnings(ansible, small_platform, faults):
    ns = small_platform["namespace"]
    faults.template_fault("us-east-1", ns, "mplp-plan", "pending", age_seconds=900)
    faults.template_fault("us-east-1", ns, "mplp-core", "restarts", restarts=4)
    core = faults.core("us-east-1")

    def settled():
        pods = core.list_namespaced_pod(ns).items
        pending = [p for p in pods if p.status.phase == "Pending" and "plan" in p.metadata.name]
        restarted = [
            p
            for p in pods
            if "core" in p.metadata.name
            and any(cs.restart_count >= 4 for cs in p.status.container_statuses or [])
        ]
        return pending and len(restarted) == 2

    wait_for(settled)
    run = ansible(HEALTH, limit="us-east-1", extra_vars=platform_vars(small_platform))
    assert run.rc == 0, run.failure_messages()  # warnings only
    report = run.report("us-east-1")
    plan = report["components"]["plan"]
    # the surge pod is Pending, and counts as unavailable, as the deployment controller says
    assert sorted(f["rule"] for f in plan["findings"]) == ["pod_pending", "replicas_unavailable"]
    pending = next(f for f in plan["findings"] if f["rule"] == "pod_pending")
    assert "has been Pending for 9" in pending["message"] and "Insufficient cpu" in pending["message"]
    assert plan["status"] == "degraded" and plan["replicas"]["ready"] == 2  # old pods serve on
    core_rules = [f["rule"] for f in report["components"]["core"]["findings"]]
    assert core_rules == ["pod_restarts", "pod_restarts"]
    assert report["status"] == "degraded" and 50 < report["score"] < 100


def test_verbose_output_never_shows_the_passwords(ansible, shared_platform, stack_facts, tmp_path):
    secrets = [
        open(stack_facts["postgresql"]["password_file"]).read().strip(),
        open(stack_facts["redis"]["password_file"]).read().strip(),
    ]
    run = ansible(
        HEALTH,
        limit="us-east-1",
        extra_vars=platform_vars(shared_platform, ops_report_dir=str(tmp_path)),
        args=["-vvv", "--diff"],
        json_output=False,
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout  # the module arguments were shown, masked
    written = "".join(p.read_text() for p in tmp_path.iterdir())
    for secret in secrets:
        assert secret not in run.stdout + run.stderr
        assert secret not in written
