# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the platform description in an inventory into module arguments.

An inventory describes each component once (workload, image, replicas, autoscaling range,
service, health paths); the runbooks derive what each module needs from that, so the
description stays data and never repeats itself.
"""

from __future__ import annotations

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "none", "external")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# What a component is: the application (the default), the platform's database, its cache.
# The role, not the name, decides how a component is rendered (a database or cache without a
# kind is a StatefulSet), which components a restore keeps running, how the health check
# reaches it (through its pod's exec when it runs in the cluster) and what recovery restarts.
ROLES = ("app", "database", "cache")
DATA_ROLES = ("database", "cache")


class SpecError(ValueError):
    """A platform description that cannot be used; the message names the component."""


def _component_name(comp, index):
    if not isinstance(comp, dict):
        raise SpecError("platform component #%d must be a dict, got %r" % (index, comp))
    name = comp.get("name")
    if not name or not isinstance(name, str):
        raise SpecError("platform component #%d has no name" % index)
    return name


def component_role(comp, index=0):
    """A component's ``role`` (``app`` when not given); a SpecError names a wrong one."""
    name = _component_name(comp, index)
    role = comp.get("role", "app")
    if role not in ROLES:
        raise SpecError("component '%s': role %r is not one of %s" % (name, role, ", ".join(ROLES)))
    return role


def component_kind(comp, index=0):
    """A component's kind: as given, else a StatefulSet for a database or cache (they keep
    their data in a volume claim per pod), else a Deployment."""
    name = _component_name(comp, index)
    kind = comp.get("kind") or ("StatefulSet" if component_role(comp, index) in DATA_ROLES else "Deployment")
    if kind not in KINDS:
        raise SpecError("component '%s': kind '%s' is not one of %s" % (name, kind, ", ".join(KINDS)))
    return kind


def health_components(components):
    """``platform_components`` -> the ``components`` option of platform_health."""
    result = []
    for i, comp in enumerate(components or []):
        name = _component_name(comp, i)
        kind = component_kind(comp, i)
        if kind == "external":
            kind = "none"  # an endpoint outside the cluster: no workload to look at
        result.append({"name": name, "kind": kind, "workload": comp.get("workload") or name})
    return result


def names_with_role(components, roles):
    """The names of the components whose role is one of ``roles`` (a name or a list)."""
    wanted = [roles] if isinstance(roles, str) else list(roles or [])
    for role in wanted:
        if role not in ROLES:
            raise SpecError("role %r is not one of %s" % (role, ", ".join(ROLES)))
    return [
        _component_name(comp, i)
        for i, comp in enumerate(components or [])
        if component_role(comp, i) in wanted
    ]


def role_problems(components, database=None, cache=None):
    """What is inconsistent between the components' roles and ``platform_database`` /
    ``platform_cache`` (each may be None): at most one component per data role, and the
    connection's ``name`` must be that component when there is one. A list of sentences,
    empty when the description agrees with itself."""
    problems = []
    try:
        pairs = [
            (_component_name(comp, i), component_role(comp, i)) for i, comp in enumerate(components or [])
        ]
    except SpecError as exc:
        return [str(exc)]
    roles = dict(pairs)
    for role, conn, var in (("database", database, "platform_database"), ("cache", cache, "platform_cache")):
        named = [name for name, given in pairs if given == role]
        if len(named) > 1:
            problems.append("components %s all have role %s: a platform has one" % (", ".join(named), role))
            continue
        if not conn:
            continue
        if not isinstance(conn, dict):
            problems.append("%s must be a dict, got %r" % (var, conn))
            continue
        name = conn.get("name")
        if not name:
            problems.append("%s has no name" % var)
        elif name in roles and roles[name] != role:
            problems.append(
                "%s.name is '%s', a component whose role is %s, not %s" % (var, name, roles[name], role)
            )
        elif named and name != named[0]:
            problems.append(
                "%s.name is '%s', but the component with role %s is '%s'" % (var, name, role, named[0])
            )
    return problems


