"""Object storage over kmock's ``ObjectsArray``, with resourceVersions and watch fan-out.

Every stored dict is treated as immutable: writers build a new dict (``copy.deepcopy`` + change)
and ``put`` it. kmock keeps the version history of each object (tests may read it through
``emulator.objects``); it is trimmed so that a long-running emulator does not grow without bound.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kmock import ObjectsArray, resource

_HISTORY_KEPT = 8
_WATCH_LOG_SIZE = 5000

# Kinds whose registry strategy leaves metadata.generation unset although they have a spec
# (pods gain one only in Kubernetes 1.34, with PodObservedGenerationTracking).
_NO_GENERATION = frozenset(
    {
        "namespaces",
        "nodes",
        "pods",
        "services",
        "persistentvolumeclaims",
        "persistentvolumes",
        "limitranges",
        "resourcequotas",
        "leases",
    }
)

Key = tuple[resource, str | None, str]  # (storage resource, namespace, name)


def now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def timestamp(moment: datetime.datetime | None = None) -> str:
    """RFC 3339 at second precision, as ``metav1.Time`` serialises."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(eq=False)
class Subscription:
    storage: resource
    namespace: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any], dict[str, Any] | None]] = field(
        default_factory=asyncio.Queue
    )


class ObjectStore:
    def __init__(self, objects: ObjectsArray, on_change: Callable[[], None]) -> None:
        self._objects = objects
        self._on_change = on_change
        # The current state of every live object, by resource then (namespace, name): reads come
        # from here rather than through kmock's history views, which copy on every access.
        self._live: dict[resource, dict[tuple[str | None, str], dict[str, Any]]]
        self._live = collections.defaultdict(dict)
        self._uids: dict[str, Key] = {}
        self._subscriptions: list[Subscription] = []
        self._log: collections.deque[tuple[int, resource, str, dict[str, Any], dict[str, Any] | None]]
        self._log = collections.deque(maxlen=_WATCH_LOG_SIZE)
        self.resource_version = 0

    # Reading

    def get(self, storage: resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._live[storage].get((namespace, name))

    def list(self, storage: resource, namespace: str | None = None) -> list[dict[str, Any]]:
        """Live objects in etcd key order (namespace, then name)."""
        live = self._live[storage]
        keys = sorted((ns or "", name) for ns, name in live if namespace in (None, ns))
        return [live[ns or None, name] for ns, name in keys]

    def by_uid(self, uid: str) -> tuple[Key, dict[str, Any]] | None:
        key = self._uids.get(uid)
        if key is None:
            return None
        obj = self.get(*key)
        return (key, obj) if obj is not None else None

    # Writing

    def put(self, storage: resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new state (creation or update); returns it with its new resourceVersion."""
        meta = obj["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        old = self.get(storage, namespace, name)
        if old is not None and "generation" in old["metadata"]:
            changed = _generation_relevant(old) != _generation_relevant(obj)
            meta["generation"] = old["metadata"]["generation"] + (1 if changed else 0)
        elif old is None and "spec" in obj and storage.plural not in _NO_GENERATION:
            meta["generation"] = 1
        self.resource_version += 1
        meta["resourceVersion"] = str(self.resource_version)
        key = (storage, namespace, name)
        if key in self._objects:
            history = self._objects[key].history
            history.append(obj)
            if len(history) > _HISTORY_KEPT:
                del history[:-_HISTORY_KEPT]
        else:
            self._objects[key] = obj
        self._live[storage][namespace, name] = obj
        self._uids[meta["uid"]] = key
        self._notify(storage, "MODIFIED" if old is not None else "ADDED", obj, old)
        return obj

    def remove(self, storage: resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Delete an object for good; returns its last state (with a new resourceVersion)."""
        old = self.get(storage, namespace, name)
        if old is None:
            return None
        last = copy.deepcopy(old)
        self.resource_version += 1
        last["metadata"]["resourceVersion"] = str(self.resource_version)
        self._objects[storage, namespace, name].delete()
        self._live[storage].pop((namespace, name), None)
        self._uids.pop(old["metadata"].get("uid", ""), None)
        self._notify(storage, "DELETED", last, old)
        return last

    def update(
        self, storage: resource, namespace: str | None, name: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None:
        """Apply ``change`` to a copy of the object; store it only if something changed."""
        old = self.get(storage, namespace, name)
        if old is None:
            return None
        new = copy.deepcopy(old)
        change(new)
        if new == old:
            return old
        return self.put(storage, new)

    # Watching

    def subscribe(self, storage: resource, namespace: str | None) -> Subscription:
        subscription = Subscription(storage, namespace)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.remove(subscription)

    def changes_since(
        self, storage: resource, resource_version: int
    ) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]] | None:
        """Logged changes after ``resource_version``; None when the log no longer reaches back."""
        if resource_version < self.resource_version and (
            not self._log or self._log[0][0] > resource_version + 1
        ):
            return None
        return [
            (kind, obj, old)
            for rv, res, kind, obj, old in self._log
            if rv > resource_version and res == storage
        ]

    def _notify(self, storage: resource, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self._log.append((self.resource_version, storage, kind, obj, old))
        namespace = obj["metadata"].get("namespace")
        for subscription in self._subscriptions:
            if subscription.storage == storage and subscription.namespace in (None, namespace):
                subscription.queue.put_nowait((kind, obj, old))
        self._on_change()


def _generation_relevant(obj: dict[str, Any]) -> Any:
    """What bumps metadata.generation: spec for most kinds, everything but metadata/status else."""
    if "spec" in obj:
        return obj["spec"]
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}
