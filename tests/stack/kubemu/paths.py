"""Parsing of Kubernetes API paths.

kmock's own parser reads ``/api/v1/namespaces/x`` as "namespace x, no resource" (and fails on
``/api/v1/namespaces``); here ``namespaces`` is a resource like any other, and a namespaced path is
recognised only when a resource plural follows the namespace name.
"""

from __future__ import annotations

from dataclasses import dataclass

# Subresources of the Namespace object itself: /api/v1/namespaces/{name}/{sub}.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class ApiPath:
    group: str
    version: str | None = None  # None: the group itself (/apis/apps)
    plural: str | None = None  # None: the version's discovery (/apis/apps/v1)
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    subpath: str = ""  # what follows a proxy subresource, with its leading slash


def parse_api_path(path: str) -> ApiPath | None:
    """Parse ``/api/...`` and ``/apis/...`` paths; anything else (``/version``...) is None."""
    parts = [part for part in path.split("/") if part]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return None  # /api: the legacy API versions document
        group, rest = "", parts[1:]
    else:
        if len(parts) == 1:
            return None  # /apis: the group list
        group, rest = parts[1], parts[2:]
        if not rest:
            return ApiPath(group=group)
    version, rest = rest[0], rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return ApiPath(group=group, version=version)
    plural = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) >= 3 else None
    # Only proxy subresources carry a path of their own; keep any trailing slash for the backend.
    subpath = ""
    if subresource is not None and len(rest) > 3:
        subpath = "/" + "/".join(rest[3:]) + ("/" if path.endswith("/") else "")
    elif subresource == "proxy":
        subpath = "/" if path.endswith("/") else ""
    return ApiPath(group, version, plural, namespace, name, subresource, subpath)
