# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PromQL client: queries sent to Prometheus's HTTP API, many at once.

Two ways to reach the server, both answering ``get(path, params, timeout) -> (status, body)``:

- :class:`Direct`: its URL, with bearer, basic or mutual-TLS authentication, over one
  urllib3 pool of keep-alive connections (as many as the concurrency);
- :class:`ServiceProxy`: the Kubernetes API server's proxy to the Service
  (``.../services/[https:]name:port/proxy/api/v1/query``) through the collection's one
  Kubernetes Client, so a run from outside the cluster needs no port-forward. The API
  server authenticates the caller; Prometheus sees the proxy.

:class:`Prometheus` runs normalized queries (promql.py) on a thread pool of at most
``concurrency`` workers and returns every result and every failure, each failure a
:class:`promql.QueryError` naming the query and the cause (HTTP status, Prometheus's error
type and message, a timeout, a refused connection). Nothing is retried: a query is a read,
the caller decides whether to run it again.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql

JSON = "application/json"
DEFAULT_CONCURRENCY = 10


class TransportError(Exception):
    """No HTTP answer: ``kind`` is timeout, unreachable or tls."""

    def __init__(self, kind, cause):
        super().__init__(cause)
        self.kind = kind
        self.cause = cause


def _reason(exc, url, timeout):
    """``(kind, text)`` for a urllib3 failure, from its nested causes."""
    import urllib3

    text = str(exc)
    lowered = text.lower()
    # Before the timeout test: urllib3's NewConnectionError is a ConnectTimeoutError.
    if "refused" in lowered:
        return "unreachable", "cannot connect to %s: connection refused" % url
    if "name or service not known" in lowered or "getaddrinfo" in lowered or "name resolution" in lowered:
        return "unreachable", "cannot connect to %s: host name does not resolve" % url
    if isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in lowered:
        return "timeout", "no answer from %s within %gs (timeout)" % (url, timeout)
    if isinstance(exc, urllib3.exceptions.SSLError) or "ssl" in lowered or "certificate" in lowered:
        return "tls", "TLS error talking to %s: %s" % (url, _last(text))
    return "unreachable", "cannot reach %s: %s" % (url, _last(text))


def _last(text):
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1]
    return text.strip(" :()'\"")[:300]


class Direct:
    """Prometheus at its URL (``http(s)://host:port[/prefix]``)."""

    def __init__(
        self,
        url,
        bearer_token=None,
        username=None,
        password=None,
        client_cert=None,
        client_key=None,
        ca_cert=None,
        validate_certs=True,
        maxsize=DEFAULT_CONCURRENCY,
    ):
        import urllib3

        self._urllib3 = urllib3
        self.url = url.rstrip("/")
        self.headers = {"Accept": JSON}
        if bearer_token:
            self.headers["Authorization"] = "Bearer %s" % bearer_token
        elif username is not None:
            self.headers.update(urllib3.make_headers(basic_auth="%s:%s" % (username, password or "")))
        kwargs = {"maxsize": max(int(maxsize), 1), "block": True}
        if self.url.startswith("https:"):
            if validate_certs:
                kwargs["cert_reqs"] = "CERT_REQUIRED"
                if ca_cert:
                    kwargs["ca_certs"] = ca_cert
            else:
                kwargs["cert_reqs"] = "CERT_NONE"
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            if client_cert:
                kwargs["cert_file"] = client_cert
                kwargs["key_file"] = client_key
        self.pool = urllib3.PoolManager(**kwargs)
        self.retries = urllib3.Retry(total=False, redirect=False)

    def describe(self):
        return self.url

    def get(self, path, params, timeout):
        return self.request("GET", path, timeout, params=params)

    def request(self, method, path, timeout, params=None, body=None):
        """``(status, body)`` of one request (``body``: JSON-encoded when given), or a
        TransportError when there is no answer. Also the HTTP of Alertmanager's client."""
        url = "%s/%s" % (self.url, path.lstrip("/"))
        headers = self.headers
        kwargs = {"fields": params} if params else {}
        if body is not None:
            headers = dict(headers, **{"Content-Type": JSON})
            kwargs = {"body": json.dumps(body).encode()}
        try:
            resp = self.pool.request(
                method,
                url,
                headers=headers,
                timeout=self._urllib3.Timeout(total=timeout),
                retries=self.retries,
                **kwargs,
            )
        except self._urllib3.exceptions.HTTPError as exc:
            kind, text = _reason(exc, self.url, timeout)
            raise TransportError(kind, text) from None
        return resp.status, resp.data


class ServiceProxy:
    """Prometheus behind a Service, through the Kubernetes API server's service proxy."""

    def __init__(self, client, namespace, service, port, scheme=None):
        self.client = client
        self.namespace = namespace
        self.service = service
        self.port = port
        self.scheme = scheme

    def describe(self):
        port = ":%s" % self.port if self.port not in (None, "") else ""
        return "service %s/%s%s through the API server's proxy (%s)" % (
            self.namespace,
            self.service,
            port,
            self.client.host,
        )

    def get(self, path, params, timeout):
        proxied = resources.service_proxy_path(self.namespace, self.service, self.port, path, self.scheme)
        try:
            # retry=False: a query is a finding; the API server's 5xx is reported, not hidden
            return self.client.request(proxied, query=params, accept=JSON, timeout=timeout, retry=False)
        except ApiError as exc:
            if exc.kind == "timeout":
                raise TransportError(
                    "timeout", "no answer from %s within %gs (timeout)" % (self.describe(), timeout)
                )
            raise TransportError("unreachable", str(exc)) from None


class Prometheus:
    """Queries over one transport; ``timeout`` seconds per query (also sent to the server
    as the evaluation timeout), at most ``concurrency`` at once."""

    def __init__(self, transport, timeout=30.0, concurrency=DEFAULT_CONCURRENCY):
        self.transport = transport
        self.timeout = float(timeout)
        self.concurrency = max(int(concurrency), 1)

    def query(self, query):
        """One normalized query's result; raises promql.QueryError."""
        params = promql.api_params(query, self.timeout)
        try:
            status, body = self.transport.get(promql.api_path(query), params, self.timeout)
        except TransportError as exc:
            raise promql.QueryError(query["name"], exc.cause, kind=exc.kind) from None
        return promql.answer(query, status, body)

    def run(self, queries):
        """``(results, errors)``: results by name of the queries that answered, QueryErrors
        by name of those that did not, in the order of ``queries``."""
        results, errors = {}, {}
        if not queries:
            return results, errors
        if len(queries) == 1 or self.concurrency == 1:
            outcomes = [self._outcome(q) for q in queries]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
                outcomes = list(pool.map(self._outcome, queries))
        for query, (result, error) in zip(queries, outcomes, strict=True):
            if error is None:
                results[query["name"]] = result
            else:
                errors[query["name"]] = error
        return results, errors

    def _outcome(self, query):
        try:
            return self.query(query), None
        except promql.QueryError as exc:
            return None, exc
