"""The alert rules with promtool (Debian's prometheus package): every rendered group passes
`promtool check rules` for each inventory, every shipped alert has `promtool test rules` cases
where it fires and where it must not (tests/monitoring/rules/*.yml, run against rules rendered
by the collection's code), and the seed's five rules give the wrong answer where the
collection's give the right one (seed_flaws.yml). The stack is not touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import rules

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "monitoring" / "rules"
SEED = ROOT / "tests" / "fixtures" / "monitoring" / "seed_alert_rules.yml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# The platform the rule tests' series describe: the LangGraph manual's (its namespace, its
# application Service and scrape job, PostgreSQL and Redis) with the backup role's CronJob.
LANGGRAPH = yaml.safe_load(
    (ROOT / "inventories" / "langgraph" / "group_vars" / "all" / "platform.yml").read_text()
)
TEST_PLATFORM = dict(
    platform="langgraph",
    namespace="langgraph-multi-agent",
    components=LANGGRAPH["platform_components"],
    database={"name": "postgres"},
    cache={"name": "redis"},
    backup_cronjob="langgraph-multi-agent-db-backup",
)


def promtool(*args, cwd=None):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def rendered_groups():
    return rules.rule_groups(
        rules.platform_context(**TEST_PLATFORM), runbook_base_url="https://runbooks.example"
    )


def without_annotations(rule_file):
    """promtool 2.42 compares a firing alert's annotations whether a case gives them or not: the
    cases say when alerts fire (annotations.yml, run against the annotated rules, checks what
    they say)."""
    for group in rule_file["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return rule_file


def seed_renamed():
    """The seed's rules with each alert renamed Seed<name>, so that a test can run them beside
    the collection's over the same series."""
    seed = without_annotations(yaml.safe_load(SEED.read_text()))
    for group in seed["groups"]:
        for rule in group["rules"]:
            rule["alert"] = "Seed" + rule["alert"]
    return seed


@pytest.fixture(scope="module")
def rule_dir(tmp_path_factory):
    """The test files beside rendered.yml (the collection's rules), rendered-<group>.yml (each
    group alone), annotated.yml (with annotations) and seed.yml."""
    path = tmp_path_factory.mktemp("rules")
    groups = rendered_groups()
    (path / "annotated.yml").write_text(yaml.safe_dump(rules.rule_file(groups), sort_keys=False))
    (path / "rendered.yml").write_text(
        yaml.safe_dump(without_annotations(rules.rule_file(groups)), sort_keys=False)
    )
    # and each group alone (rendered-workloads.yml, ...): a test file that loads only the group
    # it tests runs several times faster
    for group in groups:
        name = group["name"][len(TEST_PLATFORM["platform"]) + 1 :]
        (path / ("rendered-%s.yml" % name)).write_text(
            yaml.safe_dump(without_annotations(rules.rule_file([group])), sort_keys=False)
        )
    (path / "seed.yml").write_text(yaml.safe_dump(seed_renamed(), sort_keys=False, allow_unicode=True))
    for test in TESTS.glob("*.yml"):
        shutil.copy(test, path / test.name)
    return path


