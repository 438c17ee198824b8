# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which workload owns a pod (pure): findings are reported on the owner, never per pod.

Builds on k8s/objects.pod_workloads (Pod -> ReplicaSet -> Deployment, StatefulSet,
DaemonSet, by uid) and adds Job -> CronJob. A bare pod is its own owner.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.security.finding import ref


def _api_version(kind):
    try:
        return resources.get(kind).api_version
    except resources.UnknownKind:
        return None


def pod_owners(pods, replicasets=(), jobs=()):
    """``{pod uid (or name): object ref of its top-level workload}`` for every pod."""
    workloads = wl.pod_workloads(pods, replicasets)
    jobs_by_uid = {wl.meta(job).get("uid"): job for job in jobs if wl.meta(job).get("uid")}
    result = {}
    for pod in pods:
        meta = wl.meta(pod)
        key = meta.get("uid") or meta.get("name")
        kind, name = workloads.get(key) or ("Pod", meta.get("name"))
        if kind == "Job":
            owner_ref = wl.controller_of(pod)
            job = jobs_by_uid.get((owner_ref or {}).get("uid"))
            cron = wl.controller_of(job) if job is not None else None
            if cron and cron.get("kind") == "CronJob":
                kind, name = "CronJob", cron.get("name")
        result[key] = ref(_api_version(kind), kind, meta.get("namespace"), name)
    return result


def pod_key(pod):
    meta = wl.meta(pod)
    return meta.get("uid") or meta.get("name")
