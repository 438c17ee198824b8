"""The API fixes over plain kmock: paths, lists, selectors, writes, metadata, errors, cascades."""

from __future__ import annotations

import pytest
from kubemu_testlib import Api, deployment, pod, wait_for, wait_until


def test_namespaces_are_a_resource_and_core_discovery_is_v1(api: Api) -> None:
    status, body = api.get("/api/v1")
    assert status == 200
    assert body["groupVersion"] == "v1"
    names = {r["name"] for r in body["resources"]}
    assert {"namespaces", "pods", "pods/log", "services/proxy", "pods/status"} <= names
    assert "pods/exec" in names  # registered by kubemu.exec
    status, body = api.get("/api/v1/namespaces/default")
    assert status == 200 and body["kind"] == "Namespace" and body["status"]["phase"] == "Active"
    status, body = api.get("/apis")
    groups = {g["name"]: g for g in body["groups"]}
    assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"
    assert "apps" in groups and "" not in groups


def test_list_carries_kind_api_version_and_resource_version(api: Api, namespace: str) -> None:
    api.ok(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "a"}, "data": {"k": "v"}}
    )
    # The root CA ConfigMap is added by a controller, as in a real cluster.
    body = wait_until(
        lambda: api.ok("GET", f"/api/v1/namespaces/{namespace}/configmaps"),
        lambda listing: len(listing["items"]) == 2,
    )
    assert body["kind"] == "ConfigMapList" and body["apiVersion"] == "v1"
    assert int(body["metadata"]["resourceVersion"]) > 0
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "kube-root-ca.crt"]
    deployments = api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")
    assert deployments["kind"] == "DeploymentList" and deployments["apiVersion"] == "apps/v1"


