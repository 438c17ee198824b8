"""multiagent.ops.k8s_rollout against the stack: restart, status, history, undo, pause, resume.

On a real cluster (MAOPS_TEST_KUBECONFIG) the undo test needs a second pullable image,
MAOPS_TEST_IMAGE_ALT, different from MAOPS_TEST_IMAGE; broken images are made with an
unresolvable registry there, and with kubemu's control API on the emulator.
"""

import datetime
import os
import threading
import time
import uuid

import pytest
from conftest import REAL_KUBECONFIG, module_running, platform_vars
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
PLAYBOOK = "tests/integration/playbooks/k8s_rollout.yml"
CLUSTER = "us-east-1"
CORE = "mplp-core"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def call(ansible, platform, args=(), **options):
    extra = platform_vars(platform, **{"rollout_%s" % k: v for k, v in options.items()})
    run = ansible(PLAYBOOK, limit=CLUSTER, extra_vars=extra, args=args)
    return run, run.results("Rollout call", CLUSTER)


def apps(kube):
    return client.AppsV1Api(kube[CLUSTER])


def pods_of(kube, ns, deployment):
    """Names of the pods the Deployment owns (through its ReplicaSets' uids), with images."""
    rs_uids = {
        rs.metadata.uid
        for rs in apps(kube).list_namespaced_replica_set(ns).items
        if any(
            ref.name == deployment and ref.kind == "Deployment" for ref in rs.metadata.owner_references or []
        )
    }
    pods = client.CoreV1Api(kube[CLUSTER]).list_namespaced_pod(ns).items
    return {
        p.metadata.name: p.spec.containers[0].image
        for p in pods
        if not p.metadata.deletion_timestamp
        and any(ref.uid in rs_uids for ref in p.metadata.owner_references or [])
    }


def image_of(kube, ns, name=CORE):
    return apps(kube).read_namespaced_deployment(name, ns).spec.template.spec.containers[0].image


def set_template(kube, ns, name=CORE, image=None, env=None, change_cause=None, **spec):
    container = {"name": "core"}
    if image:
        container["image"] = image
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    body = {"spec": dict(spec, template={"spec": {"containers": [container]}})}
    if change_cause:
        body["metadata"] = {"annotations": {"kubernetes.io/change-cause": change_cause}}
    apps(kube).patch_namespaced_deployment(name, ns, body)


