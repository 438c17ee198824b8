"""cost_report.py (pure): usage per pod from the metrics API and from Prometheus series
grouped by owner, HPA settings, the component's costs and advice, the queries."""

from __future__ import annotations

import math

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import cost, cost_report

MIB, GIB = 2**20, 2**30
PRICE = {"vcpu_hour": 0.05, "gb_hour": 0.01, "currency": "USD"}


def test_quantile_interpolates_between_ranks():
    assert cost_report.quantile([0.4, 0.1, 0.3, 0.2], 0.95) == pytest.approx(0.385)
    assert cost_report.quantile([5], 0.95) == 5
    assert cost_report.quantile(list(range(101)), 0.95) == pytest.approx(95)
    assert cost_report.quantile([], 0.95) is None


def hpa(metrics=None, low=2, high=8, **spec):
    body = {"minReplicas": low, "maxReplicas": high}
    if metrics is not None:
        body["metrics"] = metrics
    body.update(spec)
    return {"metadata": {"name": "mplp-core"}, "spec": body}


def resource(name, pct, kind="Utilization"):
    target = {"type": kind, "averageUtilization": pct} if kind == "Utilization" else {"type": kind}
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def test_hpa_settings_read_both_resource_targets_and_v1():
    got = cost_report.hpa_settings(hpa([resource("cpu", 70), resource("memory", 80)]))
    assert got == {"name": "mplp-core", "min": 2, "max": 8, "cpu_target": 70.0, "memory_target": 80.0}
    # an AverageValue target is no utilisation: the advice then uses the default 80 %
    assert cost_report.hpa_settings(hpa([resource("cpu", None, "AverageValue")]))["cpu_target"] is None
    v1 = cost_report.hpa_settings(hpa(low=None, targetCPUUtilizationPercentage=60))
    assert (v1["min"], v1["cpu_target"]) == (1, 60.0)
    assert cost_report.hpa_settings(None) is None


