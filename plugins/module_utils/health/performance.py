# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The performance analysis behind multiagent.ops.performance_analysis: response times per
endpoint from many concurrent requests, the database's and the cache's performance figures,
all at once; then, when asked, the load check.

It lives beside the health check because it reaches the same things the same way: endpoints
at their URL or through the API server's service proxy (collect.Collector.probe_once), an
in-cluster database or cache inside a ready pod of its workload through the exec API (the
pod's own credentials), an external one directly (probes.py). Only the questions differ.

The load check runs after the look, never beside it: its requests would slow down what the
look measures.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.health import collect, load_client, perf, probes
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as k8s_exec
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, classify

# Requests in flight at once over all endpoints (threads); each endpoint has ``concurrency``.
MAX_WORKERS = 64


def validate(params):
    """The endpoints, normalized; bad options raise OpsError before anything is contacted."""
    if params["requests"] < 1:
        raise OpsError("requests must be at least 1, got %d" % params["requests"], changed=False)
    if params["concurrency"] < 1:
        raise OpsError("concurrency must be at least 1, got %d" % params["concurrency"], changed=False)
    if params["timeout"] <= 0:
        raise OpsError("timeout must be > 0, got %s" % params["timeout"], changed=False)
    if params["top"] < 1:
        raise OpsError("top must be at least 1, got %d" % params["top"], changed=False)
    try:
        endpoints = collect.normalize_endpoints(params["endpoints"], params["timeout"])
        if params.get("load"):
            perf.validate_load(params["load"])
            probes.validate_url("load", params["load"].get("url"))
    except (collect.CollectError, probes.InputError, perf.LoadError) as exc:
        raise OpsError("Invalid input: %s" % exc, changed=False) from None
    return endpoints


def endpoint_result(ep, samples, seconds):
    """One endpoint's summary: where it is, its requests' numbers, and the throughput."""
    where = ep["url"] or "service %s%s (API proxy)" % (
        ep["service"] + (":%s" % ep["port"] if ep["port"] else ""),
        ep["path"],
    )
    result = {"name": ep["name"], "component": ep["component"], "url": where}
    result.update(perf.summarize(samples))
    result["duration_seconds"] = round(seconds, 3)
    result["throughput_rps"] = round(len(samples) / seconds, 1) if seconds > 0 else None
    return result


def load_result(load, measured):
    """The load check's report from load_client.run_load's measurements."""
    samples = measured["samples"]
    summary = perf.summarize(samples)
    achieved = perf.achieved_rate(
        len(samples), measured["duration"], measured["last_start"], measured["rate"]
    )
    verdict = perf.load_verdict(
        measured["rate"],
        achieved,
        summary["p95_ms"],
        summary["error_rate"],
        load.get("p95_ms"),
        load.get("max_error_rate"),
    )
    result = {
        "url": load["url"],
        "target_rate": measured["rate"],
        "duration": measured["duration"],
        "max_in_flight": measured["max_in_flight"],
        "scheduled": measured["scheduled"],
        "started": len(samples),
        "dropped": measured["dropped"],
        "achieved_rate": round(achieved, 2),
        "max_lag_ms": round(measured["max_lag"] * 1000.0, 1),
        "elapsed_seconds": round(measured["elapsed"], 3),
    }
    result.update(summary)
    result.update(verdict)
    return result


class Analysis:
    def __init__(self, params, connect):
        self.p = params
        self.connect = connect
        self._client = None
        self._failure = None
        self._connected = False

    def client(self):
        """The Kubernetes client, made when something needs it first; ApiError otherwise."""
        if not self._connected:
            self._connected = True
            client, failure = self.connect()
            self._client = client
            if failure is not None:
                self._failure = classify(failure, self.p.get("host"), "connect")
        if self._client is None:
            raise self._failure
        return self._client

    def needs_api(self, endpoints):
        return any(ep["service"] for ep in endpoints) or any(
            (self.p.get(role) or {}).get("workload") for role in ("database", "cache")
        )

    def collector(self):
        try:
            client, error = self.client(), None
        except ApiError as exc:
            client, error = None, exc
        return collect.Collector(client, self.p["namespace"], reader_error=error)

    # -- endpoints -----------------------------------------------------------------------
    def measure(self, pool, collector, ep):
        started = time.monotonic()
        shares = perf.split_requests(self.p["requests"], self.p["concurrency"])

        def worker(count):
            return [collector.probe_once(ep) for _i in range(count)]

        futures = [pool.submit(worker, count) for count in shares]
        samples = [sample for fut in futures for sample in fut.result()]
        return endpoint_result(ep, samples, time.monotonic() - started)

    # -- the data tier ---------------------------------------------------------------------
    def pod_of(self, params):
        """``(pod, None)`` or ``(None, why not)``: a running and ready pod of the workload."""
        kind = params.get("kind") or "StatefulSet"
        ns = self.p["namespace"]
        try:
            client = self.client()
            pods = client.list(resources.POD.collection_path(ns), "list pods in namespace %s" % ns)
            replicasets = (
                client.list(
                    resources.REPLICA_SET.collection_path(ns), "list replicasets in namespace %s" % ns
                )
                if kind == "Deployment"
                else []
            )
        except ApiError as exc:
            return None, "no pod to analyse in: %s" % exc
        pod, count = collect.pick_pod(pods, replicasets, kind, params["workload"])
        if pod is None:
            return None, collect.no_pod_result(kind, params["workload"], count)["error"].replace(
                "not checked", "not analysed"
            )
        return pod, None

    def data_tier(self, role, params):
        name = params.get("name") or ("postgresql" if role == "database" else "redis")
        timeout = float(params.get("timeout") or 5)
        top = self.p["top"]
        if not params.get("workload"):
            if role == "database":
                result = probes.postgres_performance(params)
            else:
                result = probes.redis_performance(params, top)
            return dict(result, name=name)
        pod, why = self.pod_of(params)
        if pod is None:
            return {"name": name, "via": "exec", "pod": None, "error": why}
        ns = self.p["namespace"]
        api = self.client().api

        def run(argv, seconds):
            return k8s_exec.run(api, ns, pod, argv, params.get("container"), timeout=seconds)

        if role == "database":
            result = probes.postgres_exec_performance(run, ns, pod, timeout)
        else:
            result = probes.redis_exec_performance(run, ns, pod, timeout, top)
        return dict(result, name=name)

    # -- the look ------------------------------------------------------------------------
    def look(self, endpoints):
        started = time.monotonic()
        collector = (
            self.collector() if self.needs_api(endpoints) else collect.Collector(None, self.p["namespace"])
        )
        workers = max(1, min(MAX_WORKERS, self.p["concurrency"] * len(endpoints)))
        report = {"endpoints": [], "database": None, "cache": None}
        # The endpoints' requests in one pool; each endpoint waits for its own in a thread of
        # a second pool, beside the data tier's readers, so nothing waits for a free worker
        # that a waiting thread holds.
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            ThreadPoolExecutor(max_workers=len(endpoints) + 2) as waiters,
        ):
            ep_jobs = [waiters.submit(self.measure, pool, collector, ep) for ep in endpoints]
            tier_jobs = {
                role: waiters.submit(self.data_tier, role, self.p[role])
                for role in ("database", "cache")
                if self.p.get(role)
            }
            report["endpoints"] = [job.result() for job in ep_jobs]
            for role, job in tier_jobs.items():
                report[role] = job.result()
        report["duration_seconds"] = round(time.monotonic() - started, 3)
        return report


def run(request, connect):
    """The performance analysis (multiagent.ops.performance_analysis). ``connect()`` returns
    ``(client, None)``, or ``(None, exception)`` when no client could be made; it is called
    only when an endpoint or the data tier is reached through the Kubernetes API."""
    p = request.params
    endpoints = validate(p)
    analysis = Analysis(p, connect)
    report = analysis.look(endpoints)
    report.update(namespace=p["namespace"], requests=p["requests"], concurrency=p["concurrency"], load=None)
    if p.get("load"):
        load = dict(p["load"], timeout=p["load"].get("timeout") or p["timeout"])
        report["load"] = load_result(load, load_client.run_load(load))
    report["findings"] = perf.findings(report)
    return {"changed": False, "report": report}
