"""Health decisions: every rule of the table, statuses, score, overrides."""

import itertools

import pytest
from factories import NOW, component, deployment, endpoint, event, pod

from ansible_collections.multiagent.ops.plugins.module_utils.health import rules as health


def run(
    components=(),
    endpoints=(),
    dependencies=(),
    unavailable=(),
    events=(),
    rules=None,
    thresholds=None,
    pod_components=None,
):
    obs = {
        "components": list(components),
        "endpoints": list(endpoints),
        "dependencies": list(dependencies),
        "unavailable": list(unavailable),
        "events": list(events),
        "pod_components": pod_components or {},
    }
    return health.evaluate(obs, rules=rules, thresholds=thresholds, now=NOW)


def healthy_core(n=2):
    return component(
        "core", deployment("mplp-core", n), [pod("core-%d" % i, owner_name="rs") for i in range(n)]
    )


def rules_of(report, component_name=None):
    return sorted(
        f["rule"] for f in report["findings"] if component_name is None or f["component"] == component_name
    )


def test_all_healthy_scores_100():
    report = run([healthy_core()], [endpoint("/health", component="core")])
    assert report["status"] == "healthy"
    assert report["score"] == 100
    assert report["findings"] == []
    assert report["components"]["core"]["status"] == "healthy"
    assert report["critical"] is False


# rule table: (description, component factory, expected rule, severity, component status)
CASES = [
    (
        "no ready replica",
        lambda: component(
            "core",
            deployment("mplp-core", 2, ready=0, available=0),
            [pod("p1", ready=False), pod("p2", ready=False)],
        ),
        "no_ready_replica",
        "critical",
        "down",
    ),
    (
        "workload missing",
        lambda: component("core", None, []),
        "workload_missing",
        "critical",
        "down",
    ),
    (
        "crashloop with another ready replica",
        lambda: component(
            "core",
            deployment("mplp-core", 2, ready=1),
            [pod("p1"), pod("p2", ready=False, waiting="CrashLoopBackOff", restarts=7)],
        ),
        "pod_crashloop",
        "critical",
        "degraded",
    ),
    (
        "image pull back-off",
        lambda: component(
            "core",
            deployment("mplp-core", 2, ready=1),
            [pod("p1"), pod("p2", ready=False, phase="Pending", waiting="ImagePullBackOff")],
        ),
        "pod_image_pull",
        "critical",
        "degraded",
    ),
    (
        "unavailable replicas",
        lambda: component("core", deployment("mplp-core", 3, ready=2), [pod("p1"), pod("p2")]),
        "replicas_unavailable",
        "warning",
        "degraded",
    ),
    (
        "restarts within the hour (young pod)",
        lambda: component("core", deployment("mplp-core", 1), [pod("p1", restarts=3, age=1800)]),
        "pod_restarts",
        "warning",
        "degraded",
    ),
    (
        "restarts of an old pod, last one recent",
        lambda: component(
            "core", deployment("mplp-core", 1), [pod("p1", restarts=5, age=86400, last_termination_ago=600)]
        ),
        "pod_restarts",
        "warning",
        "degraded",
    ),
    (
        "pending longer than five minutes",
        lambda: component(
            "core",
            deployment("mplp-core", 2, ready=1),
            [
                pod("p1"),
                pod(
                    "p2",
                    ready=False,
                    phase="Pending",
                    age=400,
                    pending_message="0/3 nodes are available: insufficient cpu",
                ),
            ],
        ),
        "pod_pending",
        "warning",
        "degraded",
    ),
    (
        "rollout stalled",
        lambda: component(
            "core", deployment("mplp-core", 2, progressing="ProgressDeadlineExceeded"), [pod("p1"), pod("p2")]
        ),
        "rollout_stalled",
        "warning",
        "degraded",
    ),
]


@pytest.mark.parametrize("desc,factory,rule,severity,status", CASES, ids=[c[0] for c in CASES])
def test_rule_table(desc, factory, rule, severity, status):
    report = run([factory()])
    found = [f for f in report["findings"] if f["rule"] == rule]
    assert found, "expected %s in %s" % (rule, rules_of(report))
    assert found[0]["severity"] == severity
    assert found[0]["component"] == "core"
    assert report["components"]["core"]["status"] == status
    if severity == "critical":
        assert report["score"] <= 50
        assert report["critical"] is True
    else:
        assert 50 < report["score"] < 100


def test_restart_rule_ignores_old_restarts_and_low_counts():
    old = component(
        "core",
        deployment("mplp-core", 2),
        [pod("p1", restarts=9, age=86400, last_termination_ago=7200), pod("p2", restarts=2, age=60)],
    )
    report = run([old])
    assert rules_of(report) == []


