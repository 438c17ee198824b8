import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.monitoring_rules import FilterModule

F = FilterModule().filters()
COMPONENTS = [
    {"name": "api", "service": {"name": "api", "port": 80}},
    {"name": "pg", "role": "database"},
]


def test_alert_rules_and_prometheus_rule():
    groups = F["alert_rules"](
        COMPONENTS,
        "shop",
        "shop-prod",
        database={"name": "pg"},
        overrides={"HighErrorRate": {"threshold": 0.05}},
        runbook_base_url="https://x",
        backup_cronjob="shop-prod-db-backup",
    )
    names = [g["name"] for g in groups]
    assert names == ["shop-application", "shop-resources", "shop-workloads", "shop-postgresql", "shop-backup"]
    rule = groups[0]["rules"][0]
    assert rule["alert"] == "HighErrorRate" and rule["expr"].endswith("> 0.05")
    assert rule["annotations"]["runbook_url"] == "https://x/playbooks/diagnose.yml"
    obj = F["prometheus_rule"](groups, "shop-alerts", "shop-prod", {"release": "kps"})
    assert obj["kind"] == "PrometheusRule" and obj["spec"]["groups"] == groups
    assert obj["metadata"]["labels"]["release"] == "kps"


def test_a_wrong_override_fails_naming_the_filter_alert_and_field():
    with pytest.raises(AnsibleFilterError, match="^alert_rules: alert HighErrorRate: field 'for'"):
        F["alert_rules"](COMPONENTS, "shop", "shop-prod", overrides={"HighErrorRate": {"for": "soon"}})
    with pytest.raises(AnsibleFilterError, match="^prometheus_rule: namespace"):
        F["prometheus_rule"]([], "a", "Bad NS")
