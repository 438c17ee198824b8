"""Alert rules as data: the inventory's overrides, what the expressions select, the rendering."""

from pathlib import Path

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import rules

ROOT = Path(__file__).resolve().parents[5]
COMPONENTS = [
    {"name": "api", "workload": "shop-api", "service": {"name": "shop-api", "port": 8000}},
    {"name": "worker", "workload": "shop-worker"},
    {"name": "edge", "kind": "external"},
    {"name": "db", "role": "database", "workload": "shop-db", "service": {"name": "shop-db", "port": 5432}},
    {"name": "cache", "role": "cache", "service": {"name": "shop-cache", "port": 6379}},
]


def context(**more):
    args = dict(
        platform="shop", namespace="shop-prod", components=COMPONENTS, backup_cronjob="shop-prod-db-backup"
    )
    args.update(more)
    return rules.platform_context(**args)


def by_name(groups):
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_context_reads_jobs_workloads_and_the_data_tier():
    ctx = context()
    # the Service's name, else the workload's; an external component has no job here
    assert ctx["app_jobs"] == ["shop-api", "shop-worker"]
    assert ctx["pods"] == ["shop-api", "shop-worker", "shop-db", "cache"]
    assert ctx["deployments"] == ["shop-api", "shop-worker"]
    assert ctx["statefulsets"] == ["shop-db", "cache"]
    assert ctx["database"] == {"name": "db", "job": "shop-db"}
    assert ctx["cache"] == {"name": "cache", "job": "shop-cache"}
    # a job of its own for the exporter
    assert context(jobs={"db": "postgres-exporter"})["database"]["job"] == "postgres-exporter"


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"namespace": "Shop_Prod"}, "namespace 'Shop_Prod' is not a Kubernetes name"),
        ({"platform": ""}, "the platform needs a name"),
        ({"jobs": {"nope": "x"}}, "jobs names components the platform does not have: nope"),
        ({"jobs": {"api": "Bad Job"}}, "the scrape job of component 'api'"),
        ({"components": [{"name": "a", "role": "db"}]}, "component 'a': role 'db'"),
    ],
)
def test_context_refuses_a_description_it_cannot_select_by(more, message):
    with pytest.raises(rules.RulesError, match=message):
        context(**more)


def test_every_expression_selects_the_platform_namespace_and_its_own_names():
    groups = rules.rule_groups(context())
    for name, rule in by_name(groups).items():
        expr = rule["expr"]
        if name != "BackupTooOld":
            assert expr.count('namespace="shop-prod"') >= 1, name
            assert expr.count("{") == expr.count('namespace="shop-prod"'), name  # every selector
        assert rule["labels"] == {"severity": rules.ALERTS[name].severity, "platform": "shop"}
    rules_ = by_name(groups)
    assert 'job=~"shop-api|shop-worker"' in rules_["HighErrorRate"]["expr"]
    assert 'pod=~"(shop-api|shop-worker|shop-db|cache)-.+"' in rules_["CrashLooping"]["expr"]
    assert 'job="shop-db"' in rules_["PostgreSQLDown"]["expr"]
    assert 'platform="shop"' in rules_["BackupTooOld"]["expr"]
    assert 'cronjob="shop-prod-db-backup"' in rules_["BackupTooOld"]["expr"]
    assert rules.PUSH_METRIC in rules_["BackupTooOld"]["annotations"]["description"]


def test_groups_follow_the_description():
    names = [g["name"] for g in rules.rule_groups(context())]
    assert names == ["shop-%s" % g for g in rules.GROUPS]
    # no database, no cache, no app: those groups and alerts are left out
    only_db = [{"name": "db", "role": "database"}]
    groups = rules.rule_groups(context(components=only_db, backup_cronjob=None))
    assert [g["name"] for g in groups] == [
        "shop-resources",
        "shop-workloads",
        "shop-postgresql",
        "shop-backup",
    ]
    assert "ServiceDown" not in by_name(groups)
    # without a CronJob, only the pushed timestamps count
    assert "kube_cronjob" not in by_name(groups)["BackupTooOld"]["expr"]


