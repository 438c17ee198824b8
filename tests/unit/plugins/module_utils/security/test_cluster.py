"""The live read over fakes.FakeApi: every kind LISTed once per scope, refusals as not_checked."""

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.security import cluster, rbac

NS = "mplp"
CLUSTER_ROLES = resources.get("ClusterRole").collection_path()
CLUSTER_BINDINGS = resources.get("ClusterRoleBinding").collection_path()


def path(kind, name, namespace=NS):
    return resources.get(kind).object_path(namespace, name)


def objects():
    return {
        resources.namespace_path(NS): {"metadata": {"name": NS, "labels": {"team": "a"}}},
        path("Pod", "web-1"): {"metadata": {"name": "web-1", "namespace": NS}},
        path("Deployment", "web"): {"metadata": {"name": "web", "namespace": NS}},
        path("Role", "reader"): {
            "metadata": {"name": "reader", "namespace": NS},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
        path("RoleBinding", "edit"): {
            "metadata": {"name": "edit", "namespace": NS},
            "roleRef": {"kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": NS}],
        },
        path("ClusterRole", "custom", None): {"metadata": {"name": "custom"}, "rules": []},
    }


def test_reads_every_kind_of_the_namespace_and_the_cluster_once():
    api = fakes.FakeApi(objects())
    found, not_checked = cluster.read(api, [NS, NS])
    assert not_checked == []
    assert sorted(found) == sorted(cluster.NAMESPACED + cluster.CLUSTER + ("Namespace",))
    assert [p["metadata"]["name"] for p in found["Pod"]] == ["web-1"]
    assert (
        found["Deployment"][0]["kind"] == "Deployment" and found["Deployment"][0]["apiVersion"] == "apps/v1"
    )
    assert found["Namespace"][0]["metadata"]["labels"] == {"team": "a"}
    assert found["ClusterRole"][0]["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert len(api.calls) == len(cluster.NAMESPACED) + len(cluster.CLUSTER) + 1  # the namespace once
    assert len(set(api.calls)) == len(api.calls)


def test_every_namespace_is_one_list_per_kind():
    api = fakes.FakeApi({})
    found, not_checked = cluster.read(api)
    assert not_checked == []
    paths = {p for _m, p in api.calls}
    assert resources.POD.collection_path() in paths and resources.namespace_path() in paths
    assert len(api.calls) == len(cluster.NAMESPACED) + len(cluster.CLUSTER) + 1


def test_a_403_on_cluster_roles_is_not_checked_and_the_rest_goes_on():
    api = fakes.FakeApi(objects(), refuse={("GET", CLUSTER_ROLES): 403, ("GET", CLUSTER_BINDINGS): 403})
    found, not_checked = cluster.read(api, [NS])
    assert "ClusterRole" not in found and "ClusterRoleBinding" not in found
    assert [(f["rule"], f["status"], f["object"]["kind"]) for f in not_checked] == [
        ("MAO-149", "not_checked", "ClusterRole"),
        ("MAO-149", "not_checked", "ClusterRoleBinding"),
    ]
    assert not_checked[0]["message"] == (
        "clusterroles could not be read: permission denied (403); the RBAC analysis did not run on them"
    )
    assert cluster.unread_kinds(not_checked) == {"ClusterRole", "ClusterRoleBinding"}
    assert [p["metadata"]["name"] for p in found["Pod"]] == ["web-1"]
    # the RBAC analysis then still knows the built-in edit role the RoleBinding names
    findings = rbac.analyze(found, cluster_roles_read="ClusterRole" not in cluster.unread_kinds(not_checked))
    assert {f["rule"] for f in findings} == {"MAO-103", "MAO-105", "MAO-107"}


def test_a_kind_not_served_or_refused_in_one_namespace():
    netpols = resources.get("NetworkPolicy").collection_path("other")
    ingresses = resources.get("Ingress").collection_path(NS)
    api = fakes.FakeApi(objects(), refuse={("GET", netpols): 403, ("GET", ingresses): 404})
    found, not_checked = cluster.read(api, [NS, "other"])
    assert sorted((f["rule"], f["object"]["kind"], f["object"]["namespace"]) for f in not_checked) == [
        ("MAO-148", "Ingress", NS),
        ("MAO-199", "NetworkPolicy", "other"),
    ]
    ingress = next(f for f in not_checked if f["object"]["kind"] == "Ingress")
    assert (
        "ingresses in namespace mplp could not be read: not served by this cluster (404)"
        in ingress["message"]
    )
    assert found["NetworkPolicy"] == []  # the namespace that could be read had none


def test_a_namespace_that_cannot_be_read_by_name():
    api = fakes.FakeApi(objects(), refuse={("GET", resources.namespace_path(NS)): 403})
    _found, not_checked = cluster.read(api, [NS, "absent"])
    assert [(f["rule"], f["object"]["kind"], f["object"]["name"]) for f in not_checked] == [
        ("MAO-199", "Namespace", NS)
    ]
    assert not_checked[0]["message"].startswith(
        "Namespace mplp could not be read: permission denied (403); the NetworkPolicy coverage"
    )


class Unreachable(fakes.FakeApi):
    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        raise ApiError("unreachable", "cannot reach the Kubernetes API at fake (connection refused)")


def test_an_unreachable_api_raises():
    with pytest.raises(ApiError) as caught:
        cluster.read(Unreachable({}), [NS])
    assert caught.value.fatal
