"""multiagent.ops.cost_report's runner over an in-memory API and a fake Prometheus: one read
of each kind, the queries at once, the report per component, failures before any read."""

from __future__ import annotations

import json
import math
import threading

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import cost_client
from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.modules import cost_report

NS = "mplp-production"
MIB = 2**20
PRICES = {"vcpu_hour": 0.05, "gb_hour": 0.01}
COMPONENTS = [{"name": "core", "workload": "mplp-core"}, {"name": "plan", "workload": "mplp-plan"}]
REQUESTS = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}


def deployment(name, replicas):
    return {
        "metadata": {"name": name, "namespace": NS, "uid": "d-" + name},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "app", "resources": REQUESTS}]}},
        },
    }


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


def pod(deploy, i):
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
        "spec": {"containers": [{"name": "app", "resources": REQUESTS}]},
        "status": {"phase": "Running"},
    }


def hpa(target, low=2, high=8, cpu=70):
    return {
        "metadata": {"name": target, "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
                }
            ],
        },
    }


def cluster(loads, hpas=(), metrics=True):
    """loads: {deployment: [(cpu, memory) per pod]}."""
    api = fakes.FakeApi()
    for name, used in loads.items():
        api.put_object(resources.DEPLOYMENT.object_path(NS, name), deployment(name, len(used)))
        api.put_object(resources.REPLICA_SET.object_path(NS, name + "-h1"), replicaset(name))
        for i, (cpu, memory) in enumerate(used):
            p = pod(name, i)
            api.put_object(resources.POD.object_path(NS, p["metadata"]["name"]), p)
            if metrics:
                api.put_object(
                    resources.POD_METRICS.object_path(NS, p["metadata"]["name"]),
                    {
                        "metadata": {"name": p["metadata"]["name"], "namespace": NS},
                        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": memory}}],
                    },
                )
    for name in hpas:
        api.put_object(resources.HPA.object_path(NS, name), hpa(name))
    return api


LOADS = {
    "mplp-core": [("100m", "256Mi"), ("200m", "256Mi"), ("300m", "256Mi"), ("400m", "256Mi")],
    "mplp-plan": [("900m", "900Mi"), ("900m", "900Mi")],
}


def report(api, server=None, check_mode=False, **params):
    module = fakes.FakeModule(
        cost_report,
        check_mode,
        namespace=NS,
        **dict({"components": COMPONENTS, "prices": PRICES}, **params),
    )
    with pytest.raises(Exit):
        finish(module, cost_client.run, api, prometheus=server)
    return module


def test_metrics_api_costs_flags_and_advises_per_component_in_one_read_of_each_kind():
    api = cluster(LOADS, hpas=["mplp-core"])
    module = report(api, check_mode=True)
    result = module.result
    assert result["changed"] is False and result["failed"] is False
    assert result["source"]["name"] == "metrics_api"
    core, plan = result["components"]
    assert core["monthly"]["total"] == pytest.approx(4 * 730 * (0.05 + 0.01))
    assert core["hpa"]["cpu_target"] == 70.0
    # p95 across the four pods (0.385 cores) over the HPA's 70 %; held for the same load
    assert core["advice"]["requests"]["cpu"] == 0.55
    assert core["advice"]["replicas"] == math.ceil(4 * (0.25 / 0.55 * 100) / 70)
    assert plan["advice"]["replicas"] == 2 and plan["advice"]["saving"] < 0
    assert [p["pod"] for p in result["oversized_pods"]] == ["mplp-core-h1-%d" % i for i in range(4)]
    assert {p["component"] for p in result["pods"]} == {"core", "plan"}
    assert result["totals"]["saving"] == pytest.approx(
        core["advice"]["saving"] + plan["advice"]["saving"], abs=0.02
    )
    assert all(method == "GET" for method, _ in api.calls)
    assert len(api.calls) == 5  # deployments, HPAs, pod metrics, pods, replicasets


def test_without_the_metrics_api_it_costs_the_requests_and_warns():
    api = cluster(LOADS, metrics=False)
    api.refuse[("GET", resources.POD_METRICS.collection_path(NS))] = 404
    module = report(api)
    assert module.result["failed"] is False
    assert [c["advice"] for c in module.result["components"]] == [None, None]
    assert module.result["totals"]["monthly"] > 0 and module.result["pods"] == []
    assert any("metrics.k8s.io" in w for w in module.warnings)


@pytest.mark.parametrize(
    "params, says",
    [
        ({"prices": {"vcpu_hour": 0.05}}, "prices need gb_hour"),
        ({"prices": {"vcpu_hour": -1, "gb_hour": 0}}, "vcpu_hour must be 0 or more"),
        ({"thresholds": {"cpu_over": 10}}, "unknown cpu_over"),
        ({"source": "prometheus"}, "needs prometheus.url"),
        (
            {"source": "prometheus", "prometheus": {"via": "service_proxy"}},
            "namespace and service is required",
        ),
        ({"source": "prometheus", "prometheus": {"url": "http://p"}, "days": 0}, "days must be above 0"),
    ],
)
def test_bad_input_fails_before_any_read(params, says):
    api = cluster(LOADS)
    module = report(api, **params)
    assert module.result["failed"] is True and module.result["changed"] is False
    assert says in module.result["msg"] and "nothing was changed" in module.result["msg"]
    assert api.calls == []


