"""The capacity report's queries and the report built from literal query results."""

from __future__ import annotations

import math

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import planning

END = 1_800_000_000 - 1_800_000_000 % 3600
DAY = 86400
STEP = 300


def matrix(metric, fn, start, stop):
    """A range result's series: fn(t) every STEP seconds in [start, stop)."""
    return {"metric": metric, "values": [[float(t), float(fn(t))] for t in range(start, stop, STEP)]}


def results(regions=("r1",), rollout_at=END - 5 * DAY, cpu_growth=0.0, rps_growth=0.0):
    """Two pods per region of workload app-core, the second from a rollout at ``rollout_at``:
    CPU request 1 core, usage 0.5 + cpu_growth x days; memory request 100, usage 40."""
    start = END - 10 * DAY
    out = {name: {"series": []} for name in planning.RANGE_QUERIES + (planning.POD_OWNER,)}
    out[planning.REPLICASET_OWNER] = {"series": []}
    for region in regions:
        for pod, rs, first, last in (
            ("app-core-aaa-1", "app-core-aaa", start, rollout_at),
            ("app-core-bbb-2", "app-core-bbb", rollout_at, END),
        ):
            labels = {"region": region, "pod": pod}
            out[planning.CPU_USAGE]["series"].append(
                matrix(labels, lambda t: 0.5 + cpu_growth * (t - start) / DAY, first, last)
            )
            out[planning.CPU_REQUESTS]["series"].append(matrix(labels, lambda t: 1.0, first, last))
            out[planning.MEMORY_USAGE]["series"].append(matrix(labels, lambda t: 40.0, first, last))
            out[planning.MEMORY_REQUESTS]["series"].append(matrix(labels, lambda t: 100.0, first, last))
            out[planning.POD_OWNER]["series"].append(
                {"metric": dict(labels, owner_kind="ReplicaSet", owner_name=rs), "value": 1.0, "time": END}
            )
        out[planning.REQUEST_RATE]["series"].append(
            matrix(
                {"region": region, "service": "core-svc"},
                lambda t: 10.0 * (1 + rps_growth * (t - start) / DAY),
                start,
                END,
            )
        )
    return out


COMPONENTS = [{"name": "core", "workload": "app-core", "service": {"name": "core-svc", "port": 80}}]


def test_queries_cover_every_component_at_once_with_the_region_and_namespace_matchers():
    specs = planning.queries("mplp", END, days=30, step=300, regions=["us-east-1"])
    assert [s["name"] for s in specs] == [
        "cpu_usage",
        "memory_usage",
        "cpu_requests",
        "memory_requests",
        "request_rate",
        "pod_owner",
        "replicaset_owner",
    ]
    for spec in specs:
        assert 'namespace="mplp"' in spec["query"] and 'region="us-east-1"' in spec["query"]
    ranged = [s for s in specs if s.get("type") == "range"]
    assert {(s["start"], s["end"], s["step"]) for s in ranged} == {(END - 30 * DAY, END, 300)}
    assert "sum by (region, pod)" in specs[0]["query"] and "[10m]" in specs[0]["query"]
    assert specs[5]["time"] == END and "[2592000s]" in specs[5]["query"]


def test_several_regions_are_one_escaped_regex_and_no_region_label_means_no_matcher():
    sel = planning.selector("ns", "region", ["a.1", "b"])
    assert sel == 'namespace="ns",region=~"a\\\\.1|b"'
    assert planning.selector('we"ird', None, ["x"]) == 'namespace="we\\"ird"'
    specs = planning.queries("ns", END, region_label=None)
    assert "sum by (pod)" in specs[0]["query"] and "region" not in specs[0]["query"]


def test_components_take_the_inventorys_description_or_names():
    assert planning.components(COMPONENTS + ["plan"]) == [
        {"name": "core", "workload": "app-core", "service": "core-svc"},
        {"name": "plan", "workload": "plan", "service": "plan"},
    ]
    with pytest.raises(planning.PlanningError, match="listed twice"):
        planning.components(["a", "a"])
    with pytest.raises(planning.PlanningError, match="no component"):
        planning.components([])


def test_thresholds_default_to_the_seeds_levels_and_refuse_unknown_or_bad_values():
    assert planning.thresholds() == {"cpu": 80.0, "memory": 85.0, "requests_growth": 50.0}
    assert planning.thresholds({"cpu": "70", "memory": None})["cpu"] == 70.0
    with pytest.raises(planning.PlanningError, match="unknown threshold 'disk'"):
        planning.thresholds({"disk": 90})
    with pytest.raises(planning.PlanningError, match="must be positive"):
        planning.thresholds({"cpu": 0})


