"""Literal Kubernetes objects for unit tests, shaped like what the API returns."""

import datetime

NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=datetime.UTC)


def ts(seconds_ago):
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(name, desired=2, ready=None, available=None, unavailable=None, uid=None, progressing=None):
    ready = desired if ready is None else ready
    available = ready if available is None else available
    status = {
        "observedGeneration": 1,
        "replicas": desired,
        "updatedReplicas": desired,
        "readyReplicas": ready,
        "availableReplicas": available,
    }
    if unavailable is not None:
        status["unavailableReplicas"] = unavailable
    elif desired - available > 0:
        status["unavailableReplicas"] = desired - available
    if progressing:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": progressing}]
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "uid": uid or "uid-deploy-" + name, "generation": 1},
        "spec": {"replicas": desired},
        "status": status,
    }


def replicaset(name, deploy_name):
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "uid": "uid-rs-" + name,
            "ownerReferences": [
                {
                    "kind": "Deployment",
                    "name": deploy_name,
                    "uid": "uid-deploy-" + deploy_name,
                    "controller": True,
                }
            ],
        },
    }


def pod(
    name,
    owner_kind="ReplicaSet",
    owner_name=None,
    ready=True,
    phase="Running",
    restarts=0,
    waiting=None,
    age=7200,
    last_termination_ago=None,
    pending_message=None,
):
    cs = {
        "name": "app",
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts(age)}},
    }
    if waiting:
        cs["state"] = {"waiting": {"reason": waiting}}
    if last_termination_ago is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(last_termination_ago)}}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if pending_message:
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": pending_message}
        )
    owner_uid = ("uid-rs-" if owner_kind == "ReplicaSet" else "uid-sts-") + (owner_name or "")
    meta = {"name": name, "uid": "uid-pod-" + name, "creationTimestamp": ts(age)}
    if owner_name:
        meta["ownerReferences"] = [
            {"kind": owner_kind, "name": owner_name, "uid": owner_uid, "controller": True}
        ]
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "app"}], "nodeName": "node-1"},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [] if phase == "Pending" and not waiting else [cs],
        },
    }


def component(name, workload, pods, kind="Deployment"):
    return {
        "name": name,
        "kind": kind,
        "workload_name": workload["metadata"]["name"] if workload else name,
        "workload": workload,
        "pods": pods,
    }


def endpoint(name, ok=True, component=None, latencies=(0.01, 0.02, 0.03), status=200, error=None):
    return {
        "name": name,
        "component": component,
        "url": "http://x" + name,
        "ok": ok,
        "status": status if ok else (status if status != 200 else 500),
        "error": None if ok else (error or "HTTP 500"),
        "latencies": list(latencies) if ok else [],
    }


def event(reason, kind, name, seconds_ago, type_="Warning", count=1):
    return {
        "reason": reason,
        "type": type_,
        "message": reason + " happened",
        "count": count,
        "involvedObject": {"kind": kind, "name": name},
        "lastTimestamp": ts(seconds_ago),
    }