def test_a_missing_workload_is_named():
    module = report(cluster({"mplp-core": LOADS["mplp-core"]}))
    assert module.result["failed"] is True
    assert "mplp-plan: not found in namespace mplp-production" in module.result["msg"]


def matrix(series):
    return {"status": "success", "data": {"resultType": "matrix", "result": series}}


def vector(series):
    return {"status": "success", "data": {"resultType": "vector", "result": series}}


class Transport:
    """Prometheus answering by metric name; records the queries and the threads they ran on."""

    def __init__(self, fail=None):
        self.queries = []
        self.threads = set()
        self.fail = fail
        # the two range queries wait for each other: they only pass when sent at once
        self.together = threading.Barrier(2, timeout=5)

    def describe(self):
        return "fake"

    def get(self, path, params, timeout):
        query = dict(params)["query"]
        self.queries.append((path, dict(params)))
        self.threads.add(threading.get_ident())
        if self.fail and self.fail in query:
            return 503, b"down"
        if path.endswith("query_range") and not self.fail:
            self.together.wait()
        old, new = "mplp-core-aaaaa-1", "mplp-core-bbbbb-1"
        if "container_cpu_usage" in query:
            doc = matrix(
                [
                    {"metric": {"pod": old}, "values": [[0, "0.1"], [300, "0.1"]]},
                    {"metric": {"pod": new}, "values": [[600, "0.3"], [900, "0.5"]]},
                ]
            )
        elif "container_memory" in query:
            doc = matrix([{"metric": {"pod": new}, "values": [[600, str(200 * MIB)]]}])
        elif "kube_pod_container_resource_requests" in query:
            doc = vector(
                [
                    {"metric": {"pod": p, "resource": r}, "value": [900, v]}
                    for p in (old, new)
                    for r, v in (("cpu", "1"), ("memory", str(2**30)))
                ]
            )
        elif "kube_pod_owner" in query:
            doc = vector(
                [
                    {
                        "metric": {"pod": p, "owner_kind": "ReplicaSet", "owner_name": p.rsplit("-", 1)[0]},
                        "value": [900, "1"],
                    }
                    for p in (old, new)
                ]
            )
        else:
            doc = vector([])
        return 200, json.dumps(doc).encode()


def test_prometheus_usage_over_the_window_grouped_by_owner_with_the_queries_at_once():
    api = cluster(LOADS, hpas=["mplp-core"], metrics=False)
    transport = Transport()
    prometheus = prom_client.Prometheus(transport, 5, 5)
    module = report(
        api,
        prometheus,
        source="prometheus",
        prometheus={"url": "http://prometheus:9090"},
        labels={"namespace": "mplp", "region": "us-east-1"},
        days=1,
        end=86400,
        step=300,
        components=[{"name": "core", "workload": "mplp-core"}],
    )
    result = module.result
    assert result["failed"] is False, result.get("msg")
    assert len(transport.queries) == 5
    assert all('namespace="mplp",region="us-east-1"' in params["query"] for _, params in transport.queries)
    ranged = [params for path, params in transport.queries if path.endswith("query_range")]
    assert {(p["start"], p["end"], p["step"]) for p in ranged} == {("0", "86400", "300")}
    assert len(transport.threads) > 1  # sent at once (the range queries met at the barrier)
    core = result["components"][0]
    # the old and the new pod of the rollout count as one workload's: 0.1, 0.1, 0.3, 0.5
    assert core["usage"]["mean"]["cpu"] == pytest.approx(0.25)
    assert core["usage"]["p95"]["cpu"] == pytest.approx(0.47)
    assert core["usage"]["mean"]["memory"] == 200 * MIB
    assert result["source"]["name"] == "prometheus" and result["source"]["days"] == 1
    assert [(p["pod"], p["oversized"]) for p in result["oversized_pods"]] == [
        ("mplp-core-aaaaa-1", ["cpu"]),
        ("mplp-core-bbbbb-1", ["memory"]),
    ]
    assert result["oversized_pods"][0]["component"] == "core"
    assert [m for m, _ in api.calls] == ["GET", "GET"]  # the deployments and the HPAs: no metrics API


def test_a_failed_query_fails_the_report_naming_it():
    api = cluster(LOADS, metrics=False)
    prometheus = prom_client.Prometheus(Transport(fail="container_memory"), 5, 5)
    module = report(api, prometheus, source="prometheus", prometheus={"url": "http://p"}, end=86400)
    assert module.result["failed"] is True
    assert "Query 'memory' failed: HTTP 503" in module.result["msg"]
    assert "memory" in module.result["errors"]