def test_overrides_change_threshold_duration_severity_and_disable():
    overrides = {
        "HighErrorRate": {"threshold": 0.05, "for": "2m", "severity": "warning"},
        "CrashLooping": {"enabled": False},
        "BackupTooOld": {"threshold": "50h"},
        "HighResponseTime": {"threshold": 5},
    }
    rendered = by_name(rules.rule_groups(context(), overrides))
    assert rendered["HighErrorRate"]["expr"].endswith("> 0.05")
    assert (rendered["HighErrorRate"]["for"], rendered["HighErrorRate"]["labels"]["severity"]) == (
        "2m",
        "warning",
    )
    assert "5 %" in rendered["HighErrorRate"]["annotations"]["description"]
    assert "CrashLooping" not in rendered
    assert "> 180000" in rendered["BackupTooOld"]["expr"]
    assert rendered["HighResponseTime"]["expr"].endswith("> 5")
    # the defaults stay the catalogue's
    assert rules.settings()["HighErrorRate"] == {
        "enabled": True,
        "threshold": 0.1,
        "for": "2m",
        "severity": "critical",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"HighErrorRat": {}}, "unknown alert 'HighErrorRat': the alerts are "),
        ({"HighErrorRate": {"treshold": 1}}, "alert HighErrorRate: unknown field 'treshold'"),
        (
            {"HighErrorRate": {"for": "2 minutes"}},
            "alert HighErrorRate: field 'for': '2 minutes' is not a Prometheus",
        ),
        ({"HighErrorRate": {"for": 120}}, "alert HighErrorRate: field 'for': 120"),
        (
            {"HighErrorRate": {"severity": "page"}},
            "alert HighErrorRate: field 'severity': 'page' is not one of",
        ),
        (
            {"HighErrorRate": {"threshold": 10}},
            r"alert HighErrorRate: field 'threshold': 10 is not a fraction",
        ),
        (
            {"HighErrorRate": {"threshold": "high"}},
            "alert HighErrorRate: field 'threshold': 'high' is not a number",
        ),
        ({"HighErrorRate": {"threshold": True}}, "field 'threshold': True is not a number"),
        (
            {"HighErrorRate": {"enabled": "no"}},
            "alert HighErrorRate: field 'enabled': 'no' is not true or false",
        ),
        (
            {"ServiceDown": {"threshold": 1}},
            "alert ServiceDown: field 'threshold': this alert has no threshold",
        ),
        (
            {"BackupTooOld": {"threshold": "a day"}},
            "alert BackupTooOld: field 'threshold': 'a day' is neither",
        ),
        (
            {"PostgreSQLDeadlocks": {"threshold": -1}},
            "alert PostgreSQLDeadlocks: field 'threshold': -1 is negative",
        ),
        ({"HighErrorRate": "off"}, "alert HighErrorRate: the override must be a mapping"),
        (["HighErrorRate"], "the alert overrides must be a mapping"),
    ],
)
def test_a_wrong_override_names_the_alert_and_the_field(overrides, message):
    with pytest.raises(rules.RulesError, match=message):
        rules.settings(overrides)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("26h", 93600), ("1d", 86400), ("1w", 604800)],
)
def test_durations(text, seconds):
    assert rules.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5m1h", "1.5h", "5 m", None, 5])
def test_not_durations(text):
    assert rules.duration_seconds(text) is None


def test_every_runbook_names_a_playbook_of_the_collection():
    groups = rules.rule_groups(context(), runbook_base_url="https://git.example/ops/blob/main/")
    for rule in by_name(groups).values():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("https://git.example/ops/blob/main/playbooks/")
        assert (ROOT / url[len("https://git.example/ops/blob/main/") :]).is_file(), url
    assert rules.runbook_url("", "playbooks/scale.yml") == "playbooks/scale.yml"


def test_annotations_keep_prometheus_templates_and_fill_in_the_thresholds():
    rule = by_name(rules.rule_groups(context()))["HighMemoryUsage"]
    assert "{{ $labels.container }}" in rule["annotations"]["description"]
    assert "80 %" in rule["annotations"]["description"]
    assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


def test_extra_labels_do_not_replace_severity_or_platform():
    rule = by_name(rules.rule_groups(context(), labels={"team": "ops", "severity": "x"}))["ServiceDown"]
    assert rule["labels"] == {"team": "ops", "severity": "critical", "platform": "shop"}


def test_rule_file_and_prometheus_rule_hold_the_same_groups():
    groups = rules.rule_groups(context())
    assert rules.rule_file(groups) == {"groups": groups}
    obj = rules.prometheus_rule(groups, "shop-alerts", "monitoring", {"release": "prometheus"})
    assert obj == {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "shop-alerts",
            "namespace": "monitoring",
            "labels": {"app.kubernetes.io/managed-by": "multiagent.ops", "release": "prometheus"},
        },
        "spec": {"groups": groups},
    }
    assert obj["spec"]["groups"] is not groups  # a copy: changing one never changes the other
    with pytest.raises(rules.RulesError, match="PrometheusRule name 'Shop Alerts'"):
        rules.prometheus_rule(groups, "Shop Alerts", "monitoring")
    with pytest.raises(rules.RulesError, match="labels must be a mapping"):
        rules.prometheus_rule(groups, "a", "monitoring", ["x"])


def test_dots_in_names_are_escaped_in_regexes():
    ctx = context(components=[{"name": "a", "workload": "a.b", "service": {"name": "a.b", "port": 1}}])
    expr = by_name(rules.rule_groups(ctx))["HighErrorRate"]["expr"]
    assert 'job=~"a\\\\.b"' in expr
