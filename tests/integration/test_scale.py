"""playbooks/scale.yml: scale within the inventory's range, agree with the HPA, restore it."""

import copy
import uuid

import pytest
from conftest import SMALL_PLATFORM, load_platform, platform_vars
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
SCALE = "playbooks/scale.yml"
TASK = "Scale and wait until every pod is ready"
REPORT = "Report per component"
RECORDED_MIN = "multiagent.ops/recorded-min-replicas"
RECORDED_MAX = "multiagent.ops/recorded-max-replicas"


@pytest.fixture
def hpa_platform(ansible, kube, faults):
    """The small platform with an autoscaling range 2-6 for core: the demo loader renders
    the HPA from it, as the inventory's platform would have one."""
    components = copy.deepcopy(SMALL_PLATFORM)
    components[0]["autoscaling"] = {"min": 2, "max": 6, "cpu": 70}
    namespace = "it-scale-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, components)
    yield {"namespace": namespace, "components": components}
    try:
        client.CoreV1Api(kube["us-east-1"]).delete_namespace(namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def scale(ansible, platform, args=(), **extra):
    run = ansible(SCALE, limit="us-east-1", extra_vars=platform_vars(platform, **extra), args=args)
    return run


def result(run):
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run.results(TASK, "us-east-1")


def lock_holder(kube, namespace):
    lease = client.CoordinationV1Api(kube["us-east-1"]).read_namespaced_lease(
        "maops-lock-platform-%s" % namespace, namespace
    )
    return lease.spec.holder_identity


def test_scale_without_hpa_waits_until_ready_then_changes_nothing(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    apps = client.AppsV1Api(kube["us-east-1"])

    run = scale(ansible, small_platform, scale_component="plan", scale_replicas="3")
    plan = result(run)["targets"][0]
    assert plan["object"] == "Deployment/mplp-plan" and plan["hpa"] is None
    assert (plan["replicas_before"], plan["replicas_after"], plan["ready"], plan["available"]) == (2, 3, 3, 3)
    live = apps.read_namespaced_deployment("mplp-plan", ns)
    assert live.spec.replicas == 3 and live.status.ready_replicas == 3  # waited until ready
    assert run.results(REPORT, "us-east-1")["msg"] == [
        "plan (Deployment mplp-plan): replicas 2 -> 3; no HorizontalPodAutoscaler"
    ]
    assert lock_holder(kube, ns) is None  # released

    # several at once, a StatefulSet among them; plan is already at 3
    run = scale(ansible, small_platform, scale_components={"plan": 3, "postgresql": 1})
    again = result(run)
    assert again["changed"] is False
    assert [t["object"] for t in again["targets"]] == ["Deployment/mplp-plan", "StatefulSet/mplp-postgresql"]


def test_scale_with_hpa_raises_min_records_and_restores(ansible, hpa_platform, kube):
    ns = hpa_platform["namespace"]
    apps = client.AppsV1Api(kube["us-east-1"])
    autoscaling = client.AutoscalingV2Api(kube["us-east-1"])

    # check mode plans the change and writes nothing
    run = scale(ansible, hpa_platform, args=["--check", "--diff"], scale_component="core", scale_replicas=4)
    checked = result(run)
    assert checked["changed"] is True
    assert checked["diff"]["after"]["Deployment/mplp-core"] == {
        "replicas": 4,
        "hpa": {"name": "mplp-core", "minReplicas": 4, "maxReplicas": 6},
    }
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 6)
    assert RECORDED_MIN not in (hpa.metadata.annotations or {})
    assert apps.read_namespaced_deployment("mplp-core", ns).spec.replicas == 2

    # scale up: the HPA's floor is raised to 4 (and said so), its own range recorded
    run = scale(ansible, hpa_platform, scale_component="core", scale_replicas=4)
    core = result(run)["targets"][0]
    assert core["hpa_changes"] == [
        {
            "field": "minReplicas",
            "before": 2,
            "after": 4,
            "why": "raised so the autoscaler keeps at least 4 replicas",
        }
    ]
    assert (core["replicas_after"], core["ready"], core["available"]) == (4, 4, 4)
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (4, 6)
    assert hpa.metadata.annotations[RECORDED_MIN] == "2" and hpa.metadata.annotations[RECORDED_MAX] == "6"
    live = apps.read_namespaced_deployment("mplp-core", ns)
    assert live.spec.replicas == 4 and live.status.ready_replicas == 4
    assert (
        "minReplicas 2 -> 4, raised so the autoscaler keeps at least 4 replicas"
        in (run.results(REPORT, "us-east-1")["msg"][0])
    )

    # the same request again changes nothing
    assert result(scale(ansible, hpa_platform, scale_component="core", scale_replicas=4))["changed"] is False

    # scale down: the autoscaler is pinned at 3; the first record stays
    core = result(scale(ansible, hpa_platform, scale_component="core", scale_replicas=3))["targets"][0]
    assert [(c["field"], c["before"], c["after"]) for c in core["hpa_changes"]] == [
        ("minReplicas", 4, 3),
        ("maxReplicas", 6, 3),
    ]
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 3)
    assert hpa.metadata.annotations[RECORDED_MIN] == "2"
    assert apps.read_namespaced_deployment("mplp-core", ns).status.ready_replicas == 3

    # restore, from a separate run: the autoscaler's own range is back, the records gone
    run = scale(ansible, hpa_platform, scale_restore_hpa=True)
    restored = result(run)["targets"]
    assert [t["object"] for t in restored] == ["Deployment/mplp-core"]  # the autoscaled components
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 6)
    assert RECORDED_MIN not in (hpa.metadata.annotations or {})
    assert 2 <= apps.read_namespaced_deployment("mplp-core", ns).spec.replicas <= 6  # left to the HPA
    assert result(scale(ansible, hpa_platform, scale_restore_hpa=True))["changed"] is False


def test_outside_the_range_fails_naming_it_and_changes_nothing(ansible, hpa_platform, kube):
    ns = hpa_platform["namespace"]
    run = scale(ansible, hpa_platform, scale_components={"core": 7})
    assert run.rc != 0
    assert (
        "core (Deployment mplp-core): 7 replicas requested, outside the allowed range 2-6; "
        "nothing was changed" in " ".join(run.failure_messages())
    )
    autoscaling = client.AutoscalingV2Api(kube["us-east-1"])
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 6)
    assert client.AppsV1Api(kube["us-east-1"]).read_namespaced_deployment("mplp-core", ns).spec.replicas == 2
    assert lock_holder(kube, ns) is None  # the lock is given back after the failure


def test_unknown_component_lists_the_known_ones(ansible, shared_platform):
    run = scale(ansible, shared_platform, scale_component="kore", scale_replicas=3)
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "unknown component(s) kore; the platform has: core, plan, postgresql" in message
