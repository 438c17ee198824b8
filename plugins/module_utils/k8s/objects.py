# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over Kubernetes objects (plain dicts as the API returns them).

Nothing here talks to a cluster: the collectors fetch, these functions interpret, so the
interpretation is unit-tested with literal objects.
"""

from __future__ import annotations

import datetime


def parse_time(value):
    """RFC 3339 timestamp from the API (``2026-11-22T04:00:00Z``) -> aware datetime, or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def meta(obj):
    return obj.get("metadata") or {}


def controller_of(obj):
    """The ownerReference marked ``controller: true`` (or the only owner), else None."""
    refs = meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if len(refs) == 1 else None


def pod_workloads(pods, replicasets):
    """Map each pod's uid to the top-level workload that owns it: ``(kind, name)``.

    Follows ownerReferences by uid (Pod -> ReplicaSet -> Deployment, Pod -> StatefulSet,
    Pod -> DaemonSet), never by name prefix: a pod named ``mplp-core-x`` belongs to whatever
    its owners say. A pod whose ReplicaSet has no Deployment owner maps to the ReplicaSet;
    a bare pod maps to nothing.
    """
    rs_by_uid = {meta(rs).get("uid"): rs for rs in replicasets if meta(rs).get("uid")}
    result = {}
    for pod in pods:
        uid = meta(pod).get("uid") or meta(pod).get("name")
        ref = controller_of(pod)
        if not ref:
            continue
        if ref.get("kind") == "ReplicaSet":
            rs = rs_by_uid.get(ref.get("uid"))
            owner = controller_of(rs) if rs is not None else None
            if owner and owner.get("kind") == "Deployment":
                result[uid] = ("Deployment", owner.get("name"))
            else:
                result[uid] = ("ReplicaSet", ref.get("name"))
        else:
            result[uid] = (ref.get("kind"), ref.get("name"))
    return result


def container_statuses(pod):
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def pod_is_ready(pod):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def pod_summary(pod, now):
    """What an operator reads off ``kubectl get pod``: phase, readiness, restarts, reasons."""
    status = pod.get("status") or {}
    created = parse_time(meta(pod).get("creationTimestamp"))
    waiting = []
    restarts = 0
    last_termination = None
    for cs in container_statuses(pod):
        restarts += int(cs.get("restartCount") or 0)
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            waiting.append({"container": cs.get("name"), "reason": reason})
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last_termination is None or finished > last_termination):
            last_termination = finished
    ready_containers = sum(1 for cs in status.get("containerStatuses") or [] if cs.get("ready"))
    total_containers = len((pod.get("spec") or {}).get("containers") or [])
    return {
        "name": meta(pod).get("name"),
        "phase": status.get("phase", "Unknown"),
        "ready": pod_is_ready(pod),
        "containers_ready": "%d/%d" % (ready_containers, total_containers),
        "restarts": restarts,
        "waiting": waiting,
        "node": (pod.get("spec") or {}).get("nodeName"),
        "age_seconds": int((now - created).total_seconds()) if created else None,
        "last_termination": last_termination.isoformat() if last_termination else None,
        "terminating": bool(meta(pod).get("deletionTimestamp")),
        "reason": status.get("reason"),
        "message": status.get("message"),
    }


def workload_replicas(obj):
    """Desired/ready/available/updated/unavailable replicas of a Deployment or StatefulSet."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        available = int(status.get("numberAvailable") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ready = int(status.get("readyReplicas") or 0)
        available = int(status.get("availableReplicas", ready) or 0)
        updated = int(status.get("updatedReplicas") or 0)
    unavailable = status.get("unavailableReplicas")
    if unavailable is None:
        unavailable = max(desired - available, 0)
    return {
        "desired": desired,
        "ready": ready,
        "available": available,
        "updated": updated,
        "unavailable": int(unavailable),
        "observed_generation_current": int(status.get("observedGeneration") or 0)
        >= int(meta(obj).get("generation") or 0),
    }


def condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def event_time(event):
    """The most recent time an Event (core/v1 or events.k8s.io/v1) was seen."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = parse_time(event.get(key))
        if value:
            return value
    series = event.get("series") or {}
    value = parse_time(series.get("lastObservedTime"))
    return value or parse_time(meta(event).get("creationTimestamp"))


def recent_events(events, now, window_seconds):
    """Events seen within the window, newest first, as short dicts."""
    cutoff = now - datetime.timedelta(seconds=window_seconds)
    selected = []
    for ev in events:
        seen = event_time(ev)
        if seen is None or seen < cutoff:
            continue
        involved = ev.get("involvedObject") or ev.get("regarding") or {}
        selected.append(
            {
                "type": ev.get("type", "Normal"),
                "reason": ev.get("reason"),
                "message": ev.get("message") or ev.get("note"),
                "object": "%s/%s" % (involved.get("kind"), involved.get("name")),
                "kind": involved.get("kind"),
                "name": involved.get("name"),
                "count": int(ev.get("count") or (ev.get("series") or {}).get("count") or 1),
                "last_seen": seen.isoformat(),
            }
        )
    selected.sort(key=lambda e: e["last_seen"], reverse=True)
    return selected
