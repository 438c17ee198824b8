"""diagnose.yml: every source when it answers, and what it says when one does not."""

import pytest
from conftest import platform_vars, write_kubeconfig

pytestmark = pytest.mark.integration

DIAGNOSE = "playbooks/diagnose.yml"


def diagnosis_text(run, host="us-east-1"):
    return "\n".join(run.results("Print the diagnosis", host)["msg"])


@pytest.mark.emulator_only
def test_diagnosis_reads_pods_services_usage_events_and_logs(ansible, small_platform, faults, tmp_path):
    ns = small_platform["namespace"]
    pods = (
        faults.core("us-east-1")
        .list_namespaced_pod(ns, label_selector="app.kubernetes.io/component=core")
        .items
    )
    name = pods[0].metadata.name
    faults.add_log_lines(
        "us-east-1",
        ns,
        name,
        ["2026-11-22T04:00:00Z INFO started", "2026-11-22T04:00:01Z ERROR db pool exhausted"],
    )
    faults.pod_fault("us-east-1", ns, name, "restarts", restarts=1)
    run = ansible(
        DIAGNOSE, limit="us-east-1", extra_vars=platform_vars(small_platform, ops_report_dir=str(tmp_path))
    )
    assert run.rc == 0, run.failure_messages()
    report = run.report("us-east-1")
    assert {s["name"] for s in report["services"]} == {"mplp-core", "mplp-plan", "mplp-postgresql"}
    assert report["usage"]["available"] is True
    assert {u["component"] for u in report["usage"]["pods"]} == {"core", "plan", "postgresql"}
    logs = {entry["pod"]: entry for entry in report["logs"]}
    assert logs[name]["error_lines"] == ["ERROR db pool exhausted"]  # as `kubectl logs` prints it
    assert any(e["reason"] in ("Scheduled", "Started", "ScalingReplicaSet") for e in report["events"])
    text = diagnosis_text(run)
    for heading in (
        "1. Pods",
        "2. Services",
        "3. Resource usage",
        "4. Health",
        "5. Recent events",
        "6. Recent",
    ):
        assert heading in text
    assert "ERROR db pool exhausted" in text
    assert "mplp-core" in text
    # the data tier: the in-cluster database read inside its pod, the external cache directly
    tier = report["data_tier"]
    database, cache = tier["database"], tier["cache"]
    assert (database["via"], database["pod"], database["checked"]) == ("exec", "mplp-postgresql-0", True)
    connections = database["connections"]
    assert connections["total"] >= 1 and sum(connections["by_state"].values()) >= connections["total"]
    assert connections["max_connections"] > 0
    if connections["pg_stat_statements"]:
        assert isinstance(database["slow_queries"], list)
    else:
        assert database["slow_queries"] is None
        assert "pg_stat_statements is not installed" in database["slow_queries_note"]
        assert "slow queries: pg_stat_statements is not installed" in text
    assert cache["via"] == "direct" and cache["memory"]["used_memory"] > 0
    assert cache["memory"]["maxmemory_policy"]
    assert "7. Data tier" in text
    assert "PostgreSQL postgresql (exec in pod mplp-postgresql-0): up" in text
    assert "Redis redis (direct): up" in text and "fragmentation ratio" in text
    assert (tmp_path / "diagnosis-us-east-1.txt").read_text().startswith("=== Diagnosis of us-east-1")


@pytest.mark.emulator_only
def test_missing_sources_are_named_and_never_fail(ansible, shared_platform, faults):
    faults.metrics("us-east-1", False)
    faults.deny("us-east-1", "get", "", "pods/log")
    faults.deny("us-east-1", "list", "", "events")
    run = ansible(DIAGNOSE, limit="us-east-1", extra_vars=platform_vars(shared_platform))
    assert run.rc == 0, run.failure_messages()
    report = run.report("us-east-1")
    assert report["usage"]["available"] is False
    assert report["sources"]["events"]["reason"] == "forbidden"
    assert all("error" in entry for entry in report["logs"])
    text = diagnosis_text(run)
    assert "metrics API not available" in text
    assert "could not read events" in text
    assert "could not read logs" in text


def test_diagnosis_with_api_unreachable_still_reports(ansible, shared_platform, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", "x")
    run = ansible(
        DIAGNOSE,
        limit="us-east-1",
        # The inventory's k8s_api_timeout bounds how long the refused reads are retried.
        extra_vars=platform_vars(
            shared_platform, k8s_kubeconfig=kubeconfig, k8s_context="x", k8s_api_timeout=3
        ),
    )
    assert run.rc == 0, run.failure_messages()
    text = diagnosis_text(run)
    assert "Kubernetes API: cannot reach the Kubernetes API" in text
    assert "could not read pods" in text
