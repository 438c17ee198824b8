"""The load check's client against a small aiohttp server on loopback: requests start on
schedule whether or not earlier ones answered (an open model), a full in-flight limit drops
starts, and the report judges what happened (health/load_client.py, performance.load_result)."""

import asyncio
import threading

import pytest
from aiohttp import web

from ansible_collections.multiagent.ops.plugins.module_utils.health import load_client, performance


class Server:
    """``/slow`` answers after 0.3 s, ``/error`` with 500, anything else at once; counts the
    requests in flight."""

    def __init__(self):
        self.in_flight = 0
        self.most = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def handle(self, request):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            if request.path == "/slow":
                await asyncio.sleep(0.3)
            if request.path == "/error":
                return web.Response(status=500, text="no")
            return web.Response(text="ok")
        finally:
            self.in_flight -= 1

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


@pytest.fixture(scope="module")
def server():
    with Server() as running:
        yield running


def test_requests_start_on_schedule_while_earlier_ones_wait(server):
    server.most = 0
    load = {"url": server.url("/slow"), "rate": 40, "duration": 0.5, "p95_ms": 1000, "max_error_rate": 0}
    measured = load_client.run_load(load)
    assert measured["scheduled"] == 20 and measured["dropped"] == 0 and len(measured["samples"]) == 20
    # 0.3 s answers at 40/s: about 12 in flight at once (a closed model of one client would see 1)
    assert server.most >= 8
    assert measured["last_start"] == pytest.approx(0.475, abs=0.1)
    result = performance.load_result(load, measured)
    assert result["verdict"] == "passed", result["message"]
    assert 290 <= result["p50_ms"] < 600


def test_a_full_in_flight_limit_drops_starts_and_makes_the_run_invalid(server):
    load = {"url": server.url("/slow"), "rate": 40, "duration": 0.5, "max_in_flight": 2, "p95_ms": 1000}
    result = performance.load_result(load, load_client.run_load(load))
    assert result["dropped"] >= 10 and result["started"] + result["dropped"] == result["scheduled"] == 20
    assert result["verdict"] == "invalid" and result["message"].startswith("invalid: reached ")


def test_errors_and_unreachable_servers_fail_the_thresholds(server):
    load = {"url": server.url("/error"), "rate": 20, "duration": 0.25, "max_error_rate": 0.01}
    result = performance.load_result(load, load_client.run_load(load))
    assert result["error_reasons"] == {"HTTP 500": 5} and result["verdict"] == "failed"
    load = {"url": "http://127.0.0.1:9/", "rate": 20, "duration": 0.1, "max_error_rate": 0.01, "timeout": 1}
    result = performance.load_result(load, load_client.run_load(load))
    assert result["errors"] == 2 and result["verdict"] == "failed"
    assert list(result["error_reasons"]) == ["connection refused"]
