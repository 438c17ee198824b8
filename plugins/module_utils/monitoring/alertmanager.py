# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager routing from the inventory, in the two forms Alertmanager can be given it.

The inventory describes the routing once (``routing``):

    receivers:                       # Slack, webhook and email integrations per receiver
      - name: pager
        slack: {channel: "#mplp-critical", api_url: "{{ vault_slack_url }}"}
      - name: ops
        webhook: {url: https://hooks.example.com/alerts, bearer_token: "{{ vault_hook_token }}"}
        # or basic_auth: {username: alertmanager, password: "{{ vault_hook_password }}"}
      - name: team
        email: {to: ops@example.com, from: am@example.com, smarthost: smtp.example.com:587,
                auth_username: am, auth_password: "{{ vault_smtp_password }}"}
    routes:                          # first match wins unless `continue`
      - {severity: critical, receiver: pager, continue: true}
      - {severity: [critical, warning], platform: mplp, receiver: team}
      - {match: {team: database}, receiver: ops}
    default_receiver: ops            # the first receiver when not given
    group_by: [alertname, platform, severity]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h

Secrets (the Slack URL, a webhook's bearer token or basic-auth password, the SMTP password)
never go into a configuration or an object: each gets a key (``<receiver>-<integration>-<n>-
<field>``), and the configuration refers to it.

- Operator form: an ``AlertmanagerConfig`` (monitoring.coreos.com/v1alpha1) whose receivers
  refer to keys of one Secret (the operator reads them by SecretKeySelector), and that Secret.
- File form: an ``alertmanager.yml`` whose receivers read each secret from a file
  (``api_url_file``, ``credentials_file``, ``password_file``, ``auth_password_file``) in a
  directory beside it, and those files.

:func:`operator_generated` is what the operator (v0.93, pkg/alertmanager/amcfg.go) makes of an
AlertmanagerConfig in the Alertmanager's configuration, so that the two forms can be shown
to route alike with ``amtool config routes test``.

Pure functions over dicts; a RoutingError names the receiver or route and the field, never a
secret's value.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring.scrape import duration_ms

API_VERSION = "monitoring.coreos.com/v1alpha1"
KIND = "AlertmanagerConfig"
INTEGRATIONS = ("slack", "webhook", "email")
ROUTE_FIELDS = (
    "receiver",
    "severity",
    "platform",
    "match",
    "continue",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
)
TIMING = ("group_wait", "group_interval", "repeat_interval")
DEFAULT_GROUP_BY = ["alertname", "platform", "severity"]
FIELDS = {
    "slack": ("api_url", "channel", "send_resolved", "title", "text", "username"),
    "webhook": ("url", "bearer_token", "basic_auth", "send_resolved", "max_alerts"),
    "email": (
        "to",
        "from",
        "smarthost",
        "auth_username",
        "auth_password",
        "require_tls",
        "hello",
        "send_resolved",
    ),
}
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RECEIVER_NAME = re.compile(r"^[A-Za-z0-9][-._A-Za-z0-9 ]*$")
SECRET_KEY = re.compile(r"[^-._a-zA-Z0-9]+")
URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
SMARTHOST = re.compile(r"^[^\s:]+:[0-9]+$")
# The receiver every alert reaches when no route of any AlertmanagerConfig matches it, in an
# Alertmanager whose own configuration the operator generates (kube-prometheus-stack's).
OPERATOR_ROOT_RECEIVER = "null"


class RoutingError(ValueError):
    """A routing description that cannot be used; the message names where, never a secret."""


# ------------------------------------------------------------------ the description, checked


def _listed(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _text(value):
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _secret_key(*parts):
    return SECRET_KEY.sub("-", "-".join(str(p) for p in parts)).strip("-.").lower()


def _secret(model, where, key, value):
    """Keep a secret's value under its key; the configuration only ever names the key."""
    value = _text(value)
    if not value:
        raise RoutingError("%s is empty (is its vault variable set?)" % where)
    if key in model["secrets"] and model["secrets"][key] != value:
        raise RoutingError("%s: its secret key %s is already used by another receiver" % (where, key))
    model["secrets"][key] = value
    return key


def _bool(value, where):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "false", "no"):
        return value.lower() in ("true", "yes")
    raise RoutingError("%s must be true or false, got %r" % (where, value))


def _check_fields(given, known, where):
    if not isinstance(given, dict):
        raise RoutingError("%s must be a dict" % where)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise RoutingError(
            "%s: unknown field(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(known))
        )


def _slack(model, name, index, given):
    where = "receiver '%s' slack #%d" % (name, index)
    _check_fields(given, FIELDS["slack"], where)
    if not given.get("channel"):
        raise RoutingError("%s needs a channel" % where)
    url = _text(given.get("api_url"))
    if url and not URL.match(url):
        raise RoutingError("%s: api_url is not an http(s) URL" % where)  # its value is a secret
    config = {"channel": _text(given["channel"])}
    config["api_url"] = _secret(model, where + " api_url", _secret_key(name, "slack", index, "api-url"), url)
    for field in ("title", "text", "username"):
        if given.get(field) is not None:
            config[field] = _text(given[field])
    config["send_resolved"] = _bool(given.get("send_resolved"), where + " send_resolved")
    return config


def _webhook(model, name, index, given):
    where = "receiver '%s' webhook #%d" % (name, index)
    _check_fields(given, FIELDS["webhook"], where)
    url = _text(given.get("url"))
    if not URL.match(url):
        raise RoutingError("%s: url %r is not an http(s) URL" % (where, url))
    config = {"url": url, "auth": None}
    if given.get("bearer_token") is not None and given.get("basic_auth") is not None:
        raise RoutingError("%s: bearer_token and basic_auth exclude each other" % where)
    if given.get("bearer_token") is not None:
        key = _secret(
            model,
            where + " bearer_token",
            _secret_key(name, "webhook", index, "bearer"),
            given["bearer_token"],
        )
        config["auth"] = {"type": "bearer", "credentials_key": key}
    elif given.get("basic_auth") is not None:
        basic = given["basic_auth"]
        _check_fields(basic, ("username", "password"), where + " basic_auth")
        if not _text(basic.get("username")):
            raise RoutingError("%s basic_auth needs a username" % where)
        password = _secret(
            model,
            where + " basic_auth.password",
            _secret_key(name, "webhook", index, "password"),
            basic.get("password"),
        )
        # The operator reads the username from the Secret too (monitoringv1.BasicAuth).
        username_key = _secret_key(name, "webhook", index, "username")
        model["secrets"][username_key] = _text(basic["username"])
        config["auth"] = {"type": "basic", "username": _text(basic["username"]), "username_key": username_key}
        config["auth"]["password_key"] = password
    max_alerts = given.get("max_alerts")
    if max_alerts is not None:
        if isinstance(max_alerts, bool) or not str(max_alerts).isdigit():
            raise RoutingError("%s: max_alerts must be a number >= 0, got %r" % (where, max_alerts))
        config["max_alerts"] = int(max_alerts)
    config["send_resolved"] = _bool(given.get("send_resolved"), where + " send_resolved")
    return config


def _email(model, name, index, given):
    where = "receiver '%s' email #%d" % (name, index)
    _check_fields(given, FIELDS["email"], where)
    for field in ("to", "from", "smarthost"):
        if not _text(given.get(field)):
            raise RoutingError("%s needs %s" % (where, field))
    if not SMARTHOST.match(_text(given["smarthost"])):
        raise RoutingError("%s: smarthost %r must be host:port" % (where, given["smarthost"]))
    config = {field: _text(given[field]) for field in ("to", "from", "smarthost")}
    if given.get("hello") is not None:
        config["hello"] = _text(given["hello"])
    if given.get("auth_username") is not None:
        config["auth_username"] = _text(given["auth_username"])
        config["auth_password"] = _secret(
            model,
            where + " auth_password",
            _secret_key(name, "email", index, "password"),
            given.get("auth_password"),
        )
    elif given.get("auth_password") is not None:
        raise RoutingError("%s: auth_password needs auth_username" % where)
    config["require_tls"] = _bool(given.get("require_tls"), where + " require_tls")
    config["send_resolved"] = _bool(given.get("send_resolved"), where + " send_resolved")
    return config


BUILDERS = {"slack": _slack, "webhook": _webhook, "email": _email}


def _matchers(route, where):
    """``severity``/``platform``/``match`` -> ``[(label, op, value)]``; a list of values is one
    regex matcher (Alertmanager anchors it)."""
    result = []
    match = route.get("match") or {}
    if not isinstance(match, dict):
        raise RoutingError("%s: match must map label names to values" % where)
    labels = [(k, route[k]) for k in ("severity", "platform") if route.get(k) not in (None, "", [])]
    labels += sorted(match.items())
    for label, value in labels:
        if not isinstance(label, str) or not LABEL_NAME.match(label):
            raise RoutingError("%s: %r is not a label name" % (where, label))
        values = [_text(v) for v in _listed(value)]
        if not values or not all(values):
            raise RoutingError("%s: label %s needs a value" % (where, label))
        if len(values) == 1:
            result.append((label, "=", values[0]))
        else:
            result.append((label, "=~", "|".join(re.escape(v) for v in values)))
    return result


def _timing(given, where):
    timing = {}
    for field in TIMING:
        value = given.get(field)
        if value in (None, ""):
            continue
        if not duration_ms(_text(value)):
            raise RoutingError("%s: %s %r is not a duration above 0 (like 5m)" % (where, field, value))
        timing[field] = _text(value)
    if given.get("group_by") is not None:
        group_by = _listed(given["group_by"])
        if not all(isinstance(g, str) and (g == "..." or LABEL_NAME.match(g)) for g in group_by):
            raise RoutingError(
                "%s: group_by must be label names (or ...), got %r" % (where, given["group_by"])
            )
        timing["group_by"] = group_by
    return timing


def model(routing):
    """The checked, normalised routing: ``{receivers, routes, default_receiver, root, secrets}``
    (``secrets`` maps each key to its value; nothing else holds a value)."""
    if not isinstance(routing, dict):
        raise RoutingError("the routing must be a dict, got %s" % type(routing).__name__)
    result = {"receivers": [], "routes": [], "secrets": {}}
    names = []
    for index, given in enumerate(_listed(routing.get("receivers"))):
        if not isinstance(given, dict) or not _text(given.get("name")):
            raise RoutingError("receiver #%d has no name" % index)
        name = _text(given["name"])
        if not RECEIVER_NAME.match(name):
            raise RoutingError("receiver name %r: letters, digits, -, ., _ and spaces only" % name)
        if name in names:
            raise RoutingError("receiver '%s' is given twice" % name)
        _check_fields(given, ("name",) + INTEGRATIONS, "receiver '%s'" % name)
        names.append(name)
        receiver = {"name": name}
        for kind in INTEGRATIONS:
            receiver[kind] = [
                BUILDERS[kind](result, name, i, item) for i, item in enumerate(_listed(given.get(kind)))
            ]
        result["receivers"].append(receiver)
    if not names:
        raise RoutingError("no receivers: describe at least one (Slack, webhook or email)")
    default = _text(routing.get("default_receiver")) or names[0]
    if default not in names:
        raise RoutingError("default_receiver '%s' is not a receiver (have: %s)" % (default, ", ".join(names)))
    result["default_receiver"] = default
    root = {"group_by": list(DEFAULT_GROUP_BY)}
    root.update(_timing(routing, "the routing"))
    result["root"] = root
    for index, given in enumerate(_listed(routing.get("routes"))):
        where = "route #%d" % index
        if not isinstance(given, dict):
            raise RoutingError("%s must be a dict" % where)
        _check_fields(given, ROUTE_FIELDS, where)
        receiver = _text(given.get("receiver"))
        if receiver not in names:
            raise RoutingError(
                "%s: receiver %r is not a receiver (have: %s)" % (where, receiver or None, ", ".join(names))
            )
        matchers = _matchers(given, where)
        if not matchers:
            raise RoutingError("%s matches every alert: give severity, platform or match" % where)
        route = {
            "receiver": receiver,
            "matchers": matchers,
            "continue": bool(_bool(given.get("continue"), where)),
        }
        route.update(_timing(given, where))
        result["routes"].append(route)
    return result


def problems(routing):
    """What is wrong with the routing, as a list of sentences (empty when it is usable); never
    a secret's value."""
    try:
        model(routing)
    except RoutingError as exc:
        return [str(exc)]
    return []


def secret_keys(routing):
    """The keys of the routing's secrets (names only), sorted."""
    return sorted(model(routing)["secrets"])


# ------------------------------------------------------------------------ shared pieces


def escape(value):
    """A matcher's value as Alertmanager (and the operator's openMetricsEscape) quotes it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def matcher_text(label, op, value):
    return '%s%s"%s"' % (label, op, escape(value))


def _set(target, key, value):
    if value is not None:
        target[key] = value


# ------------------------------------------------------------------------ operator form


def _selector(secret_name, key):
    return {"name": secret_name, "key": key}


def _operator_receiver(receiver, secret_name):
    out = {"name": receiver["name"]}
    slack = []
    for item in receiver["slack"]:
        config = {"apiURL": _selector(secret_name, item["api_url"]), "channel": item["channel"]}
        for field in ("title", "text", "username"):
            _set(config, field, item.get(field))
        _set(config, "sendResolved", item["send_resolved"])
        slack.append(config)
    webhooks = []
    for item in receiver["webhook"]:
        config = {"url": item["url"]}
        auth = item["auth"]
        if auth and auth["type"] == "bearer":
            config["httpConfig"] = {
                "authorization": {
                    "type": "Bearer",
                    "credentials": _selector(secret_name, auth["credentials_key"]),
                }
            }
        elif auth:
            config["httpConfig"] = {
                "basicAuth": {
                    "username": _selector(secret_name, auth["username_key"]),
                    "password": _selector(secret_name, auth["password_key"]),
                }
            }
        _set(config, "maxAlerts", item.get("max_alerts"))
        _set(config, "sendResolved", item["send_resolved"])
        webhooks.append(config)
    emails = []
    for item in receiver["email"]:
        config = {"to": item["to"], "from": item["from"], "smarthost": item["smarthost"]}
        _set(config, "hello", item.get("hello"))
        if item.get("auth_username") is not None:
            config["authUsername"] = item["auth_username"]
            config["authPassword"] = _selector(secret_name, item["auth_password"])
        _set(config, "requireTLS", item["require_tls"])
        _set(config, "sendResolved", item["send_resolved"])
        emails.append(config)
    for key, configs in (("slackConfigs", slack), ("webhookConfigs", webhooks), ("emailConfigs", emails)):
        if configs:
            out[key] = configs
    return out


def _operator_timing(source, target):
    _set(target, "groupBy", source.get("group_by"))
    for field, key in (
        ("group_wait", "groupWait"),
        ("group_interval", "groupInterval"),
        ("repeat_interval", "repeatInterval"),
    ):
        _set(target, key, source.get(field))


def alertmanager_config(routing, name, namespace, secret_name, labels=None):
    """The ``AlertmanagerConfig`` of the routing (no secret in it: its receivers name keys of
    the Secret ``secret_name``, which :func:`alertmanager_secrets` gives)."""
    checked = model(routing)
    route = {"receiver": checked["default_receiver"]}
    _operator_timing(checked["root"], route)
    children = []
    for given in checked["routes"]:
        child = {
            "receiver": given["receiver"],
            "matchers": [
                {"name": label, "value": value, "matchType": op} for label, op, value in given["matchers"]
            ],
        }
        if given["continue"]:
            child["continue"] = True
        _operator_timing(given, child)
        children.append(child)
    if children:
        route["routes"] = children
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": meta,
        "spec": {
            "route": route,
            "receivers": [_operator_receiver(r, secret_name) for r in checked["receivers"]],
        },
    }


def alertmanager_secrets(routing, secret_name, namespace, labels=None):
    """The Secret the AlertmanagerConfig reads, as an entry of k8s_apply's ``secrets`` (whose
    values the module never shows); an empty list when no receiver has a secret."""
    secrets = model(routing)["secrets"]
    if not secrets:
        return []
    entry = {"name": secret_name, "namespace": namespace, "data": dict(sorted(secrets.items()))}
    if labels:
        entry["labels"] = dict(labels)
    return [entry]


# ---------------------------------------------------------------------------- file form


def _path(secrets_dir, key):
    return "%s/%s" % (secrets_dir.rstrip("/"), key)


def _file_receiver(receiver, secrets_dir):
    out = {"name": receiver["name"]}
    slack = []
    for item in receiver["slack"]:
        config = {"api_url_file": _path(secrets_dir, item["api_url"]), "channel": item["channel"]}
        for field in ("title", "text", "username"):
            _set(config, field, item.get(field))
        _set(config, "send_resolved", item["send_resolved"])
        slack.append(config)
    webhooks = []
    for item in receiver["webhook"]:
        config = {"url": item["url"]}
        auth = item["auth"]
        if auth and auth["type"] == "bearer":
            config["http_config"] = {
                "authorization": {
                    "type": "Bearer",
                    "credentials_file": _path(secrets_dir, auth["credentials_key"]),
                }
            }
        elif auth:
            config["http_config"] = {
                "basic_auth": {
                    "username": auth["username"],
                    "password_file": _path(secrets_dir, auth["password_key"]),
                }
            }
        _set(config, "max_alerts", item.get("max_alerts"))
        _set(config, "send_resolved", item["send_resolved"])
        webhooks.append(config)
    emails = []
    for item in receiver["email"]:
        config = {"to": item["to"], "from": item["from"], "smarthost": item["smarthost"]}
        _set(config, "hello", item.get("hello"))
        if item.get("auth_username") is not None:
            config["auth_username"] = item["auth_username"]
            config["auth_password_file"] = _path(secrets_dir, item["auth_password"])
        _set(config, "require_tls", item["require_tls"])
        _set(config, "send_resolved", item["send_resolved"])
        emails.append(config)
    for key, configs in (("slack_configs", slack), ("webhook_configs", webhooks), ("email_configs", emails)):
        if configs:
            out[key] = configs
    return out


def _file_timing(source, target):
    for field in ("group_by",) + TIMING:
        _set(target, field, source.get(field))


def alertmanager_file(routing, secrets_dir):
    """The ``alertmanager.yml`` of the routing (a dict); each secret is read from its file in
    ``secrets_dir`` (:func:`secret_files`), so the configuration holds none."""
    if not isinstance(secrets_dir, str) or not secrets_dir.startswith("/"):
        raise RoutingError("the secrets directory must be an absolute path, got %r" % (secrets_dir,))
    checked = model(routing)
    route = {"receiver": checked["default_receiver"]}
    _file_timing(checked["root"], route)
    children = []
    for given in checked["routes"]:
        child = {"receiver": given["receiver"], "matchers": [matcher_text(*m) for m in given["matchers"]]}
        if given["continue"]:
            child["continue"] = True
        _file_timing(given, child)
        children.append(child)
    if children:
        route["routes"] = children
    return {"route": route, "receivers": [_file_receiver(r, secrets_dir) for r in checked["receivers"]]}


def secret_files(routing, secrets_dir):
    """``[{path, content}]``: the files the file form's receivers read their secrets from."""
    return [
        {"path": _path(secrets_dir, key), "content": value}
        for key, value in sorted(model(routing)["secrets"].items())
    ]


# ------------------------------------------------------- what the operator makes of it


def _operator_matchers(matchers):
    out = []
    for m in matchers or []:
        op = m.get("matchType")
        if not op:  # the deprecated form: regex true/false
            op = "=~" if m.get("regex") else "="
        out.append(matcher_text(m["name"], op, m.get("value", "")))
    return out


def _operator_route(route, prefix):
    out = {"receiver": prefix + route["receiver"]} if route.get("receiver") else {}
    for key, field in (
        ("groupBy", "group_by"),
        ("groupWait", "group_wait"),
        ("groupInterval", "group_interval"),
        ("repeatInterval", "repeat_interval"),
    ):
        _set(out, field, route.get(key))
    matchers = _operator_matchers(route.get("matchers"))
    if matchers:
        out["matchers"] = matchers
    if route.get("continue"):
        out["continue"] = True
    if route.get("routes"):
        out["routes"] = [_operator_route(child, prefix) for child in route["routes"]]
    return out


def operator_generated(configs, base=None):
    """The Alertmanager configuration the Prometheus Operator generates from AlertmanagerConfig
    objects (its default matcher strategy, OnNamespace), mirroring pkg/alertmanager/amcfg.go
    of v0.93: each object's route becomes a first-level route whose receivers are prefixed
    ``<namespace>/<name>/``, with a ``namespace="<its namespace>"`` matcher added and
    ``continue: true`` set, placed before the routes of the base configuration (the
    Alertmanager's own; by default a root receiver ``null`` that notifies nobody). Receivers
    come out by name only: their integrations read the Secrets, which this does not."""
    out = copy.deepcopy(base) if base else {"route": {"receiver": OPERATOR_ROOT_RECEIVER}, "receivers": []}
    out.setdefault("receivers", [])
    if not base:
        out["receivers"].append({"name": OPERATOR_ROOT_RECEIVER})
    routes = []
    for obj in sorted(configs, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"])):
        meta, spec = obj["metadata"], obj.get("spec") or {}
        prefix = "%s/%s/" % (meta["namespace"], meta["name"])
        if spec.get("route"):
            top = _operator_route(spec["route"], prefix)
            top.setdefault("matchers", []).append(matcher_text("namespace", "=", meta["namespace"]))
            top["continue"] = True
            routes.append(top)
        out["receivers"].extend({"name": prefix + r["name"]} for r in spec.get("receivers") or [])
    out["route"]["routes"] = routes + (out["route"].get("routes") or [])
    return out
