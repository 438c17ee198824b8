# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost report of multiagent.ops.cost_report from plain data; pure (cost.py prices and sizes).

Usage per pod comes from one of two sources:

- the metrics API: one look now; the mean is over the component's measured pods, the p95
  across them (with a few pods, about the busiest one). A single look says little about a
  peak: the report says which source it used;
- Prometheus: per-pod series over a window. A rollout renames the pods, so the series are
  grouped by their owning workload first (usage.pod_owners); at each timestamp the
  component's usage per pod is the sum over its pods divided by their number, and the mean
  and the p95 are taken over those per-pod points of the whole window.

Per component: its requests and limits per pod (its pod template), the monthly cost of the
requests at its replicas (cost.component_cost), utilisation (mean and p95 against the
requests), the resources it over-requests by the seed's thresholds (mean usage under 30 % of
the CPU request, 40 % of the memory request), and the right-sizing advice of cost.right_size
(at least the p95 over the HPA's target utilisation, at the replicas the HPA would hold).
"""

from __future__ import annotations

import math

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import cost, rollup, usage
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects

METRICS_API, PROMETHEUS = "metrics_api", "prometheus"
RESOURCES = ("cpu", "memory")


def quantile(values, q):
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation between the closest
    ranks (numpy's default); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _mean(values):
    return sum(values) / len(values) if values else None


def hpa_settings(hpa):
    """An HPA (autoscaling/v2 or v1) -> ``{"name", "min", "max", "cpu_target", "memory_target"}``
    (targets in percent of the requests, None when it does not scale on that resource), or
    None without an HPA."""
    if hpa is None:
        return None
    spec = hpa.get("spec") or {}
    out = {
        "name": objects.meta(hpa).get("name"),
        "min": 1 if spec.get("minReplicas") is None else int(spec["minReplicas"]),
        "max": int(spec.get("maxReplicas") or 0) or None,
        "cpu_target": None,
        "memory_target": None,
    }
    if spec.get("targetCPUUtilizationPercentage") is not None:  # autoscaling/v1
        out["cpu_target"] = float(spec["targetCPUUtilizationPercentage"])
    for metric in spec.get("metrics") or ():
        if metric.get("type") != "Resource":
            continue
        res = metric.get("resource") or {}
        target = res.get("target") or {}
        if res.get("name") in RESOURCES and target.get("type") == "Utilization":
            out["%s_target" % res["name"]] = float(target.get("averageUtilization"))
    return out


# -- the metrics API ---------------------------------------------------------------------------


def instant_usage(pods, replicasets, pod_metrics):
    """Pods, ReplicaSets and PodMetrics of a namespace -> ``{(kind, name): {"pods", "mean":
    {cpu, memory}, "p95": {cpu, memory}}}`` per owning workload, over its pods with metrics."""
    owner_of = objects.pod_workloads(pods, replicasets)
    by_name = {objects.meta(p).get("name"): p for p in pods}
    per_owner = {}
    for item in pod_metrics:
        pod = by_name.get(objects.meta(item).get("name"))
        if pod is None:
            continue
        key = owner_of.get(objects.meta(pod).get("uid") or objects.meta(pod).get("name"))
        if key is not None:
            per_owner.setdefault(key, []).append(usage.pod_usage(item))
    return {key: _stats([u[0] for u in used], [u[1] for u in used]) for key, used in per_owner.items()}


def _stats(cpu, memory):
    return {
        "pods": max(len(cpu), len(memory)),
        "mean": {"cpu": _round_cpu(_mean(cpu)), "memory": _round_bytes(_mean(memory))},
        "p95": {"cpu": _round_cpu(quantile(cpu, 0.95)), "memory": _round_bytes(quantile(memory, 0.95))},
    }


def _round_cpu(value):
    return None if value is None else round(value, 4)


def _round_bytes(value):
    return None if value is None else int(round(value))


def instant_pods(pods, replicasets, pod_metrics, names, cpu_under, memory_under):
    """cost.oversized_pods over the pods of the workloads ``names`` (``{(kind, name): component}``),
    each with its ``component``."""
    owner_of = objects.pod_workloads(pods, replicasets)
    component_of = {}
    for pod in pods:
        key = owner_of.get(objects.meta(pod).get("uid") or objects.meta(pod).get("name"))
        if key in names:
            component_of[objects.meta(pod).get("name")] = names[key]
    mine = [p for p in pods if objects.meta(p).get("name") in component_of]
    out = cost.oversized_pods(mine, pod_metrics, cpu_under, memory_under)
    for entry in out:
        entry["component"] = component_of[entry["pod"]]
    return out


# -- Prometheus --------------------------------------------------------------------------------


def window_usage(cpu_series, memory_series, owners, workloads):
    """Per workload over the window: ``{"pods" (mean number of pods measured), "samples"
    (timestamps), "mean": {cpu, memory}, "p95": {cpu, memory}}``, from per-pod CPU (cores) and
    memory (bytes) series."""
    cpu = rollup.owner_sums(cpu_series, owners, workloads)
    memory = rollup.owner_sums(memory_series, owners, workloads)
    out = {}
    for owner in set(cpu) | set(memory):
        per_pod = {}
        for resource, sums in (("cpu", cpu), ("memory", memory)):
            found = sums.get(owner)  # (stamps, sums, counts): the mean per pod at each timestamp
            per_pod[resource] = (found[1] / found[2]).tolist() if found else []
        entry = _stats(per_pod["cpu"], per_pod["memory"])
        entry["samples"] = entry.pop("pods")
        counts = (cpu.get(owner) or memory[owner])[2]  # pods measured: CPU's count, else memory's
        entry["pods"] = round(_mean(counts.tolist()), 2) if len(counts) else 0
        out[owner] = entry
    return out


def pod_requests(request_series):
    """kube_pod_container_resource_requests summed ``by (pod, resource)`` -> ``{pod: {cpu, memory}}``."""
    out = {}
    for item in request_series or ():
        labels = item.get("metric") or {}
        resource = labels.get("resource")
        if resource not in RESOURCES or not labels.get("pod"):
            continue
        value = item.get("value")
        if value is None and item.get("values"):
            value = item["values"][-1][1]
        if value is not None:
            out.setdefault(labels["pod"], {})[resource] = float(value)
    return out


def window_pods(cpu_series, memory_series, requests, owners, workloads, cpu_under, memory_under):
    """The window's pods (those a rollout replaced too): mean usage over each pod's life against
    its requests -> ``[{"pod", "component" (its workload), "cpu_pct", "memory_pct", "oversized"}]``."""
    means = {}
    for resource, series in (("cpu", cpu_series), ("memory", memory_series)):
        for item in series or ():
            pod = (item.get("metric") or {}).get("pod")
            values = [float(v) for _ts, v in item.get("values") or ()]
            if pod and values:
                means.setdefault(pod, {})[resource] = _mean(values)
    out = []
    for pod, used in means.items():
        owner = usage.owner_of(pod, owners, workloads)
        if owner not in workloads:
            continue
        asked = requests.get(pod) or {}
        pct = {}
        for resource in RESOURCES:
            have, want = used.get(resource), asked.get(resource)
            pct[resource] = round(have / want * 100, 1) if have is not None and want else None
        out.append(
            {
                "pod": pod,
                "component": owner,
                "cpu_pct": pct["cpu"],
                "memory_pct": pct["memory"],
                "oversized": cost.oversized(pct["cpu"], pct["memory"], cpu_under, memory_under),
            }
        )
    return sorted(out, key=lambda p: p["pod"])


# -- the report --------------------------------------------------------------------------------


def _pct(used, asked):
    return None if used is None or not asked else round(used / asked * 100, 1)


def component_entry(target, workload, hpa, measured, price, cpu_under, memory_under):
    """One component: ``target`` ``{component, kind, name}``, its ``workload`` object, its
    ``hpa`` (hpa_settings or None), ``measured`` (instant_usage's or window_usage's entry, or
    None), the checked ``price`` -> its costs, utilisation and advice."""
    spec = workload.get("spec") or {}
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    entry = cost.component_cost(replicas, spec.get("template") or {}, price)
    entry.update(
        component=target["component"],
        kind=target["kind"],
        name=target["name"],
        hpa=hpa,
        usage=measured,
    )
    requests = entry["requests"]
    util = {"mean": {}, "p95": {}}
    if measured:
        for stat in util:
            for resource in RESOURCES:
                util[stat][resource] = _pct(measured[stat].get(resource), requests.get(resource))
    entry["utilisation"] = util if measured else None
    entry["oversized"] = (
        cost.oversized(util["mean"].get("cpu"), util["mean"].get("memory"), cpu_under, memory_under)
        if measured
        else []
    )
    if measured and any(measured["p95"].get(r) is not None for r in RESOURCES) and replicas > 0:
        hpa = hpa or {}
        entry["advice"] = cost.right_size(
            replicas,
            requests,
            measured["mean"],
            measured["p95"],
            price,
            cpu_target=hpa.get("cpu_target"),
            memory_target=hpa.get("memory_target"),
            low=hpa.get("min"),
            high=hpa.get("max"),
        )
    else:
        entry["advice"] = None
    entry["message"] = message(entry, price.get("currency"))
    return entry


def _money(value, currency):
    return "%s %.2f" % (currency or "", value) if currency else "%.2f" % value


def message(entry, currency=None):
    """One line per component: its cost now, what it uses, what it would cost right-sized."""
    head = "%s (%s %s): %d replica(s), %s a month" % (
        entry["component"],
        entry["kind"],
        entry["name"],
        entry["replicas"],
        _money(entry["monthly"]["total"], currency),
    )
    if not entry["usage"]:
        return head + "; no usage measured: no advice"
    util = entry["utilisation"]["mean"]
    used = "CPU %s, memory %s of requests" % tuple(
        "n/a" if util.get(r) is None else "%g%%" % util[r] for r in RESOURCES
    )
    text = "%s; uses %s" % (head, used)
    if entry["oversized"]:
        text += " (oversized: %s)" % ", ".join(entry["oversized"])
    advice = entry["advice"]
    if advice:
        verb = "saves" if advice["saving"] >= 0 else "costs"
        text += "; right-sized %s a month (%s), %s %s" % (
            _money(advice["monthly"]["total"], currency),
            advice["why"],
            verb,
            _money(abs(advice["saving"]), currency),
        )
    return text


def totals(entries):
    """``{"monthly", "advised_monthly", "saving"}`` over the components (a component without
    advice counts at its current cost)."""
    monthly = sum(e["monthly"]["total"] for e in entries)
    advised = sum((e["advice"] or {}).get("monthly", e["monthly"])["total"] for e in entries)
    return {
        "monthly": round(monthly, 2),
        "advised_monthly": round(advised, 2),
        "saving": round(monthly - advised, 2),
    }


# -- the Prometheus queries --------------------------------------------------------------------

MIN_RATE_WINDOW = 600  # rate() needs two samples: at least 10m with 5-minute scrapes
MAX_POINTS = 11000


def _quote(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selector(namespace, labels=None):
    """The label matchers of every query: ``namespace`` (unless ``labels`` has its own, e.g. a
    Prometheus that labels namespaces otherwise) and ``labels`` (a region, a cluster)."""
    given = dict(labels or {})
    given.setdefault("namespace", namespace)
    return ",".join("%s=%s" % (k, _quote(v)) for k, v in sorted(given.items()))


def window(end, days, step):
    """``(start, end, step)`` of the range queries: ``days`` before ``end``; the step raised
    where the window would pass Prometheus's 11,000 points per series."""
    if days <= 0:
        raise ValueError("days must be above 0, got %g" % days)
    if step <= 0:
        raise ValueError("step must be above 0, got %g" % step)
    span = days * 86400.0
    step = max(float(step), math.ceil(span / (MAX_POINTS - 1)))
    return end - span, float(end), step


def prometheus_queries(namespace, labels, start, end, step):
    """The queries of one report, as multiagent.ops.prometheus_query's ``queries``: per-pod CPU
    (cores) and memory (bytes) over the window, and at its end the pods' requests and owners
    seen during it."""
    sel = selector(namespace, labels)
    containers = '%s,container!="",container!="POD"' % sel
    span = "%ds" % int(end - start)
    rate_window = "%ds" % int(max(MIN_RATE_WINDOW, 2 * step))
    ranged = {"type": "range", "start": start, "end": end, "step": step}
    at_end = {"type": "instant", "time": end}
    return [
        dict(
            ranged,
            name="cpu",
            query="sum by (pod) (rate(container_cpu_usage_seconds_total{%s}[%s]))"
            % (containers, rate_window),
        ),
        dict(
            ranged, name="memory", query="sum by (pod) (container_memory_working_set_bytes{%s})" % containers
        ),
        dict(
            at_end,
            name="requests",
            query="sum by (pod, resource) (max_over_time(kube_pod_container_resource_requests{%s}[%s]))"
            % ('%s,resource=~"cpu|memory"' % sel, span),
        ),
        dict(
            at_end,
            name="pod_owner",
            query="max by (pod, owner_kind, owner_name) (max_over_time(kube_pod_owner{%s}[%s]))"
            % (sel, span),
        ),
        dict(
            at_end,
            name="replicaset_owner",
            query="max by (replicaset, owner_kind, owner_name) (max_over_time(kube_replicaset_owner{%s}[%s]))"
            % (sel, span),
        ),
    ]


def from_prometheus(results, workloads, cpu_under, memory_under):
    """prometheus_queries' results (by name, prometheus_query's shape) and the workload names
    -> ``(usage by workload name, the window's pods)``."""
    series = {name: (results.get(name) or {}).get("series") or [] for name in results}
    owners = usage.pod_owners(series.get("pod_owner"), series.get("replicaset_owner"), workloads)
    measured = window_usage(series.get("cpu"), series.get("memory"), owners, workloads)
    pods = window_pods(
        series.get("cpu"),
        series.get("memory"),
        pod_requests(series.get("requests")),
        owners,
        workloads,
        cpu_under,
        memory_under,
    )
    return measured, pods