def wait_rolled_out(kube, ns, name=CORE, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = apps(kube).read_namespaced_deployment(name, ns)
        s = d.status
        if (
            (s.observed_generation or 0) >= d.metadata.generation
            and (s.updated_replicas or 0) == d.spec.replicas
            and (s.replicas or 0) == d.spec.replicas
            and (s.available_replicas or 0) == d.spec.replicas
        ):
            return
        time.sleep(0.3)
    raise AssertionError("Deployment %s/%s did not roll out within %ss" % (ns, name, timeout))


@pytest.fixture
def broken_image(faults):
    """A unique image that never becomes ready (other engineers share the stack)."""
    return lambda: faults.broken_image(CLUSTER, "mplp/core:broken-%s" % uuid.uuid4().hex[:10])


def test_restart_rolls_every_pod_and_check_mode_changes_nothing(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    before = {name: set(pods_of(kube, ns, name)) for name in (CORE, "mplp-plan")}
    pg_uid = client.CoreV1Api(kube[CLUSTER]).read_namespaced_pod("mplp-postgresql-0", ns).metadata.uid

    run, checked = call(
        ansible, small_platform, args=["--check", "--diff"], names=[CORE, "mplp-plan"], action="restart"
    )
    assert run.rc == 0, run.failure_messages()
    assert checked["changed"] is True
    assert set(checked["diff"]["after"]) == {"Deployment/mplp-core", "Deployment/mplp-plan"}
    template = apps(kube).read_namespaced_deployment(CORE, ns).spec.template
    assert RESTARTED_AT not in (template.metadata.annotations or {})  # check mode wrote nothing
    assert set(pods_of(kube, ns, CORE)) == before[CORE]

    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    run, result = call(ansible, small_platform, names=[CORE, "mplp-plan"], action="restart")
    assert run.rc == 0, run.failure_messages()
    assert result["changed"] is True
    for workload in result["workloads"]:
        assert workload["status"]["done"] is True, workload
        assert workload["revision_after"] == workload["revision_before"] + 1
        now = set(pods_of(kube, ns, workload["name"]))
        assert now and now.isdisjoint(before[workload["name"]])  # every pod replaced, waited for
    stamp = apps(kube).read_namespaced_deployment(CORE, ns).spec.template.metadata.annotations[RESTARTED_AT]
    assert datetime.datetime.fromisoformat(stamp) >= started  # RFC 3339, as kubectl writes it

    # A StatefulSet restarts its pods in place: same names, new pods.
    run, result = call(ansible, small_platform, kind="StatefulSet", name="mplp-postgresql", action="restart")
    assert run.rc == 0, run.failure_messages()
    assert result["workloads"][0]["status"]["done"] is True
    assert client.CoreV1Api(kube[CLUSTER]).read_namespaced_pod("mplp-postgresql-0", ns).metadata.uid != pg_uid


def test_status_of_a_broken_rollout_names_the_stuck_pod(ansible, small_platform, kube, broken_image):
    ns = small_platform["namespace"]
    image = broken_image()
    set_template(kube, ns, image=image)

    run, result = call(ansible, small_platform, name=CORE, action="status", wait_timeout=15)
    assert run.rc != 0 and result["changed"] is False
    [message] = run.failure_messages()
    assert ("status of Deployment mplp-core in %s: rollout did not finish within 15 s: " % ns) in message
    stuck = result["workloads"][0]["status"]["pods"]
    assert stuck and stuck[0]["reason"] in ("ImagePullBackOff", "ErrImagePull"), stuck
    assert pods_of(kube, ns, CORE)[stuck[0]["name"]] == image  # a pod of the new ReplicaSet, named
    assert "pod %s: %s" % (stuck[0]["name"], stuck[0]["reason"]) in message
    assert apps(kube).read_namespaced_deployment(CORE, ns).status.ready_replicas == 2  # old pods kept

    run, result = call(ansible, small_platform, name=CORE, action="status", wait=False)
    assert run.rc == 0 and result["workloads"][0]["status"]["done"] is False  # only reported


def test_a_progress_deadline_fails_the_wait_early(ansible, small_platform, kube, broken_image):
    ns = small_platform["namespace"]
    set_template(kube, ns, image=broken_image(), progressDeadlineSeconds=3)
    started = time.monotonic()
    run, result = call(ansible, small_platform, names=[CORE, "mplp-plan"], action="status", wait_timeout=120)
    assert run.rc != 0
    assert time.monotonic() - started < 60  # did not sit out the timeout
    core, plan = result["workloads"]
    assert core["status"]["failed"] is True
    assert "exceeded its progress deadline (ProgressDeadlineExceeded)" in core["status"]["message"]
    assert core["status"]["pods"] and core["status"]["pods"][0]["name"] in pods_of(kube, ns, CORE)
    assert plan["status"]["failed"] is False
    assert "mplp-plan" not in " ".join(run.failure_messages())


def test_history_and_undo_toggle_like_kubectl(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    first = image_of(kube, ns)
    if REAL_KUBECONFIG:
        second = os.environ.get("MAOPS_TEST_IMAGE_ALT")
        if not second:
            pytest.skip("a real cluster needs MAOPS_TEST_IMAGE_ALT, a second pullable image")
    else:
        second = "mplp/core:undo-%s" % uuid.uuid4().hex[:8]
    set_template(kube, ns, image=second, change_cause="release %s" % second)
    wait_rolled_out(kube, ns)

    run, result = call(ansible, small_platform, name=CORE, action="history")
    assert run.rc == 0 and result["changed"] is False
    history = result["workloads"][0]["history"]
    assert [(h["revision"], h["images"], h["current"]) for h in history] == [
        (1, [first], False),
        (2, [second], True),
    ]
    assert history[1]["change_cause"] == "release %s" % second

    run, checked = call(ansible, small_platform, args=["--check"], name=CORE, action="undo")
    assert run.rc == 0 and checked["changed"] is True and image_of(kube, ns) == second

    run, result = call(ansible, small_platform, name=CORE, action="undo")
    assert run.rc == 0, run.failure_messages()
    [undone] = result["workloads"]
    assert (undone["changed"], undone["target_revision"], undone["revision_before"]) == (True, 1, 2)
    assert undone["revision_after"] == 3  # the old ReplicaSet, re-used under a new number
    assert image_of(kube, ns) == first and set(pods_of(kube, ns, CORE).values()) == {first}

    run, result = call(ansible, small_platform, name=CORE, action="undo")  # undo the undo
    assert run.rc == 0, run.failure_messages()
    assert result["workloads"][0]["target_revision"] == 2 and image_of(kube, ns) == second

    run, result = call(ansible, small_platform, name=CORE, action="history")
    assert [(h["revision"], h["images"]) for h in result["workloads"][0]["history"]] == [
        (3, [first]),
        (4, [second]),
    ]

    generation = apps(kube).read_namespaced_deployment(CORE, ns).metadata.generation
    run, result = call(ansible, small_platform, name=CORE, action="undo", to_revision=99)
    assert run.rc != 0
    assert run.failure_messages() == [
        "%s: undo of Deployment mplp-core in %s: revision 99 does not exist (revisions: 3, 4); "
        "nothing was changed" % (CLUSTER, ns)
    ]
    assert apps(kube).read_namespaced_deployment(CORE, ns).metadata.generation == generation

    run, result = call(ansible, small_platform, name=CORE, action="undo", to_revision=4)
    assert run.rc == 0 and result["changed"] is False  # already runs revision 4's template


def test_pause_and_resume_are_idempotent(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    run, result = call(ansible, small_platform, name=CORE, action="pause")
    assert run.rc == 0 and result["changed"] is True
    assert apps(kube).read_namespaced_deployment(CORE, ns).spec.paused is True
    run, result = call(ansible, small_platform, name=CORE, action="pause")
    assert run.rc == 0 and result["changed"] is False

    before = set(pods_of(kube, ns, CORE))
    set_template(kube, ns, env={"RELEASE": "paused-change"})
    started = time.monotonic()
    run, result = call(ansible, small_platform, name=CORE, action="status", wait_timeout=120)
    assert run.rc != 0 and time.monotonic() - started < 60  # a paused rollout is not waited for
    assert "paused" in result["workloads"][0]["status"]["message"]
    run, result = call(ansible, small_platform, name=CORE, action="restart")
    assert run.rc != 0 and "cannot restart a paused Deployment; resume it first" in run.failure_messages()[0]
    assert set(pods_of(kube, ns, CORE)) == before  # nothing rolled while paused

    run, result = call(ansible, small_platform, name=CORE, action="resume")
    assert run.rc == 0, run.failure_messages()
    assert result["changed"] is True and result["workloads"][0]["status"]["done"] is True
    assert set(pods_of(kube, ns, CORE)).isdisjoint(before)  # the held change rolled out, waited for
    run, result = call(ansible, small_platform, name=CORE, action="resume")
    assert run.rc == 0 and result["changed"] is False


def test_label_selector_and_missing_workloads(ansible, shared_platform):
    run, result = call(
        ansible,
        shared_platform,
        label_selector="app.kubernetes.io/component in (core,plan)",
        action="status",
    )
    assert run.rc == 0, run.failure_messages()
    assert [(w["name"], w["status"]["done"]) for w in result["workloads"]] == [
        ("mplp-core", True),
        ("mplp-plan", True),
    ]
    run, result = call(ansible, shared_platform, names=[CORE, "mplp-ghost"], action="restart")
    assert run.rc != 0
    assert run.failure_messages() == [
        "%s: restart: Deployment mplp-ghost does not exist in namespace %s; nothing was changed"
        % (CLUSTER, shared_platform["namespace"])
    ]


@pytest.mark.global_state
@pytest.mark.emulator_only
def test_the_api_going_away_mid_rollout_is_waited_out(ansible, small_platform, kube, faults, broken_image):
    """The API server drops every connection for a few seconds while the module waits for a
    rollout; the rollout finishes meanwhile (the cluster goes on); the wait sees it done."""
    ns = small_platform["namespace"]
    image = broken_image()
    set_template(kube, ns, image=image)
    outcome = {}

    def wait_for_rollout():
        outcome["run"], outcome["result"] = call(
            ansible, small_platform, name=CORE, action="status", wait_timeout=60
        )

    waiter = threading.Thread(target=wait_for_rollout)
    waiter.start()
    deadline = time.monotonic() + 60
    while not module_running("k8s_rollout"):
        assert time.monotonic() < deadline, "the module never started"
        time.sleep(0.2)
    time.sleep(2.5)  # past its imports and first reads: it is polling the stalled rollout
    faults.api_outage(CLUSTER, seconds=5)
    faults.heal_image(CLUSTER, image)  # the rollout can now finish, unseen
    waiter.join(timeout=120)
    run, result = outcome["run"], outcome["result"]
    assert run.rc == 0, run.failure_messages()
    status = result["workloads"][0]["status"]
    assert status["done"] is True and status["seconds"] >= 5
    dep = apps(kube).read_namespaced_deployment(CORE, ns)
    assert dep.spec.template.spec.containers[0].image == image
    assert dep.status.updated_replicas == dep.status.available_replicas == 2
