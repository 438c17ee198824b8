# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load check's HTTP client: a constant arrival rate of GETs against one URL (aiohttp).

An open model, like k6's constant-arrival-rate executor: request ``i`` starts at ``i / rate``
seconds (perf.arrival_schedule) whether or not earlier ones have answered. A slow server
therefore sees more requests in flight, not fewer requests: the closed model of a fixed
number of looping clients would hide its slowness by slowing down itself. At most
``max_in_flight`` requests are open at once (k6's maxVUs); a start that finds them all busy is
dropped and counted, and so is the time the client itself fell behind its schedule. Both
lower the rate reached, which decides whether the run is valid (perf.load_verdict).
"""

from __future__ import annotations

import asyncio
import time

from ansible_collections.multiagent.ops.plugins.module_utils.health import perf
from ansible_collections.multiagent.ops.plugins.module_utils.health.probes import _describe_error, status_ok


def describe_error(exc, aiohttp):
    """A short reason for a failed request, from aiohttp's exceptions (whose text names the
    TLS policy, ``ssl:default``, even for a refused plain connection)."""
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return "TLS error: %s" % exc
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = getattr(exc.os_error, "errno", None)
        if errno == 111 or isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return "cannot connect: %s" % (exc.os_error or exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed without a response"
    return _describe_error(exc)


async def _one(session, url, headers, expect, timeout, aiohttp):
    started = time.monotonic()
    try:
        async with session.get(
            url, headers=headers or None, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            await resp.read()
            status = resp.status
    except TimeoutError:
        return False, None, "timed out", time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - every failure of the request is the result
        return False, None, describe_error(exc, aiohttp), time.monotonic() - started
    elapsed = time.monotonic() - started
    if status_ok(status, expect):
        return True, status, None, elapsed
    return False, status, "HTTP %d" % status, elapsed


async def _run(load):
    import aiohttp

    rate, duration = perf.validate_load(load)
    schedule = perf.arrival_schedule(rate, duration)
    limit = int(load.get("max_in_flight") or 100)
    timeout = float(load.get("timeout") or 5)
    connector = aiohttp.TCPConnector(limit=limit, ssl=None if load.get("validate_certs", True) else False)
    loop = asyncio.get_running_loop()
    in_flight = [0]
    dropped = 0
    last_start = 0.0
    max_lag = 0.0

    async def tracked():
        try:
            return await _one(
                session, load["url"], load.get("headers"), load.get("expect_status"), timeout, aiohttp
            )
        finally:
            in_flight[0] -= 1

    async with aiohttp.ClientSession(connector=connector, trust_env=True) as session:
        tasks = []
        start = loop.time()
        for offset in schedule:
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight[0] >= limit:
                dropped += 1
                continue
            now = loop.time() - start
            max_lag = max(max_lag, now - offset)
            last_start = now
            in_flight[0] += 1
            tasks.append(asyncio.ensure_future(tracked()))
        results = await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    return {
        "rate": rate,
        "duration": duration,
        "scheduled": len(schedule),
        "dropped": dropped,
        "last_start": last_start,
        "max_lag": max_lag,
        "elapsed": elapsed,
        "max_in_flight": limit,
        "samples": results,
    }


def run_load(load):
    """The load check's measurements: ``{rate, duration, scheduled, dropped, last_start,
    max_lag, elapsed, max_in_flight, samples}`` (``samples``: ``(ok, status, error, seconds)``
    per request started). perf.LoadError for options that cannot run."""
    return asyncio.run(_run(load))
