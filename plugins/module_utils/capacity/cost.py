# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of what the components request, oversized pods, right-sizing (``cost-optimization.sh``); pure.

- Cost is of the **requests** (what the scheduler reserves, and what a node pool is sized and
  billed for), at the inventory's prices per vCPU-hour and GB-hour; a GB is 2^30 bytes, as
  the clouds bill memory. A month is 730 hours (365 x 24 / 12); the seed's 30 days (720 h) made
  a year 4 % short.
- Oversized, by the seed's thresholds: usage under 30 % of the CPU request, or under 40 % of the
  memory request (the seed listed each on its own; it compared millicores with 100 and MiB with
  400 rather than with the requests). Each pod says which resource is oversized.
- Right-sizing: a request of at least the p95 usage per pod divided by the HPA's target
  utilisation (so the p95 pod sits at the target, not above it), rounded up to 10m CPU and 1 MiB;
  costed at the replicas the HPA would then hold for the same total load:
  ``ceil(replicas x utilisation / target)`` against the new request, within the HPA's range,
  with the HPA controller's 10 % tolerance. Without an HPA the replicas stay and the target is
  80 % (``kubectl autoscale``'s default).
"""

from __future__ import annotations

import math

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import usage
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects

HOURS_PER_MONTH = 730
GB = 2**30
MIB = 2**20
CPU_UNDER, MEMORY_UNDER = 30.0, 40.0
DEFAULT_TARGET = 80.0
TOLERANCE = 0.1


class CostError(ValueError):
    pass


def prices(given):
    """The inventory's ``{"vcpu_hour", "gb_hour"}`` (numbers, 0 or more), checked."""
    given = given or {}
    out = {}
    for key in ("vcpu_hour", "gb_hour"):
        try:
            out[key] = float(given[key])
        except (KeyError, TypeError, ValueError):
            raise CostError(
                "prices need %s as a number (per vCPU-hour and per GB-hour), got %r" % (key, given.get(key))
            ) from None
        if out[key] < 0:
            raise CostError("price %s must be 0 or more, got %g" % (key, out[key]))
    return out


def pod_resources(pod):
    """A pod (or a pod template) -> ``{"requests": {cpu, memory}, "limits": {cpu, memory}}`` in
    cores and bytes, summed over its containers; None for a resource some container leaves unset."""
    out = {}
    for field in ("requests", "limits"):
        cpu, memory = usage.pod_resources(pod, field)
        out[field] = {"cpu": cpu, "memory": memory}
    return out


def monthly_cost(cpu_cores, memory_bytes, price, replicas=1, hours=HOURS_PER_MONTH):
    """``{"cpu", "memory", "total"}`` per month for ``replicas`` pods of that size (unset = 0)."""
    p = prices(price)
    cpu = (cpu_cores or 0.0) * replicas * hours * p["vcpu_hour"]
    memory = (memory_bytes or 0) / GB * replicas * hours * p["gb_hour"]
    return {"cpu": round(cpu, 2), "memory": round(memory, 2), "total": round(cpu + memory, 2)}


def oversized(cpu_pct, memory_pct, cpu_under=CPU_UNDER, memory_under=MEMORY_UNDER):
    """The resources a pod over-requests (``["cpu", "memory"]``, either or none); an unknown
    utilisation (None: no request or no metrics) is never oversized."""
    out = []
    if cpu_pct is not None and cpu_pct < cpu_under:
        out.append("cpu")
    if memory_pct is not None and memory_pct < memory_under:
        out.append("memory")
    return out


def hpa_replicas(replicas, utilisation, target, low=1, high=None, tolerance=TOLERANCE):
    """What an HPA holds: ``ceil(replicas x utilisation / target)`` unless the ratio is within
    ``tolerance`` of 1, bounded by ``low``..``high``."""
    if target <= 0:
        raise CostError("the target utilisation must be above 0, got %g" % target)
    ratio = utilisation / target
    desired = replicas if abs(ratio - 1.0) <= tolerance else math.ceil(replicas * ratio)
    desired = max(desired, low)
    return min(desired, high) if high is not None else desired


def _round_up(value, unit):
    return math.ceil(value / unit - 1e-9) * unit


def right_size(
    replicas,
    requests,
    mean_usage,
    p95_usage,
    price,
    cpu_target=None,
    memory_target=None,
    low=None,
    high=None,
):
    """Advice for one component: ``requests``, ``mean_usage`` and ``p95_usage`` per pod as
    ``{cpu: cores, memory: bytes}``; ``cpu_target``/``memory_target`` the HPA's target
    utilisations in percent (None: no such HPA metric), ``low``/``high`` its range (None: no HPA)
    -> ``{"requests", "replicas", "monthly", "current_monthly", "saving", "why"}``."""
    has_hpa = low is not None or high is not None
    out_requests = {}
    desired = []
    why = []
    for resource, target, unit in (("cpu", cpu_target, 0.01), ("memory", memory_target, MIB)):
        p95 = p95_usage.get(resource)
        if p95 is None:
            out_requests[resource] = requests.get(resource)
            continue
        pct = target if target is not None else DEFAULT_TARGET
        size = _round_up(p95 / (pct / 100.0), unit)
        size = round(size, 2) if resource == "cpu" else int(size)
        out_requests[resource] = size
        why.append(
            "%s: p95 %s / %g%% target = %s" % (resource, _show(resource, p95), pct, _show(resource, size))
        )
        if has_hpa and target is not None and mean_usage.get(resource) is not None and size > 0:
            # The same total load: replicas x mean usage, against the new request.
            utilisation = mean_usage[resource] / size * 100
            desired.append(hpa_replicas(replicas, utilisation, target, low or 1, high))
    held = max(desired) if desired else replicas
    if has_hpa:
        held = max(low or 1, min(held, high if high is not None else held))
        why.append("the HPA would hold %d replica(s) (%d now)" % (held, replicas))
    monthly = monthly_cost(out_requests.get("cpu"), out_requests.get("memory"), price, held)
    current = monthly_cost(requests.get("cpu"), requests.get("memory"), price, replicas)
    return {
        "requests": out_requests,
        "replicas": held,
        "monthly": monthly,
        "current_monthly": current,
        "saving": round(current["total"] - monthly["total"], 2),
        "why": "; ".join(why),
    }


def _show(resource, value):
    return "%gm" % round(value * 1000, 1) if resource == "cpu" else "%dMi" % math.ceil(value / MIB)


def oversized_pods(pods, pod_metrics, cpu_under=CPU_UNDER, memory_under=MEMORY_UNDER):
    """The seed's ``identify_oversized_pods`` against the requests: per measured pod ``{"pod",
    "cpu_pct", "memory_pct", "oversized"}`` (sorted by name), the oversized ones and the others."""
    by_name = {objects.meta(p).get("name"): p for p in pods}
    out = []
    for item in pod_metrics:
        name = objects.meta(item).get("name")
        pod = by_name.get(name)
        if pod is None:
            continue
        used_cpu, used_memory = usage.pod_usage(item)
        asked_cpu, asked_memory = usage.pod_requests(pod)
        cpu_pct = round(used_cpu / asked_cpu * 100, 1) if asked_cpu else None
        memory_pct = round(used_memory / asked_memory * 100, 1) if asked_memory else None
        out.append(
            {
                "pod": name,
                "cpu_pct": cpu_pct,
                "memory_pct": memory_pct,
                "oversized": oversized(cpu_pct, memory_pct, cpu_under, memory_under),
            }
        )
    return sorted(out, key=lambda p: p["pod"])


def component_cost(replicas, pod, price):
    """A component's requests and limits per pod (its pod template or one of its pods) and the
    monthly cost of its requests at ``replicas`` -> ``{"requests", "limits", "replicas", "monthly"}``."""
    res = pod_resources(pod)
    return {
        "requests": res["requests"],
        "limits": res["limits"],
        "replicas": replicas,
        "monthly": monthly_cost(res["requests"]["cpu"], res["requests"]["memory"], price, replicas),
    }
