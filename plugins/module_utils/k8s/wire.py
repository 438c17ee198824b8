# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP to the Kubernetes API server with urllib3, for a :class:`config.Connection`.

:class:`Session` offers what :class:`client.Client` uses of a ``kubernetes.client.ApiClient``
(``configuration.host``, ``configuration.auth_settings()``, ``default_headers`` and
``rest_client.request(method, url, headers=, body=, _request_timeout=)``), so the Client
works the same over either. No retries and no redirects here: the Client decides.

A client certificate and key given as data reach the TLS context through a memory file
(``memfd``), or, where there is none, a private file that is removed as soon as the context
has read it: no key file outlives the call that loads it.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile

POOL_SIZE = 16  # k8s_apply sends up to its `concurrency` requests at once


class _Configuration:
    def __init__(self, host):
        self.host = host

    @staticmethod
    def auth_settings():
        return {}  # the authentication headers are in Session.default_headers


class Response:
    """``status``, ``data`` (bytes) and ``getheader(name)`` of an answer."""

    def __init__(self, status, data, headers):
        self.status = status
        self.data = data
        self._headers = headers

    def getheader(self, name, default=None):
        return self._headers.get(name, default)


class Session:
    """Requests for one Connection (see the module docstring)."""

    def __init__(self, conn):
        self.conn = conn
        self.configuration = _Configuration(conn.host)
        self.default_headers = dict(conn.headers)
        self.rest_client = self
        self._pool = None

    def request(self, method, url, headers=None, body=None, _request_timeout=None):
        import urllib3

        if self._pool is None:
            self._pool = pool(self.conn)
        try:
            send = urllib3.HTTPHeaderDict(headers or {})
        except AttributeError:  # urllib3 < 2
            from urllib3._collections import HTTPHeaderDict

            send = HTTPHeaderDict(headers or {})
        for group in self.conn.groups:
            send.add("Impersonate-Group", group)
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        resp = self._pool.request(
            method,
            url,
            body=body,
            headers=send,
            timeout=urllib3.Timeout(total=_request_timeout) if _request_timeout else None,
            retries=False,
            redirect=False,
            preload_content=True,
        )
        return Response(resp.status, resp.data, resp.headers)


def pool(conn):
    """A urllib3 PoolManager (a ProxyManager behind a proxy) with the Connection's TLS."""
    import urllib3

    kwargs = dict(maxsize=POOL_SIZE, block=False)
    if conn.host.startswith("https:"):
        kwargs["ssl_context"] = tls_context(conn)
        if conn.tls_server_name:
            kwargs["server_hostname"] = conn.tls_server_name
        if not conn.verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    if conn.proxy and not conn.bypasses_proxy():
        return urllib3.ProxyManager(conn.proxy, proxy_headers=conn.proxy_headers or None, **kwargs)
    return urllib3.PoolManager(**kwargs)


def tls_context(conn):
    """The SSLContext: the CA to trust (or none checked), and the client certificate."""
    if conn.verify:
        ctx = ssl.create_default_context(cafile=conn.ca_file, cadata=conn.ca_data)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if conn.cert_file or conn.cert_data:
        with _as_file(conn.cert_data) as cert, _as_file(conn.key_data) as key:
            ctx.load_cert_chain(cert or conn.cert_file, key or conn.key_file)
    return ctx


class _as_file:
    """A path to ``data`` for the duration of a ``with`` (None for no data): a memfd's
    ``/proc/self/fd`` path, else a private temporary file removed at the end."""

    def __init__(self, data):
        self.data = data
        self.fd = None
        self.path = None

    def __enter__(self):
        if self.data is None:
            return None
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None and os.path.isdir("/proc/self/fd"):
            self.fd = memfd("multiagent-ops-tls", getattr(os, "MFD_CLOEXEC", 0))
            os.write(self.fd, self.data)
            return "/proc/self/fd/%d" % self.fd
        self.fd, self.path = tempfile.mkstemp(prefix="multiagent-ops-tls-")
        os.write(self.fd, self.data)
        return self.path

    def __exit__(self, *exc):
        if self.path:
            os.unlink(self.path)
        if self.fd is not None:
            os.close(self.fd)
        return False
