# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of multiagent.ops.cost_report: what it reads from the cluster and from Prometheus.

One task per cluster: one LIST of the HorizontalPodAutoscalers and one per workload kind,
and either the metrics API (one LIST each of pods, ReplicaSets and PodMetrics) or five
Prometheus queries (monitoring/client.py, run at once, while the LISTs go on), whatever the
number of components. The report itself is assembled from that data by cost_report.py.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import cost, cost_report, metrics
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as prom_client
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql, query


def prometheus_of(options, client, concurrency):
    """A monitoring.client.Prometheus for the module's ``prometheus`` option: its ``url``
    directly (bearer, basic or mutual-TLS authentication), or with ``via: service_proxy`` its
    Service through the Kubernetes API server (the module's own connection)."""
    timeout = float(options.get("timeout") or 30)
    if options.get("via") == "service_proxy":
        transport = prom_client.ServiceProxy(
            client, options["namespace"], options["service"], options.get("port"), options.get("scheme")
        )
    else:
        transport = prom_client.Direct(
            options["url"],
            bearer_token=options.get("bearer_token"),
            username=options.get("username"),
            password=options.get("password"),
            client_cert=options.get("client_cert"),
            client_key=options.get("client_key"),
            ca_cert=options.get("ca_cert"),
            validate_certs=options.get("validate_certs", True),
            maxsize=concurrency,
        )
    return prom_client.Prometheus(transport, timeout, concurrency)


def _prometheus_problem(options):
    options = options or {}
    if options.get("via") == "service_proxy":
        missing = [k for k in ("namespace", "service") if not options.get(k)]
        return "prometheus.%s is required with via=service_proxy" % " and ".join(missing) if missing else None
    return None if options.get("url") else "source=prometheus needs prometheus.url (or via=service_proxy)"


def _checked(params, now):
    """The checked prices, thresholds and (with Prometheus) queries; OpsError before any read."""
    try:
        price = cost.prices(params["prices"])
    except cost.CostError as exc:
        raise OpsError(nothing_changed("prices: %s" % exc), changed=False) from None
    price["currency"] = (params["prices"] or {}).get("currency") or ""
    thresholds = dict(cpu_under=cost.CPU_UNDER, memory_under=cost.MEMORY_UNDER)
    for key, value in (params.get("thresholds") or {}).items():
        if key not in thresholds:
            raise OpsError(
                nothing_changed("thresholds: unknown %s; known: cpu_under, memory_under" % key), changed=False
            )
        try:
            thresholds[key] = float(value)
        except (TypeError, ValueError):
            raise OpsError(
                nothing_changed("thresholds: %s must be a number, got %r" % (key, value))
            ) from None
    queries = None
    if params["source"] == cost_report.PROMETHEUS:
        problem = _prometheus_problem(params.get("prometheus"))
        if problem:
            raise OpsError(nothing_changed(problem), changed=False)
        try:
            end = promql.timestamp(params["end"], now) if params.get("end") not in (None, "") else float(now)
            start, end, step = cost_report.window(end, float(params["days"]), promql.duration(params["step"]))
            queries = promql.normalize_all(
                cost_report.prometheus_queries(params["namespace"], params.get("labels"), start, end, step),
                now,
            )
        except (ValueError, promql.QueryError) as exc:
            raise OpsError(nothing_changed("the Prometheus window: %s" % exc), changed=False) from None
    return price, thresholds, queries


def _targets(components):
    return [
        {
            "component": c["name"],
            "kind": c.get("kind") or "Deployment",
            "name": c.get("workload") or c["name"],
        }
        for c in components
    ]


def run(request, client, prometheus=None, now=time.time):
    """The cost report of the namespace's components; reads only (changed is always false).
    ``prometheus``: a monitoring.client.Prometheus (tests); made from the options when None."""
    p = request.params
    ns = p["namespace"]
    at = now()
    price, thresholds, queries = _checked(p, at)
    targets = _targets(p["components"])
    if queries is not None and prometheus is None:
        prometheus = prometheus_of(p["prometheus"], client, len(queries))

    with ThreadPoolExecutor(max_workers=1) as pool:
        asked = pool.submit(prometheus.run, queries) if queries is not None else None
        try:
            workloads = metrics.read_workloads(client, ns, targets)
            hpas, _version = scaling.list_hpas(client, ns)
            if queries is None:
                pod_metrics, why = metrics.read_pod_metrics(client, ns)
                pods = replicasets = []
                if pod_metrics is not None:
                    pods = client.list(resources.POD.collection_path(ns), "list pods in namespace %s" % ns)
                    replicasets = client.list(
                        resources.REPLICA_SET.collection_path(ns), "list replicasets in namespace %s" % ns
                    )
        except ApiError as exc:
            raise OpsError(nothing_changed(str(exc)), changed=False) from None
        finally:
            answered = asked.result() if asked is not None else None

    missing = [t["name"] for t in targets if (t["kind"], t["name"]) not in workloads]
    if missing:
        raise OpsError(
            nothing_changed("%s: not found in namespace %s" % (", ".join(missing), ns)), changed=False
        )

    names = {(t["kind"], t["name"]): t["component"] for t in targets}
    if queries is not None:
        results, errors = answered
        if errors:
            raise OpsError(
                nothing_changed("Prometheus: %s" % query.failure_message(errors, len(queries))),
                changed=False,
                errors={name: str(exc) for name, exc in errors.items()},
            )
        by_name, window_pods = cost_report.from_prometheus(
            results, [t["name"] for t in targets], thresholds["cpu_under"], thresholds["memory_under"]
        )
        measured = {(t["kind"], t["name"]): by_name.get(t["name"]) for t in targets}
        component_of = {t["name"]: t["component"] for t in targets}
        pods = [dict(pod, component=component_of[pod["component"]]) for pod in window_pods]
        source = {
            "name": cost_report.PROMETHEUS,
            "start": queries[0]["start"],
            "end": queries[0]["end"],
            "step": queries[0]["step"],
            "days": p["days"],
            "selector": cost_report.selector(ns, p.get("labels")),
        }
        if not any(measured.values()):
            request.warn(
                "Prometheus has no usage series for {%s} in the window: no component is measured"
                % source["selector"]
            )
    else:
        source = {"name": cost_report.METRICS_API, "time": at}
        if pod_metrics is None:
            request.warn("%s; no usage is measured and no advice given" % why)
            measured, pods = {}, []
        else:
            measured = cost_report.instant_usage(pods, replicasets, pod_metrics)
            pods = cost_report.instant_pods(
                pods, replicasets, pod_metrics, names, thresholds["cpu_under"], thresholds["memory_under"]
            )

    components = []
    for t in targets:
        try:
            hpa = scaling.find_hpa(hpas, t)
        except scaling.ScaleError as exc:
            raise OpsError(nothing_changed(str(exc)), changed=False) from None
        components.append(
            cost_report.component_entry(
                t,
                workloads[(t["kind"], t["name"])],
                cost_report.hpa_settings(hpa),
                measured.get((t["kind"], t["name"])),
                price,
                thresholds["cpu_under"],
                thresholds["memory_under"],
            )
        )
    return {
        "changed": False,
        "namespace": ns,
        "source": source,
        "prices": price,
        "thresholds": thresholds,
        "components": components,
        "pods": pods,
        "oversized_pods": [pod for pod in pods if pod["oversized"]],
        "totals": cost_report.totals(components),
    }
