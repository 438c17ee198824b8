# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager's API v2, the silences part: list, create or extend, expire. Bearer or basic
authentication, a CA bundle or a client certificate (mTLS), one timeout per request. Errors
name the server, the request and the cause."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

# Alertmanager's API, relative to its base URL (which may carry a path prefix, as behind the
# Kubernetes API server's service proxy or --web.route-prefix).
SILENCES = "api/v2/silences"
SILENCE = "api/v2/silence/"


class AlertmanagerError(Exception):
    pass


class AlertmanagerClient:
    def __init__(
        self,
        url,
        bearer_token=None,
        username=None,
        password=None,
        ca_path=None,
        client_cert=None,
        client_key=None,
        validate_certs=True,
        timeout=10.0,
    ):
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.headers = {"Accept": "application/json"}
        if bearer_token:
            self.headers["Authorization"] = "Bearer %s" % bearer_token
        elif username:
            pair = ("%s:%s" % (username, password or "")).encode()
            self.headers["Authorization"] = "Basic %s" % base64.b64encode(pair).decode()
        self.context = None
        if self.url.startswith("https:"):
            self.context = ssl.create_default_context(cafile=ca_path or None)
            if not validate_certs:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
            if client_cert:
                self.context.load_cert_chain(client_cert, client_key or None)

    def _call(self, method, path, body=None, what="read"):
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            "%s/%s" % (self.url, path), data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:300]
            raise AlertmanagerError(
                "%s %s%s answered HTTP %d: %s" % (method, self.url, path, exc.code, detail or exc.reason)
            )
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertmanagerError("cannot reach Alertmanager at %s to %s: %s" % (self.url, what, reason))
        return json.loads(raw) if raw.strip() else None

    def silences(self):
        return self._call("GET", SILENCES, what="list the silences") or []

    def create(self, body):
        """Create a silence, or update the one whose ``id`` the body carries; its id."""
        answer = self._call("POST", SILENCES, body, what="create a silence") or {}
        return answer.get("silenceID")

    def expire(self, silence_id):
        path = SILENCE + urllib.parse.quote(str(silence_id), safe="")
        self._call("DELETE", path, what="expire the silence %s" % silence_id)


def connect(params):
    """The client for a module's connection options (url, bearer_token, username, password,
    ca_path, client_cert, client_key, validate_certs, timeout)."""
    return AlertmanagerClient(
        params["url"],
        bearer_token=params.get("bearer_token"),
        username=params.get("username"),
        password=params.get("password"),
        ca_path=params.get("ca_path"),
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        validate_certs=params.get("validate_certs", True),
        timeout=params.get("timeout") or 10,
    )
