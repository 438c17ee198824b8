"""monitoring.alertmanager: routing from the inventory as an AlertmanagerConfig (+ Secret) or
an alertmanager.yml (+ secret files); secrets only ever in the Secret and the files."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import alertmanager as am
from tests.operator_schema import validate_operator_object

SLACK_URL = "https://hooks.slack.com/services/T000/B000/slack-secret-1"
BEARER = "bearer-secret-2"
BASIC_PASSWORD = "basic-secret-3"
SMTP_PASSWORD = "smtp-secret-4"
SECRETS = (SLACK_URL, BEARER, BASIC_PASSWORD, SMTP_PASSWORD)
ROUTING = {
    "receivers": [
        {
            "name": "pager",
            "slack": {"channel": "#mplp-critical", "api_url": SLACK_URL, "send_resolved": True},
        },
        {
            "name": "ops",
            "webhook": [
                {"url": "https://hooks.example.com/alerts", "bearer_token": BEARER},
                {
                    "url": "http://127.0.0.1:9099/",
                    "basic_auth": {"username": "am", "password": BASIC_PASSWORD},
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
                "auth_password": SMTP_PASSWORD,
            },
        },
        {"name": "blackhole"},
    ],
    "routes": [
        {"severity": "critical", "receiver": "pager", "continue": True},
        {
            "severity": ["critical", "warning"],
            "platform": "mplp",
            "receiver": "team",
            "repeat_interval": "1h",
        },
        {"match": {"team": "database"}, "receiver": "ops"},
        {"severity": "none", "receiver": "blackhole"},
    ],
    "default_receiver": "ops",
    "group_wait": "30s",
}
SECRET = "mplp-alertmanager"
DIR = "/etc/alertmanager/secrets"


def amc(routing=ROUTING, **kw):
    return am.alertmanager_config(routing, "mplp", "mplp-production", SECRET, **kw)


def test_the_alertmanager_config_is_valid_for_the_operator_and_holds_no_secret():
    obj = amc(labels={"release": "kps"})
    validate_operator_object(obj)
    text = json.dumps(obj)
    assert not [s for s in SECRETS if s in text]
    assert obj["metadata"] == {"name": "mplp", "namespace": "mplp-production", "labels": {"release": "kps"}}
    route = obj["spec"]["route"]
    assert (route["receiver"], route["groupBy"], route["groupWait"]) == ("ops", am.DEFAULT_GROUP_BY, "30s")
    assert route["routes"][1]["matchers"] == [
        {"name": "severity", "value": "critical|warning", "matchType": "=~"},
        {"name": "platform", "value": "mplp", "matchType": "="},
    ]
    assert route["routes"][0]["continue"] is True and "continue" not in route["routes"][1]


def selectors(node):
    """Every {name, key} SecretKeySelector in an object."""
    if isinstance(node, dict):
        if set(node) == {"name", "key"}:
            yield node
        for value in node.values():
            yield from selectors(value)
    elif isinstance(node, list):
        for value in node:
            yield from selectors(value)


def test_every_secret_the_config_refers_to_is_in_the_secret_and_only_those():
    (secret,) = am.alertmanager_secrets(ROUTING, SECRET, "mplp-production")
    referenced = {(s["name"], s["key"]) for s in selectors(amc()["spec"])}
    assert referenced == {(SECRET, key) for key in secret["data"]}
    assert set(SECRETS) <= set(secret["data"].values())
    assert secret["namespace"] == "mplp-production"
    assert am.secret_keys(ROUTING) == sorted(secret["data"])


def test_no_secret_no_secret_object():
    routing = {"receivers": [{"name": "hook", "webhook": {"url": "http://127.0.0.1:1/"}}]}
    assert am.alertmanager_secrets(routing, SECRET, "ns") == []
    assert am.secret_files(routing, DIR) == []
    assert am.alertmanager_file(routing, DIR)["route"] == {
        "receiver": "hook",
        "group_by": am.DEFAULT_GROUP_BY,
    }


def file_paths(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file"):
                yield value
            else:
                yield from file_paths(value)
    elif isinstance(node, list):
        for value in node:
            yield from file_paths(value)


def test_the_file_form_reads_each_secret_from_a_file_it_is_given():
    config = am.alertmanager_file(ROUTING, DIR + "/")
    assert not [s for s in SECRETS if s in json.dumps(config)]
    files = am.secret_files(ROUTING, DIR)
    assert sorted(file_paths(config)) == sorted(
        f["path"] for f in files if not f["path"].endswith("-username")
    )
    assert {f["content"] for f in files} >= set(SECRETS)
    assert all(f["path"].startswith(DIR + "/") for f in files)
    basic = config["receivers"][1]["webhook_configs"][1]["http_config"]["basic_auth"]
    assert basic["username"] == "am"  # not a secret: inline in the file form
    assert config["route"]["routes"][1] == {
        "receiver": "team",
        "matchers": ['severity=~"critical|warning"', 'platform="mplp"'],
        "repeat_interval": "1h",
    }


def test_the_file_form_needs_an_absolute_secrets_directory():
    with pytest.raises(am.RoutingError, match="absolute path"):
        am.alertmanager_file(ROUTING, "secrets")


def test_values_are_quoted_as_alertmanager_reads_them():
    assert am.matcher_text("msg", "=", 'say "hi"\\\n') == 'msg="say \\"hi\\"\\\\\\n"'
    routing = copy.deepcopy(ROUTING)
    routing["routes"] = [{"match": {"team": ["db.a", "b+c"]}, "receiver": "ops"}]
    assert am.alertmanager_file(routing, DIR)["route"]["routes"][0]["matchers"] == [
        'team=~"db\\\\.a|b\\\\+c"'
    ]


def test_operator_generated_mirrors_the_operator():
    generated = am.operator_generated([amc()])
    assert generated["route"]["receiver"] == am.OPERATOR_ROOT_RECEIVER
    (top,) = generated["route"]["routes"]
    assert top["receiver"] == "mplp-production/mplp/ops"
    assert top["continue"] is True and top["matchers"] == ['namespace="mplp-production"']
    assert [r["receiver"] for r in top["routes"]] == [
        "mplp-production/mplp/" + name for name in ("pager", "team", "ops", "blackhole")
    ]
    assert top["routes"][1]["matchers"] == ['severity=~"critical|warning"', 'platform="mplp"']
    assert {r["name"] for r in generated["receivers"]} == {"null"} | {
        "mplp-production/mplp/" + r["name"] for r in ROUTING["receivers"]
    }
    base = {"route": {"receiver": "default", "routes": [{"receiver": "default", "matchers": ['x="y"']}]},
            "receivers": [{"name": "default"}]}  # fmt: skip
    merged = am.operator_generated([amc()], base)
    assert [r["receiver"] for r in merged["route"]["routes"]] == ["mplp-production/mplp/ops", "default"]
    assert base["route"]["routes"] == [{"receiver": "default", "matchers": ['x="y"']}]  # not changed


def change(path, value):
    routing = copy.deepcopy(ROUTING)
    node = routing
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        node.pop(path[-1])
    else:
        node[path[-1]] = value
    return routing


@pytest.mark.parametrize(
    "routing, message",
    [
        (change(("receivers", 0, "slack", "api_url"), ""), "receiver 'pager' slack #0 api_url is empty"),
        (change(("receivers", 0, "slack", "api_url"), "hooks.slack.com/x-secret"), "api_url is not an http"),
        (change(("receivers", 0, "slack", "channel"), None), "needs a channel"),
        (
            change(("receivers", 1, "webhook", 0, "basic_auth"), {"username": "a", "password": "b"}),
            "exclude each",
        ),
        (
            change(("receivers", 1, "webhook", 1, "basic_auth", "password"), None),
            "basic_auth.password is empty",
        ),
        (change(("receivers", 2, "email", "auth_password"), None), "email #0 auth_password is empty"),
        (change(("receivers", 2, "email", "smarthost"), "smtp.example.com"), "host:port"),
        (change(("receivers", 3), {"name": "pager"}), "given twice"),
        (change(("receivers", 3, "pagerduty"), {}), "unknown field"),
        (change(("routes", 0, "receiver"), "nobody"), "route #0: receiver 'nobody' is not a receiver"),
        (change(("routes", 2, "match"), {}), "route #2 matches every alert"),
        (change(("routes", 2, "match"), {"bad-label": "x"}), "is not a label name"),
        (change(("routes", 1, "repeat_interval"), "1 hour"), "repeat_interval '1 hour' is not a duration"),
        (change(("default_receiver",), "nobody"), "default_receiver 'nobody'"),
        (change(("receivers",), []), "no receivers"),
    ],
)
def test_problems_name_the_place_and_never_a_secret(routing, message):
    with pytest.raises(am.RoutingError, match=message) as err:
        am.model(routing)
    assert not [s for s in SECRETS + ("x-secret",) if s in str(err.value)]
    assert am.problems(routing) == [str(err.value)]


def test_a_valid_routing_has_no_problems_and_the_first_receiver_is_the_default():
    assert am.problems(ROUTING) == []
    assert am.model(change(("default_receiver",), KeyError))["default_receiver"] == "pager"