def test_server_sets_metadata_and_generation_follows_spec(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    created = api.ok("POST", path, deployment("web", replicas=0))
    meta = created["metadata"]
    assert meta["namespace"] == namespace and meta["uid"] and meta["creationTimestamp"]
    assert meta["generation"] == 1
    rv = int(meta["resourceVersion"])
    labelled = api.ok("PATCH", f"{path}/web", {"metadata": {"labels": {"tier": "front"}}})
    assert labelled["metadata"]["generation"] == 1  # metadata only: no new generation
    assert int(labelled["metadata"]["resourceVersion"]) > rv
    scaled = api.ok("PATCH", f"{path}/web", {"spec": {"replicas": 0, "minReadySeconds": 1}})
    assert scaled["metadata"]["generation"] == 2
    same = api.ok("PATCH", f"{path}/web", {"spec": {"minReadySeconds": 1}})
    assert same["metadata"]["generation"] == 2
    # A write that changes nothing keeps the resourceVersion (nothing else writes ConfigMaps).
    cm_path = f"/api/v1/namespaces/{namespace}/configmaps"
    cm = api.ok("POST", cm_path, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    again = api.ok("PATCH", f"{cm_path}/c", {"data": {"a": "1"}})
    assert again["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    assert "generation" not in cm["metadata"]


def test_label_and_field_selectors(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for name, labels in (
        ("a", {"app": "x", "tier": "db"}),
        ("b", {"app": "y"}),
        ("c", {"app": "z", "tier": "web"}),
    ):
        api.ok("POST", path, {"metadata": {"name": name, "labels": labels}})

    def names(**params: str) -> list[str]:
        return [i["metadata"]["name"] for i in api.ok("GET", path, params=params)["items"]]

    assert names(labelSelector="app=x") == ["a"]
    assert names(labelSelector="app==y") == ["b"]
    assert names(labelSelector="app!=x,app") == ["b", "c"]
    assert names(labelSelector="app in (x, z)") == ["a", "c"]
    assert names(labelSelector="app notin (x,z),app") == ["b"]
    assert names(labelSelector="tier") == ["a", "c"]
    assert names(labelSelector="!tier,app") == ["b"]
    assert names(fieldSelector="metadata.name=c") == ["c"]
    assert names(fieldSelector="metadata.name!=c", labelSelector="app") == ["a", "b"]
    status, body = api.get(path, params={"fieldSelector": "spec.foo=bar"})
    assert status == 400 and body["message"] == "field label not supported: spec.foo"


def test_field_selectors_on_pods_and_events(api: Api, emulator, namespace: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{namespace}/pods", pod("solo"))
    wait_for(
        lambda: api.ok("GET", f"/api/v1/namespaces/{namespace}/pods/solo")["status"]["phase"] == "Running"
    )
    running = api.ok(
        "GET",
        "/api/v1/pods",
        params={"fieldSelector": f"status.phase=Running,metadata.namespace={namespace}"},
    )
    assert [p["metadata"]["name"] for p in running["items"]] == ["solo"]
    node = running["items"][0]["spec"]["nodeName"]
    on_node = api.ok(
        "GET", f"/api/v1/namespaces/{namespace}/pods", params={"fieldSelector": f"spec.nodeName={node}"}
    )
    assert len(on_node["items"]) == 1
    events = api.ok(
        "GET",
        f"/api/v1/namespaces/{namespace}/events",
        params={"fieldSelector": "involvedObject.kind=Pod,involvedObject.name=solo"},
    )
    assert {"Scheduled", "Pulled", "Created", "Started"} <= {e["reason"] for e in events["items"]}


def test_put_replaces_and_checks_resource_version(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    created = api.ok("POST", path, {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}})
    replacement = {
        "metadata": {"name": "cfg", "resourceVersion": created["metadata"]["resourceVersion"]},
        "data": {"c": "3"},
    }
    replaced = api.ok("PUT", f"{path}/cfg", replacement)
    assert replaced["data"] == {"c": "3"}
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    status, body = api.put(f"{path}/cfg", replacement)  # the resourceVersion is stale now
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]


def test_strategic_merge_patch_merges_containers_env_and_ports(api: Api, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    manifest = deployment("smp", replicas=0)
    manifest["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "envoy:1.30", "env": [{"name": "A", "value": "1"}]}
    )
    api.ok("POST", path, manifest)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "env": [{"name": "B", "value": "2"}]},
                        {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 9000}]},
                    ]
                }
            }
        }
    }
    patched = api.ok("PATCH", f"{path}/smp", patch)
    containers = {c["name"]: c for c in patched["spec"]["template"]["spec"]["containers"]}
    assert list(containers) == ["app", "sidecar"]
    assert containers["app"]["image"] == "nginx:1.27"
    assert [p["containerPort"] for p in containers["app"]["ports"]] == [8000, 9000]
    assert containers["app"]["resources"]["requests"]["cpu"] == "100m"  # kept
    assert containers["sidecar"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    deleted = api.ok(
        "PATCH",
        f"{path}/smp",
        {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}},
    )
    assert [c["name"] for c in deleted["spec"]["template"]["spec"]["containers"]] == ["app"]
    merged = api.ok(
        "PATCH",
        f"{path}/smp",
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}},
        kind="merge",
    )
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == [
        "only"
    ]  # merge patch replaces lists
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 0},
        {"op": "add", "path": "/metadata/labels/x", "value": "y"},
    ]
    jsonpatched = api.ok("PATCH", f"{path}/smp", ops, kind="json")
    assert jsonpatched["metadata"]["labels"]["x"] == "y"


def test_server_side_apply_creates_then_merges(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/ssa"
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    status, _ = api.patch(path, manifest, kind="apply")
    assert status == 400  # fieldManager is required
    status, created = api.patch(path, manifest, kind="apply", params={"fieldManager": "test"})
    assert status == 201 and created["data"] == {"a": "1"}
    status, updated = api.patch(
        path,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"b": "2"}},
        kind="apply",
        params={"fieldManager": "test"},
    )
    assert status == 200 and updated["data"] == {"a": "1", "b": "2"}


