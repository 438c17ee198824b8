# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One look at a platform: every LIST and every probe at once, then the health report.

``collect()`` runs the namespace's LISTs (Deployments, ReplicaSets, StatefulSets, Pods,
Events, optionally Services and pod metrics), all HTTP endpoint probes, and the database
and cache checks concurrently in a thread pool, so a check of ten components costs about
as long as its slowest probe. A second, smaller round reads pod logs when asked.

A database or cache given with a ``workload`` runs in the cluster: its check waits for the
one pods LIST of the look (no request of its own), picks a running and ready pod of that
workload and runs there, through the exec API, while the rest of the look goes on.
"""

from __future__ import annotations

import datetime
import re
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.health import probes
from ansible_collections.multiagent.ops.plugins.module_utils.health import rules as health
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as k8s_exec
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, status_message
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.objects import parse_cpu, parse_memory

MAX_WORKERS = 32
DEFAULT_LOG_PATTERN = r"(?i)\b(error|fatal|panic|exception|traceback|critical)\b"

_SOURCES = {
    "deployments": resources.DEPLOYMENT,
    "replicasets": resources.REPLICA_SET,
    "statefulsets": resources.STATEFUL_SET,
    "daemonsets": resources.DAEMON_SET,
    "pods": resources.POD,
    "events": resources.EVENT,
    "services": resources.SERVICE,
    "metrics": resources.POD_METRICS,
}
# The source (a LIST, by its plural) of each workload kind a component may be.
_KIND_LIST = {kind: resources.get(kind).plural for kind in ("Deployment", "StatefulSet", "DaemonSet")}


class CollectError(Exception):
    """The look could not be taken at all (bad input, unknown namespace)."""


def pick_pod(pods, replicasets, kind, workload):
    """``(pod name or None, number of pods of the workload)``: the first (by name) running
    and ready pod that the workload owns (through its ReplicaSets for a Deployment)."""
    owners = wl.pod_workloads(pods or [], replicasets or [])
    mine = [
        p
        for p in pods or []
        if owners.get(wl.meta(p).get("uid") or wl.meta(p).get("name")) == (kind, workload)
    ]
    ready = sorted(
        wl.meta(p).get("name")
        for p in mine
        if (p.get("status") or {}).get("phase") == "Running" and wl.pod_is_ready(p)
    )
    return (ready[0] if ready else None), len(mine)


def no_pod_result(kind, workload, count):
    """A data-tier check that did not run: no ready pod to run it in. No finding of its own:
    the workload's (no_ready_replica, workload_missing) already say what is wrong, and a
    database whose pods are down is not one that refuses connections."""
    return {
        "ok": None,
        "skipped": True,
        "via": "exec",
        "pod": None,
        "error": "not checked: no running and ready pod of %s %s (%d pod(s))" % (kind, workload, count),
    }


def normalize_components(components):
    result = []
    seen = set()
    for comp in components or []:
        name = comp.get("name")
        if not name:
            raise CollectError("every component needs a name: %r" % (comp,))
        if name in seen:
            raise CollectError("component '%s' is listed twice" % name)
        seen.add(name)
        kind = comp.get("kind") or "Deployment"
        if kind not in _KIND_LIST and kind != "none":
            raise CollectError(
                "component '%s': kind '%s' is not one of Deployment, StatefulSet, DaemonSet, none"
                % (name, kind)
            )
        result.append(
            {
                "name": name,
                "kind": None if kind == "none" else kind,
                "workload_name": comp.get("workload") or name,
            }
        )
    return result


def normalize_endpoints(endpoints, default_timeout):
    """Validate endpoint definitions up front: a malformed URL fails before any probe."""
    result = []
    names = set()
    for i, ep in enumerate(endpoints or []):
        url, service = ep.get("url"), ep.get("service")
        name = (
            ep.get("name")
            or url
            or ("%s%s" % (service, ep.get("path") or "/health") if service else "endpoint #%d" % i)
        )
        if name in names:
            raise CollectError("endpoint name '%s' is used twice" % name)
        names.add(name)
        if bool(url) == bool(service):
            raise CollectError("endpoint '%s': give exactly one of url or service" % name)
        if url:
            probes.validate_url(name, url)
        timeout = float(ep.get("timeout") or default_timeout)
        if timeout <= 0:
            raise CollectError("endpoint '%s': timeout must be > 0" % name)
        result.append(
            {
                "name": name,
                "url": url,
                "service": service,
                "port": ep.get("port"),
                "path": ep.get("path") or "/health",
                "scheme": ep.get("scheme") or "http",
                "component": ep.get("component"),
                "expect": ep.get("expect_status") or [],
                "timeout": timeout,
                "headers": ep.get("headers") or {},
                "validate_certs": ep.get("validate_certs", True),
            }
        )
    return result


class Collector:
    def __init__(self, reader, namespace, label_selector=None, now=None, reader_error=None):
        self.reader = reader
        self.reader_error = reader_error  # ApiError when no API client could be made
        self.ns = namespace
        self.selector = label_selector
        self.now = now
        self.errors = {}  # source -> ApiError
        self._http = None

    @property
    def http(self):
        if self._http is None:
            self._http = probes.HttpProber(maxsize=MAX_WORKERS)
        return self._http

    # -- Kubernetes ------------------------------------------------------------------
    def _list(self, source, selector=None):
        if self.reader is None:
            raise self.reader_error
        return self.reader.list(
            _SOURCES[source].collection_path(self.ns),
            "list %s in namespace %s" % (source, self.ns),
            label_selector=selector,
        )

    def _namespace(self):
        if self.reader is None:
            raise self.reader_error
        try:
            return self.reader.get(resources.namespace_path(self.ns), "get namespace %s" % self.ns)
        except ApiError as exc:
            if exc.kind == "forbidden":
                return None  # namespaced credentials may not read Namespaces; carry on
            raise

    # -- probes ------------------------------------------------------------------------
    def _probe_endpoint(self, ep, attempts):
        results = []
        for _attempt in range(attempts):
            if ep["url"]:
                results.append(
                    self.http.get(ep["url"], ep["timeout"], ep["headers"], ep["validate_certs"], ep["expect"])
                )
            else:
                results.append(self._probe_service(ep))
        url = ep["url"] or "service %s%s (API proxy)" % (
            ep["service"] + (":%s" % ep["port"] if ep["port"] else ""),
            ep["path"],
        )
        return probes.combine_attempts(ep["name"], ep["component"], url, results)

    def probe_once(self, ep):
        """One request to a normalized endpoint, at its URL or through the service proxy:
        ``(ok, status, error, seconds)`` (the performance analysis sends many)."""
        if ep["url"]:
            return self.http.get(ep["url"], ep["timeout"], ep["headers"], ep["validate_certs"], ep["expect"])
        return self._probe_service(ep)

    def _probe_service(self, ep):
        if self.reader is None:
            return False, None, "no Kubernetes API client: %s" % self.reader_error, 0.0
        path = resources.service_proxy_path(self.ns, ep["service"], ep["port"], ep["path"], ep["scheme"])
        started = time.monotonic()
        try:
            # A probe's answer is its finding: a 5xx is reported, not retried (probe_attempts
            # says how many looks an endpoint gets).
            status, body = self.reader.request(path, accept="*/*", timeout=ep["timeout"], retry=False)
        except ApiError as exc:
            reason = "timed out" if exc.kind == "timeout" else str(exc)
            return False, None, reason, time.monotonic() - started
        elapsed = time.monotonic() - started
        if probes.status_ok(status, ep["expect"]):
            return True, status, None, elapsed
        message = status_message(body) if status in (401, 403, 404, 502, 503) else None
        detail = " (%s)" % message if message else ""
        return False, status, "HTTP %d via service proxy%s" % (status, detail), elapsed

    # -- the data tier -------------------------------------------------------------------
    def _dependency(self, role, params, jobs, stats):
        """``(check, statistics)`` of the database or the cache: in a pod of its workload
        through the exec API, or directly. Statistics (``stats``) only when the check passed."""
        if not params.get("workload"):
            direct = probes.postgres_check if role == "database" else probes.redis_check
            check = direct(params)
            numbers = {}
            if stats and check.get("ok"):
                numbers = (probes.postgres_stats if role == "database" else probes.redis_stats)(params)
            return check, numbers
        kind = params.get("kind") or "StatefulSet"
        try:
            pods = jobs["pods"].result()
            replicasets = jobs["replicasets"].result() if kind == "Deployment" else []
        except ApiError as exc:
            return {
                "ok": None,
                "unavailable": True,
                "via": "exec",
                "error": "no pod to check in: %s" % exc,
            }, {}
        pod, count = pick_pod(pods, replicasets, kind, params["workload"])
        if pod is None:
            return no_pod_result(kind, params["workload"], count), {}
        timeout = float(params.get("timeout") or 5)

        def run(argv, seconds):
            return k8s_exec.run(self.reader.api, self.ns, pod, argv, params.get("container"), timeout=seconds)

        if role == "database":
            check = probes.postgres_exec_check(run, self.ns, pod, timeout)
            numbers = probes.postgres_exec_stats(run, timeout) if stats and check.get("ok") else {}
        else:
            check = probes.redis_exec_check(run, self.ns, pod, timeout)
            numbers = probes.redis_exec_stats(run, timeout) if stats and check.get("ok") else {}
        return check, numbers

    # -- the look --------------------------------------------------------------------
    def collect(
        self,
        components,
        endpoints,
        database=None,
        cache=None,
        attempts=1,
        discover=None,
        extra=(),
        log_tail_lines=200,
        log_pattern=DEFAULT_LOG_PATTERN,
        log_max_pods=20,
    ):
        now = self.now or datetime.datetime.now(datetime.UTC)
        components = normalize_components(components)
        if discover is None:
            discover = not components
        kinds = {c["kind"] for c in components if c["kind"]}
        sources = ["deployments", "replicasets", "statefulsets", "pods", "events"]
        if "DaemonSet" in kinds:
            sources.append("daemonsets")
        sources += [s for s in ("services", "metrics") if s in extra]

        started = time.monotonic()
        jobs = {}
        workers = min(MAX_WORKERS, len(sources) + len(endpoints) + 3)
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            jobs["namespace"] = pool.submit(self._namespace)
            for src in sources:
                selector = (
                    self.selector if src in ("deployments", "statefulsets", "daemonsets", "pods") else None
                )
                jobs[src] = pool.submit(self._list, src, selector)
            ep_jobs = [pool.submit(self._probe_endpoint, ep, attempts) for ep in endpoints]
            stats = "data" in extra
            db_job = pool.submit(self._dependency, "database", database, jobs, stats) if database else None
            cache_job = pool.submit(self._dependency, "cache", cache, jobs, stats) if cache else None

            data = {}
            for src, fut in jobs.items():
                try:
                    data[src] = fut.result()
                except ApiError as exc:
                    self.errors[src] = exc
                    data[src] = None
            endpoint_results = [f.result() for f in ep_jobs]
            dependencies = []
            data_tier = {}
            for role, job, params, default in (
                ("database", db_job, database, "postgresql"),
                ("cache", cache_job, cache, "redis"),
            ):
                if job is None:
                    continue
                check, numbers = job.result()
                name = params.get("name") or default
                dependencies.append(dict(check, name=name, type=role))
                if stats:
                    data_tier[role] = dict(
                        numbers,
                        name=name,
                        via=check.get("via"),
                        pod=check.get("pod"),
                        checked=bool(check.get("ok")),
                    )

        ns_error = self.errors.get("namespace")
        if ns_error is not None and ns_error.kind == "not_found":
            raise CollectError("namespace '%s' does not exist on %s" % (self.ns, self.reader.host))

        observation = self._observe(components, discover, data, now)
        observation["endpoints"] = endpoint_results
        observation["dependencies"] = dependencies
        extras = {"sources": self._source_report()}
        if stats:
            extras["data_tier"] = data_tier
        if "services" in extra and data.get("services") is not None:
            extras["services"] = [_service_summary(s) for s in data["services"]]
        if "metrics" in extra:
            extras["usage"] = _usage(data.get("metrics"), observation, self.errors.get("metrics"))
        if "logs" in extra and data.get("pods") is not None:
            extras["logs"] = self._logs(observation, log_tail_lines, log_pattern, log_max_pods)
        extras["duration_seconds"] = round(time.monotonic() - started, 3)
        return observation, extras

    def _observe(self, components, discover, data, now):
        workloads = {}
        for kind, src in _KIND_LIST.items():
            for obj in data.get(src) or []:
                obj.setdefault("kind", kind)
                workloads[(kind, wl.meta(obj).get("name"))] = obj
        if discover:
            known = {(c["kind"], c["workload_name"]) for c in components}
            for kind, name in sorted(workloads):
                if kind in ("Deployment", "StatefulSet") and (kind, name) not in known:
                    components.append({"name": name, "kind": kind, "workload_name": name})

        pods = data.get("pods")
        owners = wl.pod_workloads(pods or [], data.get("replicasets") or [])
        by_workload = {}
        pod_components = {}
        comp_of = {(c["kind"], c["workload_name"]): c["name"] for c in components}
        for pod in pods or []:
            key = owners.get(wl.meta(pod).get("uid") or wl.meta(pod).get("name"))
            if key is None:
                continue
            by_workload.setdefault(key, []).append(pod)
            if key in comp_of:
                pod_components[wl.meta(pod).get("name")] = comp_of[key]

        unavailable = []
        workload_error = next(
            (self.errors[s] for s in ("deployments", "statefulsets", "daemonsets") if s in self.errors),
            None,
        )
        for name, err in (("workloads", workload_error), ("pods", self.errors.get("pods"))):
            if err is not None:
                unavailable.append({"check": name, "component": None, "error": str(err)})
        if "events" in self.errors:
            unavailable.append(
                {"check": "events", "component": health.PLATFORM, "error": str(self.errors["events"])}
            )

        observed = []
        for comp in components:
            entry = dict(comp)
            if comp["kind"]:
                src = _KIND_LIST[comp["kind"]]
                entry["workload_checked"] = data.get(src) is not None
                entry["workload"] = workloads.get((comp["kind"], comp["workload_name"]))
                entry["pods_checked"] = pods is not None and data.get("replicasets") is not None
                entry["pods"] = by_workload.get((comp["kind"], comp["workload_name"]), [])
            else:
                entry["pods_checked"] = False
            observed.append(entry)
        return {
            "components": observed,
            "events": data.get("events") or [],
            "pod_components": pod_components,
            "unavailable": unavailable,
            "pods_all": pods or [],
        }

    def _source_report(self):
        return {src: {"ok": False, "error": str(err), "reason": err.kind} for src, err in self.errors.items()}

    def _logs(self, observation, tail_lines, pattern, max_pods):
        """Recent error lines: troubled pods first, then one pod per component."""
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise CollectError("log_pattern %r is not a valid regular expression: %s" % (pattern, exc))
        chosen = []
        for comp in observation["components"]:
            pods = comp.get("pods") or []
            troubled = [
                p
                for p in pods
                if not wl.pod_is_ready(p)
                or any(int(cs.get("restartCount") or 0) for cs in wl.container_statuses(p))
            ]
            for pod in troubled + [p for p in pods if p not in troubled][:1]:
                if pod not in chosen:
                    chosen.append((comp["name"], pod))
        chosen = chosen[:max_pods]

        def read(item):
            comp, pod = item
            name = wl.meta(pod).get("name")
            containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            out = []
            for container in containers:
                try:
                    text = self.reader.pod_log(
                        self.ns, name, container, tail_lines, "read logs of pod %s" % name
                    )
                except ApiError as exc:
                    out.append({"component": comp, "pod": name, "container": container, "error": str(exc)})
                    continue
                lines = [ln for ln in text.splitlines() if regex.search(ln)]
                out.append(
                    {"component": comp, "pod": name, "container": container, "error_lines": lines[-50:]}
                )
            return out

        results = []
        if chosen:
            with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(chosen))) as pool:
                for part in pool.map(read, chosen):
                    results.extend(part)
        return results


def _service_summary(svc):
    spec = svc.get("spec") or {}
    return {
        "name": wl.meta(svc).get("name"),
        "type": spec.get("type", "ClusterIP"),
        "cluster_ip": spec.get("clusterIP"),
        "ports": ["%s/%s" % (p.get("port"), p.get("protocol", "TCP")) for p in spec.get("ports") or []],
        "selector": spec.get("selector") or {},
    }


def _usage(metrics, observation, error):
    """Pod CPU/memory from the metrics API, or why it is missing."""
    if metrics is None:
        return {"available": False, "error": str(error) if error else "no data"}

    comp_of = observation["pod_components"]
    pods = []
    for item in metrics:
        cpu = sum(parse_cpu((c.get("usage") or {}).get("cpu", "0")) for c in item.get("containers") or [])
        mem = sum(
            parse_memory((c.get("usage") or {}).get("memory", "0")) for c in item.get("containers") or []
        )
        name = wl.meta(item).get("name")
        pods.append(
            {
                "pod": name,
                "component": comp_of.get(name),
                "cpu_millicores": round(cpu * 1000, 1),
                "memory_bytes": int(mem),
            }
        )
    return {"available": True, "pods": sorted(pods, key=lambda p: p["pod"])}
