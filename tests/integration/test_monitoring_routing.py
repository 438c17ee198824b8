"""The monitoring role's scrape and Alertmanager steps against the emulator (which serves the
Prometheus Operator's CRDs) and amtool: ServiceMonitors and an AlertmanagerConfig applied in a
namespace of the test's own, twice (the second run changes nothing); the file form checked and
routed by amtool; both forms route alike; no receiver secret in -vvv output."""

from __future__ import annotations

import base64
import copy
import os
import re
import secrets
import subprocess
import uuid

import pytest
import yaml
from conftest import SMALL_PLATFORM, create_namespace, delete_namespace
from conftest import local_stack as stack
from kubernetes import client

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import alertmanager as am
from tests.operator_schema import validate_operator_object

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
PLAYBOOK = "tests/integration/playbooks/monitoring_step.yml"
GROUP = "monitoring.coreos.com"
AMTOOL = os.environ.get("MAOPS_AMTOOL", "amtool")


@pytest.fixture(scope="module")
def operator_crds(stack_facts):
    """The operator's CRDs on the running stack (a stack started before they were declared
    lacks them; declaring them again is a no-op)."""
    for name, cluster in stack_facts["clusters"].items():
        stack.monitoring_crds_up(cluster["api"], stack.secret("kube-token-%s" % name))


@pytest.fixture
def namespace(kube, operator_crds):
    name = create_namespace(kube, "it-mon")
    yield name
    delete_namespace(kube, name)


def components():
    comps = copy.deepcopy(SMALL_PLATFORM)
    comps[0]["metrics"] = True
    comps[1]["metrics"] = {"port": "http", "path": "/api/v1/plan/metrics", "interval": "15s"}
    comps[2]["metrics"] = {"port": 9187}  # postgres_exporter beside the database
    return comps


def step(ansible, step_name, namespace, args=(), json_output=True, **extra):
    extra_vars = {
        "monitoring_step": step_name,
        "platform_name": "mplp",
        "platform_namespace": namespace,
        "platform_components": components(),
        "monitoring_namespace": namespace,
        "monitoring_labels": {"release": "kube-prometheus-stack"},
    }
    extra_vars.update(extra)
    return ansible(PLAYBOOK, limit="us-east-1", extra_vars=extra_vars, args=args, json_output=json_output)


def ok(run):
    assert run.rc == 0, (run.failure_messages() if run.data else None) or run.stdout[-4000:] + run.stderr[
        -2000:
    ]
    return run


def recap_changed(run):
    (changed,) = re.findall(r"us-east-1\s+:\s+ok=\d+\s+changed=(\d+)", run.stdout)
    return int(changed)


def custom(kube, namespace, plural, version):
    api = client.CustomObjectsApi(kube["us-east-1"])
    listed = api.list_namespaced_custom_object(GROUP, version, namespace, plural)
    for item in listed["items"]:  # the items of a list need not repeat them
        item.setdefault("apiVersion", "%s/%s" % (GROUP, version))
        item.setdefault("kind", listed["kind"][: -len("List")])
    return listed["items"]


def test_service_monitors_check_mode_apply_and_a_second_run_that_changes_nothing(ansible, kube, namespace):
    task = "Scrape | apply the ServiceMonitors of the components that expose metrics"
    checked = ok(step(ansible, "scrape", namespace, args=["--check", "--diff"])).results(task, "us-east-1")
    assert checked["changed"] is True and checked["summary"]["created"] == 3
    assert custom(kube, namespace, "servicemonitors", "v1") == []  # check mode wrote nothing

    applied = ok(step(ansible, "scrape", namespace)).results(task, "us-east-1")
    assert applied["changed"] is True and applied["summary"]["created"] == 3
    live = {o["metadata"]["name"]: o for o in custom(kube, namespace, "servicemonitors", "v1")}
    assert sorted(live) == ["mplp-core", "mplp-plan", "mplp-postgresql"]
    for obj in live.values():
        obj["metadata"] = {k: obj["metadata"][k] for k in ("name", "namespace", "labels")}
        validate_operator_object(obj)
    assert live["mplp-plan"]["spec"]["endpoints"][0]["path"] == "/api/v1/plan/metrics"

    again = ok(step(ansible, "scrape", namespace)).results(task, "us-east-1")
    assert again["changed"] is False and again["summary"]["unchanged"] == 3


