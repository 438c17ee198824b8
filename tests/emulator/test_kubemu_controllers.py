"""Controllers: Deployments, ReplicaSets, StatefulSets, pods, statuses and events."""

from __future__ import annotations

from typing import Any

from kubemu_testlib import Api, deployment, wait_for, wait_until

REVISION = "deployment.kubernetes.io/revision"


def _replicasets(api: Api, namespace: str) -> dict[str, dict[str, Any]]:
    items = api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets")["items"]
    return {rs["metadata"]["name"]: rs for rs in items}


def _pods(api: Api, namespace: str, selector: str = "") -> list[dict[str, Any]]:
    return api.ok("GET", f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector})["items"]


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _deployment_done(api: Api, namespace: str, name: str) -> dict[str, Any] | None:
    d = api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    status = d.get("status", {})
    done = (
        status.get("observedGeneration") == d["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == d["spec"]["replicas"]
        and status.get("availableReplicas", 0) == d["spec"]["replicas"]
        and status.get("replicas", 0) == d["spec"]["replicas"]
        and "unavailableReplicas" not in status
    )
    return d if done else None


def _rolled_out(api: Api, namespace: str, name: str, revision: str) -> dict[str, Any] | None:
    d = _deployment_done(api, namespace, name)
    return d if d and d["metadata"]["annotations"][REVISION] == revision else None


def test_deployment_owns_replicaset_owns_ready_pods(api: Api, namespace: str) -> None:
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=3))
    d = wait_for(lambda: _deployment_done(api, namespace, "web"))
    assert d["metadata"]["annotations"][REVISION] == "1"
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["status"]["readyReplicas"] == 3
    (rs,) = _replicasets(api, namespace).values()
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["annotations"] == {
        REVISION: "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Deployment", "web", d["metadata"]["uid"])
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    assert rs["status"]["readyReplicas"] == 3 and rs["status"]["observedGeneration"] == 1
    pods = _pods(api, namespace, "app=web")
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith(f"web-{pod_hash}-")
        assert len(p["metadata"]["name"]) == len(f"web-{pod_hash}-") + 5
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert p["metadata"]["labels"]["pod-template-hash"] == pod_hash
        assert p["spec"]["nodeName"].startswith("kubemu-node-")
        status = p["status"]
        assert status["phase"] == "Running" and _ready(p)
        assert status["podIP"].startswith("10.42.") and status["hostIP"] and status["startTime"]
        assert status["qosClass"] == "Burstable"
        (cs,) = status["containerStatuses"]
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
        assert cs["containerID"].startswith("containerd://") and cs["imageID"]
        assert "startedAt" in cs["state"]["running"]
    events = api.ok("GET", f"/api/v1/namespaces/{namespace}/events")["items"]
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert {
        ("Deployment", "ScalingReplicaSet"),
        ("ReplicaSet", "SuccessfulCreate"),
        ("Pod", "Scheduled"),
        ("Pod", "Started"),
    } <= reasons
    scaling = next(e for e in events if e["reason"] == "ScalingReplicaSet")
    assert scaling["message"] == f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"
    assert scaling["source"]["component"] == "deployment-controller" and scaling["type"] == "Normal"
    assert scaling["involvedObject"]["uid"] == d["metadata"]["uid"]


def test_template_change_rolls_out_a_new_replicaset(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=2))
    wait_for(lambda: _deployment_done(api, namespace, "web"))
    api.ok(
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}},
    )
    d = wait_for(lambda: _rolled_out(api, namespace, "web", "2"))
    rss = _replicasets(api, namespace)
    assert len(rss) == 2
    by_revision = {rs["metadata"]["annotations"][REVISION]: rs for rs in rss.values()}
    assert by_revision["2"]["spec"]["replicas"] == 2
    assert by_revision["1"]["spec"]["replicas"] == 0
    wait_for(lambda: len(_pods(api, namespace, "app=web")) == 2)
    assert {p["spec"]["containers"][0]["image"] for p in _pods(api, namespace, "app=web")} == {"nginx:1.27"}
    assert d["status"]["updatedReplicas"] == 2
    # Back to the first template: its ReplicaSet is re-used and renumbered.
    api.ok(
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}},
    )
    wait_for(lambda: _rolled_out(api, namespace, "web", "3"))
    rss = _replicasets(api, namespace)
    assert len(rss) == 2
    assert by_revision["1"]["metadata"]["name"] in rss
    assert rss[by_revision["1"]["metadata"]["name"]]["metadata"]["annotations"][REVISION] == "3"
    # A rollout restart is a template change too.
    api.ok(
        "PATCH",
        path,
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}
                }
            }
        },
    )
    wait_for(lambda: _rolled_out(api, namespace, "web", "4"))


