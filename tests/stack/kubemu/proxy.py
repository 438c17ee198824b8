"""``services/proxy``: forwards to a real HTTP backend standing in for the service's pods.

Pods are not processes here, so the proxy forwards to one URL per service (set through the
control API) or to ``--default-backend``. It still checks what the apiserver checks first: the
service exists and has ready endpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import aiohttp.web

from . import errors
from .api import ApiCall, Subresource

if TYPE_CHECKING:
    from .api import Kubemu

_FORWARDED_HEADERS = ("Content-Type", "Accept", "Accept-Encoding", "User-Agent")
_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)


class ServiceProxy:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator

    async def serve(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        api = call.path
        assert api.name is not None and api.namespace is not None  # guaranteed by the router
        # {name}, {name}:{port} or {scheme}:{name}:{port}
        parts = api.name.split(":")
        name = parts[1] if len(parts) == 3 else parts[0]
        port_ref = parts[-1] if len(parts) >= 2 else ""
        service = self._emu.get("", "services", api.namespace, name)
        if service is None:
            raise errors.not_found("services", "", name)
        ports = service["spec"].get("ports") or []
        port = next((p for p in ports if port_ref in ("", str(p.get("port")), p.get("name", ""))), None)
        endpoints = self._emu.get("", "endpoints", api.namespace, name) or {}
        addresses = [a for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []]
        if port is None or not addresses:
            raise errors.service_unavailable(f'no endpoints available for service "{api.name}"')
        backend = self._emu.faults.backends.get((api.namespace, name)) or self._emu.options.default_backend
        target = f"{addresses[0]['ip']}:{port.get('targetPort', port.get('port'))}"
        if not backend:
            raise errors.service_unavailable(
                f"error trying to reach service: dial tcp {target}: connect: connection refused"
            )
        url = backend.rstrip("/") + (api.subpath or "/")
        if call.raw.query_string:
            url += "?" + call.raw.query_string
        headers = {h: call.raw.headers[h] for h in _FORWARDED_HEADERS if h in call.raw.headers}
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.request(call.raw.method, url, data=call.body or None, headers=headers) as reply,
            ):
                body = await reply.read()
                response = aiohttp.web.Response(body=body, status=reply.status)
                if "Content-Type" in reply.headers:
                    response.headers["Content-Type"] = reply.headers["Content-Type"]
                return response
        except aiohttp.ClientConnectorError:
            raise errors.service_unavailable(
                f"error trying to reach service: dial tcp {target}: connect: connection refused"
            ) from None
        except TimeoutError:
            raise errors.service_unavailable(
                f"error trying to reach service: dial tcp {target}: i/o timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise errors.api_error(502, "BadGateway", f"error trying to reach service: {exc}") from None


def register(emulator: Kubemu) -> None:
    proxy = ServiceProxy(emulator)
    emulator.register_subresource(
        "",
        "services",
        "proxy",
        Subresource("ServiceProxyOptions", ("create", "delete", "get", "patch", "update"), proxy.serve),
    )