def test_pending_younger_than_threshold_is_not_a_finding():
    comp = component(
        "core",
        deployment("mplp-core", 2, ready=2),
        [pod("p1"), pod("p2"), pod("p3", ready=False, phase="Pending", age=100)],
    )
    assert "pod_pending" not in rules_of(run([comp]))


def test_crashloop_without_ready_replica_is_down():
    comp = component(
        "core",
        deployment("mplp-core", 1, ready=0, available=0),
        [pod("p1", ready=False, waiting="CrashLoopBackOff", restarts=4, age=600)],
    )
    report = run([comp], rules={"no_ready_replica": {"enabled": False}})
    assert rules_of(report) == ["pod_crashloop"]  # restarts not reported twice
    assert report["components"]["core"]["status"] == "down"


def test_ready_pods_seen_directly_win_over_a_lagging_status():
    comp = component("core", deployment("mplp-core", 2, ready=0, available=0), [pod("p1"), pod("p2")])
    assert "no_ready_replica" not in rules_of(run([comp]))


def test_scaled_to_zero_is_reported_as_such():
    comp = component("core", deployment("mplp-core", 0, ready=0, available=0), [])
    report = run([comp])
    assert report["findings"][0]["rule"] == "no_ready_replica"
    assert "scaled to zero" in report["findings"][0]["message"]


def test_all_endpoints_of_a_component_failing_is_down():
    report = run([healthy_core()], [endpoint("/api/v1/core/health", ok=False, component="core")])
    assert rules_of(report, "core") == ["endpoints_all_failing"]
    assert report["components"]["core"]["status"] == "down"
    assert "/api/v1/core/health" in report["findings"][0]["message"]


def test_one_of_several_endpoints_failing_is_degraded():
    eps = [endpoint("/health", component="core"), endpoint("/ready", ok=False, status=503, component="core")]
    report = run([healthy_core()], eps)
    assert rules_of(report) == ["endpoint_failing"]
    assert report["findings"][0]["severity"] == "warning"
    assert report["components"]["core"]["status"] == "degraded"


def test_slow_endpoint_uses_p95_of_probes():
    slow = endpoint("/health", latencies=(0.1, 0.2, 2.5), component="core")
    fast = endpoint("/ready", latencies=(0.1, 1.9, 1.9), component="core")
    report = run([healthy_core()], [slow, fast])
    assert rules_of(report) == ["endpoint_slow"]
    assert report["findings"][0]["object"] == "Endpoint//health"
    assert report["findings"][0]["details"]["p95_seconds"] == 2.5


def test_endpoints_without_component_go_to_platform():
    report = run([healthy_core()], [endpoint("/health", ok=False)])
    assert report["components"]["platform"]["status"] == "down"
    assert report["status"] == "degraded"


def test_dependency_unreachable_is_critical_down():
    deps = [
        {"name": "redis", "type": "cache", "ok": False, "error": "Connection refused"},
        {"name": "postgresql", "type": "database", "ok": True, "latency": 0.01},
    ]
    report = run([healthy_core()], dependencies=deps)
    assert rules_of(report) == ["dependency_unreachable"]
    assert report["components"]["redis"]["status"] == "down"
    assert report["components"]["postgresql"]["status"] == "healthy"
    assert "Connection refused" in report["findings"][0]["message"]


def test_check_unavailable_marks_components_unknown_but_known_trouble_wins():
    unavailable = [{"check": "pods", "component": None, "error": "permission denied to list pods"}]
    eps = [endpoint("/x", ok=False, component="plan")]
    comps = [healthy_core(), component("plan", deployment("mplp-plan", 1), [pod("x")])]
    report = run(comps, eps, unavailable=unavailable)
    assert report["components"]["core"]["status"] == "unknown"
    assert report["components"]["plan"]["status"] == "down"
    unknown = [f for f in report["findings"] if f["rule"] == "check_unavailable"]
    assert {f["component"] for f in unknown} == {"core", "plan"}
    assert all(f["severity"] == "unknown" for f in unknown)


def test_overall_down_only_when_every_workload_is_down():
    down = component("core", None, [])
    assert run([down])["status"] == "down"
    assert run([down, component("plan", deployment("mplp-plan", 1), [pod("a")])])["status"] == "degraded"


