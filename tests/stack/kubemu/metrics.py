"""``metrics.k8s.io/v1beta1`` as metrics-server serves it, with deterministic usage.

A running container uses half of its CPU request and 60 % of its memory request (2m / 16Mi when it
requests nothing), unless a usage was set for the pod through the control API. Switched off, the
group disappears from discovery and its paths answer 404, as when metrics-server is not installed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp.web

from . import errors
from .api import ApiCall, json_response
from .selection import make_filter
from .store import timestamp

if TYPE_CHECKING:
    from .api import Kubemu

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)(n|u|m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_API_VERSION = "metrics.k8s.io/v1beta1"
_NODE_BASE = {"cpu": Decimal("0.15"), "memory": Decimal(2**30)}


def parse_quantity(text: str | int | float) -> Decimal:
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    return Decimal(match[1]) * _SUFFIXES[match[2] or ""]


def format_usage(cpu: Decimal, memory: Decimal) -> dict[str, str]:
    """metrics-server's units: nanocores and kibibytes."""
    return {"cpu": f"{int(cpu * 10**9)}n", "memory": f"{int(memory / 1024)}Ki"}


class MetricsApi:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator

    def _container_usage(self, container: dict[str, Any]) -> tuple[Decimal, Decimal]:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu = parse_quantity(requests["cpu"]) / 2 if "cpu" in requests else Decimal("0.002")
        memory = (
            parse_quantity(requests["memory"]) * Decimal("0.6")
            if "memory" in requests
            else Decimal(16 * 2**20)
        )
        return cpu, memory

    def pod_usage(self, pod: dict[str, Any]) -> list[tuple[str, Decimal, Decimal]]:
        meta = pod["metadata"]
        containers = pod["spec"].get("containers") or []
        usage = [(c["name"], *self._container_usage(c)) for c in containers]
        override = self._emu.faults.usage.get((meta["namespace"], meta["name"]))
        if override and usage:
            # The pod's usage goes to its first container; the others then use nothing.
            usage = [(name, Decimal(0), Decimal(0)) for name, _, _ in usage]
            usage[0] = (
                usage[0][0],
                parse_quantity(override.get("cpu", "0")),
                parse_quantity(override.get("memory", "0")),
            )
        return usage

    def _running_pods(self, namespace: str | None) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self._emu.list("", "pods", namespace)
            if (pod.get("status") or {}).get("phase") == "Running"
        ]

    def _pod_metrics(self, pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        metrics_meta: dict[str, Any] = {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "creationTimestamp": timestamp(),
        }
        if meta.get("labels"):
            metrics_meta["labels"] = dict(meta["labels"])
        return {
            "kind": "PodMetrics",
            "apiVersion": _API_VERSION,
            "metadata": metrics_meta,
            "timestamp": timestamp(),
            "window": "15s",
            "containers": [
                {"name": name, "usage": format_usage(cpu, memory)}
                for name, cpu, memory in self.pod_usage(pod)
            ],
        }

    def _node_metrics(self, node: dict[str, Any]) -> dict[str, Any]:
        name = node["metadata"]["name"]
        cpu, memory = _NODE_BASE["cpu"], _NODE_BASE["memory"]
        for pod in self._running_pods(None):
            if pod["spec"].get("nodeName") == name:
                for _, pod_cpu, pod_memory in self.pod_usage(pod):
                    cpu, memory = cpu + pod_cpu, memory + pod_memory
        return {
            "kind": "NodeMetrics",
            "apiVersion": _API_VERSION,
            "metadata": {
                "name": name,
                "creationTimestamp": timestamp(),
                "labels": dict(node["metadata"].get("labels") or {}),
            },
            "timestamp": timestamp(),
            "window": "20.05s",
            "usage": format_usage(cpu, memory),
        }

    async def serve(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        api, rt = call.path, call.rt
        if call.verb not in ("get", "list") or api.subresource:
            raise errors.method_not_allowed()
        if rt.plural == "pods":
            items = [self._pod_metrics(pod) for pod in self._running_pods(api.namespace)]
        else:
            items = [self._node_metrics(node) for node in self._emu.list("", "nodes")]
        if api.name is not None:
            found = next((i for i in items if i["metadata"]["name"] == api.name), None)
            if found is None:
                raise errors.not_found(
                    rt.plural.replace("pods", "podmetrics").replace("nodes", "nodemetrics"),
                    rt.group,
                    api.name,
                )
            return json_response(found)
        predicate = make_filter(call.query.get("labelSelector"), call.query.get("fieldSelector"), rt.plural)
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": _API_VERSION,
                "metadata": {},
                "items": [i for i in items if predicate(i)],
            }
        )
