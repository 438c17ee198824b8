# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check behind multiagent.ops.platform_health: check the options, take one look
(collect.py), judge it (rules.py) and say whether the Kubernetes API could be used at all.

A health check reports an API it cannot use instead of failing before it looks: the
endpoints, the database and the cache are probed all the same, and the report names the
checks that could not run. So the runner is given ``connect``, which returns the client or
the exception its creation raised (health/module.py), and calls it only once the options
are known to be good.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.health import rules
from ansible_collections.multiagent.ops.plugins.module_utils.health.collect import (
    CollectError,
    Collector,
    normalize_endpoints,
)
from ansible_collections.multiagent.ops.plugins.module_utils.health.probes import InputError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import classify

# The LISTs the health of every component rests on: when they time out, the API is as good
# as unusable. (A forbidden resource, or events timing out, leave only that check unknown.)
ESSENTIAL_SOURCES = ("namespace", "deployments", "replicasets", "statefulsets", "daemonsets", "pods")


def validate(params):
    """The endpoints, normalized; bad options raise OpsError before anything is contacted."""
    if params["probe_attempts"] < 1:
        raise OpsError("probe_attempts must be at least 1, got %d" % params["probe_attempts"])
    if params["probe_timeout"] <= 0:
        raise OpsError("probe_timeout must be > 0, got %s" % params["probe_timeout"])
    try:
        endpoints = normalize_endpoints(params["endpoints"], params["probe_timeout"])
        rules.resolve_rules(params["rules"])
        rules.resolve_thresholds(params["thresholds"])
    except (CollectError, InputError, rules.ConfigError) as exc:
        raise OpsError("Invalid input: %s" % exc) from None
    return endpoints


def api_error(errors, unreachable, findings):
    """Why the Kubernetes API could not be used at all, and which checks did not run; None
    when it could. ``errors``: the ApiError of each source that could not be read;
    ``unreachable``: the ApiError of a client that could not be made (or None)."""
    fatal = [
        err
        for source, err in errors.items()
        if err.fatal or (err.kind == "timeout" and source in ESSENTIAL_SOURCES)
    ]
    if unreachable is not None:
        fatal.insert(0, unreachable)
    if not fatal:
        return None
    not_run = sorted({f["details"]["check"] for f in findings if f["rule"] == "check_unavailable"})
    return "%s; checks not run: %s" % (fatal[0], ", ".join(not_run) or "none")


def run(request, connect):
    """One look at the platform (multiagent.ops.platform_health). ``connect()`` returns
    ``(client, None)``, or ``(None, exception)`` when no client could be made."""
    p = request.params
    endpoints = validate(p)
    client, failure = connect()
    unreachable = None if failure is None else classify(failure, p.get("host"), "connect")
    collector = Collector(
        client,
        p["namespace"],
        label_selector=",".join(p["label_selectors"]) or None,
        reader_error=unreachable,
    )
    try:
        observation, extras = collector.collect(
            components=p["components"],
            endpoints=endpoints,
            database=p["database"],
            cache=p["cache"],
            attempts=p["probe_attempts"],
            discover=p["discover"],
            extra=p["collect"],
            log_tail_lines=p["log_tail_lines"],
            log_pattern=p["log_pattern"],
            log_max_pods=p["log_max_pods"],
        )
    except CollectError as exc:
        raise OpsError(str(exc)) from None
    report = rules.evaluate(
        observation,
        p["rules"],
        p["thresholds"],
        list_pods="pods" in p["collect"],
        max_events=p["max_events"],
    )
    report.update(extras)
    report["namespace"] = p["namespace"]
    report["api_error"] = api_error(collector.errors, unreachable, report["findings"])
    if report["api_error"] and p["fail_on_api_error"]:
        raise OpsError(report["api_error"], report=report, changed=False)
    return {"changed": False, "report": report}
