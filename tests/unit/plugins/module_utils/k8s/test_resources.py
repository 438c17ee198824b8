"""The one registry: paths built and quoted in one place, kinds known and unknown."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources


def test_namespaced_and_cluster_scoped_paths():
    assert resources.DEPLOYMENT.collection_path("prod") == "/apis/apps/v1/namespaces/prod/deployments"
    assert resources.DEPLOYMENT.object_path("prod", "web") == "/apis/apps/v1/namespaces/prod/deployments/web"
    assert resources.DEPLOYMENT.collection_path() == "/apis/apps/v1/deployments"  # all namespaces
    assert resources.POD.object_path("prod", "p-1", "log") == "/api/v1/namespaces/prod/pods/p-1/log"
    assert resources.NAMESPACE.object_path("ignored", "prod") == "/api/v1/namespaces/prod"
    assert resources.namespace_path() == "/api/v1/namespaces"
    assert resources.get("ClusterRole").object_path(None, "admin") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin"
    )


def test_every_segment_from_data_is_quoted_with_nothing_kept():
    path = resources.get("RoleBinding").object_path("team a", "read#all?x/y")
    assert path == "/apis/rbac.authorization.k8s.io/v1/namespaces/team%20a/rolebindings/read%23all%3Fx%2Fy"


def test_scale_subresource_and_other_versions():
    assert resources.get("StatefulSet").object_path("ns", "db", "scale") == (
        "/apis/apps/v1/namespaces/ns/statefulsets/db/scale"
    )
    v1 = resources.get("HorizontalPodAutoscaler", "autoscaling/v1")
    assert v1.collection_path("ns") == "/apis/autoscaling/v1/namespaces/ns/horizontalpodautoscalers"
    assert resources.get("HorizontalPodAutoscaler", "autoscaling/v2") is resources.HPA


def test_an_unknown_kind_is_named():
    with pytest.raises(resources.UnknownKind, match="kind Widget is not one this collection knows"):
        resources.get("Widget")
    with pytest.raises(resources.UnknownKind, match=r"kind Deployment \(apps/v1beta9\)"):
        resources.get("Deployment", "apps/v1beta9")


def test_patch_types_follow_the_group():
    assert resources.DEPLOYMENT.patch_type == resources.STRATEGIC
    assert resources.Resource("example.com", "v1", "Widget", "widgets").patch_type == resources.MERGE
    from_crd = resources.Resource("apps", "v1", "Thing", "things", from_batch=True)
    assert from_crd.patch_type == resources.MERGE


def test_discovery_and_version_paths():
    assert resources.discovery_path("v1") == "/api/v1"
    assert resources.discovery_path("apps/v1") == "/apis/apps/v1"
    assert resources.split_api_version("networking.k8s.io/v1") == ("networking.k8s.io", "v1")


def test_from_discovery_reads_scope_and_plural():
    listing = {"resources": [{"name": "widgets", "kind": "Widget", "namespaced": False}]}
    found = resources.from_discovery("example.com/v1", "Widget", listing)
    assert (found.plural, found.namespaced, found.collection_path("x")) == (
        "widgets",
        False,
        "/apis/example.com/v1/widgets",
    )
    assert resources.from_discovery("example.com/v1", "Gadget", listing) is None


def test_service_proxy_path():
    assert (
        resources.service_proxy_path("ns", "svc", "8080", "/ready")
        == "/api/v1/namespaces/ns/services/svc:8080/proxy/ready"
    )
    assert (
        resources.service_proxy_path("ns", "svc", None, "health", "https")
        == "/api/v1/namespaces/ns/services/https:svc/proxy/health"
    )


def test_resources_compare_by_what_they_are():
    assert resources.get("Deployment") == resources.Resource("apps", "v1", "Deployment", "deployments")
    assert len({resources.DEPLOYMENT, resources.Resource("apps", "v1", "Deployment", "deployments")}) == 1
