"""Core v1 Events as controllers and the kubelet record them (repeats bump ``count``)."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

from .store import timestamp

if TYPE_CHECKING:
    from .api import Kubemu


class EventRecorder:
    def __init__(self, emulator: Kubemu) -> None:
        self._emulator = emulator
        # (involved uid, reason, message, component) → event name, to aggregate repeats.
        self._names: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        self._sequence = itertools.count()

    def record(
        self,
        involved: dict[str, Any],
        event_type: str,
        reason: str,
        message: str,
        component: str,
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message, component)
        now = timestamp()
        if key in self._names:
            ns, name = self._names[key]

            def bump(event: dict[str, Any]) -> None:
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = now

            if self._emulator.update_internal("", "events", ns, name, bump) is not None:
                return
        reference = {
            "kind": involved.get("kind"),
            "namespace": meta.get("namespace"),
            "name": meta["name"],
            "uid": meta.get("uid"),
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if field_path:
            reference["fieldPath"] = field_path
        source = {"component": component}
        if host:
            source["host"] = host
        # The real recorder names events <object>.<unix nanoseconds in hex>.
        name = f"{meta['name']}.{time.time_ns() + next(self._sequence):x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in reference.items() if v is not None},
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        ns = self._emulator.get("", "namespaces", None, namespace)
        if ns is None or ns.get("status", {}).get("phase") == "Terminating":
            return  # the namespace is gone or going: nothing can be recorded into it
        self._emulator.create_internal("", "events", event)
        self._names[key] = (namespace, name)

    def forget(self, uid: str) -> None:
        for key in [k for k in self._names if k[0] == uid]:
            del self._names[key]
