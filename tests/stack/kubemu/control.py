"""The control API under ``/_kubemu/``: faults that no Kubernetes object can express.

JSON in, JSON out, behind the same bearer token as the API. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp.web

from .api import json_response
from .faults import BROKEN_IMAGE_MODES, EXEC_FAULT_MODES, OUTAGE_MODES, DenyRule, ExecFault
from .logs import append_lines, log_path

if TYPE_CHECKING:
    from .api import Kubemu


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _field(body: dict[str, Any], name: str, kind: type = str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        raise ControlError(400, f"{name!r} is required ({kind.__name__})")
    return value


class ControlApi:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator

    async def handle(self, raw: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.Response:
        route = raw.path.removeprefix("/_kubemu/").strip("/")
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ControlError(400, "the body must be a JSON object")
            handler = getattr(self, f"_{raw.method.lower()}_{route.replace('-', '_')}", None)
            if handler is None:
                raise ControlError(404, f"no control endpoint {raw.method} /_kubemu/{route}")
            return json_response(handler(data))
        except ValueError:
            return json_response({"error": "the body is not valid JSON"}, status=400)
        except ControlError as exc:
            return json_response({"error": str(exc)}, status=exc.status)

    def _get_state(self, _: dict[str, Any]) -> dict[str, Any]:
        emu = self._emu
        counts = {}
        for rt in emu.registry.storage_types():
            if rt.group != "metrics.k8s.io" and (count := len(emu.store.list(rt.storage))):
                counts[rt.qualified] = count
        return {
            "cluster": emu.options.cluster_name,
            "resourceVersion": str(emu.store.resource_version),
            "objects": counts,
            "faults": emu.faults.summary(),
        }

    def _post_broken_images(self, data: dict[str, Any]) -> dict[str, Any]:
        image, mode = _field(data, "image"), data.get("mode", "imagepull")
        if mode not in BROKEN_IMAGE_MODES:
            raise ControlError(400, f"mode must be one of {', '.join(BROKEN_IMAGE_MODES)}")
        self._emu.faults.broken_images[image] = mode
        self._emu.notify_changed()
        return {"brokenImages": dict(self._emu.faults.broken_images)}

    def _delete_broken_images(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("image"):
            self._emu.faults.broken_images.pop(data["image"], None)
        else:
            self._emu.faults.broken_images.clear()
        self._emu.notify_changed()
        return {"brokenImages": dict(self._emu.faults.broken_images)}

    def _post_deny(self, data: dict[str, Any]) -> dict[str, Any]:
        unknown = set(data) - {"verb", "group", "resource", "namespace"}
        if unknown:
            raise ControlError(400, f"unknown fields: {', '.join(sorted(unknown))}")
        rule = DenyRule(
            verb=data.get("verb") or "*",
            group="*" if data.get("group") is None else data["group"],
            resource=data.get("resource") or "*",
            namespace=data.get("namespace") or None,
        )
        self._emu.faults.deny_rules.append(rule)
        return self._emu.faults.summary()

    def _delete_deny(self, _: dict[str, Any]) -> dict[str, Any]:
        self._emu.faults.deny_rules.clear()
        return self._emu.faults.summary()

    def _post_logs(self, data: dict[str, Any]) -> dict[str, Any]:
        namespace, pod_name = _field(data, "namespace"), _field(data, "pod")
        lines = _field(data, "lines", list)
        pod = self._emu.get("", "pods", namespace, pod_name)
        if pod is None:
            raise ControlError(404, f'pods "{pod_name}" not found in namespace "{namespace}"')
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        names += [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = data.get("container") or names[0]
        if container not in names:
            raise ControlError(400, f"container {container} is not valid for pod {pod_name}")
        path = log_path(
            self._emu.options.state_dir, namespace, pod_name, container, bool(data.get("previous"))
        )
        append_lines(path, [str(line) for line in lines])
        return {"path": str(path), "appended": len(lines)}

    def _post_metrics(self, data: dict[str, Any]) -> dict[str, Any]:
        faults = self._emu.faults
        if "enabled" in data:
            faults.metrics_enabled = _field(data, "enabled", bool)
        if "pod" in data or "usage" in data:
            usage = _field(data, "usage", dict)
            faults.usage[_field(data, "namespace"), _field(data, "pod")] = {
                k: str(v) for k, v in usage.items() if k in ("cpu", "memory")
            }
        return faults.summary()["metrics"]

    def _post_backends(self, data: dict[str, Any]) -> dict[str, Any]:
        key = (_field(data, "namespace"), _field(data, "service"))
        self._emu.faults.backends[key] = _field(data, "url")
        return self._emu.faults.summary()["backends"]

    def _delete_backends(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("service"):
            self._emu.faults.backends.pop((_field(data, "namespace"), data["service"]), None)
        else:
            self._emu.faults.backends.clear()
        return self._emu.faults.summary()["backends"]

    def _post_exec_fault(self, data: dict[str, Any]) -> dict[str, Any]:
        unknown = set(data) - {"namespace", "pod", "mode", "bytes", "count"}
        if unknown:
            raise ControlError(400, f"unknown fields: {', '.join(sorted(unknown))}")
        key = (_field(data, "namespace"), _field(data, "pod"))
        mode = data.get("mode", "disconnect-after-bytes")
        if mode not in EXEC_FAULT_MODES:
            raise ControlError(400, f"mode must be one of {', '.join(EXEC_FAULT_MODES)}")
        size = data.get("bytes", 0)
        count = data.get("count")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ControlError(400, "'bytes' must be an integer >= 0")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ControlError(400, "'count' must be an integer >= 1 (or absent: every exec)")
        self._emu.faults.exec_faults[key] = ExecFault(mode=mode, bytes=size, count=count)
        return self._emu.faults.summary()["exec"]

    def _delete_exec_fault(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("pod"):
            self._emu.faults.exec_faults.pop((_field(data, "namespace"), data["pod"]), None)
        else:
            self._emu.faults.exec_faults.clear()
        return self._emu.faults.summary()["exec"]

    def _post_outage(self, data: dict[str, Any]) -> dict[str, Any]:
        seconds = data.get("seconds")
        mode = data.get("mode", "disconnect")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or seconds < 0
            or mode not in OUTAGE_MODES
        ):
            raise ControlError(400, f"mode must be one of {', '.join(OUTAGE_MODES)}, seconds >= 0")
        self._emu.faults.outage_mode = mode
        self._emu.faults.outage_until = time.monotonic() + seconds
        return self._emu.faults.summary()

    def _delete_outage(self, _: dict[str, Any]) -> dict[str, Any]:
        self._emu.faults.outage_until = 0.0
        return self._emu.faults.summary()

    def _post_reset_faults(self, _: dict[str, Any]) -> dict[str, Any]:
        self._emu.faults.reset()
        self._emu.notify_changed()
        return self._emu.faults.summary()
