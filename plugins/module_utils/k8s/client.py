# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw, read-only Kubernetes API access for the collection's look-at-everything modules.

The objects read here (Pods, Deployments, Events...) live at fixed paths on every
conformant API server, so these modules skip discovery and issue plain GETs through the
``kubernetes`` client's configured ``ApiClient`` (auth, TLS and proxies exactly as
kubernetes.core set them up). Errors are classified so that the caller can tell an
unreachable server or bad credentials (nothing can be checked) from a forbidden resource
(that one check could not run).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from ansible.module_utils.common.text.converters import to_native


class KubeError(Exception):
    """An API call that failed; ``kind`` is one of:

    unreachable, unauthorized, forbidden, not_found, timeout, error.
    """

    def __init__(self, kind, message, status=None):
        super().__init__(message)
        self.kind = kind
        self.status = status

    @property
    def fatal(self):
        """True when no API call can succeed (wrong server, wrong credentials)."""
        return self.kind in ("unreachable", "unauthorized")


def status_message(body):
    """The ``message`` of a Kubernetes ``Status`` body, if the body is one."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    if isinstance(data, dict):
        return data.get("message")
    return None


def classify(exc, host, what):
    """Turn whatever the client raised into a KubeError with a readable message."""
    if isinstance(exc, KubeError):
        return exc
    status = getattr(exc, "status", None)
    if status:
        detail = status_message(getattr(exc, "body", None)) or getattr(exc, "reason", "")
        if status == 401:
            return KubeError(
                "unauthorized",
                "the Kubernetes API at %s rejected the credentials (401 Unauthorized) while "
                "trying to %s" % (host, what),
                401,
            )
        if status == 403:
            return KubeError("forbidden", "permission denied to %s: %s" % (what, detail), 403)
        if status == 404:
            return KubeError("not_found", "not found while trying to %s: %s" % (what, detail), 404)
        if status in (408, 504):
            return KubeError("timeout", "timed out while trying to %s" % what, status)
        return KubeError(
            "error",
            "HTTP %s from the Kubernetes API while trying to %s: %s" % (status, what, detail),
            status,
        )
    text = to_native(exc)
    name = exc.__class__.__name__
    if host is None:
        # No configuration to read the server from: urllib3 names it in its message.
        match = re.search(r"host='([^']+)', port=(\d+)", text)
        host = "%s:%s" % match.groups() if match else "the cluster's API server"
    if "timed out" in text.lower() or "Timeout" in name:
        return KubeError("timeout", "timed out while trying to %s at %s" % (what, host))
    reason = "connection refused" if "refused" in text.lower() else _short(text)
    return KubeError(
        "unreachable",
        "cannot reach the Kubernetes API at %s (%s) while trying to %s" % (host, reason, what),
    )


def _short(text):
    # urllib3 wraps the cause several times; the last parenthesised part is the useful one.
    text = text.strip().splitlines()[0] if text.strip() else "unknown error"
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" :()")
    return text[:300]


class KubeReader:
    """GET/LIST through the REST layer of a configured ``kubernetes.client.ApiClient``.

    The REST layer's ``request(method, url, headers=..., _request_timeout=...)`` is the
    same in the old (<= 33) and the newly generated (>= 34) client, unlike ``call_api``.
    Authentication headers come from the configuration (which also refreshes expiring
    tokens); client certificates and CA settings live in the REST layer's pool.
    """

    def __init__(self, api_client, timeout=10):
        self.api = api_client
        self.config = api_client.configuration
        self.timeout = timeout
        self.host = (getattr(self.config, "host", "") or "?").rstrip("/")

    def _headers(self, accept):
        headers = dict(getattr(self.api, "default_headers", {}) or {})
        headers["Accept"] = accept
        for auth in (self.config.auth_settings() or {}).values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        return headers

    def request(self, path, query=None, accept="application/json", timeout=None):
        """One GET; returns ``(status, body bytes)``; raises KubeError only when no HTTP
        answer came back (connection, TLS, timeout)."""
        url = self.host + path
        if query:
            url += "?" + urlencode(query)
        try:
            resp = self.api.rest_client.request(
                "GET",
                url,
                headers=self._headers(accept),
                _request_timeout=timeout or self.timeout,
            )
        except Exception as exc:  # noqa: BLE001 - an HTTP error status would not raise here
            if getattr(exc, "status", None):  # old clients raise ApiException on non-2xx
                return exc.status, getattr(exc, "body", b"") or b""
            raise classify(exc, self.host, "GET %s" % path)
        data = resp.read() if getattr(resp, "data", None) is None else resp.data
        return resp.status, data or b""

    def send(self, method, path, body, what, content_type=None, query=None):
        """A write (POST, PUT, PATCH, DELETE) with a JSON body; returns ``(status, decoded)``
        for any HTTP answer, so the caller can act on 404 or 409; raises KubeError when no
        answer came back.

        ``content_type`` defaults to a JSON merge patch for PATCH and JSON otherwise (pass
        ``application/strategic-merge-patch+json`` for a strategic merge patch); ``query``
        (pairs or a dict, e.g. ``[("dryRun", "All")]``) is appended to the path."""
        url = self.host + path
        if query:
            url += ("&" if "?" in path else "?") + urlencode(query)
        headers = self._headers("application/json")
        if content_type is None:
            content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        headers["Content-Type"] = content_type
        try:
            resp = self.api.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=self.timeout
            )
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status", None):
                return exc.status, _decode(getattr(exc, "body", None))
            raise classify(exc, self.host, what)
        data = resp.read() if getattr(resp, "data", None) is None else resp.data
        return resp.status, _decode(data)

    def get_optional(self, path, what):
        """GET that answers None for 404 instead of raising."""
        status, data = self.request(path)
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise classify(_HTTPStatus(status, data), self.host, what)
        return _decode(data)

    def _call(self, path, query, what, raw=False):
        status, data = self.request(path, query)
        if not 200 <= status < 300:
            raise classify(_HTTPStatus(status, data), self.host, what)
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise KubeError("error", "the API answered %s with something that is not JSON" % path)

    def get(self, path, what):
        return self._call(path, None, what)

    def list(self, path, what, label_selector=None, field_selector=None):
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return self._call(path, query, what).get("items") or []

    def pod_log(self, namespace, pod, container, tail_lines, what):
        query = [("container", container), ("tailLines", str(int(tail_lines)))]
        path = "/api/v1/namespaces/%s/pods/%s/log" % (quote(namespace), quote(pod))
        return to_native(self._call(path, query, what, raw=True), errors="replace")

    @staticmethod
    def service_proxy_path(namespace, service, port, path, scheme=None):
        target = service if port in (None, "") else "%s:%s" % (service, port)
        if scheme and scheme != "http":
            target = "%s:%s" % (scheme, target)
        return "/api/v1/namespaces/%s/services/%s/proxy%s" % (
            quote(namespace),
            quote(target, safe=":"),
            path if path.startswith("/") else "/" + path,
        )


def _decode(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class _HTTPStatus(Exception):
    def __init__(self, status, body):
        super().__init__("HTTP %s" % status)
        self.status = status
        self.body = body
        self.reason = ""
