# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Utilisation against requests, per owning workload, from plain data.

A rollout renames every pod (``mplp-core-7d9f8-abcde`` becomes ``mplp-core-5c6b7-fghij``), so
per-pod series over 30 days are many short ones: they are summed per owner before anything is
fitted (rollup.py, on numpy; this module needs only the standard library). The owner comes
from owner data when there is some (kube-state-metrics' ``kube_pod_owner`` and
``kube_replicaset_owner`` series, or the objects' ownerReferences), else from the names: the
longest known workload name that the pod's name starts with followed by ``-`` (a
Deployment's pods are ``<deployment>-<template hash>-<suffix>``, a StatefulSet's
``<statefulset>-<ordinal>``).

Two inputs:
- Prometheus: series ``{"metric": {labels}, "values": [[ts, "v"], ...]}`` per pod;
- the metrics API: PodMetrics items with the pods (and ReplicaSets) they belong to.
Utilisation is sum(usage) / sum(requests) x 100 over the owner's pods, as the
HorizontalPodAutoscaler computes it; None where the pods request nothing.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects


def owner_by_name(pod, workloads):
    """The workload (of ``workloads``, names) whose pods ``pod`` is named like, or None."""
    best = None
    for name in workloads:
        if pod.startswith(name + "-") and (best is None or len(name) > len(best)):
            best = name
    return best


def owner_of(pod, owners, workloads=()):
    """The workload ``pod`` belongs to: ``owners``' (pod_owners) when it knows the pod, else the
    one it is named like (owner_by_name); None when neither says."""
    return owners.get(pod) or owner_by_name(pod or "", workloads)


def pod_owners(pod_owner_series, replicaset_owner_series=(), workloads=()):
    """kube_pod_owner (labels pod, owner_kind, owner_name) and kube_replicaset_owner (labels
    replicaset, owner_kind, owner_name) series or label dicts -> ``{pod: workload name}``: a pod
    of a ReplicaSet belongs to the ReplicaSet's Deployment; a ReplicaSet with no owner series
    is matched by name against ``workloads``, else stands for itself."""
    rs_owner = {}
    for item in replicaset_owner_series or ():
        labels = item.get("metric", item)
        if labels.get("owner_kind") not in (None, "", "<none>"):
            rs_owner[labels.get("replicaset")] = labels.get("owner_name")
    out = {}
    for item in pod_owner_series or ():
        labels = item.get("metric", item)
        pod, kind, name = labels.get("pod"), labels.get("owner_kind"), labels.get("owner_name")
        if not pod or kind in (None, "", "<none>"):
            continue
        if kind == "ReplicaSet":
            out[pod] = rs_owner.get(name) or owner_by_name(name, workloads) or name
        else:
            out[pod] = name
    return out


# -- the metrics API --------------------------------------------------------------------------


def pod_resources(pod, field="requests"):
    """``(cpu cores, memory bytes)`` of the pod's (or pod template's) containers' ``field``
    (requests or limits); None for a resource one of them leaves unset (utilisation against a
    partial request would be too high, a cost of a partial limit too low)."""
    cpu, memory = 0.0, 0
    for c in (pod.get("spec") or {}).get("containers") or ():
        given = (c.get("resources") or {}).get(field) or {}
        cpu = None if cpu is None or "cpu" not in given else cpu + objects.parse_cpu(given["cpu"])
        memory = (
            None
            if memory is None or "memory" not in given
            else memory + objects.parse_memory(given["memory"])
        )
    return cpu, memory


def pod_requests(pod):
    return pod_resources(pod, "requests")


def pod_usage(item):
    """A PodMetrics item -> ``(cpu cores, memory bytes)`` used by its containers."""
    cpu, memory = 0.0, 0
    for c in item.get("containers") or ():
        used = c.get("usage") or {}
        cpu += objects.parse_cpu(used.get("cpu", "0"))
        memory += objects.parse_memory(used.get("memory", "0"))
    return cpu, memory


def _pct(used, asked):
    return None if not asked else round(used / asked * 100, 1)


def workload_usage(pods, replicasets, pod_metrics):
    """Pods, ReplicaSets and PodMetrics of a namespace -> ``{(kind, name): {"pods", "measured",
    "cpu_cores", "cpu_requests", "memory_bytes", "memory_requests", "cpu_pct", "memory_pct"}}``
    per owning workload (ownerReferences, so old and new pods of a rollout count together).
    Only pods with metrics count, as the HPA does; a resource some measured pod does not request
    has no percentage."""
    owner_of = objects.pod_workloads(pods, replicasets)
    pods_by_name = {objects.meta(p).get("name"): p for p in pods}
    out = {}
    for pod in pods:
        key = owner_of.get(objects.meta(pod).get("uid") or objects.meta(pod).get("name"))
        if key is not None:
            out.setdefault(key, _blank())["pods"] += 1
    for item in pod_metrics:
        pod = pods_by_name.get(objects.meta(item).get("name"))
        if pod is None:
            continue
        key = owner_of.get(objects.meta(pod).get("uid") or objects.meta(pod).get("name"))
        if key is None:
            continue
        entry = out[key]
        used_cpu, used_memory = pod_usage(item)
        asked_cpu, asked_memory = pod_requests(pod)
        entry["measured"] += 1
        entry["cpu_cores"] += used_cpu
        entry["memory_bytes"] += used_memory
        entry["cpu_requests"] = (
            None if entry["cpu_requests"] is None or asked_cpu is None else entry["cpu_requests"] + asked_cpu
        )
        entry["memory_requests"] = (
            None
            if entry["memory_requests"] is None or asked_memory is None
            else entry["memory_requests"] + asked_memory
        )
    for entry in out.values():
        measured = entry["measured"] > 0
        entry["cpu_pct"] = _pct(entry["cpu_cores"], entry["cpu_requests"]) if measured else None
        entry["memory_pct"] = _pct(entry["memory_bytes"], entry["memory_requests"]) if measured else None
        entry["cpu_cores"] = round(entry["cpu_cores"], 4)
    return out


def _blank():
    return {
        "pods": 0,
        "measured": 0,
        "cpu_cores": 0.0,
        "cpu_requests": 0.0,
        "memory_bytes": 0,
        "memory_requests": 0,
    }
