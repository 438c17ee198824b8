# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity report's look at Prometheus, pure: which queries, and the report from their answers.

Seven queries cover every component of every region at once (the report's cost does not grow
with the number of components):

- per pod (and region), over the report's days at its step: CPU usage (the rate of cAdvisor's
  counter), memory working set, and the CPU and memory requests (kube-state-metrics);
- the request rate per Service (the seeds' ``http_requests_total``);
- once, at the end, every pod's owner seen during those days (``kube_pod_owner``, and
  ``kube_replicaset_owner`` where kube-state-metrics exports it).

A rollout renames the pods, so the per-pod series are summed per owning workload
(usage.pod_owners, rollup.sum_by_owner) before the utilisation, sum(usage) / sum(requests) x 100 at
each step (rollup.ratio_series), is fitted (forecast.analyse: hourly peaks, least squares, and
Theil-Sen where the data is noisy). ``build`` returns the report and, apart, the hourly peaks
the charts draw.
"""

from __future__ import annotations

import json

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import forecast, rollup, usage
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql

DAY = 86400
CPU_USAGE, MEMORY_USAGE = "cpu_usage", "memory_usage"
CPU_REQUESTS, MEMORY_REQUESTS = "cpu_requests", "memory_requests"
REQUEST_RATE, POD_OWNER, REPLICASET_OWNER = "request_rate", "pod_owner", "replicaset_owner"
RANGE_QUERIES = (CPU_USAGE, MEMORY_USAGE, CPU_REQUESTS, MEMORY_REQUESTS, REQUEST_RATE)
# The seed's recommendation levels, which are also the thresholds the days are counted to.
THRESHOLDS = {"cpu": 80.0, "memory": 85.0, "requests_growth": 50.0}
METRICS = ("cpu", "memory", "requests")
_REGEX_SPECIAL = set(".*+?()[]{}|^$\\")


class PlanningError(ValueError):
    pass


def _quote(text):
    """A PromQL string literal."""
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"')


def _regex(values):
    escaped = ("".join("\\" + c if c in _REGEX_SPECIAL else c for c in str(v)) for v in values)
    return _quote("|".join(escaped))


def selector(namespace, region_label=None, regions=()):
    """The label matchers every query shares: the namespace, and the regions when given."""
    matchers = ["namespace=%s" % _quote(namespace)]
    if region_label and regions:
        regions = list(regions)
        if len(regions) == 1:
            matchers.append("%s=%s" % (region_label, _quote(regions[0])))
        else:
            matchers.append("%s=~%s" % (region_label, _regex(regions)))
    return ",".join(matchers)


def queries(namespace, end, days=30, step=300, rate_window="10m", region_label="region", regions=()):
    """The report's queries as prometheus_query specs (client.Prometheus runs them at once)."""
    if days <= 0:
        raise PlanningError("days must be at least 1, not %r" % (days,))
    sel = selector(namespace, region_label, regions)
    by = "%s, pod" % region_label if region_label else "pod"
    containers = sel + ',container!="",container!="POD"'
    window = "%ds" % int(days * DAY)
    exprs = {
        CPU_USAGE: "sum by (%s) (rate(container_cpu_usage_seconds_total{%s}[%s]))"
        % (by, containers, rate_window),
        MEMORY_USAGE: "sum by (%s) (container_memory_working_set_bytes{%s})" % (by, containers),
        CPU_REQUESTS: 'sum by (%s) (kube_pod_container_resource_requests{%s,resource="cpu"})' % (by, sel),
        MEMORY_REQUESTS: 'sum by (%s) (kube_pod_container_resource_requests{%s,resource="memory"})'
        % (by, sel),
        REQUEST_RATE: "sum by (%s) (rate(http_requests_total{%s}[%s]))"
        % (("%s, service" % region_label) if region_label else "service", sel, rate_window),
    }
    start = float(end) - days * DAY
    out = [
        {"name": name, "query": exprs[name], "type": "range", "start": start, "end": float(end), "step": step}
        for name in RANGE_QUERIES
    ]
    owner_by = (
        "%s, pod, owner_kind, owner_name" % region_label if region_label else "pod, owner_kind, owner_name"
    )
    rs_by = owner_by.replace("pod,", "replicaset,")
    out.append(
        {
            "name": POD_OWNER,
            "query": "max by (%s) (max_over_time(kube_pod_owner{%s}[%s]))" % (owner_by, sel, window),
            "time": float(end),
        }
    )
    out.append(
        {
            "name": REPLICASET_OWNER,
            "query": "max by (%s) (max_over_time(kube_replicaset_owner{%s}[%s]))" % (rs_by, sel, window),
            "time": float(end),
        }
    )
    return out


def answer(query, status, body):
    """promql.answer for the report's vector and matrix results, without turning every sample
    into a pair of floats first (a month of 5-minute samples is about 450,000 per region; the
    sums below convert each value once). Anything else - an error, another result type - is
    promql.answer's, with its messages."""
    if 200 <= status < 300:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        data = doc.get("data") if isinstance(doc, dict) and doc.get("status") == "success" else None
        if isinstance(data, dict) and data.get("resultType") in ("vector", "matrix"):
            return {
                "query": query["query"],
                "type": query["type"],
                "result_type": data["resultType"],
                "series": data.get("result") or [],
                "warnings": list(doc.get("warnings") or []),
            }
    return promql.answer(query, status, body)


