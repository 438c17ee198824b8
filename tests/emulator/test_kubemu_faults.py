"""Faults (annotations and control API), pod logs, metrics and the service proxy."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp.web
import pytest
import requests
from kubemu_testlib import Api, deployment, pod, wait_for, wait_until

FAULT = "kubemu.multiagent.ops/fault"


def _get_pod(api: Api, namespace: str, name: str) -> dict[str, Any]:
    return api.ok("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")


def _events(api: Api, namespace: str, name: str) -> list[dict[str, Any]]:
    params = {"fieldSelector": f"involvedObject.name={name}"}
    return api.ok("GET", f"/api/v1/namespaces/{namespace}/events", params=params)["items"]


def _condition(p: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in p["status"]["conditions"] if c["type"] == kind)


def test_crashloop_fault(api: Api, namespace: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{namespace}/pods", pod("crash", {FAULT: "crashloop"}))

    def restarted_twice() -> dict[str, Any] | None:
        p = _get_pod(api, namespace, "crash")
        statuses = p["status"].get("containerStatuses") or [{}]
        return p if statuses[0].get("restartCount", 0) >= 2 else None

    p = wait_for(restarted_twice, timeout=5)
    cs = p["status"]["containerStatuses"][0]
    assert p["status"]["phase"] == "Running"
    assert cs["ready"] is False and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    terminated = cs["lastState"]["terminated"]
    assert terminated["exitCode"] == 1 and terminated["reason"] == "Error"
    finished = datetime.datetime.fromisoformat(terminated["finishedAt"].replace("Z", "+00:00"))
    assert (datetime.datetime.now(datetime.UTC) - finished).total_seconds() < 30
    assert _condition(p, "Ready")["status"] == "False"
    backoff = [e for e in _events(api, namespace, "crash") if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"].startswith("Back-off restarting failed container app in pod crash_")


def test_imagepull_notready_pending_and_restarts_faults(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    api.ok("POST", path, pod("pull", {FAULT: "imagepull"}))
    api.ok("POST", path, pod("slow", {FAULT: "notready"}))
    api.ok("POST", path, pod("stuck", {FAULT: "pending", "kubemu.multiagent.ops/age-seconds": "600"}))
    api.ok("POST", path, pod("flaky", {FAULT: "restarts", "kubemu.multiagent.ops/restarts": "7"}))

    def waiting(p: dict[str, Any]) -> str:
        statuses = p["status"].get("containerStatuses") or [{}]
        return statuses[0].get("state", {}).get("waiting", {}).get("reason", "")

    pull = wait_until(lambda: _get_pod(api, namespace, "pull"), lambda p: waiting(p) == "ImagePullBackOff")
    assert pull["status"]["phase"] == "Pending"
    assert {"Failed", "BackOff"} <= {e["reason"] for e in _events(api, namespace, "pull")}

    slow = wait_until(lambda: _get_pod(api, namespace, "slow"), lambda p: p["status"]["phase"] == "Running")
    cs = slow["status"]["containerStatuses"][0]
    assert "running" in cs["state"] and cs["ready"] is False and cs["started"] is True
    unhealthy = [e for e in _events(api, namespace, "slow") if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0]["type"] == "Warning"

    stuck = wait_until(lambda: _get_pod(api, namespace, "stuck"), lambda p: p["status"].get("conditions"))
    assert stuck["status"]["phase"] == "Pending" and "nodeName" not in stuck["spec"]
    scheduled = _condition(stuck, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    created = datetime.datetime.fromisoformat(stuck["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert (datetime.datetime.now(datetime.UTC) - created).total_seconds() >= 599
    assert any(e["reason"] == "FailedScheduling" for e in _events(api, namespace, "stuck"))

    flaky = wait_until(lambda: _get_pod(api, namespace, "flaky"), lambda p: p["status"]["phase"] == "Running")
    cs = flaky["status"]["containerStatuses"][0]
    assert cs["ready"] is True and cs["restartCount"] == 7 and cs["lastState"]["terminated"]["finishedAt"]

    # Removing the fault heals the pod, like a fixed deployment would.
    api.ok("PATCH", f"{path}/slow", {"metadata": {"annotations": {FAULT: None}}}, kind="merge")
    wait_for(lambda: _condition(_get_pod(api, namespace, "slow"), "Ready")["status"] == "True")


def test_template_fault_applies_to_every_new_pod(api: Api, namespace: str) -> None:
    manifest = deployment("web", replicas=2, template_metadata={"annotations": {FAULT: "crashloop"}})
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", manifest)

    def crashing() -> list[dict[str, Any]] | None:
        pods = api.ok("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
        looping = [
            p
            for p in pods
            if (p["status"].get("containerStatuses") or [{}])[0]
            .get("state", {})
            .get("waiting", {})
            .get("reason")
            == "CrashLoopBackOff"
        ]
        return looping if len(looping) == 2 else None

    wait_for(crashing)
    d = api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert d["status"]["unavailableReplicas"] == 2
    available = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")


def test_pod_logs(api: Api, emulator, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    api.ok("POST", path, pod("one"))
    two = pod("two")
    two["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    api.ok("POST", path, two)
    wait_for(lambda: _get_pod(api, namespace, "one")["status"]["phase"] == "Running")
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    api.ok("POST", "/_kubemu/logs", {"namespace": namespace, "pod": "one", "lines": [f"{old} old line"]})
    api.ok(
        "POST", "/_kubemu/logs", {"namespace": namespace, "pod": "one", "lines": ["first", "second", "third"]}
    )
    status, text = api.get(f"{path}/one/log")
    assert status == 200 and text == "old line\nfirst\nsecond\nthird\n"
    assert api.get(f"{path}/one/log", params={"tailLines": "2"})[1] == "second\nthird\n"
    assert api.get(f"{path}/one/log", params={"sinceSeconds": "60"})[1] == "first\nsecond\nthird\n"
    stamped = api.get(f"{path}/one/log", params={"timestamps": "true", "tailLines": "1"})[1]
    assert stamped.endswith(" third\n") and stamped.startswith(str(datetime.date.today().year))
    assert api.get(f"{path}/one/log", params={"limitBytes": "5"})[1] == "old l"
    log_file = emulator.options.state_dir / "logs" / namespace / "one" / "app.log"
    with log_file.open("a") as handle:
        handle.write("written directly\n")
    assert api.get(f"{path}/one/log", params={"tailLines": "1"})[1] == "written directly\n"
    status, body = api.get(f"{path}/one/log", params={"container": "nope"})
    assert status == 400 and body["message"] == "container nope is not valid for pod one"
    wait_for(lambda: _get_pod(api, namespace, "two")["status"]["phase"] == "Running")
    status, body = api.get(f"{path}/two/log")
    assert (
        status == 400
        and body["message"] == "a container name must be specified for pod two, choose one of: [app sidecar]"
    )
    assert api.get(f"{path}/two/log", params={"container": "sidecar"}) == (200, "")
    status, body = api.get(f"{path}/one/log", params={"previous": "true"})
    assert status == 400 and "previous terminated container" in body["message"]
    status, body = api.get(f"{path}/ghost/log")
    assert status == 404 and body["message"] == 'pods "ghost" not found'


def test_metrics_api_on_and_off(api: Api, namespace: str) -> None:
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=1))
    wait_for(lambda: api.ok("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")["items"])
    listing = api.ok("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")
    assert listing["kind"] == "PodMetricsList"
    usage = listing["items"][0]["containers"][0]["usage"]
    assert usage == {"cpu": "50000000n", "memory": "78643Ki"}  # half of 100m, 60 % of 128Mi
    name = listing["items"][0]["metadata"]["name"]
    api.ok(
        "POST",
        "/_kubemu/metrics",
        {"namespace": namespace, "pod": name, "usage": {"cpu": "250m", "memory": "300Mi"}},
    )
    one = api.ok("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}")
    assert one["containers"][0]["usage"] == {"cpu": "250000000n", "memory": "307200Ki"}
    nodes = api.ok("GET", "/apis/metrics.k8s.io/v1beta1/nodes")["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"kubemu-node-1", "kubemu-node-2"}
    try:
        api.ok("POST", "/_kubemu/metrics", {"enabled": False})
        assert api.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")[0] == 404
        assert "metrics.k8s.io" not in {g["name"] for g in api.ok("GET", "/apis")["groups"]}
    finally:
        api.ok("POST", "/_kubemu/reset-faults", {})
    assert "metrics.k8s.io" in {g["name"] for g in api.ok("GET", "/apis")["groups"]}


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    """A tiny aiohttp app in its own thread, standing in for the pods behind a service."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def health(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response(
            {"status": "healthy", "path": request.path, "query": request.query_string}
        )

    async def failing(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"status": "degraded"}, status=503)

    async def run() -> None:
        app = aiohttp.web.Application()
        app.router.add_get("/health", health)
        app.router.add_get("/api/v1/system/health", failing)
        runner = aiohttp.web.AppRunner(app)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["url"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        holder["stop"] = asyncio.Event()
        started.set()
        await holder["stop"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(10)
    yield holder["url"]
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(10)


def test_service_proxy(api: Api, namespace: str, backend: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/services"
    status, body = api.get(f"{base}/web:8000/proxy/health")
    assert status == 404 and body["message"] == 'services "web" not found'
    api.ok(
        "POST",
        base,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 8000}]},
        },
    )
    status, body = api.get(f"{base}/web:8000/proxy/health")
    assert status == 503 and body["message"] == 'no endpoints available for service "web:8000"'
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=1))

    def ready_endpoints() -> Any:
        status, ep = api.get(f"/api/v1/namespaces/{namespace}/endpoints/web")
        return status == 200 and (ep.get("subsets") or [{}])[0].get("addresses")

    wait_for(ready_endpoints)
    status, body = api.get(f"{base}/web:8000/proxy/health")
    assert status == 503 and body["message"].startswith("error trying to reach service: dial tcp 10.42.")
    api.ok("POST", "/_kubemu/backends", {"namespace": namespace, "service": "web", "url": backend})
    try:
        status, body = api.get(f"{base}/web:http/proxy/health", params={"verbose": "1"})
        assert status == 200 and body == {"status": "healthy", "path": "/health", "query": "verbose=1"}
        status, body = api.get(f"{base}/web/proxy/api/v1/system/health")
        assert status == 503 and body == {"status": "degraded"}  # the backend's own answer
        api.ok("POST", "/_kubemu/deny", {"verb": "get", "resource": "services/proxy"})
        status, body = api.get(f"{base}/web:8000/proxy/health")
        assert status == 403 and 'cannot get resource "services/proxy"' in body["message"]
    finally:
        api.ok("POST", "/_kubemu/reset-faults", {})


