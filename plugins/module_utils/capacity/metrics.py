# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics API (``metrics.k8s.io``) and the objects its numbers are measured against, read
through the one Kubernetes client; and the runner of multiagent.ops.autoscale_check.

One LIST each of the namespace's pods, ReplicaSets, PodMetrics and HorizontalPodAutoscalers,
and of the workloads per kind, whatever the number of components: the check is one task.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import autoscale, usage
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects, resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling

NOT_SERVED = ("not_found", "forbidden")


def read_pod_metrics(client, namespace):
    """``(items, None)``, or ``(None, why)`` when the metrics API is not served (metrics-server
    missing) or not allowed."""
    try:
        return client.list(
            resources.POD_METRICS.collection_path(namespace), "list pod metrics in namespace %s" % namespace
        ), None
    except ApiError as exc:
        if exc.kind not in NOT_SERVED:
            raise
        return None, "the metrics API (metrics.k8s.io) cannot be read: %s" % exc


def read_usage(client, namespace):
    """``{(kind, name): usage entry}`` per owning workload (see usage.workload_usage), or (None, why)."""
    metrics, why = read_pod_metrics(client, namespace)
    if metrics is None:
        return None, why
    pods = client.list(resources.POD.collection_path(namespace), "list pods in namespace %s" % namespace)
    replicasets = client.list(
        resources.REPLICA_SET.collection_path(namespace), "list replicasets in namespace %s" % namespace
    )
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    return usage.workload_usage(running, replicasets, metrics), None


def read_workloads(client, namespace, targets):
    found = {}
    by_kind = {}
    for t in targets:
        by_kind.setdefault(t.get("kind") or "Deployment", []).append(t["name"])
    for kind, names in by_kind.items():
        items = client.list(
            resources.get(kind).collection_path(namespace),
            "list %ss in namespace %s" % (kind.lower(), namespace),
        )
        for obj in items:
            name = objects.meta(obj).get("name")
            if name in names:
                found[(kind, name)] = obj
    return found


def run(request, client):
    """Measure every component's CPU and memory against its requests and decide with the seed's
    rule (multiagent.ops.autoscale_check). Reads only: changed is always false."""
    p = request.params
    ns, targets = p["namespace"], p["targets"]
    ranged = sorted(set(p["thresholds"] or {}) & {"min", "max"})
    if ranged:
        raise OpsError(
            nothing_changed(
                "thresholds: %s come from each target's range (the inventory's autoscaling), "
                "not from thresholds" % " and ".join(ranged)
            )
        )
    try:
        limits = autoscale.thresholds(p["thresholds"])
    except autoscale.DecisionError as exc:
        raise OpsError(nothing_changed("thresholds: %s" % exc)) from None
    try:
        workloads = read_workloads(client, ns, targets)
        missing = [t["name"] for t in targets if (t.get("kind") or "Deployment", t["name"]) not in workloads]
        if missing:
            raise OpsError(nothing_changed("%s: not found in namespace %s" % (", ".join(missing), ns)))
        measured, why = read_usage(client, ns)
        hpas, _version = scaling.list_hpas(client, ns)
    except ApiError as exc:
        raise OpsError(nothing_changed(str(exc))) from None
    if why:
        request.warn("%s; no component is scaled" % why)

    results = []
    for t in targets:
        kind = t.get("kind") or "Deployment"
        try:
            hpa = scaling.find_hpa(hpas, dict(t, kind=kind))
        except scaling.ScaleError as exc:
            raise OpsError(nothing_changed(str(exc))) from None
        entry = (measured or {}).get((kind, t["name"]))
        results.append(
            autoscale.check_component(t, workloads[(kind, t["name"])], entry, hpa, limits, p["hpa_owned"])
        )
    return {
        "changed": False,
        "metrics_available": why is None,
        "components": results,
        "targets": autoscale.scale_targets(results),
        "thresholds": {k: v for k, v in limits.items() if k not in ("min", "max")},
    }