def components(items):
    """The inventory's components (``platform_components`` entries or names) -> ``[{name,
    workload, service}]``: the workload its pods belong to (default its name), the Service its
    request rate is measured on (``service.name``, default the workload)."""
    out, seen = [], set()
    for item in items or ():
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            raise PlanningError("a component needs a name, not %r" % (item,))
        name = str(item["name"])
        if name in seen:
            raise PlanningError("the component %s is listed twice" % name)
        seen.add(name)
        workload = str(item.get("workload") or name)
        service = item.get("service")
        if isinstance(service, dict):
            service = service.get("name")
        out.append({"name": name, "workload": workload, "service": str(service or workload)})
    if not out:
        raise PlanningError("no component to report on")
    return out


def thresholds(overrides=None):
    """The seed's levels (CPU 80 %, memory 85 %, request growth 50 %) with the inventory's overrides."""
    merged = dict(THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in THRESHOLDS:
            raise PlanningError("unknown threshold %r; known: %s" % (key, ", ".join(THRESHOLDS)))
        if value is None:
            continue
        try:
            merged[key] = float(value)
        except (TypeError, ValueError):
            raise PlanningError("threshold %s must be a number, not %r" % (key, value)) from None
        if merged[key] <= 0:
            raise PlanningError("threshold %s must be positive, not %r" % (key, value))
    return merged


def _by_region(series, region_label, default_region):
    out = {}
    for item in series or ():
        region = (item.get("metric") or {}).get(region_label) if region_label else None
        out.setdefault(region or default_region, []).append(item)
    return out


def _series(results, name):
    return (results.get(name) or {}).get("series") or []


def build(
    results,
    comps,
    end,
    days=30,
    days_ahead=30,
    levels=None,
    robust="auto",
    region_label="region",
    default_region="default",
    regions=(),
):
    """The report from the queries' ``results`` (prometheus_query's shape, keyed by name):
    ``(report, peaks)``. ``report``: ``{end, start, days, days_ahead, thresholds, regions,
    components: [{region, component, workload, service, pods, cpu, memory, requests,
    recommendations, missing}], recommendations: [... with region and component]}``; ``peaks``:
    ``{(region, component): {metric: [(ts, value)]}}``, the hourly peaks the fits were made on."""
    levels = thresholds(levels)
    workloads = [c["workload"] for c in comps]
    grouped = {
        name: _by_region(_series(results, name), region_label, default_region)
        for name in RANGE_QUERIES + (POD_OWNER, REPLICASET_OWNER)
    }
    found = set()
    for name in RANGE_QUERIES:
        found |= set(grouped[name])
    names = list(regions) or sorted(found)
    entries, peaks, advice = [], {}, []
    for region in names:
        owners = usage.pod_owners(
            grouped[POD_OWNER].get(region), grouped[REPLICASET_OWNER].get(region), workloads
        )
        summed = {
            name: rollup.sum_by_owner(grouped[name].get(region), owners, workloads)
            for name in (CPU_USAGE, MEMORY_USAGE, CPU_REQUESTS, MEMORY_REQUESTS)
        }
        cpu = rollup.ratio_series(summed[CPU_USAGE], summed[CPU_REQUESTS])
        memory = rollup.ratio_series(summed[MEMORY_USAGE], summed[MEMORY_REQUESTS])
        rates = {}
        for item in grouped[REQUEST_RATE].get(region) or ():
            rates[(item.get("metric") or {}).get("service")] = item.get("values") or []
        pods = {}
        for item in grouped[CPU_USAGE].get(region) or ():
            pod = (item.get("metric") or {}).get("pod")
            owner = usage.owner_of(pod, owners, workloads)
            if owner is not None:
                pods.setdefault(owner, set()).add(pod)
        for comp in comps:
            series = {
                "cpu": cpu.get(comp["workload"]),
                "memory": memory.get(comp["workload"]),
                "requests": rates.get(comp["service"]),
            }
            entry = {
                "region": region,
                "component": comp["name"],
                "workload": comp["workload"],
                "service": comp["service"],
                "pods": len(pods.get(comp["workload"], ())),
                "missing": [],
            }
            chart = {}
            for metric in METRICS:
                values = series[metric]
                hourly = forecast.peaks(forecast.parse(values)) if values is not None else ()
                if len(hourly) < 2:  # one peak per hour: two peaks are two times
                    entry[metric] = None
                    entry["missing"].append(metric)
                    continue
                # the hourly peaks are their own hourly peaks: analysed once, drawn as they are
                entry[metric] = forecast.analyse(
                    hourly,
                    now=end,
                    days_ahead=days_ahead,
                    thresholds=(levels[metric],) if metric in ("cpu", "memory") else (),
                    robust=robust,
                )
                chart[metric] = hourly
            entry["recommendations"] = forecast.recommendations(
                entry["cpu"], entry["memory"], entry["requests"], limits=levels
            )
            for rec in entry["recommendations"]:
                advice.append(dict(rec, region=region, component=comp["name"]))
            entries.append(entry)
            peaks[(region, comp["name"])] = chart
    report = {
        "end": float(end),
        "start": float(end) - days * DAY,
        "days": days,
        "days_ahead": days_ahead,
        "thresholds": levels,
        "regions": names,
        "components": entries,
        "recommendations": advice,
    }
    return report, peaks


def has_data(report):
    """Whether any component of any region has at least one analysed metric."""
    return any(entry.get(m) for entry in report["components"] for m in METRICS)
