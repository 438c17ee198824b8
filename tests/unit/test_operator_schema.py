"""tests/operator_schema.py: the operator's vendored CRD schemas accept what the operator
accepts and refuse what it refuses; the stack declares the same CRDs."""

import copy
import json
import sys
from pathlib import Path

import pytest

from tests import operator_schema
from tests.operator_schema import OperatorSchemaError, operator_problems, validate_operator_object

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))
import stack  # noqa: E402

SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "mplp-core", "namespace": "mplp-production", "labels": {"release": "kps"}},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/component": "core"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    },
}
ALERTMANAGER_CONFIG = {
    "apiVersion": "monitoring.coreos.com/v1alpha1",
    "kind": "AlertmanagerConfig",
    "metadata": {"name": "mplp"},
    "spec": {
        "route": {
            "receiver": "oncall",
            "matchers": [{"name": "severity", "value": "critical", "matchType": "="}],
        },
        "receivers": [
            {"name": "oncall", "slackConfigs": [{"apiURL": {"name": "am-secrets", "key": "slack"}}]}
        ],
    },
}
PROMETHEUS_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "mplp"},
    "spec": {"groups": [{"name": "g", "rules": [{"alert": "ServiceDown", "expr": "up == 0", "for": "1m"}]}]},
}


@pytest.mark.parametrize(
    "obj", [SERVICE_MONITOR, ALERTMANAGER_CONFIG, PROMETHEUS_RULE], ids=lambda o: o["kind"]
)
def test_valid_objects_pass(obj):
    assert validate_operator_object(copy.deepcopy(obj)) == obj


def broken(obj, change):
    obj = copy.deepcopy(obj)
    change(obj)
    return obj


@pytest.mark.parametrize(
    "obj, where",
    [
        (
            broken(SERVICE_MONITOR, lambda o: o["spec"]["endpoints"][0].update(interval="30 seconds")),
            "interval",
        ),
        (
            broken(SERVICE_MONITOR, lambda o: o["spec"]["endpoints"][0].update(prot="http")),
            "'prot' was unexpected",
        ),
        (broken(SERVICE_MONITOR, lambda o: o["spec"].pop("selector")), "'selector' is a required property"),
        (broken(SERVICE_MONITOR, lambda o: o["metadata"].update(name="Core_1")), "metadata.name"),
        (broken(SERVICE_MONITOR, lambda o: o["metadata"]["labels"].update(release=1)), "metadata.labels"),
        (
            broken(ALERTMANAGER_CONFIG, lambda o: o["spec"]["route"]["matchers"][0].update(matchType="==")),
            "matchType",
        ),
        (
            broken(
                ALERTMANAGER_CONFIG,
                lambda o: o["spec"]["receivers"][0]["slackConfigs"][0].update(apiURL="https://x"),
            ),
            "apiURL",
        ),
        (
            broken(
                ALERTMANAGER_CONFIG,
                lambda o: o["spec"]["route"].update(
                    routes=[{"receiver": "oncall", "routes": [{"receiver": "oncall", "continu": True}]}]
                ),
            ),
            "spec.route.routes.0.routes.0: Additional properties are not allowed ('continu'",
        ),
        (
            broken(PROMETHEUS_RULE, lambda o: o["spec"]["groups"][0]["rules"][0].pop("expr")),
            "'expr' is a required",
        ),
        (
            broken(PROMETHEUS_RULE, lambda o: o.update(apiVersion="monitoring.coreos.com/v2")),
            "no vendored CRD",
        ),
    ],
)
def test_broken_objects_fail_naming_the_field(obj, where):
    with pytest.raises(OperatorSchemaError) as err:
        validate_operator_object(obj)
    assert where in str(err.value)
    assert err.value.problems == operator_problems(obj)


def test_a_schema_file_that_does_not_match_its_checksum_is_refused(tmp_path, monkeypatch):
    for path in operator_schema.FIXTURES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "ServiceMonitor.v1.json").write_text(json.dumps({"type": "object"}) + "\n")
    monkeypatch.setattr(operator_schema, "FIXTURES", tmp_path)
    operator_schema.validator.cache_clear()
    operator_schema.sources.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="sha256"):
            validate_operator_object(SERVICE_MONITOR)
    finally:
        operator_schema.validator.cache_clear()
        operator_schema.sources.cache_clear()


def test_the_stack_declares_the_crds_whose_schemas_are_vendored():
    vendored = {
        (entry["kind"], entry["plural"], entry["version"])
        for entry in operator_schema.sources()["schemas"].values()
    }
    assert set(stack.MONITORING_CRDS) == vendored
    for kind, plural, version in stack.MONITORING_CRDS:
        crd = stack.monitoring_crd(kind, plural, version)
        assert crd["metadata"]["name"] == "%s.%s" % (plural, operator_schema.GROUP)
        assert [v["name"] for v in crd["spec"]["versions"] if v["served"]] == [version]