def data_tier(components, database=None, cache=None):
    """Where the platform's database and cache are: ``{database: ..., cache: ...}``, each None
    or ``{name, role, kind, workload, in_cluster, service, port}``. ``in_cluster``: a workload
    of this platform runs it (its pods can be exec'd into); an ``external`` component, or a
    connection naming no component, is reached directly. A SpecError names an inconsistency."""
    problems = role_problems(components, database, cache)
    if problems:
        raise SpecError("; ".join(problems))
    comps = {_component_name(comp, i): (i, comp) for i, comp in enumerate(components or [])}
    result = {}
    for role, conn in (("database", database), ("cache", cache)):
        names = names_with_role(components, role)
        name = names[0] if names else (conn or {}).get("name")
        if not name and not conn:
            result[role] = None
            continue
        index, comp = comps.get(name, (0, None))
        if comp is None:
            result[role] = {
                "name": name,
                "role": role,
                "kind": "external",
                "workload": None,
                "in_cluster": False,
                "service": None,
                "port": None,
            }
            continue
        kind = component_kind(comp, index)
        service = comp.get("service") or {}
        result[role] = {
            "name": name,
            "role": role,
            "kind": kind,
            "workload": (comp.get("workload") or name) if kind in WORKLOAD_KINDS else None,
            "in_cluster": kind in WORKLOAD_KINDS,
            "service": service.get("name"),
            "port": service.get("port"),
        }
    return result


def workload_refs(components, exclude=None):
    """``platform_components`` -> ``[{kind, name}]`` of their workloads (the ``workloads``
    option of quiesce), leaving out the components named in ``exclude`` and those without a
    workload (``none``, ``external``)."""
    skip = set(exclude or [])
    return [
        {"kind": item["kind"], "name": item["workload"]}
        for item in health_components(components)
        if item["name"] not in skip and item["kind"] in WORKLOAD_KINDS
    ]


def health_endpoints(components, base_url=None, via="url", extra_paths=None):
    """``platform_components`` (their ``health_paths``) -> the ``endpoints`` option.

    ``via=url`` probes ``base_url + path`` (an ingress or load balancer); ``via=service``
    goes through the API server's service proxy to each component's ``service``.
    ``extra_paths`` are platform-level paths (``/health``, ``/ready``) on ``base_url``.
    """
    if via not in ("url", "service"):
        raise SpecError("via must be 'url' or 'service', got %r" % (via,))
    if base_url is not None and not isinstance(base_url, str):
        raise SpecError("base_url must be a string, got %r" % (base_url,))
    base = (base_url or "").rstrip("/")
    endpoints = []
    for i, comp in enumerate(components or []):
        name = _component_name(comp, i)
        paths = comp.get("health_paths") or []
        if isinstance(paths, str):
            paths = [paths]
        for path in paths:
            path = path if path.startswith("/") else "/" + path
            ep = {"name": "%s %s" % (name, path), "component": name}
            if via == "url":
                if not base:
                    raise SpecError("component '%s': health paths need a base_url to probe" % name)
                ep["url"] = base + path
            else:
                svc = comp.get("service") or {}
                if not svc.get("name"):
                    raise SpecError(
                        "component '%s': probing through the service proxy needs service.name" % name
                    )
                ep.update(service=svc["name"], path=path)
                if svc.get("port") is not None:
                    ep["port"] = str(svc["port"])
            endpoints.append(ep)
    for path in extra_paths or []:
        if not base:
            raise SpecError("platform health path '%s' needs a base_url to probe" % path)
        path = path if path.startswith("/") else "/" + path
        endpoints.append({"name": path, "url": base + path})
    return endpoints


def merge_fields(base, change):
    """``change`` merged into a copy of ``base``: dicts merge key by key, anything else (a
    list, a number) replaces; a null value removes the key (``autoscaling: null`` turns an
    autoscaler off in one place)."""
    merged = dict(base)
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_fields(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_overrides(components, overrides=None):
    """``platform_components`` with ``overrides`` (component name -> fields) deep-merged into
    the named components: one region's replicas and autoscaling range, the demo's environment,
    without repeating the list. A SpecError names an override of an unknown component or one
    that is not a dict of fields."""
    if overrides in (None, ""):
        overrides = {}
    if not isinstance(overrides, dict):
        raise SpecError("overrides must map component names to dicts of fields, got %r" % (overrides,))
    components = list(components or [])
    names = [_component_name(comp, i) for i, comp in enumerate(components)]
    for name, fields in overrides.items():
        if name not in names:
            raise SpecError(
                "overrides name unknown component '%s'; the platform has: %s" % (name, ", ".join(names))
            )
        if not isinstance(fields, dict):
            raise SpecError("overrides of component '%s' must be a dict of fields, got %r" % (name, fields))
    return [
        merge_fields(comp, overrides[name]) if name in overrides else comp
        for name, comp in zip(names, components, strict=True)
    ]