def test_deletecollection_with_selector(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for name, role in (("a", "tmp"), ("b", "tmp"), ("c", "keep")):
        api.ok("POST", path, {"metadata": {"name": name, "labels": {"role": role}}})
    deleted = api.ok("DELETE", path, params={"labelSelector": "role=tmp"})
    assert deleted["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["a", "b"]
    left = api.ok("GET", path, params={"labelSelector": "role"})
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


def test_errors_are_status_objects_with_real_messages(api: Api, namespace: str) -> None:
    status, body = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"kind": "deployments", "group": "apps", "name": "nope"},
    }
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.ok("POST", path, {"metadata": {"name": "dup"}})
    status, body = api.post(path, {"metadata": {"name": "dup"}})
    assert (
        status == 409
        and body["reason"] == "AlreadyExists"
        and body["message"] == 'configmaps "dup" already exists'
    )
    status, body = api.post(path, {"metadata": {"name": "Bad_Name"}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain"
    )
    status, body = api.post("/api/v1/namespaces/missing-ns/configmaps", {"metadata": {"name": "x"}})
    assert status == 404 and body["message"] == 'namespaces "missing-ns" not found'
    bad = deployment("bad")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, body = api.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", bad)
    assert status == 422 and "`selector` does not match template `labels`" in body["message"]
    status, body = api.get("/apis/nonexistent.example.com/v1/things")
    assert status == 404 and body["reason"] == "NotFound"
    assert "traceback" not in str(body).lower()


def test_unauthorized_without_the_right_token(emulator) -> None:
    wrong = Api(emulator.url, "wrong-token")
    for path in ("/api/v1/namespaces", "/api", "/apis", "/version", "/_kubemu/state"):
        status, body = wrong.get(path)
        assert status == 401, path
        assert body["reason"] == "Unauthorized" and body["kind"] == "Status"


def test_deny_rules_make_real_403s(api: Api, namespace: str) -> None:
    try:
        api.ok(
            "POST", "/_kubemu/deny", {"verb": "list", "group": "", "resource": "pods", "namespace": namespace}
        )
        status, body = api.get(f"/api/v1/namespaces/{namespace}/pods")
        assert status == 403 and body["reason"] == "Forbidden"
        assert body["message"] == (
            f'pods is forbidden: User "system:serviceaccount:ops:runner" cannot list resource '
            f'"pods" in API group "" in the namespace "{namespace}"'
        )
        assert api.get("/api/v1/namespaces/default/pods")[0] == 200  # other namespaces unaffected
        api.ok("POST", "/_kubemu/deny", {"verb": "get", "group": "apps", "resource": "deployments"})
        status, body = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/x")
        assert status == 403
        assert body["message"].startswith('deployments.apps "x" is forbidden: User ')
        review = api.ok(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": namespace}}},
        )
        assert review["status"]["allowed"] is False
    finally:
        api.ok("DELETE", "/_kubemu/deny")
    assert api.get(f"/api/v1/namespaces/{namespace}/pods")[0] == 200


def test_namespace_deletion_cascades(api: Api, namespace: str) -> None:
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", replicas=1))
    api.ok("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "cfg"}})
    wait_for(lambda: api.ok("GET", f"/api/v1/namespaces/{namespace}/pods")["items"])
    terminating = api.ok("DELETE", f"/api/v1/namespaces/{namespace}")
    assert terminating["status"]["phase"] == "Terminating"
    status, body = api.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "late"}})
    if status != 404:  # it may already be gone
        assert status == 403 and "because it is being terminated" in body["message"]
    wait_for(lambda: api.get(f"/api/v1/namespaces/{namespace}")[0] == 404)
    for path in ("/api/v1/pods", "/apis/apps/v1/replicasets", "/api/v1/configmaps", "/api/v1/events"):
        items = api.ok("GET", path, params={"fieldSelector": f"metadata.namespace={namespace}"})["items"]
        assert items == [], path