def test_broken_image_stalls_the_rollout_until_the_deadline(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    api.ok(
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        deployment("web", replicas=3, progressDeadlineSeconds=1),
    )
    wait_for(lambda: _deployment_done(api, namespace, "web"))
    old_pods = {p["metadata"]["name"] for p in _pods(api, namespace)}
    api.ok("POST", "/_kubemu/broken-images", {"image": "nginx:broken", "mode": "imagepull"})
    try:
        api.ok(
            "PATCH",
            path,
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:broken"}]}}}},
        )

        def deadline_exceeded() -> dict[str, Any] | None:
            d = api.ok("GET", path)
            progressing = next(
                (c for c in d["status"].get("conditions", []) if c["type"] == "Progressing"), {}
            )
            return d if progressing.get("reason") == "ProgressDeadlineExceeded" else None

        d = wait_for(deadline_exceeded, timeout=8)
        progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
        assert progressing["status"] == "False"
        assert progressing["message"].endswith("has timed out progressing.")
        available = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
        assert available["status"] == "True"  # the old pods still serve
        pods = _pods(api, namespace)
        still_ready = {p["metadata"]["name"] for p in pods if _ready(p)}
        assert still_ready == old_pods
        broken = [p for p in pods if p["metadata"]["name"] not in old_pods]
        assert len(broken) == 1  # maxSurge 25% of 3 → 1, maxUnavailable 0
        waiting = broken[0]["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] in ("ErrImagePull", "ImagePullBackOff")
        assert broken[0]["status"]["phase"] == "Pending"
        assert d["status"]["updatedReplicas"] == 1 and d["status"]["unavailableReplicas"] == 1
        events = api.ok(
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            params={"fieldSelector": f"involvedObject.name={broken[0]['metadata']['name']}"},
        )
        assert any(e["reason"] == "Failed" and e["type"] == "Warning" for e in events["items"])
    finally:
        api.ok("POST", "/_kubemu/reset-faults", {})
    # Once the image works, the rollout completes on its own.
    wait_for(lambda: _deployment_done(api, namespace, "web"), timeout=10)


def test_recreate_and_paused_deployments(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    api.ok("POST", path, deployment("rc", replicas=2, strategy={"type": "Recreate"}))
    wait_for(lambda: _deployment_done(api, namespace, "rc"))
    api.ok(
        "PATCH",
        f"{path}/rc",
        {
            "spec": {
                "paused": True,
                "template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}},
            }
        },
    )
    wait_until(
        lambda: api.ok("GET", f"{path}/rc")["status"],
        lambda status: any(c["reason"] == "DeploymentPaused" for c in status["conditions"]),
    )
    assert len(_replicasets(api, namespace)) == 1  # paused: no rollout
    api.ok("PATCH", f"{path}/rc", {"spec": {"paused": False}})
    wait_for(lambda: _rolled_out(api, namespace, "rc", "2"))
    assert {p["spec"]["containers"][0]["image"] for p in _pods(api, namespace, "app=rc")} == {"nginx:2"}


def test_scaling_adds_and_removes_pods(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=1))
    wait_for(lambda: _deployment_done(api, namespace, "web"))
    api.ok("PATCH", path, {"spec": {"replicas": 4}}, kind="merge")
    wait_for(lambda: _deployment_done(api, namespace, "web"))
    assert len(_pods(api, namespace)) == 4
    api.ok("PATCH", path, {"spec": {"replicas": 0}}, kind="merge")
    d = wait_for(lambda: _deployment_done(api, namespace, "web"))
    wait_for(lambda: not _pods(api, namespace))
    assert "replicas" not in d["status"]  # zero counts are omitted, as by the real API


def test_statefulset_pods_are_ordinal_with_revisions(api: Api, namespace: str) -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets"
    api.ok("POST", path, sts)

    def ready() -> dict[str, Any] | None:
        s = api.ok("GET", f"{path}/db").get("status", {})
        return s if s.get("readyReplicas") == 2 and s.get("updatedReplicas") == 2 else None

    status = wait_for(ready)
    assert status["currentRevision"] == status["updateRevision"]
    pods = _pods(api, namespace, "app=db")
    assert [p["metadata"]["name"] for p in pods] == ["db-0", "db-1"]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == {status["updateRevision"]}
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    claims = api.ok("GET", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")["items"]
    assert {c["metadata"]["name"]: c["status"]["phase"] for c in claims} == {
        "data-db-0": "Bound",
        "data-db-1": "Bound",
    }
    first_revision = status["updateRevision"]
    api.ok(
        "PATCH",
        f"{path}/db",
        {"spec": {"template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]}}}},
    )

    def rolled() -> dict[str, Any] | None:
        s = api.ok("GET", f"{path}/db").get("status", {})
        done = (
            s["updateRevision"] != first_revision
            and s.get("updatedReplicas") == 2
            and s.get("readyReplicas") == 2
        )
        return s if done and s["currentRevision"] == s["updateRevision"] else None

    wait_for(rolled, timeout=10)
    assert {p["spec"]["containers"][0]["image"] for p in _pods(api, namespace, "app=db")} == {"postgres:17"}
    revisions = api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]


def test_endpoints_follow_ready_pods(api: Api, namespace: str) -> None:
    api.ok(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]},
        },
    )
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=2))
    wait_for(lambda: _deployment_done(api, namespace, "web"))

    def endpoints() -> dict[str, Any] | None:
        status, ep = api.get(f"/api/v1/namespaces/{namespace}/endpoints/web")
        if status != 200:
            return None
        subsets = ep.get("subsets") or [{}]
        return ep if len(subsets[0].get("addresses", [])) == 2 else None

    ep = wait_for(endpoints)
    assert ep["subsets"][0]["ports"] == [{"port": 8000, "protocol": "TCP", "name": "http"}]
    assert ep["subsets"][0]["addresses"][0]["targetRef"]["kind"] == "Pod"