def test_control_state_and_validation(api: Api) -> None:
    state = api.ok("GET", "/_kubemu/state")
    assert state["cluster"] == "us-east-1"
    assert state["objects"]["nodes"] == 2 and state["objects"]["namespaces"] >= 4
    status, body = api.post("/_kubemu/broken-images", {"image": "x:1", "mode": "explode"})
    assert status == 400 and "mode" in body["error"]
    status, _ = api.post("/_kubemu/nope", {})
    assert status == 404


def test_outage_drops_or_refuses_api_requests_while_the_cluster_keeps_running(
    api: Api, namespace: str
) -> None:
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=2))
    api.ok("POST", "/_kubemu/outage", {"seconds": 0.8})
    with pytest.raises(requests.ConnectionError):
        api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    state = api.ok("GET", "/_kubemu/state")  # the control API still answers
    assert state["faults"]["outage"]["mode"] == "disconnect"

    def ready() -> dict[str, Any] | None:
        status, dep = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
        return dep if status == 200 and dep.get("status", {}).get("readyReplicas") == 2 else None

    time.sleep(0.8)
    assert wait_for(ready, timeout=5)  # the controllers went on during the outage

    api.ok("POST", "/_kubemu/outage", {"seconds": 30, "mode": "unavailable"})
    status, body = api.get(f"/api/v1/namespaces/{namespace}")
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    api.ok("DELETE", "/_kubemu/outage")
    assert api.get(f"/api/v1/namespaces/{namespace}")[0] == 200
    status, body = api.post("/_kubemu/outage", {"seconds": -1})
    assert status == 400
