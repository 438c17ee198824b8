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


class SpecError(ValueError):
    """A platform description that cannot be used; the message names the component."""


def _component_name(comp, index):
    if not isinstance(comp, dict):
        raise SpecError("platform component #%d must be a dict, got %r" % (index, comp))
    name = comp.get("name")
    if not name or not isinstance(name, str):
        raise SpecError("platform component #%d has no name" % index)
    return name


def health_components(components):
    """``platform_components`` -> the ``components`` option of platform_health."""
    result = []
    for i, comp in enumerate(components or []):
        name = _component_name(comp, i)
        kind = comp.get("kind", "Deployment")
        if kind not in KINDS:
            raise SpecError("component '%s': kind '%s' is not one of %s" % (name, kind, ", ".join(KINDS)))
        if kind == "external":
            kind = "none"  # an endpoint outside the cluster: no workload to look at
        result.append({"name": name, "kind": kind, "workload": comp.get("workload") or name})
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