def owned_pod(name, rs, uid):
    return {
        "metadata": {
            "name": name,
            "uid": uid,
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "uid": "rs-" + rs, "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
    }


def rs(name, deploy):
    return {
        "metadata": {
            "name": name,
            "uid": "rs-" + name,
            "ownerReferences": [
                {"kind": "Deployment", "name": deploy, "uid": "d-" + deploy, "controller": True}
            ],
        }
    }


def pod_metrics(name, cpu, memory):
    return {
        "metadata": {"name": name},
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": memory}}],
    }


def test_instant_usage_is_the_mean_and_p95_across_the_workloads_pods():
    pods = [owned_pod("mplp-core-h-%d" % i, "mplp-core-h", "p%d" % i) for i in range(4)]
    used = [pod_metrics("mplp-core-h-%d" % i, "%dm" % (100 * (i + 1)), "256Mi") for i in range(4)]
    got = cost_report.instant_usage(pods, [rs("mplp-core-h", "mplp-core")], used)
    entry = got[("Deployment", "mplp-core")]
    assert entry["pods"] == 4
    assert entry["mean"] == {"cpu": 0.25, "memory": 256 * MIB}
    assert entry["p95"]["cpu"] == pytest.approx(0.385)
    oversized = cost_report.instant_pods(
        pods, [rs("mplp-core-h", "mplp-core")], used, {("Deployment", "mplp-core"): "core"}, 30, 40
    )
    assert [(p["pod"], p["oversized"], p["component"]) for p in oversized] == [
        ("mplp-core-h-0", ["cpu", "memory"], "core"),
        ("mplp-core-h-1", ["cpu", "memory"], "core"),
        ("mplp-core-h-2", ["memory"], "core"),  # 30 % is not under 30 %
        ("mplp-core-h-3", ["memory"], "core"),
    ]


def series(pod, points):
    return {"metric": {"pod": pod}, "values": [[ts, v] for ts, v in points]}


def test_window_usage_groups_renamed_pods_and_averages_per_pod_at_each_time():
    # A rollout: the old pod until t=300, the new one from t=200; two pods at 200 and 300.
    cpu = [
        series("mplp-core-aaa-1", [(0, 0.2), (100, 0.2), (200, 0.4), (300, 0.4)]),
        series("mplp-core-bbb-1", [(200, 0.2), (300, 0.2), (400, 0.6), (500, 0.6)]),
        series("mplp-plan-ccc-1", [(0, 0.1)]),
        series("other-x", [(0, 9.0)]),  # no workload of ours
    ]
    memory = [series("mplp-core-aaa-1", [(0, 100.0)]), series("mplp-core-bbb-1", [(0, 300.0)])]
    owners = {"mplp-core-aaa-1": "mplp-core", "mplp-core-bbb-1": "mplp-core"}
    got = cost_report.window_usage(cpu, memory, owners, ["mplp-core", "mplp-plan"])
    core = got["mplp-core"]
    # per pod: 0.2, 0.2, 0.3, 0.3, 0.6, 0.6
    assert core["mean"]["cpu"] == pytest.approx(2.2 / 6, abs=1e-4)
    assert core["p95"]["cpu"] == pytest.approx(0.6)
    assert core["mean"]["memory"] == 200 and core["samples"] == 6
    assert core["pods"] == pytest.approx(round(8 / 6, 2))
    assert got["mplp-plan"]["mean"]["memory"] is None
    assert "other-x" not in got


def test_window_pods_use_each_pods_own_requests_and_mean():
    cpu = [series("mplp-core-aaa-1", [(0, 0.1), (1, 0.3)]), series("mplp-core-bbb-1", [(0, 0.8)])]
    memory = [series("mplp-core-aaa-1", [(0, 0.9 * GIB)])]
    requests = cost_report.pod_requests(
        [
            {"metric": {"pod": "mplp-core-aaa-1", "resource": "cpu"}, "value": 1.0},
            {"metric": {"pod": "mplp-core-aaa-1", "resource": "memory"}, "value": float(GIB)},
            {"metric": {"pod": "mplp-core-bbb-1", "resource": "cpu"}, "value": 1.0},
        ]
    )
    got = cost_report.window_pods(cpu, memory, requests, {}, ["mplp-core"], 30, 40)
    assert got == [
        {
            "pod": "mplp-core-aaa-1",
            "component": "mplp-core",
            "cpu_pct": 20.0,
            "memory_pct": 90.0,
            "oversized": ["cpu"],
        },
        {
            "pod": "mplp-core-bbb-1",
            "component": "mplp-core",
            "cpu_pct": 80.0,
            "memory_pct": None,
            "oversized": [],
        },
    ]


def workload(replicas, cpu="1", memory="1Gi", limits=None):
    res = {"requests": {"cpu": cpu, "memory": memory}}
    if limits:
        res["limits"] = limits
    return {
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "a", "resources": res}]}},
        }
    }


TARGET = {"component": "core", "kind": "Deployment", "name": "mplp-core"}


def test_component_cost_utilisation_oversized_and_advice_at_the_hpas_replicas():
    measured = {
        "pods": 4,
        "mean": {"cpu": 0.25, "memory": 256 * MIB},
        "p95": {"cpu": 0.385, "memory": 256 * MIB},
    }
    settings = {"name": "mplp-core", "min": 2, "max": 8, "cpu_target": 70.0, "memory_target": None}
    entry = cost_report.component_entry(
        TARGET, workload(4, limits={"cpu": "2", "memory": "2Gi"}), settings, measured, PRICE, 30, 40
    )
    hours = cost.HOURS_PER_MONTH
    assert entry["monthly"]["total"] == pytest.approx(round(4 * hours * (1 * 0.05 + 1 * 0.01), 2))
    assert entry["limits"] == {"cpu": 2.0, "memory": 2 * GIB}
    assert entry["utilisation"]["mean"] == {"cpu": 25.0, "memory": 25.0}
    assert entry["oversized"] == ["cpu", "memory"]
    advice = entry["advice"]
    # CPU: p95 0.385 over 70 % = 0.55; memory: 256Mi over the default 80 % = 320Mi
    assert advice["requests"] == {"cpu": 0.55, "memory": 320 * MIB}
    # the same load (4 x 0.25) on 0.55-core pods at 70 %: ceil(4 x (0.25 / 0.55) / 0.7) = 3
    assert advice["replicas"] == math.ceil(4 * (0.25 / 0.55 * 100) / 70)
    assert advice["saving"] == pytest.approx(
        entry["monthly"]["total"] - advice["monthly"]["total"], abs=0.011
    )
    assert "core (Deployment mplp-core): 4 replica(s), USD" in entry["message"]
    assert "oversized: cpu, memory" in entry["message"] and "saves USD" in entry["message"]