def test_pods_a_rollout_renamed_make_one_series_per_workload():
    report, peaks = planning.build(results(), planning.components(COMPONENTS), END, days=10)
    [entry] = report["components"]
    assert entry["pods"] == 2
    assert entry["cpu"]["points"] == 10 * 24  # one series over the whole period, not two halves
    assert entry["cpu"]["current"] == pytest.approx(50.0)
    assert entry["memory"]["current"] == pytest.approx(40.0)
    assert len(peaks[("r1", "core")]["cpu"]) == 10 * 24
    assert report["recommendations"] == []


def test_growth_past_the_thresholds_gives_the_seeds_recommendations_with_region_and_component():
    report, _ = planning.build(
        results(cpu_growth=0.02, rps_growth=0.1), planning.components(COMPONENTS), END, days=10
    )
    [entry] = report["components"]
    assert entry["cpu"]["slope_per_day"] == pytest.approx(2.0, rel=1e-6)  # 0.02 cores/day of 1 core
    [days] = entry["cpu"]["thresholds"]
    assert days["threshold"] == 80.0 and days["status"] == "rising"
    # the hourly peak is the hour's last sample, 55 minutes of growth later than its hour
    assert days["days"] == pytest.approx((80 - 70 - 2.0 * 55 / 1440) / 2.0, rel=1e-6)
    assert [r["metric"] for r in report["recommendations"]] == ["cpu", "requests"]
    assert {(r["region"], r["component"]) for r in report["recommendations"]} == {("r1", "core")}


def test_inventory_thresholds_change_days_and_recommendations():
    report, _ = planning.build(
        results(), planning.components(COMPONENTS), END, days=10, levels={"memory": 30}
    )
    [entry] = report["components"]
    assert entry["memory"]["thresholds"][0]["status"] == "already_above"
    assert [r["metric"] for r in entry["recommendations"]] == ["memory"]


def test_regions_are_reported_apart_and_a_component_without_series_says_what_is_missing():
    comps = planning.components(COMPONENTS + [{"name": "ghost"}])
    report, _ = planning.build(results(regions=("r1", "r2")), comps, END, days=10)
    assert report["regions"] == ["r1", "r2"]
    assert [(e["region"], e["component"]) for e in report["components"]] == [
        ("r1", "core"),
        ("r1", "ghost"),
        ("r2", "core"),
        ("r2", "ghost"),
    ]
    ghost = report["components"][1]
    assert ghost["missing"] == ["cpu", "memory", "requests"] and ghost["cpu"] is None
    assert planning.has_data(report)
    empty, _ = planning.build({}, comps, END, regions=["r9"])
    assert not planning.has_data(empty) and empty["regions"] == ["r9"]


def test_series_without_region_label_belong_to_the_default_region():
    data = results()
    for name in planning.RANGE_QUERIES + (planning.POD_OWNER,):
        for item in data[name]["series"]:
            item["metric"].pop("region", None)
    report, _ = planning.build(
        data, planning.components(COMPONENTS), END, days=10, region_label=None, default_region="eu"
    )
    assert report["regions"] == ["eu"] and report["components"][0]["pods"] == 2


QUERY = {"name": "cpu_usage", "query": "sum by (pod) (x)", "type": "range"}


def test_answers_keep_the_samples_as_prometheus_wrote_them_and_the_sums_read_them():
    body = (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"p-1"},'
        '"values":[[100,"0.5"],[400,"NaN"]]}]},"warnings":["w"]}'
    )
    out = planning.answer(QUERY, 200, body.encode())
    assert out == {
        "query": QUERY["query"],
        "type": "range",
        "result_type": "matrix",
        "series": [{"metric": {"pod": "p-1"}, "values": [[100, "0.5"], [400, "NaN"]]}],
        "warnings": ["w"],
    }
    summed = planning.rollup.sum_by_owner(out["series"], {"p-1": "p"})
    assert summed["p"][0].tolist() == [100.0, 0.5]
    assert math.isnan(summed["p"][1, 1])  # read, not dropped: the step's sum is unknown


def test_errors_and_other_results_are_promqls_answer():
    with pytest.raises(planning.promql.QueryError, match="HTTP 422, execution: boom"):
        planning.answer(QUERY, 422, b'{"status":"error","errorType":"execution","error":"boom"}')
    with pytest.raises(planning.promql.QueryError, match="not a Prometheus API answer"):
        planning.answer(QUERY, 200, b"<html>")
    scalar = planning.answer(
        QUERY, 200, b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}'
    )
    assert scalar["value"] == 2.0
