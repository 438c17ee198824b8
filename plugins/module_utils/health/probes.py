# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probes of the things around the workloads: HTTP health endpoints, PostgreSQL, Redis.

Each probe returns a plain result dict and never raises for the failure it is measuring:
a refused connection is a result (``ok: False`` with the reason), not an exception.

The database and the cache are checked where they are: directly (psycopg, redis-py) when
they are outside the cluster, inside a ready pod through the exec API when the platform runs
them (``run(argv, timeout)`` runs a command in that pod, k8s/exec.py's run()). The commands,
the SQL and the parsers of their answers are pg/stats.py's and redis/cli.py / info.py's.
A dependency result: ``ok`` (True, False), ``error``, ``latency``, ``server_version``, ``via``
(``direct`` or ``exec``), ``pod``; ``unavailable`` with ``missing_permission`` when the check
could not run (the exec refused, a client library missing: unknown, never down);
``skipped`` when there was no ready pod to check in (the workload's findings say so).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError
from ansible_collections.multiagent.ops.plugins.module_utils.pg import stats as pg_stats
from ansible_collections.multiagent.ops.plugins.module_utils.redis import cli as redis_cli
from ansible_collections.multiagent.ops.plugins.module_utils.redis import info as redis_info

# Seconds an exec may stay silent beyond the command's own timeout before it counts as hung.
EXEC_MARGIN = 5


class InputError(ValueError):
    """Bad probe definition; the message names the endpoint and what is wrong."""


def validate_url(name, url):
    """Reject what cannot be probed before anything runs."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("endpoint '%s': url is empty" % name)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise InputError("endpoint '%s': malformed url %r: %s" % (name, url, exc))
    if parts.scheme not in ("http", "https"):
        raise InputError("endpoint '%s': malformed url %r: scheme must be http or https" % (name, url))
    if not parts.hostname:
        raise InputError("endpoint '%s': malformed url %r: no host" % (name, url))
    if port == 0:
        raise InputError("endpoint '%s': malformed url %r: port 0" % (name, url))
    return url


def status_ok(status, expect):
    if expect:
        return status in expect
    return 200 <= status < 300


def _describe_error(exc):
    """A short reason for a failed request, from urllib3's nested exceptions."""
    text = to_native(exc)
    lowered = text.lower()
    if (
        isinstance(exc, (socket.timeout, TimeoutError))
        or "timed out" in lowered
        or "timeout" in type(exc).__name__.lower()
    ):
        return "timed out"
    if "refused" in lowered:
        return "connection refused"
    if "remotedisconnected" in lowered or "connection aborted" in lowered or "closed connection" in lowered:
        return "connection closed without a response"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS error: %s" % _last_reason(text)
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "getaddrinfo" in lowered
    ):
        return "host name does not resolve"
    return _last_reason(text) or exc.__class__.__name__


def _last_reason(text):
    # urllib3 nests causes: "... (Caused by NewConnectionError('...: [Errno 111] Connection refused'))"
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1]
    return text.strip(" :()'\"")[:300]


class HttpProber:
    """HTTP GETs through shared connection pools (urllib3, which the kubernetes client
    already brings). A pool per TLS policy and proxy: building an SSL context per request,
    as a fresh opener does, costs tens of milliseconds each and serialises a concurrent
    probe of a hundred endpoints behind the GIL.

    Environment proxies (``http_proxy``, ``https_proxy``, ``no_proxy``) are honoured like
    urllib does. Redirects are followed (up to 5); nothing is retried: a probe measures.
    """

    def __init__(self, maxsize=32):
        import urllib3

        self._urllib3 = urllib3
        self._maxsize = maxsize
        self._pools = {}
        self._lock = threading.Lock()
        self._retries = urllib3.Retry(
            total=5, connect=0, read=0, status=0, other=0, redirect=5, raise_on_redirect=False
        )

    def _pool(self, url, validate_certs):
        parts = urlsplit(url)
        proxies = getproxies()
        proxy = proxies.get(parts.scheme)
        if proxy and proxy_bypass(parts.hostname or ""):
            proxy = None
        key = (bool(validate_certs), proxy)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                kwargs = {"maxsize": self._maxsize, "block": False}
                if not validate_certs:
                    kwargs["cert_reqs"] = "CERT_NONE"
                    self._urllib3.disable_warnings(self._urllib3.exceptions.InsecureRequestWarning)
                if proxy:
                    pool = self._urllib3.ProxyManager(proxy, **kwargs)
                else:
                    pool = self._urllib3.PoolManager(**kwargs)
                self._pools[key] = pool
        return pool

    def get(self, url, timeout, headers=None, validate_certs=True, expect=None):
        """One GET; returns ``(ok, status, error, seconds)``."""
        started = time.monotonic()
        try:
            resp = self._pool(url, validate_certs).request(
                "GET",
                url,
                headers=headers or None,
                timeout=self._urllib3.Timeout(total=timeout),
                retries=self._retries,
                preload_content=False,
            )
            try:
                resp.read(65536)
            finally:
                resp.release_conn()
            status = resp.status
        except Exception as exc:  # noqa: BLE001 - every failure of the request is the result
            return False, None, _describe_error(exc), time.monotonic() - started
        elapsed = time.monotonic() - started
        if status_ok(status, expect):
            return True, status, None, elapsed
        return False, status, "HTTP %d" % status, elapsed