def test_an_unmeasured_component_is_costed_without_advice_and_totals_count_it_as_is():
    bare = cost_report.component_entry(TARGET, workload(2), None, None, PRICE, 30, 40)
    assert (bare["advice"], bare["utilisation"], bare["oversized"]) == (None, None, [])
    assert bare["message"].endswith("no usage measured: no advice")
    hot = {"pods": 2, "mean": {"cpu": 0.9, "memory": 900 * MIB}, "p95": {"cpu": 0.95, "memory": 950 * MIB}}
    tight = cost_report.component_entry(dict(TARGET, component="plan"), workload(2), None, hot, PRICE, 30, 40)
    assert tight["advice"]["replicas"] == 2  # no HPA: the replicas stay
    assert tight["advice"]["saving"] < 0 and "costs" in tight["message"]
    got = cost_report.totals([bare, tight])
    assert got["monthly"] == pytest.approx(bare["monthly"]["total"] + tight["monthly"]["total"])
    assert got["advised_monthly"] == pytest.approx(
        bare["monthly"]["total"] + tight["advice"]["monthly"]["total"]
    )
    assert got["saving"] == pytest.approx(got["monthly"] - got["advised_monthly"])


def test_selector_window_and_queries():
    assert cost_report.selector("mplp-production", {"region": "us-east-1"}) == (
        'namespace="mplp-production",region="us-east-1"'
    )
    assert cost_report.selector("x", {"namespace": "mplp", "a": 'q"t'}) == 'a="q\\"t",namespace="mplp"'
    start, end, step = cost_report.window(1796083200, 30, 300)
    assert (end - start, step) == (30 * 86400, 300)
    # 90 days at 5 minutes would be 25,920 points: the step is raised
    _, _, wide = cost_report.window(1796083200, 90, 300)
    assert 90 * 86400 / wide < cost_report.MAX_POINTS
    with pytest.raises(ValueError, match="days must be above 0"):
        cost_report.window(0, 0, 300)
    queries = {q["name"]: q for q in cost_report.prometheus_queries("mplp", {"region": "eu"}, 0, 86400, 300)}
    assert set(queries) == {"cpu", "memory", "requests", "pod_owner", "replicaset_owner"}
    assert queries["cpu"]["type"] == "range" and "[600s]" in queries["cpu"]["query"]
    assert 'namespace="mplp",region="eu",container!=""' in queries["memory"]["query"]
    assert queries["pod_owner"] == dict(queries["pod_owner"], type="instant", time=86400)
    assert "[86400s]" in queries["requests"]["query"]


def test_from_prometheus_maps_replicaset_owners_to_workloads():
    results = {
        "cpu": {"series": [series("mplp-core-5d9f-abcde", [(0, 0.5)])]},
        "memory": {"series": [series("mplp-core-5d9f-abcde", [(0, 1.0 * GIB)])]},
        "requests": {
            "series": [{"metric": {"pod": "mplp-core-5d9f-abcde", "resource": "cpu"}, "value": 1.0}]
        },
        "pod_owner": {
            "series": [
                {
                    "metric": {
                        "pod": "mplp-core-5d9f-abcde",
                        "owner_kind": "ReplicaSet",
                        "owner_name": "mplp-core-5d9f",
                    },
                    "value": 1.0,
                }
            ]
        },
        "replicaset_owner": {"series": []},
    }
    measured, pods = cost_report.from_prometheus(results, ["mplp-core"], 30, 40)
    assert measured["mplp-core"]["mean"] == {"cpu": 0.5, "memory": GIB}
    assert pods[0]["component"] == "mplp-core" and pods[0]["cpu_pct"] == 50.0