def test_owner_deletion_garbage_collects_dependents(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    owner = api.ok("POST", path, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    api.ok("POST", path, {"metadata": {"name": "child", "ownerReferences": [ref]}})
    api.ok("POST", path, {"metadata": {"name": "orphan", "ownerReferences": [ref]}})
    status, body = api.delete(f"{path}/owner")
    assert status == 200 and body["kind"] == "Status" and body["status"] == "Success"
    wait_for(lambda: api.get(f"{path}/child")[0] == 404)
    # Orphan propagation keeps dependents and strips their owner reference.
    owner2 = api.ok("POST", path, {"metadata": {"name": "owner2"}})
    ref2 = dict(ref, name="owner2", uid=owner2["metadata"]["uid"])
    api.ok("POST", path, {"metadata": {"name": "kept", "ownerReferences": [ref2]}})
    api.ok("DELETE", f"{path}/owner2", {"propagationPolicy": "Orphan"})
    kept = api.ok("GET", f"{path}/kept")
    assert "ownerReferences" not in kept["metadata"]


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_deleting_a_deployment_deletes_its_replicasets_and_pods(
    api: Api, namespace: str, policy: str
) -> None:
    api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("gc", replicas=2))
    wait_for(lambda: len(api.ok("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]) == 2)
    api.ok("DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/gc", {"propagationPolicy": policy})
    wait_for(lambda: api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/gc")[0] == 404)
    wait_for(lambda: not api.ok("GET", f"/api/v1/namespaces/{namespace}/pods")["items"])
    assert not api.ok("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets")["items"]


def test_finalizers_hold_deletion_until_removed(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    api.ok("POST", path, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    held = api.ok("DELETE", f"{path}/held")
    assert held["metadata"]["deletionTimestamp"]
    assert api.get(f"{path}/held")[0] == 200
    api.ok("PATCH", f"{path}/held", [{"op": "remove", "path": "/metadata/finalizers"}], kind="json")
    assert api.get(f"{path}/held")[0] == 404


def test_service_gets_a_cluster_ip_and_scale_subresource_works(api: Api, namespace: str) -> None:
    service = api.ok(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8000}]},
        },
    )
    assert service["spec"]["clusterIP"].startswith("10.43.")
    assert service["spec"]["ports"][0]["protocol"] == "TCP"
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    api.ok("POST", path, deployment("web", replicas=1))
    scale = api.ok("GET", f"{path}/web/scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=web"
    scaled = api.ok("PATCH", f"{path}/web/scale", {"spec": {"replicas": 3}}, kind="merge")
    assert scaled["spec"]["replicas"] == 3
    assert api.ok("GET", f"{path}/web")["spec"]["replicas"] == 3


def test_watch_streams_changes_with_selectors(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    first = api.ok("POST", path, {"metadata": {"name": "w1", "labels": {"watch": "yes"}}})
    api.ok("POST", path, {"metadata": {"name": "w2", "labels": {"watch": "yes"}}})
    api.ok("POST", path, {"metadata": {"name": "other"}})
    response = api.session.get(
        api.url + path,
        params={
            "watch": "true",
            "labelSelector": "watch=yes",
            "resourceVersion": first["metadata"]["resourceVersion"],
            "timeoutSeconds": "1",
        },
        timeout=10,
    )
    lines = [line for line in response.text.splitlines() if line]
    import json

    events = [(e["type"], e["object"]["metadata"]["name"]) for e in map(json.loads, lines)]
    assert events == [("ADDED", "w2")]


def test_list_pagination_with_limit_and_continue(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for name in ("p1", "p2", "p3"):
        api.ok("POST", path, {"metadata": {"name": name, "labels": {"page": "yes"}}})
    first = api.ok("GET", path, params={"labelSelector": "page", "limit": "2"})
    assert [i["metadata"]["name"] for i in first["items"]] == ["p1", "p2"]
    assert first["metadata"]["remainingItemCount"] == 1
    params = {"labelSelector": "page", "limit": "2", "continue": first["metadata"]["continue"]}
    rest = api.ok("GET", path, params=params)
    assert [i["metadata"]["name"] for i in rest["items"]] == ["p3"]
    assert "continue" not in rest["metadata"]


def test_custom_resource_definitions_add_resources(api: Api, namespace: str) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.example.com"},
        "spec": {
            "group": "monitoring.example.com",
            "scope": "Namespaced",
            "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    created = api.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert {c["type"]: c["status"] for c in created["status"]["conditions"]}["Established"] == "True"
    resources = api.ok("GET", "/apis/monitoring.example.com/v1")["resources"]
    assert [(r["name"], r["kind"], r["namespaced"]) for r in resources] == [
        ("servicemonitors", "ServiceMonitor", True)
    ]
    path = f"/apis/monitoring.example.com/v1/namespaces/{namespace}/servicemonitors"
    monitor = {
        "apiVersion": "monitoring.example.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web"},
    }
    api.ok("POST", path, dict(monitor, spec={"endpoints": [{"port": "http"}]}))
    assert api.ok("GET", path)["kind"] == "ServiceMonitorList"
    status, _ = api.patch(f"{path}/web", {"spec": {"jobLabel": "app"}})
    assert status == 415  # no strategic merge for custom resources, as upstream
    api.ok("PATCH", f"{path}/web", {"spec": {"jobLabel": "app"}}, kind="merge")
    api.ok(
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servicemonitors.monitoring.example.com",
    )
    assert api.get(path)[0] == 404


def test_workloads_are_created_with_the_zero_status(api: Api, namespace: str) -> None:
    """As the apiserver answers a create: clients (kubernetes.core's waiter) read the status
    before any controller wrote it, and a missing status broke them."""
    body = dict(deployment("zero"), status={"readyReplicas": 5})  # a client's status is ignored
    dep = api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body)
    assert dep["status"] == {}
    sts = dict(deployment("zero"), kind="StatefulSet")
    sts["spec"]["serviceName"] = "zero"
    created = api.ok("POST", f"/apis/apps/v1/namespaces/{namespace}/statefulsets", sts)
    assert created["status"] == {"replicas": 0, "availableReplicas": 0}
