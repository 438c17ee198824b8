# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The selector record: point Services at a maintenance page, and back, from the cluster.

Maintenance mode replaces each application Service's ``spec.selector`` with the
maintenance pods' selector, so whatever fronts the Service (an Ingress, a Route, a
LoadBalancer, in-cluster clients) reaches the page. What it changes is written onto the
Service itself, as the replica record is written onto workloads (replicas.py): a later
run, another operator or an AWX job reads it back and undoes it. Re-routing never
overwrites a record (the second run would record the maintenance selector and lose the
application's); restoring without a record changes nothing.

A port whose ``targetPort`` is not the maintenance pods' port name (a number, or another
name) would not reach the page: it is pointed at that name too, and its original target
recorded beside the selector.

Patches are JSON merge patches; in those a map is merged key by key, so keys that must go
from a selector are set to None explicitly.
"""

from __future__ import annotations

import json

RECORDED_SELECTOR = "multiagent.ops/recorded-selector"
RECORDED_TARGET_PORTS = "multiagent.ops/recorded-target-ports"
ROUTED_BY = "multiagent.ops/routed-by"
ROUTED_AT = "multiagent.ops/routed-at"


class TrafficError(ValueError):
    """A Service that cannot be re-pointed, or a record that cannot be used; the message
    names the Service."""


def _meta(svc):
    return svc.get("metadata") or {}


def _annotations(svc):
    return _meta(svc).get("annotations") or {}


def _spec(svc):
    return svc.get("spec") or {}


def _name(svc):
    return "Service/%s" % _meta(svc).get("name")


def _compact(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _port_key(port):
    return "%s/%s" % (port.get("port"), port.get("protocol") or "TCP")


def _target(port):
    # An omitted targetPort means the same number as the port.
    return port.get("targetPort", port.get("port"))


def _target_ports(svc):
    return {_port_key(p): _target(p) for p in _spec(svc).get("ports") or []}


def _load(svc, key):
    raw = _annotations(svc).get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        raise TrafficError("%s: annotation %s=%r is not JSON" % (_name(svc), key, raw))


def recorded_selector(svc):
    """The selector recorded on the Service, or None; a damaged record raises."""
    value = _load(svc, RECORDED_SELECTOR)
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise TrafficError(
            "%s: annotation %s=%r is not a non-empty map of label names to values"
            % (_name(svc), RECORDED_SELECTOR, _annotations(svc)[RECORDED_SELECTOR])
        )
    return value


def recorded_target_ports(svc):
    """``{"<port>/<protocol>": original targetPort}`` recorded on the Service, or None."""
    value = _load(svc, RECORDED_TARGET_PORTS)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, (int, str)) and not isinstance(v, bool) for v in value.values()
    ):
        raise TrafficError(
            "%s: annotation %s=%r is not a map of ports to target ports"
            % (_name(svc), RECORDED_TARGET_PORTS, _annotations(svc)[RECORDED_TARGET_PORTS])
        )
    return value


def _replace_map(current, wanted):
    """The merge patch turning the map ``current`` into exactly ``wanted``."""
    patch = {key: None for key in current if key not in wanted}
    patch.update(wanted)
    return patch


def _summary(svc, recorded, selector_after, ports_after):
    return {
        "object": _name(svc),
        "selector_before": dict(_spec(svc).get("selector") or {}),
        "selector_after": dict(selector_after),
        "recorded": recorded,
        "target_ports_before": _target_ports(svc),
        "target_ports_after": ports_after,
    }


def _check_selector(selector):
    if (
        not isinstance(selector, dict)
        or not selector
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in selector.items())
    ):
        raise TrafficError("the maintenance selector must be a non-empty map of labels, got %r" % (selector,))


def plan_maintenance(svc, selector, port_name, by, at):
    """``(patch or None, summary)`` pointing the Service at the pods of ``selector`` on
    their port ``port_name``, with a record of the Service's own selector and target ports.

    Raises TrafficError naming the Service when it cannot be re-pointed (ExternalName, no
    selector, or it already selects the maintenance pods without a record to go back to)
    or its record is damaged.
    """
    _check_selector(selector)
    spec = _spec(svc)
    if spec.get("type") == "ExternalName":
        raise TrafficError(
            "%s is of type ExternalName (it points outside the cluster): it cannot be pointed at "
            "the maintenance page; keep its component running" % _name(svc)
        )
    current = dict(spec.get("selector") or {})
    recorded = recorded_selector(svc)
    ports_record = recorded_target_ports(svc) or {}
    annotations = {}
    if recorded is None:
        if not current:
            raise TrafficError(
                "%s has no selector (its endpoints are not chosen by labels): it cannot be pointed "
                "at the maintenance page; keep its component running" % _name(svc)
            )
        if current == selector:
            raise TrafficError(
                "%s already selects the maintenance pods (%s) but has no record of its own selector "
                "(annotation %s): set its selector back by hand"
                % (_name(svc), _compact(selector), RECORDED_SELECTOR)
            )
        recorded = current
        annotations.update({RECORDED_SELECTOR: _compact(current), ROUTED_BY: by, ROUTED_AT: at})

    ports = [dict(p) for p in spec.get("ports") or []]
    new_record = dict(ports_record)
    for port in ports:
        if (port.get("protocol") or "TCP") != "TCP" or _target(port) == port_name:
            continue  # nothing answers UDP/SCTP during maintenance anyway
        new_record.setdefault(_port_key(port), _target(port))  # the first record stays
        port["targetPort"] = port_name
    if new_record != ports_record:
        annotations[RECORDED_TARGET_PORTS] = _compact(new_record)

    patch = {}
    if annotations:
        patch["metadata"] = {"annotations": annotations}
    spec_patch = {}
    if current != selector:
        spec_patch["selector"] = _replace_map(current, selector)
    if ports != (spec.get("ports") or []):
        spec_patch["ports"] = ports  # a list is replaced whole in a merge patch
    if spec_patch:
        patch["spec"] = spec_patch
    after_ports = {_port_key(p): _target(p) for p in ports}
    return (patch or None), _summary(svc, recorded, selector, after_ports)


def plan_restore(svc):
    """``(patch or None, summary)`` putting back the recorded selector and target ports and
    dropping the record. A Service without a record is left alone."""
    spec = _spec(svc)
    current = dict(spec.get("selector") or {})
    recorded = recorded_selector(svc)
    ports_record = recorded_target_ports(svc)
    if recorded is None and ports_record is None:
        return None, _summary(svc, None, current, _target_ports(svc))
    if recorded is None:
        raise TrafficError(
            "%s: annotation %s is there without %s: restore its selector by hand, then remove "
            "the annotation" % (_name(svc), RECORDED_TARGET_PORTS, RECORDED_SELECTOR)
        )
    ports = [dict(p) for p in spec.get("ports") or []]
    for port in ports:
        key = _port_key(port)
        if key in (ports_record or {}):
            port["targetPort"] = ports_record[key]
    spec_patch = {}
    if current != recorded:
        spec_patch["selector"] = _replace_map(current, recorded)
    if ports != (spec.get("ports") or []):
        spec_patch["ports"] = ports
    patch = {
        "metadata": {
            "annotations": {
                RECORDED_SELECTOR: None,
                RECORDED_TARGET_PORTS: None,
                ROUTED_BY: None,
                ROUTED_AT: None,
            }
        }
    }
    if spec_patch:
        patch["spec"] = spec_patch
    after_ports = {_port_key(p): _target(p) for p in ports}
    return patch, _summary(svc, recorded, recorded, after_ports)


def ready_on(endpoints, pod_names):
    """``(ready addresses, ready addresses that are not among pod_names)`` of an Endpoints
    object: traffic is on the maintenance page when the first is non-zero and the second
    empty (the endpoints controller may still list the application's pods for a moment
    after the selector changed)."""
    ready = [
        address
        for subset in (endpoints or {}).get("subsets") or []
        for address in subset.get("addresses") or []
    ]
    others = sorted(
        ((a.get("targetRef") or {}).get("name") or a.get("ip") or "?")
        for a in ready
        if ((a.get("targetRef") or {}).get("name")) not in pod_names
    )
    return len(ready), others