def test_service_monitors_are_skipped_where_the_operator_form_is_off(ansible, kube, namespace):
    run = ok(step(ansible, "scrape", namespace, monitoring_operator=False))
    assert (
        "monitoring_operator is false; nothing was changed"
        in run.results("Scrape | skipped", "us-east-1")["msg"]
    )
    assert custom(kube, namespace, "servicemonitors", "v1") == []


def routing_vars(tag):
    """Receivers whose secrets are unique to this run (so the output can be searched for them)."""
    values = {
        "slack": "https://hooks.slack.com/services/T0/B0/%s" % tag,
        "bearer": "bearer-%s" % tag,
        "basic": "basic-%s" % tag,
        "smtp": "smtp-%s" % tag,
    }
    receivers = [
        {"name": "pager", "slack": {"channel": "#mplp-critical", "api_url": values["slack"]}},
        {
            "name": "ops",
            "webhook": [
                {"url": "http://127.0.0.1:9/alerts", "bearer_token": values["bearer"]},
                {
                    "url": "http://127.0.0.1:9/basic",
                    "basic_auth": {"username": "am", "password": values["basic"]},
                },
            ],
        },
        {
            "name": "team",
            "email": {
                "to": "ops@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "auth_username": "am",
                "auth_password": values["smtp"],
            },
        },
    ]
    routes = [
        {"severity": "critical", "receiver": "pager"},
        {"severity": "warning", "platform": "mplp", "receiver": "team"},
        {"match": {"team": "database"}, "receiver": "ops", "group_wait": "10s"},
    ]
    extra = {
        "monitoring_alertmanager_receivers": receivers,
        "monitoring_alertmanager_routes": routes,
        "monitoring_alertmanager_default_receiver": "ops",
    }
    return extra, list(values.values())


def assert_no_secret(run, values):
    text = run.stdout + run.stderr
    assert not [v for v in values if v in text]
    return text


# Alerts (their labels) and where the routing sends them; the operator form sees only alerts of
# its namespace (its namespace matcher), which every alert here carries.
ALERTS = [
    ({"severity": "critical", "platform": "mplp"}, "pager"),
    ({"severity": "warning", "platform": "mplp"}, "team"),
    ({"severity": "warning", "platform": "langgraph"}, "ops"),
    ({"team": "database", "severity": "info"}, "ops"),
    ({"severity": "info"}, "ops"),
]


