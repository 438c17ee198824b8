# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The selector record: point Services at a maintenance page, and back, from the cluster;
the runner of multiagent.ops.service_route.

Maintenance mode replaces each application Service's ``spec.selector`` with the
maintenance pods' selector, so whatever fronts the Service (an Ingress, a Route, a
LoadBalancer, in-cluster clients) reaches the page. What it changes is written onto the
Service itself (records.py), as the replica record is written onto workloads: a later
run, another operator or an AWX job reads it back and undoes it. Re-routing never
overwrites a record (the second run would record the maintenance selector and lose the
application's); restoring without a record changes nothing.

A port whose ``targetPort`` is not the maintenance pods' port name (a number, or another
name) would not reach the page: it is pointed at that name too, and its original target
recorded beside the selector.

Patches are JSON merge patches; in those a map is merged key by key, so keys that must go
from a selector are set to None explicitly.

Everything but :class:`MaintenancePods` and :func:`run` is pure and works on plain dicts as
the API returns them.
"""

from __future__ import annotations

import json
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

MAINTENANCE, RESTORED = "maintenance", "restored"
STATES = (MAINTENANCE, RESTORED)
# Seconds before the maintenance pods are listed again while waiting.
REFRESH = 0.5


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
    value = _load(svc, records.RECORDED_SELECTOR)
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise TrafficError(
            "%s: annotation %s=%r is not a non-empty map of label names to values"
            % (_name(svc), records.RECORDED_SELECTOR, _annotations(svc)[records.RECORDED_SELECTOR])
        )
    return value


def recorded_target_ports(svc):
    """``{"<port>/<protocol>": original targetPort}`` recorded on the Service, or None."""
    value = _load(svc, records.RECORDED_TARGET_PORTS)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, (int, str)) and not isinstance(v, bool) for v in value.values()
    ):
        raise TrafficError(
            "%s: annotation %s=%r is not a map of ports to target ports"
            % (_name(svc), records.RECORDED_TARGET_PORTS, _annotations(svc)[records.RECORDED_TARGET_PORTS])
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
                % (_name(svc), _compact(selector), records.RECORDED_SELECTOR)
            )
        recorded = current
        annotations.update(
            {records.RECORDED_SELECTOR: _compact(current), records.ROUTED_BY: by, records.ROUTED_AT: at}
        )

    ports = [dict(p) for p in spec.get("ports") or []]
    new_record = dict(ports_record)
    for port in ports:
        if (port.get("protocol") or "TCP") != "TCP" or _target(port) == port_name:
            continue  # nothing answers UDP/SCTP during maintenance anyway
        new_record.setdefault(_port_key(port), _target(port))  # the first record stays
        port["targetPort"] = port_name
    if new_record != ports_record:
        annotations[records.RECORDED_TARGET_PORTS] = _compact(new_record)

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
            "the annotation" % (_name(svc), records.RECORDED_TARGET_PORTS, records.RECORDED_SELECTOR)
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
                records.RECORDED_SELECTOR: None,
                records.RECORDED_TARGET_PORTS: None,
                records.ROUTED_BY: None,
                records.ROUTED_AT: None,
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


def selector_string(selector):
    """A map of labels as a ``labelSelector`` query (``a=b,c=d``, sorted)."""
    return ",".join("%s=%s" % (k, v) for k, v in sorted(selector.items()))


# -- waiting until traffic is on the page ------------------------------------------------------


def _blank(target):
    return dict(wait.blank(target), message="0 ready endpoint(s)", ready=0, others=[])


def endpoints_status(endpoints, pod_names):
    """The waiter's status of a Service's Endpoints: done when they list at least one ready
    address and only maintenance pods (see :func:`ready_on`)."""
    ready, others = ready_on(endpoints, pod_names)
    meta = endpoints.get("metadata") or {}
    message = "%d ready endpoint(s)" % ready
    if others:
        message += ", still listing " + ", ".join(others)
    return {
        "kind": endpoints.get("kind") or "Endpoints",
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "done": bool(ready and not others),
        "failed": False,
        "message": message,
        "ready": ready,
        "others": others,
    }


def on_page(pods):
    """The waiter's predicate over a Service's Endpoints, knowing the maintenance pods:
    ``pods(fresh)`` answers their names. It is asked for fresh names when an address is not
    among them: the page's pods may have been replaced since they were listed."""

    def check(endpoints):
        status = endpoints_status(endpoints, pods(False))
        if status["others"]:
            status = endpoints_status(endpoints, pods(True))
        return status

    return check


class MaintenancePods:
    """The names of the pods of the maintenance selector, listed when first asked and again
    when asked for fresh names, at most once per ``REFRESH`` seconds of ``clock`` (the
    waiter reads once a second: one LIST per round for all the Services)."""

    def __init__(self, client, namespace, selector, clock):
        self.client = client
        self.namespace = namespace
        self.selector = selector_string(selector)
        self.clock = clock
        self.listed_at = None
        self.known = None

    def __call__(self, fresh=False):
        if self.known is None or (fresh and self.clock() - self.listed_at >= REFRESH):
            self.listed_at = self.clock()
            pods = self.client.list(
                resources.POD.collection_path(self.namespace),
                "list the maintenance pods in namespace %s" % self.namespace,
                label_selector=self.selector,
            )
            self.known = {(pod.get("metadata") or {}).get("name") for pod in pods}
        return self.known


