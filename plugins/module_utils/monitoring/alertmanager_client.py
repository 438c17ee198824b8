# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager's API v2, the silences part: list, create or extend, expire. The HTTP is the
PromQL client's (monitoring/client.py Direct: bearer or basic authentication, a CA bundle or
a client certificate, one timeout per request). Errors name the server, the request and the
cause."""

from __future__ import annotations

import json
import urllib.parse

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as http

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
        self.http = http.Direct(
            self.url,
            bearer_token=bearer_token,
            username=username if username else None,
            password=password,
            client_cert=client_cert,
            client_key=client_key,
            ca_cert=ca_path,
            validate_certs=validate_certs,
            maxsize=1,
        )

    def _call(self, method, path, body=None, what="read"):
        try:
            status, raw = self.http.request(method, path, self.timeout, body=body)
        except http.TransportError as exc:
            raise AlertmanagerError("cannot reach Alertmanager at %s to %s: %s" % (self.url, what, exc.cause))
        if status >= 300:
            detail = raw.decode("utf-8", "replace").strip()[:300]
            raise AlertmanagerError(
                "%s %s/%s answered HTTP %d: %s" % (method, self.url, path, status, detail)
            )
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