def combine_attempts(name, component, url, attempts):
    """An endpoint is ok when every attempt succeeded; its error is the first failure."""
    failures = [a for a in attempts if not a[0]]
    return {
        "name": name,
        "component": component,
        "url": url,
        "ok": not failures,
        "status": (failures[0] if failures else attempts[-1])[1],
        "error": failures[0][2] if failures else None,
        "latencies": [round(a[3], 4) for a in attempts if a[0]],
        "attempts": len(attempts),
        "failed_attempts": len(failures),
    }


def _pg_connect(params):
    """``(connection, None)`` or ``(None, result)``: the failed check's result."""
    try:
        import psycopg  # noqa: F401  (psycopg 3)

        connect = psycopg.connect
        errors = (psycopg.Error,)
    except ImportError:
        try:
            import psycopg2

            connect = psycopg2.connect
            errors = (psycopg2.Error,)
        except ImportError:
            return None, {
                "ok": False,
                "error": "neither psycopg (3) nor psycopg2 is installed on the controller",
                "unavailable": True,
            }
    kwargs = dict(
        host=params.get("host"),
        port=int(params.get("port") or 5432),
        user=params.get("user"),
        dbname=params.get("dbname") or "postgres",
        connect_timeout=max(1, int(round(float(params.get("timeout") or 5)))),
        sslmode=params.get("sslmode") or "prefer",
    )
    if params.get("password"):
        kwargs["password"] = params["password"]
    try:
        return _PgConnection(connect(**kwargs), errors), None
    except errors as exc:
        return None, {"ok": False, "error": _first_line(exc), "latency": None}


class _PgConnection:
    def __init__(self, conn, errors):
        self.conn = conn
        self.errors = errors

    def value(self, sql):
        cur = self.conn.cursor()
        cur.execute(sql)
        row = cur.fetchone()
        return None if row is None else row[0]

    def rollback(self):
        self.conn.rollback()

    def close(self):
        self.conn.close()


def postgres_check(params):
    """``SELECT 1`` on PostgreSQL; password never leaves this function."""
    started = time.monotonic()
    conn, failed = _pg_connect(params)
    if failed:
        return dict(failed, via="direct")
    try:
        conn.value("SELECT 1")
        version = conn.value("SHOW server_version")
    except conn.errors as exc:
        return {"ok": False, "error": _first_line(exc), "latency": None, "via": "direct"}
    finally:
        conn.close()
    return {
        "ok": True,
        "error": None,
        "latency": round(time.monotonic() - started, 4),
        "server_version": version,
        "via": "direct",
    }


def postgres_stats(params):
    """Connections by state and the slowest statements, over a direct connection."""
    conn, failed = _pg_connect(params)
    if failed:
        return {"error": failed["error"]}

    def query(sql):
        value = conn.value(sql)
        return json.loads(value) if isinstance(value, str) else value

    try:
        return _postgres_stats(query, conn.errors, conn.rollback)
    finally:
        conn.close()


def _postgres_stats(query, errors, after_error=None):
    try:
        connections = pg_stats.activity(query(pg_stats.ACTIVITY_SQL))
    except errors as exc:
        return {"error": "pg_stat_activity could not be read: %s" % _first_line(exc)}
    result = {"connections": connections, "slow_queries": None}
    if not connections["pg_stat_statements"]:
        result["slow_queries_note"] = pg_stats.no_statements_note(False)
        return result
    try:
        result["slow_queries"] = pg_stats.slow_queries(query(pg_stats.STATEMENTS_SQL))
    except errors as exc:
        if after_error:
            after_error()
        result["slow_queries_note"] = pg_stats.no_statements_note(True, _first_line(exc))
    return result


