# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Kubernetes API client of the collection's modules: reads, writes, paging, retries.

The modules skip discovery for the kinds they know (``resources.py`` builds every path) and
send plain HTTP requests through the ``kubernetes`` client's configured ``ApiClient`` (auth,
TLS and proxies exactly as kubernetes.core set them up). Every failure becomes one error
type, :class:`ApiError`, whose ``kind`` tells an unreachable server or bad credentials
(nothing can be checked) from a forbidden resource (that one check could not run).

Retries: a read (GET, LIST) and a PATCH the caller marks idempotent are retried when no
answer came (connection refused, reset or dropped), and on 429 and 5xx answers, with a
growing pause (or the server's ``Retry-After``), until the call's time budget is spent:
``timeout`` seconds for the whole call, retries included (the modules' ``api_timeout``).
Creates, replaces and deletes are never retried: a lost answer may hide a write that was
made.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources

JSON = "application/json"
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
FIRST_PAUSE = 0.2
MAX_PAUSE = 2.0
PAGE = 500


class ApiError(Exception):
    """A Kubernetes API call that failed; ``kind`` is one of:

    unreachable, unauthorized, forbidden, not_found, conflict, timeout, error.
    """

    def __init__(self, kind, message, status=None):
        super().__init__(message)
        self.kind = kind
        self.status = status

    @property
    def fatal(self):
        """True when no API call can succeed (wrong server, wrong credentials)."""
        return self.kind in ("unreachable", "unauthorized")

    @property
    def transient(self):
        """True for failures worth trying again later: no answer, a timeout, 429 or a 5xx."""
        if self.kind in ("unreachable", "timeout"):
            return True
        return self.kind == "error" and (self.status == 429 or (self.status or 0) >= 500)


def status_message(body):
    """The ``message`` of a Kubernetes ``Status`` body (bytes, text or decoded), if it is one."""
    data = body
    if not isinstance(body, dict):
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            return None
    if isinstance(data, dict):
        return data.get("message")
    return None


def from_status(status, body, host, what):
    """The ApiError for an HTTP answer that is not 2xx (``body``: bytes or the decoded Status)."""
    detail = status_message(body) or ""
    if status == 401:
        return ApiError(
            "unauthorized",
            "the Kubernetes API at %s rejected the credentials (401 Unauthorized) while trying to %s"
            % (host, what),
            401,
        )
    if status == 403:
        return ApiError("forbidden", "permission denied to %s: %s" % (what, detail), 403)
    if status == 404:
        return ApiError("not_found", "not found while trying to %s: %s" % (what, detail), 404)
    if status in (408, 504):
        return ApiError("timeout", "timed out while trying to %s" % what, status)
    kind = "conflict" if status == 409 else "error"
    return ApiError(
        kind, "HTTP %s from the Kubernetes API while trying to %s: %s" % (status, what, detail), status
    )


def classify(exc, host, what):
    """Turn whatever the client raised into an ApiError with a readable message."""
    if isinstance(exc, ApiError):
        return exc
    status = getattr(exc, "status", None)
    if status:
        return from_status(status, getattr(exc, "body", None), host, what)
    text = str(exc)
    name = exc.__class__.__name__
    if host is None:
        # No configuration to read the server from: urllib3 names it in its message.
        match = re.search(r"host='([^']+)', port=(\d+)", text)
        host = "%s:%s" % match.groups() if match else "the cluster's API server"
    if "timed out" in text.lower() or "Timeout" in name:
        return ApiError("timeout", "timed out while trying to %s at %s" % (what, host))
    reason = "connection refused" if "refused" in text.lower() else _short(text)
    return ApiError(
        "unreachable",
        "cannot reach the Kubernetes API at %s (%s) while trying to %s" % (host, reason, what),
    )


def tls_refused(exc):
    """True when the TLS handshake failed on a certificate (untrusted, expired, another
    name): an answer, not a lost one, so not worth trying again."""
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower()


def _short(text):
    # urllib3 wraps the cause several times; the last parenthesised part is the useful one.
    text = text.strip().splitlines()[0] if text.strip() else "unknown error"
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" :()")
    return text[:300]


def decode(data):
    """JSON bytes as Python data, None for an empty or non-JSON body."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _retry_after(resp):
    getter = getattr(resp, "getheader", None)
    value = getter("Retry-After") if callable(getter) else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


class Client:
    """Requests through the REST layer of a configured ``kubernetes.client.ApiClient``.

    The REST layer's ``request(method, url, headers=..., body=..., _request_timeout=...)`` is
    the same in the old (<= 33) and the newly generated (>= 34) client, unlike ``call_api``.
    Authentication headers come from the configuration (which also refreshes expiring
    tokens); client certificates and CA settings live in the REST layer's pool.
    """

    def __init__(self, api_client, timeout=30, clock=time.monotonic, sleep=time.sleep):
        self.api = api_client
        self.config = api_client.configuration
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.host = (getattr(self.config, "host", "") or "?").rstrip("/")

    # -- the wire ---------------------------------------------------------------------------

    def _headers(self, accept, content_type=None):
        headers = dict(getattr(self.api, "default_headers", {}) or {})
        headers["Accept"] = accept
        for auth in (self.config.auth_settings() or {}).values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _exchange(self, method, path, query, headers, body, timeout, retry, what):
        """``(status, body bytes)`` of the last answer; retried as the module docstring says.
        Raises ApiError when no answer came back within the budget."""
        url = self.host + path
        if query:
            url += ("&" if "?" in path else "?") + urlencode(query)
        budget = self.timeout if timeout is None else min(timeout, self.timeout)
        deadline = self.clock() + budget
        pause = FIRST_PAUSE
        while True:
            left = max(deadline - self.clock(), 0.1)
            wait = None
            try:
                resp = self.api.rest_client.request(
                    method, url, headers=headers, body=body, _request_timeout=left
                )
            except Exception as exc:  # noqa: BLE001 - an HTTP error status would not raise here
                status = getattr(exc, "status", None)
                if status:  # old clients raise ApiException on non-2xx
                    answer = (status, getattr(exc, "body", b"") or b"")
                    if not (retry and status in RETRY_STATUSES):
                        return answer
                else:
                    error = classify(exc, self.host, what)
                    if not (retry and error.kind == "unreachable") or tls_refused(exc):
                        raise error from None
                    answer = error
            else:
                data = resp.read() if getattr(resp, "data", None) is None else resp.data
                answer = (resp.status, data or b"")
                if not (retry and resp.status in RETRY_STATUSES):
                    return answer
                wait = _retry_after(resp)
            wait = pause if wait is None else wait
            if self.clock() + wait >= deadline:
                if isinstance(answer, ApiError):
                    raise answer
                return answer
            self.sleep(wait)
            pause = min(pause * 2, MAX_PAUSE)

    def request(self, path, query=None, accept=JSON, timeout=None, retry=True):
        """One GET; returns ``(status, body bytes)`` for any HTTP answer (retried on 429 and
        5xx until the budget is spent); raises ApiError only when no answer came back.
        ``timeout`` shortens the call's budget (a probe's timeout, what is left of a wait);
        it never lengthens it past ``api_timeout``."""
        return self._exchange(
            "GET", path, query, self._headers(accept), None, timeout, retry, "GET %s" % path
        )

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        """A write (POST, PUT, PATCH, DELETE) with a JSON body; returns ``(status, decoded)``
        for any HTTP answer, so the caller can act on 404 or 409; raises ApiError when no
        answer came back.

        ``content_type`` defaults to a JSON merge patch for PATCH and JSON otherwise;
        ``query`` (pairs or a dict, e.g. ``[("dryRun", "All")]``) is appended to the path.
        ``idempotent``: a PATCH that sets fields to fixed values (sending it twice is the
        same as once) is retried like a read."""
        if content_type is None:
            content_type = resources.MERGE if method == "PATCH" else JSON
        retry = idempotent and method == "PATCH"
        status, data = self._exchange(
            method, path, query, self._headers(JSON, content_type), body, None, retry, what
        )
        return status, decode(data)

    # -- reads ------------------------------------------------------------------------------

    def get_optional(self, path, what, timeout=None):
        """GET that answers None for 404 instead of raising. ``timeout``: this call's budget
        when it is not ``api_timeout`` (a wait's reads end with the wait)."""
        status, data = self.request(path, timeout=timeout)
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise from_status(status, data, self.host, what)
        return self._json(path, data)

    def get(self, path, what, timeout=None):
        status, data = self.request(path, timeout=timeout)
        if not 200 <= status < 300:
            raise from_status(status, data, self.host, what)
        return self._json(path, data)

    def raw(self, path, what, query=None, accept="*/*"):
        """The bytes of a GET (logs, proxied answers); raises ApiError for a non-2xx answer."""
        status, data = self.request(path, query, accept=accept)
        if not 200 <= status < 300:
            raise from_status(status, data, self.host, what)
        return data

    def list(self, path, what, label_selector=None, field_selector=None, page=PAGE, timeout=None):
        """Every item of a collection, page by page (``limit``/``continue``); ``timeout`` as
        for get_optional, per page."""
        base = []
        if label_selector:
            base.append(("labelSelector", label_selector))
        if field_selector:
            base.append(("fieldSelector", field_selector))
        items, token = [], None
        while True:
            query = base + [("limit", str(page))] + ([("continue", token)] if token else [])
            status, data = self.request(path, query, timeout=timeout)
            if not 200 <= status < 300:
                raise from_status(status, data, self.host, what)
            body = self._json(path, data)
            items.extend(body.get("items") or [])
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items

    def pod_log(self, namespace, pod, container, tail_lines, what):
        query = [("container", container), ("tailLines", str(int(tail_lines)))]
        data = self.raw(resources.pod_log_path(namespace, pod), what, query)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    @staticmethod
    def _json(path, data):
        try:
            body = json.loads(data)
        except (TypeError, ValueError):
            raise ApiError("error", "the API answered %s with something that is not JSON" % path) from None
        if not isinstance(body, dict):
            raise ApiError("error", "the API answered %s with JSON that is not an object" % path)
        return body
