"""The served resource types, derived from kmock's bundled discovery data (plus CRDs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmock import ResourceInfo, ResourcesArray, resource

# Resources kmock's bundle lists but kubemu does not serve: review/token endpoints whose answers
# would need an authorizer or authenticator, and deprecated or node-internal APIs. Leaving them out
# of discovery is more honest than serving them as plain storage.
_NOT_SERVED = frozenset(
    {
        ("", "bindings"),
        ("", "componentstatuses"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
    }
)

# Group-resources stored once and served under another group too (with conversion).
STORAGE_ALIASES = {("events.k8s.io", "events"): ("", "events")}

METRICS_GROUP = "metrics.k8s.io"

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Sort key, highest first: GA before beta before alpha, then by number (like kube)."""
    match = _VERSION_RE.match(version)
    if match is None:
        return (-1, 0, 0)
    stability = {"alpha": 0, "beta": 1, None: 2}[match[2]]
    return (stability, int(match[1]), int(match[3] or 0))


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    verbs: frozenset[str]
    shortnames: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: frozenset[str]
    storage: resource  # the kmock key under which its objects are stored

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


class Registry:
    """Lookups over kmock's ``ResourcesArray``, re-indexed whenever it changes (CRDs)."""

    def __init__(self, resources: ResourcesArray) -> None:
        self._resources = resources
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._preferred: dict[tuple[str, str], ResourceType] = {}
        self.reindex()

    def reindex(self) -> None:
        versions: dict[tuple[str, str], list[str]] = {}
        for res in self._resources:
            if (res.group, res.plural) in _NOT_SERVED:
                continue
            versions.setdefault((res.group, res.plural), []).append(res.version)
        preferred = {gr: max(vs, key=version_priority) for gr, vs in versions.items()}
        types = {}
        for res in self._resources:
            if (res.group, res.plural) in _NOT_SERVED:
                continue
            info: ResourceInfo = self._resources[res]
            storage_gr = STORAGE_ALIASES.get((res.group, res.plural), (res.group, res.plural))
            storage = resource(storage_gr[0], preferred[storage_gr], storage_gr[1])
            types[(res.group, res.version, res.plural)] = ResourceType(
                group=res.group,
                version=res.version,
                plural=res.plural,
                kind=info.kind or res.plural.capitalize(),
                namespaced=bool(info.namespaced),
                singular=info.singular or (info.kind or res.plural).lower(),
                verbs=frozenset(info.verbs),
                shortnames=tuple(sorted(info.shortnames)),
                categories=tuple(sorted(info.categories)),
                subresources=frozenset(info.subresources),
                storage=storage,
            )
        self._types = types
        self._preferred = {}
        for rt in sorted(types.values(), key=lambda rt: version_priority(rt.version)):
            self._preferred[rt.group, rt.plural] = rt  # the highest priority is written last

    def add(self, group: str, version: str, plural: str, info: ResourceInfo) -> None:
        self._resources[resource(group, version, plural)] = info
        self.reindex()

    def remove(self, group: str, plural: str) -> None:
        for res in [r for r in self._resources if (r.group, r.plural) == (group, plural)]:
            del self._resources[res]
        self.reindex()

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if (rt.group, rt.version, rt.kind) == (group, version, kind):
                return rt
        return None

    def preferred(self, group: str, plural: str) -> ResourceType | None:
        return self._preferred.get((group, plural))

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group → served versions, preferred first."""
        groups: dict[str, set[str]] = {}
        for rt in self._types.values():
            groups.setdefault(rt.group, set()).add(rt.version)
        return {g: sorted(vs, key=version_priority, reverse=True) for g, vs in sorted(groups.items())}

    def storage_types(self) -> list[ResourceType]:
        """One type per stored group-resource: the one whose version is the storage version."""
        return [
            rt
            for rt in self._types.values()
            if (rt.group, rt.version, rt.plural) == (rt.storage.group, rt.storage.version, rt.storage.plural)
        ]