def _redis_client(params):
    try:
        import redis
    except ImportError:
        return (
            None,
            None,
            {
                "ok": False,
                "error": "the redis Python package is not installed on the controller",
                "unavailable": True,
            },
        )
    timeout = float(params.get("timeout") or 5)
    client = redis.Redis(
        host=params.get("host"),
        port=int(params.get("port") or 6379),
        db=int(params.get("db") or 0),
        username=params.get("username"),
        password=params.get("password"),
        ssl=bool(params.get("tls")),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return client, redis.exceptions.RedisError, None


def redis_check(params):
    """``PING`` on Redis; password never leaves this function."""
    started = time.monotonic()
    client, errors, failed = _redis_client(params)
    if failed:
        return dict(failed, via="direct")
    try:
        client.ping()
        version = (client.info("server") or {}).get("redis_version")
    except errors as exc:
        return {"ok": False, "error": _first_line(exc), "latency": None, "via": "direct"}
    finally:
        client.close()
    return {
        "ok": True,
        "error": None,
        "latency": round(time.monotonic() - started, 4),
        "server_version": version,
        "via": "direct",
    }


def redis_stats(params):
    """``INFO memory``, over a direct connection."""
    client, errors, failed = _redis_client(params)
    if failed:
        return {"error": failed["error"]}
    try:
        return {"memory": redis_info.memory_facts(client.info("memory") or {})}
    except errors as exc:
        return {"error": "INFO memory: %s" % _first_line(exc)}
    finally:
        client.close()


# -- inside the pod (exec) ----------------------------------------------------------------


def exec_failure(exc, namespace, pod, what):
    """The result of a check whose exec failed: a refused exec (403: the permission it
    needs, named) or a cut stream is unknown; a command that started and then said nothing
    for the timeout is a server that does not answer (down)."""
    if exc.started and exc.timed_out:
        return {"ok": False, "error": "%s did not answer in pod %s: %s" % (what, pod, exc), "latency": None}
    result = {"ok": None, "unavailable": True, "error": "cannot check %s in pod %s: %s" % (what, pod, exc)}
    if exc.status == 403:
        permission = "create pods/exec in namespace %s" % namespace
        result["missing_permission"] = permission
        result["error"] = "cannot check %s inside pod %s: permission denied, the credentials need %s (%s)" % (
            what,
            pod,
            permission,
            exc,
        )
    return result


def _in_pod(result, pod, started):
    result = dict(result, via="exec", pod=pod)
    result.setdefault("latency", round(time.monotonic() - started, 4) if result.get("ok") else None)
    return result


def postgres_exec_check(run, namespace, pod, timeout):
    """pg_isready and ``SELECT 1`` in the database pod, with the pod's own credentials."""
    started = time.monotonic()
    try:
        code, out, err = run(pg_stats.probe_argv(timeout), float(timeout) + EXEC_MARGIN)
    except ExecError as exc:
        return _in_pod(exec_failure(exc, namespace, pod, "PostgreSQL"), pod, started)
    return _in_pod(pg_stats.parse_probe(code, out, err), pod, started)


def redis_exec_check(run, namespace, pod, timeout):
    """``redis-cli PING`` in the cache pod, the password in REDISCLI_AUTH."""
    started = time.monotonic()
    try:
        code, out, err = run(redis_cli.cli_argv("PING"), float(timeout) + EXEC_MARGIN)
    except ExecError as exc:
        return _in_pod(exec_failure(exc, namespace, pod, "Redis"), pod, started)
    return _in_pod(redis_cli.parse_ping(code, out, err), pod, started)


class _QueryFailed(Exception):
    pass


def postgres_exec_stats(run, timeout):
    """Connections by state and the slowest statements, through psql in the pod."""

    def query(sql):
        try:
            code, out, err = run(pg_stats.query_argv(sql, timeout), float(timeout) + EXEC_MARGIN)
        except ExecError as exc:
            raise _QueryFailed(str(exc)) from exc
        if code != 0:
            raise _QueryFailed(err.decode("utf-8", "replace").strip() or "psql exit code %s" % code)
        return pg_stats.parse_json_line(out)

    return _postgres_stats(query, (_QueryFailed, ValueError))


def redis_exec_stats(run, timeout):
    """``INFO memory`` through redis-cli in the pod."""
    try:
        code, out, err = run(redis_cli.cli_argv("INFO", "memory"), float(timeout) + EXEC_MARGIN)
    except ExecError as exc:
        return {"error": "INFO memory: %s" % exc}
    problem = redis_cli.reply_error(code, out, err)
    if problem:
        return {"error": "INFO memory: %s" % problem}
    return {"memory": redis_info.memory_facts(redis_info.parse_info(out))}


def _first_line(exc):
    text = to_native(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# -- the performance analysis: the data tier's figures ------------------------------------


def _postgres_performance(query, errors, after_error=None):
    """Connections, the database's figures (cache hit ratio, bloat estimate) and the top
    statements, through ``query(sql) -> document`` (a connection's or psql's in the pod)."""
    try:
        result = {"connections": pg_stats.activity(query(pg_stats.ACTIVITY_SQL))}
        result.update(pg_stats.performance(query(pg_stats.PERFORMANCE_SQL)))
    except errors as exc:
        return {"error": "PostgreSQL statistics could not be read: %s" % _first_line(exc)}
    result["top_statements"] = None
    if not result["connections"]["pg_stat_statements"]:
        result["top_statements_note"] = pg_stats.no_statements_note(False)
        return result
    try:
        result["top_statements"] = pg_stats.top_statements(query(pg_stats.TOP_STATEMENTS_SQL))
    except errors as exc:
        if after_error:
            after_error()
        result["top_statements_note"] = pg_stats.no_statements_note(True, _first_line(exc))
    return result


def postgres_performance(params):
    """The performance figures of PostgreSQL, over a direct connection."""
    conn, failed = _pg_connect(params)
    if failed:
        return {"error": failed["error"], "via": "direct"}

    def query(sql):
        value = conn.value(sql)
        return json.loads(value) if isinstance(value, str) else value

    try:
        return dict(_postgres_performance(query, conn.errors, conn.rollback), via="direct")
    finally:
        conn.close()


def postgres_exec_performance(run, namespace, pod, timeout):
    """The performance figures of PostgreSQL, through psql in its pod."""

    def query(sql):
        try:
            code, out, err = run(pg_stats.query_argv(sql, timeout), float(timeout) + EXEC_MARGIN)
        except ExecError as exc:
            raise _QueryFailed(exec_failure(exc, namespace, pod, "PostgreSQL")["error"]) from exc
        if code != 0:
            raise _QueryFailed(err.decode("utf-8", "replace").strip() or "psql exit code %s" % code)
        return pg_stats.parse_json_line(out)

    return dict(_postgres_performance(query, (_QueryFailed, ValueError)), via="exec", pod=pod)


def _redis_performance(info, slowlog, slowlog_len):
    return {
        "server_version": str(info.get("redis_version") or "") or None,
        "memory": redis_info.memory_facts(info),
        "stats": redis_info.stats_facts(info),
        "slowlog": redis_info.parse_slowlog(slowlog),
        "slowlog_len": slowlog_len,
    }


def redis_performance(params, top):
    """``INFO`` (memory, stats, clients) and ``SLOWLOG GET``, over a direct connection."""
    client, errors, failed = _redis_client(params)
    if failed:
        return {"error": failed["error"], "via": "direct"}
    try:
        info = client.info() or {}
        result = _redis_performance(info, client.slowlog_get(top), int(client.slowlog_len()))
    except errors as exc:
        return {"error": "Redis statistics could not be read: %s" % _first_line(exc), "via": "direct"}
    finally:
        client.close()
    return dict(result, via="direct")


def redis_exec_performance(run, namespace, pod, timeout, top):
    """``INFO`` and ``SLOWLOG GET`` through redis-cli in the cache's pod."""
    where = {"via": "exec", "pod": pod}
    seconds = float(timeout) + EXEC_MARGIN
    try:
        code, out, err = run(redis_cli.cli_argv("INFO"), seconds)
    except ExecError as exc:
        return dict(where, error=exec_failure(exc, namespace, pod, "Redis")["error"])
    problem = redis_cli.reply_error(code, out, err)
    if problem:
        return dict(where, error="Redis statistics could not be read: INFO: %s" % problem)
    info = redis_info.parse_info(out)
    slowlog, note = [], None
    try:
        reply, note = redis_cli.parse_json_reply(
            *run(redis_cli.cli_argv("--json", "SLOWLOG", "GET", top), seconds)
        )
    except ExecError as exc:
        reply, note = None, str(exc)
    if isinstance(reply, list):
        slowlog = reply
    elif note is None:
        note = "unexpected reply %r" % (reply,)
    result = dict(_redis_performance(info, slowlog, None), **where)
    if note:
        result["slowlog"] = None
        result["slowlog_note"] = "SLOWLOG could not be read: %s" % note
    return result
