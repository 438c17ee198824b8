"""playbooks/autoscale_check.yml: the runbook's auto-scaling rule on measured usage, through
multiagent.ops.scale, within the inventory's range; HPA-owned components and check mode
change nothing."""

from __future__ import annotations

import copy
import uuid

import pytest
from conftest import SMALL_PLATFORM, delete_namespace, load_platform, platform_vars
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.emulator_only]
PLAYBOOK = "playbooks/autoscale_check.yml"
DECIDE = "Measure CPU and memory against the requests and decide per component"
SCALE = "Scale as decided and wait until every pod is ready"
REPORT = "Report per component"
HOST = "us-east-1"
# The demo loader's pods request 250m CPU and 256Mi memory.
HOT = {"cpu": "225m", "memory": "100Mi"}  # CPU 90 %
COLD = {"cpu": "25m", "memory": "50Mi"}  # CPU 10 %, memory 20 %


def with_ranges(core, plan):
    components = copy.deepcopy(SMALL_PLATFORM)
    components[0]["autoscaling"] = dict(core, cpu=70)
    components[1]["autoscaling"] = dict(plan, cpu=70)
    return components


def set_usage(faults, kube, namespace, component, usage):
    """Every running pod of the component uses ``usage`` (the emulator's metrics control;
    pods deleted with the namespace take their setting with them)."""
    pods = client.CoreV1Api(kube[HOST]).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=%s" % component
    )
    for pod in pods.items:
        faults._control(HOST, "metrics", {"namespace": namespace, "pod": pod.metadata.name, "usage": usage})


def replicas(kube, namespace, name):
    return client.AppsV1Api(kube[HOST]).read_namespaced_deployment(name, namespace).spec.replicas


def check(ansible, namespace, components, args=(), **extra):
    run = ansible(
        PLAYBOOK,
        limit=HOST,
        extra_vars=platform_vars({"namespace": namespace, "components": components}, **extra),
        args=args,
    )
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run


def decisions(run):
    return {c["component"]: c for c in run.results(DECIDE, HOST)["components"]}


def test_scales_up_by_two_down_by_one_within_the_range_and_check_mode_changes_nothing(
    ansible, small_platform, kube, faults
):
    # The platform runs without HPAs; the inventory gives core 2-5 and plan 1-4.
    ns = small_platform["namespace"]
    components = with_ranges({"min": 2, "max": 5}, {"min": 1, "max": 4})
    set_usage(faults, kube, ns, "core", HOT)
    set_usage(faults, kube, ns, "plan", COLD)

    planned = check(ansible, ns, components, args=["--check"])
    got = decisions(planned)
    assert (got["core"]["decision"], got["core"]["replicas_after"], got["core"]["cpu_pct"]) == ("up", 4, 90.0)
    assert (got["plan"]["decision"], got["plan"]["replicas_after"]) == ("down", 1)
    assert "postgresql" not in got  # no autoscaling range: not the rule's to scale
    assert (replicas(kube, ns, "mplp-core"), replicas(kube, ns, "mplp-plan")) == (2, 2)
    assert "check mode: nothing was scaled" in planned.results(REPORT, HOST)["msg"]

    run = check(ansible, ns, components)
    scaled = {t["name"]: t for t in run.results(SCALE, HOST)["targets"]}
    assert (scaled["mplp-core"]["replicas_after"], scaled["mplp-core"]["ready"]) == (4, 4)
    assert (scaled["mplp-plan"]["replicas_after"], scaled["mplp-plan"]["ready"]) == (1, 1)
    assert (replicas(kube, ns, "mplp-core"), replicas(kube, ns, "mplp-plan")) == (4, 1)
    report = run.results(REPORT, HOST)["msg"]
    assert any(line.startswith("core (Deployment mplp-core): CPU 90% > 70%: 2 -> 4") for line in report)

    # every core pod hot again: 4 + 2 passes the maximum 5, so it stops there; plan is at its minimum
    set_usage(faults, kube, ns, "core", HOT)
    run = check(ansible, ns, components)
    got = decisions(run)
    assert (got["core"]["replicas_after"], "capped" in got["core"]["reason"]) == (5, True)
    assert got["plan"]["decision"] == "keep" and "already at the minimum 1" in got["plan"]["reason"]
    assert (replicas(kube, ns, "mplp-core"), replicas(kube, ns, "mplp-plan")) == (5, 1)


@pytest.fixture
def hpa_platform(ansible, kube):
    """The small platform whose core has an HPA (the demo loader renders it from the range)."""
    components = with_ranges({"min": 2, "max": 6}, {"min": 1, "max": 4})
    del components[1]["autoscaling"]
    namespace = "it-autoscale-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, components)
    yield {"namespace": namespace, "components": components}
    delete_namespace(kube, namespace)


def test_an_hpa_owned_component_is_left_to_its_hpa_unless_asked(ansible, hpa_platform, kube, faults):
    ns = hpa_platform["namespace"]
    components = hpa_platform["components"]
    set_usage(faults, kube, ns, "core", HOT)
    hpas = client.AutoscalingV2Api(kube[HOST])

    run = check(ansible, ns, components)
    core = decisions(run)["core"]
    assert (core["decision"], core["act"], core["hpa"]) == ("up", False, "mplp-core")
    assert run.results(SCALE, HOST).get("skipped") is True
    assert replicas(kube, ns, "mplp-core") == 2
    hpa = hpas.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 6)
    assert not [k for k in hpa.metadata.annotations or {} if k.startswith("multiagent.ops/")]

    run = check(ansible, ns, components, autoscale_hpa_owned=True)
    scaled = run.results(SCALE, HOST)["targets"][0]
    assert (scaled["hpa"], scaled["replicas_after"]) == ("mplp-core", 4)
    assert replicas(kube, ns, "mplp-core") == 4
    hpa = hpas.read_namespaced_horizontal_pod_autoscaler("mplp-core", ns)
    # scale.yml's HPA-aware change, its own range recorded for the restore
    assert hpa.spec.min_replicas == 4
    assert hpa.metadata.annotations["multiagent.ops/recorded-min-replicas"] == "2"
