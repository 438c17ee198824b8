"""Conversion between a stored object and the API version it is served as.

Objects are stored once per group-resource at its preferred version. Serving them at another
version relabels ``apiVersion``, except for the two pairs whose schemas really differ and that
operators meet: HorizontalPodAutoscaler v1/v2 and Event core/v1 vs events.k8s.io/v1.
"""

from __future__ import annotations

import copy
from typing import Any

from .resources import ResourceType


def to_served(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    """Stored object → the version ``rt`` serves (a copy; the stored dict is never touched)."""
    out = copy.deepcopy(obj)
    if (rt.group, rt.version, rt.plural) == ("autoscaling", "v1", "horizontalpodautoscalers"):
        out = _hpa_v2_to_v1(out)
    elif (rt.group, rt.plural) == ("events.k8s.io", "events"):
        out = _core_event_to_events_v1(out)
    out["apiVersion"] = rt.api_version
    out["kind"] = rt.kind
    return out


def to_storage(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    """An object as received for ``rt`` → the stored version."""
    out = copy.deepcopy(obj)
    if (rt.group, rt.version, rt.plural) == ("autoscaling", "v1", "horizontalpodautoscalers"):
        out = _hpa_v1_to_v2(out)
    elif (rt.group, rt.plural) == ("events.k8s.io", "events"):
        out = _events_v1_to_core_event(out)
    out["apiVersion"] = f"{rt.storage.group}/{rt.storage.version}" if rt.storage.group else rt.storage.version
    out["kind"] = rt.kind
    return out


def _hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    v1_spec = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    for metric in spec.get("metrics") or []:
        target = (metric.get("resource") or {}).get("target") or {}
        if metric.get("type") == "Resource" and metric["resource"].get("name") == "cpu":
            if "averageUtilization" in target:
                v1_spec["targetCPUUtilizationPercentage"] = target["averageUtilization"]
    obj["spec"] = v1_spec
    if "status" in obj:
        status = obj["status"]
        v1_status = {
            k: status[k]
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if k in status
        }
        for metric in status.get("currentMetrics") or []:
            current = (metric.get("resource") or {}).get("current") or {}
            if metric.get("type") == "Resource" and "averageUtilization" in current:
                v1_status["currentCPUUtilizationPercentage"] = current["averageUtilization"]
        obj["status"] = v1_status
    return obj


def _hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    percent = spec.pop("targetCPUUtilizationPercentage", None)
    if percent is not None:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
            }
        ]
    obj["spec"] = spec
    obj.pop("status", None)  # v1 status cannot be converted losslessly; the controller owns it
    return obj


def _micro(timestamp: str | None) -> str | None:
    if not timestamp:
        return None
    return timestamp.replace("Z", ".000000Z") if "." not in timestamp else timestamp


def _core_event_to_events_v1(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": event.get("metadata", {})}
    out["eventTime"] = event.get("eventTime") or _micro(event.get("firstTimestamp"))
    renames = {
        "involvedObject": "regarding",
        "message": "note",
        "source": "deprecatedSource",
        "firstTimestamp": "deprecatedFirstTimestamp",
        "lastTimestamp": "deprecatedLastTimestamp",
        "count": "deprecatedCount",
        "reportingComponent": "reportingController",
    }
    for old, new in renames.items():
        if event.get(old) not in (None, ""):
            out[new] = event[old]
    for same in ("reason", "type", "action", "related", "series", "reportingInstance"):
        if event.get(same) not in (None, ""):
            out[same] = event[same]
    return out


def _events_v1_to_core_event(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": event.get("metadata", {})}
    renames = {
        "regarding": "involvedObject",
        "note": "message",
        "deprecatedSource": "source",
        "deprecatedFirstTimestamp": "firstTimestamp",
        "deprecatedLastTimestamp": "lastTimestamp",
        "deprecatedCount": "count",
        "reportingController": "reportingComponent",
    }
    for old, new in renames.items():
        if event.get(old) not in (None, ""):
            out[new] = event[old]
    for same in ("reason", "type", "action", "related", "series", "reportingInstance", "eventTime"):
        if event.get(same) not in (None, ""):
            out[same] = event[same]
    out.setdefault("involvedObject", {})
    return out
