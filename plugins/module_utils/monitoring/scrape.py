# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceMonitors for the components that expose metrics, from the platform description.

A component is scraped when its description has ``metrics`` (off by default):

    metrics: true                                  # the Service's port, /metrics, the default interval
    metrics: {port: http, path: /metrics, interval: 15s, scrape_timeout: 10s, scheme: https}
    metrics: {port: 9187, service: mplp-postgresql-metrics}   # an exporter beside the database

``port`` is the name of a port of the component's Service (``http`` for an application, as
the platform renderer names it), or a number: a container port of its pods (the pods must
declare it). A database or cache speaks its own protocol on its Service port, so it needs its
exporter's port (postgres_exporter 9187, redis_exporter 9121). ``service`` names another
Service to scrape (an exporter's), ``selector`` its labels when they are not the component's.

Each ServiceMonitor selects the component's Services by the renderer's selector labels and
keeps only the Service it names: a StatefulSet's headless Service carries the same labels, and
would otherwise have every pod scraped twice. Every series gets ``platform`` and ``component``
labels, which the alert rules and Alertmanager's routes use.

Pure functions over dicts; a ScrapeError names the component and the field.
"""

from __future__ import annotations

import re

from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as platform_render
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec

API_VERSION = "monitoring.coreos.com/v1"
KIND = "ServiceMonitor"
DEFAULT_PATH = "/metrics"
DEFAULT_INTERVAL = "30s"
SCHEMES = ("http", "https")
# Prometheus' duration (as the operator's CRD checks it): 1h30m, 15s, 500ms.
DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_UNITS_MS = {
    "y": 365 * 86400000,
    "w": 7 * 86400000,
    "d": 86400000,
    "h": 3600000,
    "m": 60000,
    "s": 1000,
    "ms": 1,
}
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
FIELDS = ("port", "path", "interval", "scrape_timeout", "scheme", "service", "selector")


class ScrapeError(ValueError):
    """A metrics description that cannot be scraped; the message names the component."""


def duration_ms(text):
    """A Prometheus duration in milliseconds; None when it is not one."""
    if not isinstance(text, str) or not text or not DURATION.match(text):
        return None
    return sum(int(n) * _UNITS_MS[unit] for n, unit in re.findall(r"([0-9]+)(ms|[ywdhms])", text))


def _metrics(comp, name):
    given = comp.get("metrics")
    if given in (None, False):
        return None
    if given is True:
        return {}
    if not isinstance(given, dict):
        raise ScrapeError("component '%s': metrics must be true or a dict, got %r" % (name, given))
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise ScrapeError(
            "component '%s': metrics has unknown field(s) %s (known: %s)"
            % (name, ", ".join(unknown), ", ".join(FIELDS))
        )
    return given


def _port(comp, name, metrics):
    """``("port", name)`` for a Service port, ``("targetPort", number)`` for a container port."""
    port = metrics.get("port")
    if port is None:
        if platform_spec.component_role(comp) in platform_spec.DATA_ROLES:
            raise ScrapeError(
                "component '%s': a %s speaks its own protocol on its Service port; metrics.port must "
                "name its exporter's port (e.g. 9187 for postgres_exporter, 9121 for redis_exporter)"
                % (name, platform_spec.component_role(comp))
            )
        if metrics.get("service"):
            raise ScrapeError(
                "component '%s': metrics.service needs metrics.port (a port of that Service)" % name
            )
        # the renderer's name of the component's Service port (``http`` for an application)
        return "port", platform_render._port_name(comp)
    if isinstance(port, bool):
        raise ScrapeError("component '%s': metrics.port must be a port name or number, got %r" % (name, port))
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        number = int(port)
        if not 0 < number < 65536:
            raise ScrapeError("component '%s': metrics.port %d is not a port number" % (name, number))
        return "targetPort", number
    if not isinstance(port, str) or len(port) > 15 or not PORT_NAME.match(port):
        raise ScrapeError("component '%s': metrics.port %r is not a port name (IANA_SVC_NAME)" % (name, port))
    return "port", port


def _endpoint(comp, name, metrics, platform, path, interval):
    key, port = _port(comp, name, metrics)
    endpoint = {
        key: port,
        "path": metrics.get("path") or path,
        "interval": metrics.get("interval") or interval,
    }
    if not str(endpoint["path"]).startswith("/"):
        raise ScrapeError("component '%s': metrics.path %r must start with /" % (name, endpoint["path"]))
    every = duration_ms(endpoint["interval"])
    if not every:
        raise ScrapeError(
            "component '%s': metrics.interval %r is not a Prometheus duration above 0 (like 30s)"
            % (name, endpoint["interval"])
        )
    timeout = metrics.get("scrape_timeout")
    if timeout is not None:
        if not duration_ms(timeout):
            raise ScrapeError("component '%s': metrics.scrape_timeout %r is not a duration" % (name, timeout))
        if duration_ms(timeout) > every:
            # Prometheus refuses the whole configuration then, and the operator the object.
            raise ScrapeError(
                "component '%s': metrics.scrape_timeout %s is longer than the interval %s"
                % (name, timeout, endpoint["interval"])
            )
        endpoint["scrapeTimeout"] = timeout
    scheme = metrics.get("scheme")
    if scheme is not None:
        if str(scheme).lower() not in SCHEMES:
            raise ScrapeError("component '%s': metrics.scheme %r is not http or https" % (name, scheme))
        endpoint["scheme"] = str(scheme).lower()
    service = metrics.get("service") or (comp.get("service") or {}).get("name")
    endpoint["relabelings"] = [
        # Only the Service named (not a StatefulSet's headless twin with the same labels).
        {"action": "keep", "sourceLabels": ["__meta_kubernetes_service_name"], "regex": service},
        {"action": "replace", "targetLabel": "platform", "replacement": platform},
        {"action": "replace", "targetLabel": "component", "replacement": name},
    ]
    return endpoint


def _selector(comp, name, metrics, platform):
    given = metrics.get("selector")
    if given is not None:
        if (
            not isinstance(given, dict)
            or not given
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in given.items())
        ):
            raise ScrapeError("component '%s': metrics.selector must map label names to values" % name)
        return dict(given)
    if metrics.get("service"):
        raise ScrapeError(
            "component '%s': metrics.service %s is not the component's Service: give metrics.selector "
            "(the labels that Service carries)" % (name, metrics["service"])
        )
    return platform_render.selector_labels({"name": platform}, comp)


def _object_name(platform, name):
    text = re.sub(r"[^a-z0-9-]+", "-", ("%s-%s" % (platform, name)).lower()).strip("-")
    return text[:253].rstrip("-")


def service_monitors(
    components,
    platform,
    platform_namespace,
    namespace=None,
    labels=None,
    path=DEFAULT_PATH,
    interval=DEFAULT_INTERVAL,
    only=None,
):
    """``platform_components`` -> the ServiceMonitors of those that describe ``metrics``.

    ``platform``: the platform's name (its Services' ``app.kubernetes.io/name`` label);
    ``platform_namespace``: where its Services are; ``namespace``: where the ServiceMonitors
    go (the platform's namespace when not given; elsewhere they select the platform's
    namespace); ``labels``: extra labels of every ServiceMonitor (the ``release`` label a
    kube-prometheus-stack Prometheus selects by); ``path``/``interval``: the defaults of a
    component's ``metrics``; ``only``: component names to render (all when empty)."""
    if not platform or not isinstance(platform, str):
        raise ScrapeError(
            "the platform's name is needed (the label its Services carry), got %r" % (platform,)
        )
    if not platform_namespace or not isinstance(platform_namespace, str):
        raise ScrapeError("the platform's namespace is needed, got %r" % (platform_namespace,))
    if duration_ms(interval) is None or not duration_ms(interval):
        raise ScrapeError("the default scrape interval %r is not a Prometheus duration above 0" % (interval,))
    if labels is not None and not isinstance(labels, dict):
        raise ScrapeError("labels must be a dict, got %r" % (labels,))
    namespace = namespace or platform_namespace
    wanted = set(only or ())
    known = set()
    result = []
    for index, comp in enumerate(components or []):
        try:
            name = platform_spec._component_name(comp, index)
            kind = platform_spec.component_kind(comp, index)
        except platform_spec.SpecError as exc:
            raise ScrapeError(str(exc)) from None
        known.add(name)
        if wanted and name not in wanted:
            continue
        metrics = _metrics(comp, name)
        if metrics is None:
            continue
        if kind in ("external", "none"):
            raise ScrapeError(
                "component '%s' (kind %s) has no pods in the cluster for a ServiceMonitor to scrape; "
                "scrape it with a static target instead" % (name, kind)
            )
        if not metrics.get("service") and not (comp.get("service") or {}).get("name"):
            raise ScrapeError(
                "component '%s': scraping needs its service (service.name) or metrics.service" % name
            )
        meta_labels = dict(labels or {})
        meta_labels.update(
            {
                "app.kubernetes.io/part-of": platform,
                "app.kubernetes.io/component": name,
                "app.kubernetes.io/managed-by": platform_render.MANAGED_BY,
            }
        )
        spec = {
            "selector": {"matchLabels": _selector(comp, name, metrics, platform)},
            "endpoints": [_endpoint(comp, name, metrics, platform, path, interval)],
        }
        if namespace != platform_namespace:
            spec["namespaceSelector"] = {"matchNames": [platform_namespace]}
        result.append(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": _object_name(platform, name),
                    "namespace": namespace,
                    "labels": meta_labels,
                },
                "spec": spec,
            }
        )
    missing = sorted(wanted - known)
    if missing:
        raise ScrapeError("no component named %s in the platform" % ", ".join(missing))
    return result


def scraped(components):
    """The names of the components whose description asks for scraping."""
    return [
        platform_spec._component_name(comp, i)
        for i, comp in enumerate(components or [])
        if isinstance(comp, dict) and comp.get("metrics") not in (None, False)
    ]