def test_severity_override_and_disable():
    comp = component("core", deployment("mplp-core", 3, ready=2), [pod("p1"), pod("p2")])
    report = run([comp], rules={"replicas_unavailable": {"severity": "critical"}})
    assert report["findings"][0]["severity"] == "critical"
    assert report["score"] <= 50
    assert report["components"]["core"]["status"] == "degraded"  # the effect is the rule's
    assert run([comp], rules={"replicas_unavailable": {"enabled": False}})["findings"] == []


def test_threshold_override():
    comp = component("core", deployment("mplp-core", 1), [pod("p1", restarts=3, age=600)])
    assert rules_of(run([comp], thresholds={"restarts": 5})) == []
    eps = [endpoint("/health", latencies=(0.6, 0.6, 0.6), component="core")]
    assert rules_of(run([healthy_core()], eps, thresholds={"slow_p95": 0.5})) == ["endpoint_slow"]


@pytest.mark.parametrize(
    "rules,thresholds,message",
    [
        ({"no_such_rule": {}}, None, "unknown health rule 'no_such_rule'"),
        ({"pod_restarts": {"severity": "fatal"}}, None, "severity 'fatal' is not one of"),
        ({"pod_restarts": {"colour": "red"}}, None, "unknown key 'colour'"),
        (None, {"restarts": "many"}, "threshold 'restarts' must be a number"),
        (None, {"restarts": -1}, "must be >= 0"),
        (None, {"nope": 1}, "unknown health threshold 'nope'"),
    ],
)
def test_bad_configuration_is_named(rules, thresholds, message):
    with pytest.raises(health.ConfigError, match=message):
        run([healthy_core()], rules=rules, thresholds=thresholds)


def test_recent_events_are_attached_to_components():
    comps = [component("core", deployment("mplp-core", 1), [pod("core-a", owner_name="rs")])]
    events = [
        event("BackOff", "Pod", "core-a", 60),
        event("Old", "Pod", "core-a", 3600),
        event("Pulled", "Pod", "core-a", 30, type_="Normal"),
    ]
    report = run(comps, events=events, pod_components={"core-a": "core"})
    assert [e["reason"] for e in report["events"]] == ["Pulled", "BackOff"]
    assert [e["reason"] for e in report["components"]["core"]["warning_events"]] == ["BackOff"]


def test_findings_sorted_most_severe_first():
    comps = [
        component("core", deployment("mplp-core", 3, ready=2), [pod("p1"), pod("p2")]),
        component("plan", None, []),
    ]
    report = run(comps)
    assert [f["severity"] for f in report["findings"]] == ["critical", "warning"]


# --- score ---------------------------------------------------------------------------
def f(sev):
    return {"severity": sev}


def test_score_bounds():
    assert health.score([]) == 100
    assert health.score([f("info")]) < 100
    assert health.score([f("critical")]) == 50
    assert health.score([f("critical")] * 10) == 0


def test_score_never_rises_when_a_finding_gets_worse():
    order = ["info", "unknown", "warning", "critical"]
    for combo in itertools.product(order, repeat=3):
        base = health.score([f(s) for s in combo])
        for i, sev in enumerate(combo):
            for worse in order[order.index(sev) + 1 :]:
                changed = list(combo)
                changed[i] = worse
                assert health.score([f(s) for s in changed]) <= base, (combo, changed)
        assert health.score([f(s) for s in combo] + [f("info")]) <= base  # adding one never helps


def test_percentile_nearest_rank():
    assert health.percentile([0.1, 0.2, 3.0], 95) == 3.0
    assert health.percentile([1.0] * 19 + [9.0], 95) == 1.0
    assert health.percentile([], 95) is None


def test_only_troubled_pods_are_listed_unless_asked():
    comp = component(
        "core",
        deployment("mplp-core", 3, ready=2),
        [pod("ok-1"), pod("ok-2"), pod("bad", ready=False, waiting="CrashLoopBackOff", restarts=3)],
    )
    report = run([comp])
    core = report["components"]["core"]
    assert core["pod_counts"] == {"total": 3, "ready": 2}
    assert [p["name"] for p in core["pods"]] == ["bad"]
    full = health.evaluate({"components": [comp]}, now=NOW, list_pods=True)
    assert [p["name"] for p in full["components"]["core"]["pods"]] == ["ok-1", "ok-2", "bad"]


def test_events_are_bounded_newest_first():
    events = [event("E%d" % i, "Pod", "p", i) for i in range(80)]
    report = health.evaluate({"components": [], "events": events}, now=NOW, max_events=5)
    assert [e["reason"] for e in report["events"]] == ["E0", "E1", "E2", "E3", "E4"]
    assert report["events_total"] == 80