def amtool_route(path, labels):
    argv = [AMTOOL, "config", "routes", "test", "--config.file=%s" % path]
    argv += ["%s=%s" % item for item in sorted(labels.items())]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def test_alertmanager_operator_form_never_shows_a_secret_and_routes_like_the_file_form(
    ansible, kube, namespace, tmp_path
):
    tag = secrets.token_hex(8)
    extra, values = routing_vars(tag)

    checked = ok(
        step(
            ansible, "alertmanager", namespace, args=["--check", "--diff", "-vvv"], json_output=False, **extra
        )
    )
    assert_no_secret(checked, values)
    assert recap_changed(checked) == 2 and custom(kube, namespace, "alertmanagerconfigs", "v1alpha1") == []

    run = ok(step(ansible, "alertmanager", namespace, args=["-vvv", "--diff"], json_output=False, **extra))
    text = assert_no_secret(run, values)
    assert (
        "Alertmanager routing (operator form)" in text and recap_changed(run) == 2
    )  # the Secret, the object
    (obj,) = custom(kube, namespace, "alertmanagerconfigs", "v1alpha1")
    assert obj["metadata"]["labels"] == {"release": "kube-prometheus-stack"}
    obj["metadata"] = {k: obj["metadata"][k] for k in ("name", "namespace", "labels")}
    validate_operator_object(obj)
    secret = client.CoreV1Api(kube["us-east-1"]).read_namespaced_secret(
        "mplp-alertmanager-receivers", namespace
    )
    stored = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert set(values) <= set(stored.values())
    referenced = {s["key"] for s in _selectors(obj["spec"])}
    assert referenced == set(stored)  # every key the receivers read is in the Secret

    again = ok(step(ansible, "alertmanager", namespace, args=["-vvv", "--diff"], json_output=False, **extra))
    assert_no_secret(again, values)
    assert recap_changed(again) == 0

    # The file form of the same routing, beside it
    config = tmp_path / "alertmanager.yml"
    file_extra = dict(
        extra,
        monitoring_operator=False,
        monitoring_alertmanager_file=str(config),
        monitoring_alertmanager_secrets_dir=str(tmp_path / "secrets"),
    )
    ok(step(ansible, "alertmanager", namespace, **file_extra))
    generated = tmp_path / "operator-generated.yml"
    generated.write_text(yaml.safe_dump(am.operator_generated([obj])))
    subprocess.run([AMTOOL, "check-config", str(generated)], check=True, capture_output=True)
    prefix = "%s/%s/" % (namespace, obj["metadata"]["name"])
    for labels, receiver in ALERTS:
        labels = dict(labels, namespace=namespace)
        assert amtool_route(config, labels) == receiver, labels
        assert amtool_route(generated, labels) == prefix + receiver, labels
    # An alert of another namespace never reaches an AlertmanagerConfig's routes: the
    # Alertmanager's own root receiver gets it.
    assert (
        amtool_route(generated, {"severity": "critical", "namespace": "elsewhere"})
        == am.OPERATOR_ROOT_RECEIVER
    )


def _selectors(node):
    if isinstance(node, dict):
        if set(node) == {"name", "key"}:
            yield node
        for value in node.values():
            yield from _selectors(value)
    elif isinstance(node, list):
        for value in node:
            yield from _selectors(value)


def test_alertmanager_file_form_checked_by_amtool_idempotent_and_without_secrets(
    ansible, namespace, tmp_path
):
    tag = secrets.token_hex(8)
    extra, values = routing_vars(tag)
    config = tmp_path / "am" / "alertmanager.yml"
    config.parent.mkdir()
    extra.update(
        monitoring_operator=False,
        monitoring_alertmanager_file=str(config),
        monitoring_alertmanager_secrets_dir=str(tmp_path / "am" / "secrets"),
    )

    checked = ok(
        step(
            ansible, "alertmanager", namespace, args=["--check", "--diff", "-vvv"], json_output=False, **extra
        )
    )
    assert_no_secret(checked, values)
    assert not config.exists()

    run = ok(step(ansible, "alertmanager", namespace, args=["--diff", "-vvv"], json_output=False, **extra))
    text = assert_no_secret(run, values)
    assert "Alertmanager routing (file form)" in text
    assert "check-config" in text or config.exists()
    subprocess.run([AMTOOL, "check-config", str(config)], check=True, capture_output=True)
    written = config.read_text()
    assert not [v for v in values if v in written]
    files = sorted((tmp_path / "am" / "secrets").iterdir())
    assert {f.read_text() for f in files} >= set(values)
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
    assert oct((tmp_path / "am" / "secrets").stat().st_mode & 0o777) == "0o700"
    for labels, receiver in ALERTS:
        assert amtool_route(config, labels) == receiver, labels

    again = ok(step(ansible, "alertmanager", namespace, args=["--diff", "-vvv"], json_output=False, **extra))
    assert_no_secret(again, values)
    assert recap_changed(again) == 0


def test_a_broken_routing_fails_before_any_write_naming_the_route_not_the_secret(ansible, kube, namespace):
    tag = uuid.uuid4().hex
    extra, values = routing_vars(tag)
    extra["monitoring_alertmanager_routes"] = [{"severity": "critical", "receiver": "nobody"}]
    run = step(ansible, "alertmanager", namespace, args=["-vvv"], json_output=False, **extra)
    assert run.rc != 0
    text = assert_no_secret(run, values)
    assert "route #0: receiver 'nobody' is not a receiver" in text
    assert custom(kube, namespace, "alertmanagerconfigs", "v1alpha1") == []
