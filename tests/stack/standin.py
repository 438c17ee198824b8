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
HEALTH_PATHS = re.compile(
    r"^/(health|ready|healthz|readyz|api/v1/system/health|api/v1/mvp2/health|api/v1/[a-z0-9-]+/health)$"
)


class Site:
    def __init__(self, port):
        self.port = port
        self.modes = {}
        self.requests = 0
        self.started = time.time()

    def mode_for(self, path):
        return self.modes.get(path) or self.modes.get("*") or {"mode": "healthy"}

    async def handle(self, request):
        path = request.path
        if path.startswith("/_standin/"):
            return await self.control(request)
        self.requests += 1
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

    def metrics(self):
        return (
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            'http_requests_total{status="200"} %d\n'
            "# HELP process_start_time_seconds Start time.\n"
            "# TYPE process_start_time_seconds gauge\n"
            "process_start_time_seconds %d\n" % (self.requests, self.started)
        )

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
