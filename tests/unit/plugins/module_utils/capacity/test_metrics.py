"""multiagent.ops.autoscale_check's runner over an in-memory API: one read of each kind, the
decisions per component, HPA-owned components left alone, the metrics API missing."""

from __future__ import annotations

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import metrics
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.modules import autoscale_check

NS = "mplp-production"


def deployment(name, replicas):
    return {"metadata": {"name": name, "namespace": NS, "uid": "d-" + name}, "spec": {"replicas": replicas}}


def replicaset(deploy):
    name = deploy + "-h1"
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": "rs-" + name,
            "ownerReferences": [
                {"kind": "Deployment", "name": deploy, "uid": "d-" + deploy, "controller": True}
            ],
        }
    }


def pod(deploy, i, phase="Running"):
    name = "%s-h1-%d" % (deploy, i)
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": "p-" + name,
            "ownerReferences": [
                {
                    "kind": "ReplicaSet",
                    "name": deploy + "-h1",
                    "uid": "rs-" + deploy + "-h1",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {"phase": phase},
    }


def usage(pod_obj, cpu, memory):
    name = pod_obj["metadata"]["name"]
    return {
        "metadata": {"name": name, "namespace": NS},
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": memory}}],
    }


def hpa(target):
    return {
        "metadata": {"name": target, "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 2,
            "maxReplicas": 8,
        },
    }


def cluster(loads, hpas=()):
    """loads: {deployment: (replicas, cpu per pod, memory per pod)}."""
    api = fakes.FakeApi()
    for name, (replicas, cpu, memory) in loads.items():
        api.put_object(resources.DEPLOYMENT.object_path(NS, name), deployment(name, replicas))
        api.put_object(resources.REPLICA_SET.object_path(NS, name + "-h1"), replicaset(name))
        for i in range(replicas):
            p = pod(name, i)
            api.put_object(resources.POD.object_path(NS, p["metadata"]["name"]), p)
            api.put_object(
                resources.POD_METRICS.object_path(NS, p["metadata"]["name"]), usage(p, cpu, memory)
            )
    for name in hpas:
        api.put_object(resources.HPA.object_path(NS, name), hpa(name))
    return api


TARGETS = [
    {"component": "core", "name": "mplp-core", "min": 3, "max": 20},
    {"component": "plan", "name": "mplp-plan", "min": 2, "max": 8},
    {"component": "trace", "name": "mplp-trace", "min": 2, "max": 8},
]


def check(api, check_mode=False, **params):
    module = fakes.FakeModule(
        autoscale_check, check_mode, namespace=NS, **dict({"targets": TARGETS}, **params)
    )
    with pytest.raises(Exit):
        finish(module, metrics.run, api)
    return module


LOADS = {
    "mplp-core": (3, "900m", "512Mi"),  # CPU 90 %: up 2
    "mplp-plan": (4, "100m", "100Mi"),  # both low: down 1
    "mplp-trace": (2, "500m", "512Mi"),  # normal
}


def test_decides_each_component_in_one_read_of_each_kind():
    api = cluster(LOADS)
    module = check(api)
    result = module.result
    assert result["changed"] is False and result["metrics_available"] is True
    got = {
        c["component"]: (c["decision"], c["replicas_before"], c["replicas_after"])
        for c in result["components"]
    }
    assert got == {"core": ("up", 3, 5), "plan": ("down", 4, 3), "trace": ("keep", 2, 2)}
    assert [t["name"] for t in result["targets"]] == ["mplp-core", "mplp-plan"]
    assert result["targets"][0] == {
        "component": "core",
        "kind": "Deployment",
        "name": "mplp-core",
        "replicas": 5,
        "min": 3,
        "max": 20,
    }
    core = result["components"][0]
    assert (core["cpu_pct"], core["memory_pct"]) == (90.0, 50.0)
    assert all(method == "GET" for method, _ in api.calls)
    assert len(api.calls) == 5  # deployments, pod metrics, pods, replicasets, HPAs


def test_an_hpa_owned_component_is_decided_but_left_to_its_hpa_unless_asked():
    api = cluster(LOADS, hpas=["mplp-core"])
    result = check(api).result
    core = result["components"][0]
    assert (core["decision"], core["act"], core["hpa"]) == ("up", False, "mplp-core")
    assert "owns the replicas" in core["message"]
    assert [t["name"] for t in result["targets"]] == ["mplp-plan"]
    asked = check(api, hpa_owned=True).result
    assert [t["name"] for t in asked["targets"]] == ["mplp-core", "mplp-plan"]


def test_thresholds_are_the_callers():
    result = check(cluster(LOADS), thresholds={"cpu_high": 95}).result
    assert result["components"][0]["decision"] == "keep"
    assert result["thresholds"]["cpu_high"] == 95.0


def test_bad_thresholds_fail_before_reading():
    api = cluster(LOADS)
    module = check(api, thresholds={"cpu_low": 90})
    assert module.result["failed"] is True
    assert "cpu_low 90 must be below cpu_high 70" in module.result["msg"]
    assert "nothing was changed" in module.result["msg"]
    assert api.calls == []


def test_without_the_metrics_api_it_warns_and_scales_nothing():
    api = cluster(LOADS)
    api.refuse[("GET", resources.POD_METRICS.collection_path(NS))] = 404
    module = check(api)
    assert module.result["metrics_available"] is False
    assert module.result["targets"] == []
    assert any("metrics.k8s.io" in w for w in module.warnings)


def test_a_missing_workload_is_named():
    module = check(cluster({"mplp-core": LOADS["mplp-core"]}))
    assert module.result["failed"] is True
    assert "mplp-plan, mplp-trace: not found in namespace mplp-production" in module.result["msg"]


def test_a_component_without_a_range_is_only_reported():
    targets = [{"component": "core", "name": "mplp-core"}]
    result = check(cluster(LOADS), targets=targets).result
    assert result["components"][0]["act"] is False
    assert "no autoscaling range" in result["components"][0]["reason"]


def test_the_range_is_the_targets_not_a_threshold():
    module = check(cluster(LOADS), thresholds={"max": 50})
    assert module.result["failed"] is True
    assert "max come from each target's range" in module.result["msg"]