def _timed_out(target, status, obj, error, timeout):
    if error is not None:
        return dict(status or _blank(target), **wait.timed_out(target, status, obj, error, timeout))
    return dict(status or _blank(target), done=False, failed=True, timed_out=True)


def wait_on_page(client, namespace, selector, names, timeout, clock=time.monotonic, sleep=time.sleep):
    """Wait until the Endpoints of every Service in ``names`` list ready maintenance pods and
    nothing else (k8s/wait.py); one status per Service, in order."""
    check = on_page(MaintenancePods(client, namespace, selector, clock))
    targets = [wait.Target(resources.ENDPOINTS, namespace, name, check) for name in names]
    for target in targets:  # the endpoints controller has not written them yet
        target.absent = _blank(target)
    waiter = wait.Waiter(
        client,
        timeout,
        what="the Endpoints",
        blank=_blank,
        on_timeout=_timed_out,
        clock=clock,
        sleep=sleep,
    )
    return waiter.wait(targets)


def wait_message(selector, timeout, late):
    """Why traffic is not on the page: per Service what its Endpoints list."""
    detail = "; ".join("%s: %s" % (summary["object"], status["message"]) for summary, status in late)
    head = "traffic is not on the maintenance page"
    if all(status.get("timed_out") for _summary, status in late):
        head += " after %ds" % timeout
    return (
        "%s (%s); the switch is made and recorded: check the maintenance pods (%s), then re-run to wait again"
        % (head, detail, selector_string(selector))
    )


# -- the runner of multiagent.ops.service_route -------------------------------------------------


def _read_all(client, namespace, names):
    """Every Service, once each and in order, before anything changes; a missing one fails."""
    services = []
    for name in dict.fromkeys(names):
        svc = client.get_optional(
            resources.SERVICE.object_path(namespace, name),
            "read %s" % resources.SERVICE.label(namespace, name),
        )
        if svc is None:
            raise OpsError(nothing_changed("Service %s does not exist in namespace %s" % (name, namespace)))
        services.append(svc)
    return services


def diff(summaries):
    """``{"before", "after"}``: selector and target ports per Service."""
    return {
        side: {
            s["object"]: {"selector": s["selector_%s" % side], "targetPorts": s["target_ports_%s" % side]}
            for s in summaries
        }
        for side in ("before", "after")
    }


def run(request, client, clock=time.monotonic, sleep=time.sleep, now=None):
    """Point Services at the maintenance pods with a record, or put them back from it
    (multiagent.ops.service_route)."""
    p = request.params
    ns, state, selector = p["namespace"], p["state"], p["selector"]
    if state == MAINTENANCE and not selector:
        raise OpsError(nothing_changed("state=maintenance needs the maintenance pods' selector"))
    services = _read_all(client, ns, p["services"])
    at = records.stamp(now() if now else None)
    try:
        if state == MAINTENANCE:
            planned = [
                (svc, *plan_maintenance(svc, selector, p["port_name"], p["purpose"], at)) for svc in services
            ]
        else:
            planned = [(svc, *plan_restore(svc)) for svc in services]
    except TrafficError as exc:
        raise OpsError(nothing_changed(str(exc))) from None

    for _svc, body, summary in planned:
        summary["changed"] = body is not None
        if body is None and state == RESTORED and selector and summary["selector_after"] == selector:
            request.warn(
                "%s selects the maintenance pods but has no record of its own selector: left alone"
                % summary["object"]
            )
    results = [summary for _svc, _body, summary in planned]
    output = dict(changed=any(s["changed"] for s in results), services=results)
    if request.diff:
        output["diff"] = diff(results)
    if request.check_mode:
        return output

    pending = [(svc, body, summary) for svc, body, summary in planned if body is not None]
    verb = "re-point" if state == MAINTENANCE else "restore"
    changes = [
        patch.Change(
            resources.SERVICE.object_path(ns, svc["metadata"]["name"]),
            body,
            "%s %s" % (verb, summary["object"]),
            done=summary["object"],
            result=summary,
        )
        for svc, body, summary in pending
    ]
    patch.patch_all(client, changes, output)

    if state == MAINTENANCE and p["wait"] and results:
        names = [s["metadata"]["name"] for s in services]
        try:
            statuses = wait_on_page(client, ns, selector, names, p["wait_timeout"], clock, sleep)
        except ApiError as exc:
            raise OpsError(
                "cannot tell whether traffic is on the maintenance page: %s; the switch is made and "
                "recorded: re-run to wait again" % exc,
                **output,
            ) from None
        for summary, status in zip(results, statuses, strict=True):
            summary["ready_endpoints"] = status.get("ready", 0)
        late = [
            (summary, status) for summary, status in zip(results, statuses, strict=True) if not status["done"]
        ]
        if late:
            raise OpsError(wait_message(selector, p["wait_timeout"], late), **output)
    return output
