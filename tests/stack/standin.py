"""HTTP stand-in for the platform's services (MPLP modules, LangGraph API).

Answers ``/health``, ``/ready``, ``/api/v1/system/health``, ``/api/v1/mvp2/health``,
``/api/v1/<module>/health`` and ``/metrics`` like a healthy service. A test switches the
answer of any path (exact path, or ``*`` for all) to:

- ``healthy`` (200 with a JSON body),
- ``error`` (HTTP 500, or the given ``status``),
- ``slow`` (healthy after ``delay`` seconds),
- ``closed`` (the connection is dropped without an answer).

Control: ``POST /_standin/mode {"path": "/api/v1/core/health", "mode": "error"}``,
``POST /_standin/reset``, ``GET /_standin/state``. One process can serve several ports
(one per emulated cluster); each port keeps its own switches.

``/metrics`` is in the seeds' names, for Prometheus to scrape: ``http_requests_total{method,
path,status}`` and the ``http_request_duration_seconds`` histogram of every answer to a
service path (control calls and ``/metrics`` itself are not counted), so switching a path to
``error`` and sending it requests raises the error rate a rule watches. Switching
``/metrics`` itself (or ``*``) to ``error`` or ``closed`` fails the scrape (``up == 0``).

    python tests/stack/standin.py --port 18090 --port 18091
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from aiohttp import web

MODES = ("healthy", "error", "slow", "closed")
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
HEALTH_PATHS = re.compile(
    r"^/(health|ready|healthz|readyz|api/v1/system/health|api/v1/mvp2/health|api/v1/[a-z0-9-]+/health)$"
)


class Site:
    def __init__(self, port):
        self.port = port
        self.modes = {}
        self.requests = 0
        self.started = time.time()
        self.counts = {}  # (method, path, status) -> answers
        self.latency = {}  # path -> [count per bucket..., +Inf count, sum]

    def mode_for(self, path):
        return self.modes.get(path) or self.modes.get("*") or {"mode": "healthy"}

    async def handle(self, request):
        path = request.path
        if path.startswith("/_standin/"):
            return await self.control(request)
        self.requests += 1
        if path == "/metrics":
            return await self.answer(request, path)
        started = time.monotonic()
        status = 499  # the client went away, or the connection was dropped on purpose
        try:
            response = await self.answer(request, path)
            status = response.status
            return response
        finally:
            self.observe(request.method, path, status, time.monotonic() - started)

    async def answer(self, request, path):
        if path != "/metrics" and not HEALTH_PATHS.match(path):
            return web.json_response({"error": "not found", "path": path}, status=404)
        rule = self.mode_for(path)
        mode = rule["mode"]
        if mode == "closed":
            # Drop the connection without a response, like a crashed process behind a
            # still-open port.
            request.transport.close()
            raise web.HTTPServiceUnavailable()  # never reaches the client
        if mode == "slow":
            await asyncio.sleep(float(rule.get("delay", 3.0)))
        if mode == "error":
            status = int(rule.get("status", 500))
            return web.json_response({"status": "error", "path": path}, status=status)
        if path == "/metrics":
            return web.Response(text=self.metrics(), content_type="text/plain")
        return web.json_response({"status": "ok", "path": path, "port": self.port})

    def observe(self, method, path, status, seconds):
        if not HEALTH_PATHS.match(path):
            path = "other"  # one series for every unknown path, not one per probe
        key = (method, path, str(status))
        self.counts[key] = self.counts.get(key, 0) + 1
        hist = self.latency.setdefault(path, [0] * (len(BUCKETS) + 2))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                hist[i] += 1
        hist[len(BUCKETS)] += 1
        hist[-1] += seconds

    def metrics(self):
        lines = [
            "# HELP http_requests_total Requests answered, by method, path and status.",
            "# TYPE http_requests_total counter",
        ]
        for (method, path, status), n in sorted(self.counts.items()):
            lines.append(
                'http_requests_total{method="%s",path="%s",status="%s"} %d' % (method, path, status, n)
            )
        lines += [
            "# HELP http_request_duration_seconds Time to answer, by path.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for path, hist in sorted(self.latency.items()):
            for bound, n in zip(["%g" % b for b in BUCKETS] + ["+Inf"], hist, strict=False):
                lines.append('http_request_duration_seconds_bucket{path="%s",le="%s"} %d' % (path, bound, n))
            lines.append('http_request_duration_seconds_sum{path="%s"} %.6f' % (path, hist[-1]))
            lines.append('http_request_duration_seconds_count{path="%s"} %d' % (path, hist[len(BUCKETS)]))
        lines += [
            "# HELP process_start_time_seconds Start time.",
            "# TYPE process_start_time_seconds gauge",
            "process_start_time_seconds %d" % self.started,
        ]
        return "\n".join(lines) + "\n"

    async def control(self, request):
        action = request.path[len("/_standin/") :]
        if action == "state" and request.method == "GET":
            return web.json_response({"port": self.port, "modes": self.modes, "requests": self.requests})
        if action == "reset" and request.method == "POST":
            self.modes.clear()
            return web.json_response({"ok": True})
        if action == "mode" and request.method == "POST":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return web.json_response({"error": "body must be JSON"}, status=400)
            path, mode = body.get("path"), body.get("mode")
            if not path or mode not in MODES:
                return web.json_response(
                    {"error": "need path and mode (one of %s)" % ", ".join(MODES)}, status=400
                )
            if mode == "healthy":
                self.modes.pop(path, None)
            else:
                self.modes[path] = {k: v for k, v in body.items() if k != "path"}
            return web.json_response({"ok": True, "modes": self.modes})
        return web.json_response({"error": "unknown control action %s" % action}, status=404)


async def serve(host, ports):
    runners = []
    for port in ports:
        site = Site(port)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", site.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
    print("standin listening on %s ports %s" % (host, ",".join(map(str, ports))), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, action="append", required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