def test_every_rule_test_passes_against_the_rendered_rules(rule_dir, record_property):
    names = sorted(p.name for p in TESTS.glob("*.yml"))
    start = time.monotonic()
    proc = promtool("test", "rules", *names, cwd=rule_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The CI-time budget (under 10 s for all the rule tests) is reported, not asserted:
    # pytest --durations and the JUnit property show it.
    record_property("promtool_test_rules_seconds", round(time.monotonic() - start, 2))


def _expectations():
    """alert -> set of 'fires' / 'silent' over the test files (the seed's alerts aside)."""
    found = {}
    for path in TESTS.glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                kind = "fires" if check.get("exp_alerts") else "silent"
                found.setdefault(check["alertname"], set()).add(kind)
    return found


def test_every_shipped_alert_has_a_case_where_it_fires_and_one_where_it_must_not():
    found = _expectations()
    for alert in rules.CATALOGUE:
        assert found.get(alert.name) == {"fires", "silent"}, alert.name
    # and the seed's five are each shown wrong
    seed_alerts = {r["alert"] for g in seed_renamed()["groups"] for r in g["rules"]}
    assert seed_alerts <= set(found), seed_alerts - set(found)


def test_the_seed_flaws_fail_against_the_seed_alone(rule_dir):
    """seed_flaws.yml proves something: with the seed's rules standing in for the collection's
    (renamed back), its cases fail."""
    seed = without_annotations(yaml.safe_load(SEED.read_text()))
    (rule_dir / "seed_as_rendered.yml").write_text(yaml.safe_dump(seed, sort_keys=False, allow_unicode=True))
    test = yaml.safe_load((rule_dir / "seed_flaws.yml").read_text())
    test["rule_files"] = ["seed.yml", "seed_as_rendered.yml"]
    (rule_dir / "seed_flaws_against_seed.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    proc = promtool("test", "rules", "seed_flaws_against_seed.yml", cwd=rule_dir)
    assert proc.returncode != 0
    for name in (
        "HighErrorRate",
        "HighResponseTime",
        "HighMemoryUsage",
        "ServiceDown",
        "HighDatabaseConnections",
    ):
        assert "alertname: %s" % name in proc.stdout + proc.stderr, name


def _inventory_platform(name):
    """The platform description of an inventory as its group_vars give it (templated values,
    such as Redis's credentials_secret, do not matter to the rules) and its alert overrides."""
    inventory = ROOT / "inventories" / name
    values = {}
    for path in sorted((inventory / "group_vars").rglob("*.yml")):
        values.update(yaml.safe_load(path.read_text()) or {})
    return values


@pytest.mark.parametrize("inventory", ["mplp", "langgraph", "demo"])
def test_promtool_check_rules_accepts_every_group_of_each_inventory(inventory, tmp_path):
    v = _inventory_platform(inventory)
    ctx = rules.platform_context(
        v["platform_name"],
        v["platform_namespace"],
        v["platform_components"],
        v.get("platform_database"),
        v.get("platform_cache"),
        backup_cronjob="%s-db-backup" % v["platform_namespace"],
    )
    groups = rules.rule_groups(ctx, v.get("monitoring_alerts"), "https://runbooks.example")
    # the seeds' thresholds: the operations seed's 5,000 ms for MPLP, the manual's 2 s for LangGraph
    response = [r for g in groups for r in g["rules"] if r["alert"] == "HighResponseTime"][0]
    assert response["expr"].endswith("> %s" % ("2" if inventory == "langgraph" else "5"))
    assert {g["name"] for g in groups} == {
        "%s-%s" % (v["platform_name"], g)
        for g in ("application", "resources", "workloads", "postgresql", "redis", "backup")
    }
    for group in groups:  # one file per group: promtool names the group that fails
        path = tmp_path / ("%s.yml" % group["name"])
        path.write_text(yaml.safe_dump(rules.rule_file([group]), sort_keys=False))
        proc = promtool("check", "rules", str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    path = tmp_path / "object.yml"
    path.write_text(yaml.safe_dump(rules.prometheus_rule(groups, "alerts", v["platform_namespace"])["spec"]))
    assert promtool("check", "rules", str(path)).returncode == 0


# --- The role's rules step ------------------------------------------------------------------

ROLE = "tests/integration/playbooks/monitoring_role.yml"
WRITE = "write the rule file (promtool checks it before it replaces the old one)"


def run_rules(ansible, tmp_path, args=(), **more):
    extra = {"ops_hosts": "us-east-1", "monitoring_tasks": "rules", "monitoring_rules_dir": str(tmp_path)}
    extra.update(more)
    return ansible(ROLE, extra_vars=extra, args=args)


def written(run):
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run.results("Rules | " + WRITE, "us-east-1")


def test_the_file_form_writes_a_checked_rule_file_idempotently(ansible, tmp_path):
    path = tmp_path / "mplp-alerts.yml"
    overrides = {"CrashLooping": {"enabled": False}}
    # check mode says what would be written and writes nothing
    run = run_rules(ansible, tmp_path, args=["--check", "--diff"], monitoring_operator="false")
    assert written(run)["changed"] is True and not path.exists()

    run = run_rules(ansible, tmp_path, monitoring_operator="false", monitoring_alerts=overrides)
    assert written(run)["changed"] is True
    assert promtool("check", "rules", str(path)).returncode == 0
    rules_ = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    assert "HighErrorRate" in {r["alert"] for r in rules_} and "CrashLooping" not in {
        r["alert"] for r in rules_
    }
    assert {r["labels"]["platform"] for r in rules_} == {"mplp"}

    # the same again changes nothing
    run = run_rules(ansible, tmp_path, monitoring_operator="false", monitoring_alerts=overrides)
    assert written(run)["changed"] is False
    assert all(
        not task["hosts"]["us-east-1"].get("changed") for p in run.data["plays"] for task in p["tasks"]
    )


def _served(kube):
    from kubernetes import client

    groups = client.ApisApi(kube["us-east-1"]).get_api_versions().groups
    return any(g.name == "monitoring.coreos.com" for g in groups)


def test_the_operator_form_applies_a_prometheusrule_idempotently(ansible, kube, tmp_path):
    """Where the cluster serves monitoring.coreos.com/v1 (the test stack declares the
    operator's CRDs on the emulator), `true` and `auto` apply the PrometheusRule and write no
    file; where it does not, `true` fails naming the kind and `auto` writes the file."""
    from conftest import create_namespace, delete_namespace
    from kubernetes import client

    namespace = create_namespace(kube, "it-rules")
    try:
        more = {"monitoring_namespace": namespace, "monitoring_labels": {"release": "kps"}}
        if not _served(kube):
            run = run_rules(ansible, tmp_path, monitoring_operator="true", **more)
            assert run.rc != 0 and any("PrometheusRule" in m for m in run.failure_messages())
            assert written(run_rules(ansible, tmp_path, **more))["changed"] is True
            return
        task = "Rules | apply the PrometheusRule where the operator serves it"
        api = client.CustomObjectsApi(kube["us-east-1"])
        run = run_rules(ansible, tmp_path, args=["--check"], monitoring_operator="true", **more)
        assert run.rc == 0 and run.results(task, "us-east-1")["changed"] is True
        found = api.list_namespaced_custom_object("monitoring.coreos.com", "v1", namespace, "prometheusrules")
        assert found["items"] == []

        run = run_rules(ansible, tmp_path, monitoring_operator="true", **more)
        assert run.rc == 0 and run.results(task, "us-east-1")["results"][0]["action"] == "created"
        obj = api.get_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, "prometheusrules", "mplp-alerts"
        )
        assert obj["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "multiagent.ops",
            "release": "kps",
        }
        assert [g["name"] for g in obj["spec"]["groups"]] == [
            "mplp-%s" % g for g in ("application", "resources", "workloads", "postgresql", "redis", "backup")
        ]

        # again: nothing changes (auto marks the object apply-if-served once), and no file is written
        for form, action in (("true", "unchanged"), ("auto", "updated"), ("auto", "unchanged")):
            run = run_rules(ansible, tmp_path, monitoring_operator=form, **more)
            assert run.rc == 0 and run.results(task, "us-east-1")["results"][0]["action"] == action, form
        assert not list(tmp_path.iterdir())
    finally:
        delete_namespace(kube, namespace)


@pytest.fixture(scope="module")
def bare_cluster(tmp_path_factory):
    """A private Kubernetes API emulator that serves none of the operator's kinds (the stack's
    two declare its CRDs): ``{k8s_kubeconfig, k8s_context}`` for the inventory host."""
    sys.path.insert(0, str(ROOT / "tests" / "stack"))
    import stack

    path = tmp_path_factory.mktemp("bare-cluster")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "bare-%d" % port
    (path / "token").write_text(token)
    log = open(path / "kubemu.log", "wb")  # noqa: SIM115 - open while the emulator runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubemu", "--host", "127.0.0.1", "--port", str(port)]
        + ["--token-file", str(path / "token"), "--state-dir", str(path), "--cluster-name", "bare"],
        env=dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "stack")),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        stack.wait_port(port, "the bare emulator", proc=proc, logfile=path / "kubemu.log")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "bare", "cluster": {"server": "http://127.0.0.1:%d" % port}}],
            "users": [{"name": "bare", "user": {"token": token}}],
            "contexts": [{"name": "bare", "context": {"cluster": "bare", "user": "bare"}}],
            "current-context": "bare",
        }
        (path / "kubeconfig").write_text(yaml.safe_dump(config))
        yield {"k8s_kubeconfig": str(path / "kubeconfig"), "k8s_context": "bare"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_auto_writes_the_rule_file_where_the_cluster_does_not_serve_the_operator(
    ansible, tmp_path, bare_cluster
):
    """monitoring_operator auto asks the cluster: without the operator's CRDs the rules take the
    file form (checked by promtool) and the ServiceMonitors are skipped, saying why; true
    refuses there, naming the kind."""
    path = tmp_path / "mplp-alerts.yml"
    run = run_rules(ansible, tmp_path, **bare_cluster)
    assert written(run)["changed"] is True
    assert promtool("check", "rules", str(path)).returncode == 0
    applied = run.results("Rules | apply the PrometheusRule where the operator serves it", "us-east-1")
    assert applied["changed"] is False and [r["action"] for r in applied["results"]] == ["skipped"]

    path.unlink()
    run = run_rules(ansible, tmp_path, monitoring_operator="true", **bare_cluster)
    assert run.rc != 0 and any("PrometheusRule" in m for m in run.failure_messages())
    assert not path.exists()

    # the probe of _operator.yml (the scrape and routing steps): ServiceMonitors are not served
    run = run_rules(ansible, tmp_path, monitoring_tasks="scrape", **bare_cluster)
    assert run.rc == 0, run.failure_messages()
    assert "the cluster does not serve ServiceMonitors" in run.results("Scrape | skipped", "us-east-1")["msg"]


def test_the_role_refuses_a_wrong_override_naming_the_alert_and_field(ansible, tmp_path):
    run = run_rules(
        ansible,
        tmp_path,
        monitoring_operator="false",
        monitoring_alerts={"HighErrorRate": {"severity": "page"}},
    )
    assert run.rc != 0
    assert any(
        "alert HighErrorRate: field 'severity': 'page' is not one of" in msg for msg in run.failure_messages()
    ), run.failure_messages()
    assert not list(tmp_path.iterdir())
