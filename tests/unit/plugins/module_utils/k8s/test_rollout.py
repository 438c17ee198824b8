"""Rollouts: kubectl's status rules, the waiter (fake reader and clock), restart, history, undo."""

import copy
import datetime

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout as ro
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError

NS = "mplp-production"


def dep(
    name="mplp-core",
    replicas=2,
    updated=None,
    ready=None,
    available=None,
    total=None,
    generation=1,
    observed=1,
    paused=False,
    progressing=None,
    uid=None,
):
    updated = replicas if updated is None else updated
    ready = updated if ready is None else ready
    available = ready if available is None else available
    total = updated if total is None else total
    spec = {"selector": {"matchLabels": {"app": name}}, "template": template("mplp/core:1.0")}
    if replicas is not None:
        spec["replicas"] = replicas
    if paused:
        spec["paused"] = True
    status = {"observedGeneration": observed}
    # zero counts are omitted, as the API does
    for key, value in (
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
    ):
        if value:
            status[key] = value
    if progressing:
        status["conditions"] = [
            {
                "type": "Progressing",
                "status": "False",
                "reason": progressing,
                "message": 'ReplicaSet "x" has timed out progressing.',
            }
        ]
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "generation": generation, "uid": uid or "uid-" + name},
        "spec": spec,
        "status": status,
    }


def sts(
    replicas=3,
    ready=3,
    updated=3,
    current="r1",
    update="r1",
    partition=None,
    strategy="RollingUpdate",
    observed=1,
):
    strat = {"type": strategy}
    if partition is not None:
        strat["rollingUpdate"] = {"partition": partition}
    status = {
        "observedGeneration": observed,
        "replicas": replicas,
        "readyReplicas": ready,
        "updatedReplicas": updated,
        "currentReplicas": updated if current == update else replicas - updated,
        "currentRevision": current,
        "updateRevision": update,
    }
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "mplp-postgresql", "namespace": NS, "generation": 1, "uid": "uid-pg"},
        "spec": {"replicas": replicas, "updateStrategy": strat, "selector": {"matchLabels": {"app": "pg"}}},
        "status": status,
    }


def ds(desired=3, updated=3, available=3, strategy="RollingUpdate", generation=1, observed=1):
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": NS, "generation": generation},
        "spec": {"updateStrategy": {"type": strategy}},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberReady": available,
        },
    }


def template(image, annotations=None, hash_=None):
    labels = {"app": "mplp-core"}
    if hash_:
        labels[ro.HASH_LABEL] = hash_
    meta = {"labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "core", "image": image, "imagePullPolicy": "IfNotPresent"}]},
    }


# -- rollout_status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj,done,failed,message",
    [
        (dep(), True, False, "successfully rolled out"),
        (dep(generation=2, observed=1), False, False, "waiting for the rollout to be observed"),
        (dep(replicas=3, updated=1, total=3), False, False, "1 out of 3 new replicas have been updated"),
        (dep(replicas=2, updated=2, total=3), False, False, "1 old replicas are pending termination"),
        (dep(replicas=3, updated=3, available=2), False, False, "2 of 3 updated replicas are available"),
        (
            dep(updated=1, total=3, progressing="ProgressDeadlineExceeded"),
            False,
            True,
            "exceeded its progress deadline",
        ),
        (dep(updated=1, total=3, paused=True), False, False, "paused (1 of 2 replicas updated)"),
        (dep(replicas=0, updated=0), True, False, "successfully rolled out"),
    ],
)
def test_deployment_status_follows_kubectl(obj, done, failed, message):
    status = ro.rollout_status(obj)
    assert (status["done"], status["failed"]) == (done, failed)
    assert status["message"].startswith(message)


def test_deployment_status_counts_and_identity():
    status = ro.rollout_status(dep(replicas=3, updated=3, ready=3, available=2))
    assert status == {
        "kind": "Deployment",
        "name": "mplp-core",
        "namespace": NS,
        "done": False,
        "failed": False,
        "message": "2 of 3 updated replicas are available",
        "replicas": 3,
        "updated": 3,
        "ready": 3,
        "available": 2,
    }


def test_missing_replicas_means_one():
    status = ro.rollout_status(dep(replicas=None, updated=0, total=0))
    assert status["replicas"] == 1 and status["message"] == "0 out of 1 new replicas have been updated"


def test_an_old_deadline_does_not_fail_a_rollout_not_yet_observed():
    status = ro.rollout_status(dep(generation=3, observed=2, progressing="ProgressDeadlineExceeded"))
    assert status["failed"] is False and status["done"] is False


@pytest.mark.parametrize(
    "obj,done,message",
    [
        (sts(), True, "rolling update complete: 3 pods at revision r1"),
        (sts(ready=2), False, "waiting for 1 pods to be ready"),
        (sts(updated=1, update="r2"), False, "partitioned roll out: 1 out of 3 new pods have been updated"),
        (
            sts(updated=3, update="r2"),
            False,
            "waiting for the rolling update to complete: 3 pods at revision r2",
        ),
        (sts(updated=1, update="r2", partition=2), True, "partitioned roll out complete: 1 new pods"),
        (sts(updated=0, update="r2", partition=2), False, "partitioned roll out: 0 out of 1 new pods"),
        (
            sts(updated=0, update="r2", strategy="OnDelete"),
            True,
            "update strategy OnDelete: pods are replaced only when deleted",
        ),
        (sts(observed=0), False, "waiting for the rollout to be observed"),
    ],
)
def test_statefulset_status(obj, done, message):
    status = ro.rollout_status(obj)
    assert status["done"] is done and status["failed"] is False
    assert status["message"].startswith(message)


@pytest.mark.parametrize(
    "obj,done,message",
    [
        (ds(), True, "successfully rolled out"),
        (ds(updated=1), False, "1 out of 3 new pods have been updated"),
        (ds(available=2), False, "2 of 3 updated pods are available"),
        (ds(generation=2), False, "waiting for the rollout to be observed"),
        (ds(updated=0, strategy="OnDelete"), True, "update strategy OnDelete"),
    ],
)
def test_daemonset_status(obj, done, message):
    status = ro.rollout_status(obj)
    assert status["done"] is done and status["message"].startswith(message)
    assert status["replicas"] == 3


def test_other_kinds_are_refused():
    with pytest.raises(ro.RolloutError, match="ReplicaSet: rollout status is only defined for Deployment"):
        ro.rollout_status({"kind": "ReplicaSet", "metadata": {"name": "x"}})


# -- pods -----------------------------------------------------------------------------------


def pod(
    name,
    owner_uid,
    ready=False,
    waiting=None,
    unschedulable=None,
    running=False,
    labels=None,
    init_waiting=None,
):
    status = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if unschedulable:
        status["conditions"].append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        )
    if waiting:
        status["containerStatuses"] = [
            {"name": "core", "ready": False, "state": {"waiting": {"reason": waiting, "message": "details"}}}
        ]
    if running:
        status["phase"] = "Running"
        status["containerStatuses"] = [{"name": "core", "ready": ready, "state": {"running": {}}}]
    if init_waiting:
        status["initContainerStatuses"] = [
            {"name": "migrate", "state": {"waiting": {"reason": init_waiting}}}
        ]
    return {
        "metadata": {
            "name": name,
            "uid": "uid-" + name,
            "labels": labels or {},
            "ownerReferences": [{"kind": "ReplicaSet", "uid": owner_uid, "controller": True}],
        },
        "status": status,
    }


def rs(
    name,
    revision,
    owner="uid-mplp-core",
    image="mplp/core:1.0",
    annotations=None,
    replicas=2,
    created="2026-11-20T10:00:00Z",
):
    ann = {ro.REVISION: str(revision)}
    ann.update(annotations or {})
    return {
        "metadata": {
            "name": name,
            "uid": "uid-" + name,
            "creationTimestamp": created,
            "annotations": ann,
            "ownerReferences": [
                {"kind": "Deployment", "name": "mplp-core", "uid": owner, "controller": True}
            ],
        },
        "spec": {"replicas": replicas, "template": template(image, hash_=name.rsplit("-", 1)[-1])},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


@pytest.mark.parametrize(
    "kwargs,reason,message",
    [
        ({"waiting": "ImagePullBackOff"}, "ImagePullBackOff", "container core: details"),
        ({"waiting": "CrashLoopBackOff", "running": False}, "CrashLoopBackOff", "container core: details"),
        ({"unschedulable": "0/2 nodes are available"}, "Unschedulable", "0/2 nodes are available"),
        ({"running": True}, "NotReady", "container core: running but not ready (readiness probe)"),
        ({"init_waiting": "CrashLoopBackOff"}, "Init:CrashLoopBackOff", "container migrate"),
        ({}, "Pending", ""),
    ],
)
def test_pod_problem_reads_the_pod_status(kwargs, reason, message):
    assert ro.pod_problem(pod("p", "u", **kwargs)) == (reason, message)


def test_ready_pods_have_no_problem():
    assert ro.pod_problem(pod("p", "u", ready=True, running=True)) is None


def test_unready_pods_of_the_newest_replicaset_first_by_owner_uid():
    replicasets = [rs("mplp-core-old", 1), rs("mplp-core-new", 2), rs("mplp-core-x", 9, owner="uid-other")]
    pods = [
        pod("mplp-core-old-a", "uid-mplp-core-old", running=True),
        pod("mplp-core-new-b", "uid-mplp-core-new", waiting="ImagePullBackOff"),
        pod("mplp-core-new-a", "uid-mplp-core-new", ready=True, running=True),
        pod("mplp-core-x-a", "uid-mplp-core-x", waiting="CrashLoopBackOff"),  # name-alike, other owner
    ]
    found = ro.unready_pods(dep(), pods, replicasets)
    assert [(p["name"], p["reason"]) for p in found] == [
        ("mplp-core-new-b", "ImagePullBackOff"),
        ("mplp-core-old-a", "NotReady"),
    ]
    assert ro.unready_pods(dep(), pods, replicasets, limit=1)[0]["name"] == "mplp-core-new-b"


def test_unready_statefulset_pods_at_the_update_revision_first():
    obj = sts(updated=1, update="r2")
    pods = [
        pod("mplp-postgresql-0", "uid-pg", running=True, labels={ro.STS_HASH_LABEL: "r1"}),
        pod("mplp-postgresql-2", "uid-pg", waiting="CrashLoopBackOff", labels={ro.STS_HASH_LABEL: "r2"}),
    ]
    assert [p["name"] for p in ro.unready_pods(obj, pods)] == ["mplp-postgresql-2", "mplp-postgresql-0"]


def test_label_selector_string():
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "x", "operator": "NotIn", "values": ["y"]},
            {"key": "e", "operator": "Exists"},
            {"key": "d", "operator": "DoesNotExist"},
        ],
    }
    assert ro.label_selector(selector) == "a=1,b=2,tier in (web,api),x notin (y),e,!d"


def test_failure_message_names_workload_cause_and_pods():
    result = dict(
        ro.rollout_status(dep(updated=2, available=1)),
        message="rollout did not finish within 30 s: 1 of 2 updated replicas are available",
        pods=[{"name": "mplp-core-abc12", "reason": "ImagePullBackOff", "message": ""}],
    )
    assert ro.failure_message(result) == (
        "Deployment mplp-core in mplp-production: rollout did not finish within 30 s: "
        "1 of 2 updated replicas are available; pod mplp-core-abc12: ImagePullBackOff"
    )


# -- the waiter -----------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Reader:
    """Answers from ``script(t)``: the workloads at clock time t (or an exception to raise)."""

    def __init__(self, clock, script, pods=(), replicasets=()):
        self.clock = clock
        self.script = script
        self.pods = list(pods)
        self.replicasets = list(replicasets)
        self.calls = []

    def _state(self):
        state = self.script(self.clock.now - 100.0)
        if isinstance(state, Exception):
            raise state
        return state

    def get_optional(self, path, what, timeout=None):
        self.calls.append(("GET", path))
        parts = path.split("/")
        for obj in self._state():
            if resources.get(obj["kind"]).plural == parts[-2] and obj["metadata"]["name"] == parts[-1]:
                return copy.deepcopy(obj)
        return None

    def list(self, path, what, label_selector=None, field_selector=None, timeout=None):
        self.calls.append(("LIST", path, label_selector))
        plural = path.rsplit("/", 1)[-1]
        if plural == "pods":
            return copy.deepcopy(self.pods)
        if plural == "replicasets":
            return copy.deepcopy(self.replicasets)
        items = []
        for obj in self._state():
            if resources.get(obj["kind"]).plural == plural:
                item = copy.deepcopy(obj)
                del item["kind"]  # list items carry no kind
                items.append(item)
        return items


def target(name="mplp-core", kind="Deployment"):
    return {"kind": kind, "namespace": NS, "name": name}


def test_waits_until_done_and_reports_the_seconds():
    clock = Clock()

    def script(t):
        if t < 3:
            return [dep(updated=1, total=3, replicas=2)]
        return [dep()]

    reader = Reader(clock, script)
    [result] = ro.wait_rollouts(reader, [target()], 30, clock=clock, sleep=clock.sleep)
    assert result["done"] is True and result["failed"] is False
    assert result["seconds"] == 3.0 and "pods" not in result
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert all(call[0] == "GET" for call in reader.calls)  # one workload: GET, not LIST


def test_several_targets_are_read_with_one_list_per_kind_and_namespace():
    clock = Clock()

    def script(t):
        plan = dep("mplp-plan") if t >= 2 else dep("mplp-plan", updated=0, total=2)
        return [dep("mplp-core"), plan, sts()]

    reader = Reader(clock, script)
    results = ro.wait_rollouts(
        reader,
        [target("mplp-core"), target("mplp-plan"), target("mplp-postgresql", "StatefulSet")],
        30,
        clock=clock,
        sleep=clock.sleep,
    )
    assert [(r["name"], r["done"], r["seconds"]) for r in results] == [
        ("mplp-core", True, 0.0),
        ("mplp-plan", True, 2.0),
        ("mplp-postgresql", True, 0.0),
    ]
    # round 1: one LIST of deployments + one GET of the StatefulSet; then only mplp-plan (GET)
    assert reader.calls[0] == ("LIST", "/apis/apps/v1/namespaces/%s/deployments" % NS, None)
    assert reader.calls[1] == ("GET", "/apis/apps/v1/namespaces/%s/statefulsets/mplp-postgresql" % NS)
    assert reader.calls[2:] == [("GET", "/apis/apps/v1/namespaces/%s/deployments/mplp-plan" % NS)] * 2


def test_timeout_reports_what_it_waited_for_and_the_stuck_pods():
    clock = Clock()
    replicasets = [rs("mplp-core-old", 1), rs("mplp-core-new", 2)]
    pods = [pod("mplp-core-new-abc12", "uid-mplp-core-new", waiting="ImagePullBackOff")]
    reader = Reader(
        clock, lambda t: [dep(updated=2, available=1, total=2)], pods=pods, replicasets=replicasets
    )
    [result] = ro.wait_rollouts(reader, [target()], 30, poll=2, clock=clock, sleep=clock.sleep)
    assert result["done"] is False and result["failed"] is True
    assert result["message"] == "rollout did not finish within 30 s: 1 of 2 updated replicas are available"
    assert result["pods"] == [
        {"name": "mplp-core-new-abc12", "reason": "ImagePullBackOff", "message": "container core: details"}
    ]
    assert result["seconds"] == 30.0 and sum(clock.sleeps) == 30
    # pods are looked up with the workload's selector, not the whole namespace
    assert ("LIST", "/api/v1/namespaces/%s/pods" % NS, "app=mplp-core") in reader.calls
    assert ro.failure_message(result).endswith(
        "1 of 2 updated replicas are available; "
        "pod mplp-core-new-abc12: ImagePullBackOff (container core: details)"
    )


def test_progress_deadline_fails_at_once_and_others_are_reported_as_they_stand():
    clock = Clock()
    reader = Reader(
        clock,
        lambda t: [
            dep("mplp-core", updated=1, total=3, progressing="ProgressDeadlineExceeded"),
            dep("mplp-plan", available=1),
        ],
    )
    core, plan = ro.wait_rollouts(
        reader, [target("mplp-core"), target("mplp-plan")], 300, clock=clock, sleep=clock.sleep
    )
    assert core["failed"] is True and core["message"].startswith("exceeded its progress deadline")
    assert core["pods"] == []
    assert plan["failed"] is False and plan["done"] is False
    assert plan["message"] == "1 of 2 updated replicas are available"
    assert clock.sleeps == []  # no waiting for a rollout that failed


def test_a_paused_deployment_fails_at_once_it_cannot_progress():
    clock = Clock()
    reader = Reader(clock, lambda t: [dep(updated=1, total=2, paused=True)])
    [result] = ro.wait_rollouts(reader, [target()], 300, clock=clock, sleep=clock.sleep)
    assert result["failed"] is True and "paused" in result["message"] and clock.sleeps == []


def test_a_missing_workload_fails_naming_it():
    clock = Clock()
    reader = Reader(clock, lambda t: [dep()])
    core, ghost = ro.wait_rollouts(reader, [target(), target("ghost")], 30, clock=clock, sleep=clock.sleep)
    assert core["done"] is True
    assert (
        ghost["failed"] is True and ghost["message"] == "Deployment ghost does not exist in namespace %s" % NS
    )


def test_transient_api_errors_are_retried_until_the_api_answers():
    clock = Clock()

    def script(t):
        if t < 4:
            return ApiError(
                "unreachable", "cannot reach the Kubernetes API at https://k (connection refused)"
            )
        if t < 6:
            return ApiError("error", "HTTP 503 from the Kubernetes API", 503)
        return [dep()]

    [result] = ro.wait_rollouts(Reader(clock, script), [target()], 30, clock=clock, sleep=clock.sleep)
    assert result["done"] is True and result["seconds"] == 6.0


def test_an_api_that_never_comes_back_is_named_at_the_deadline():
    clock = Clock()

    def script(t):
        if t < 2:
            return [dep(updated=1, total=2)]
        return ApiError("timeout", "timed out while trying to read Deployment mplp-core at https://k")

    [result] = ro.wait_rollouts(Reader(clock, script), [target()], 10, clock=clock, sleep=clock.sleep)
    assert result["failed"] is True and result["done"] is False
    assert result["message"] == (
        "the Kubernetes API stopped answering (timed out while trying to read Deployment mplp-core at "
        "https://k); rollout not confirmed within 10 s; last seen: 1 out of 2 new replicas have been updated"
    )
    assert clock.now - 100 == 10


def test_a_forbidden_read_is_not_retried():
    clock = Clock()
    denied = ApiError("forbidden", "permission denied to read Deployment mplp-core: forbidden", 403)
    [result] = ro.wait_rollouts(
        Reader(clock, lambda t: denied), [target()], 30, clock=clock, sleep=clock.sleep
    )
    assert result["failed"] is True and clock.sleeps == []
    assert (
        result["message"]
        == "cannot read the rollout status: permission denied to read Deployment mplp-core: forbidden"
    )


def test_zero_timeout_reads_once():
    clock = Clock()
    reader = Reader(clock, lambda t: [dep(updated=1, total=2)])
    [result] = ro.wait_rollouts(reader, [target()], 0, clock=clock, sleep=clock.sleep)
    assert result["failed"] is True and result["message"].startswith("rollout did not finish within 0 s")
    assert clock.sleeps == [] and len([c for c in reader.calls if c[0] == "GET"]) == 1


def test_pod_diagnosis_failure_does_not_hide_the_result():
    clock = Clock()

    class Flaky(Reader):
        def list(self, path, what, label_selector=None, field_selector=None, timeout=None):
            if path.endswith("/pods"):
                raise ApiError("forbidden", "permission denied to list pods", 403)
            return super().list(path, what, label_selector, field_selector)

    [result] = ro.wait_rollouts(
        Flaky(clock, lambda t: [dep(updated=1, total=2)]), [target()], 2, clock=clock, sleep=clock.sleep
    )
    assert result["failed"] is True and result["pods"] == []
    assert result["message"] == "rollout did not finish within 2 s: 1 out of 2 new replicas have been updated"


# -- restart, pause, resume -----------------------------------------------------------------


def test_rfc3339_is_what_kubectl_writes():
    utc = datetime.datetime(2026, 11, 22, 4, 5, 6, 789000, tzinfo=datetime.UTC)
    assert ro.rfc3339(utc) == "2026-11-22T04:05:06Z"
    cet = datetime.datetime(2026, 11, 22, 5, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert ro.rfc3339(cet) == "2026-11-22T05:05:06+01:00"
    assert datetime.datetime.fromisoformat(ro.rfc3339()).tzinfo is not None  # now, local, with an offset


def test_restart_stamps_the_pod_template():
    obj = dep()
    obj["spec"]["template"]["metadata"]["annotations"] = {
        ro.RESTARTED_AT: "2026-11-01T00:00:00Z",
        "keep": "me",
    }
    plan = ro.plan_restart(obj, datetime.datetime(2026, 11, 22, 4, 0, 0, tzinfo=datetime.UTC))
    # a merge patch of the one annotation: the template's other annotations stay
    assert plan["patch"] == {
        "spec": {"template": {"metadata": {"annotations": {ro.RESTARTED_AT: "2026-11-22T04:00:00Z"}}}}
    }
    assert plan["before"] == {"restartedAt": "2026-11-01T00:00:00Z"}
    assert plan["after"] == {"restartedAt": "2026-11-22T04:00:00Z"}
    assert ro.plan_restart(sts())["before"] == {"restartedAt": None}


def test_restart_refuses_a_paused_deployment():
    with pytest.raises(
        ro.RolloutError, match="Deployment mplp-core in mplp-production: cannot restart a paused"
    ):
        ro.plan_restart(dep(paused=True))


def test_pause_and_resume_are_idempotent():
    assert ro.plan_pause(dep(), True)["patch"] == {"spec": {"paused": True}}
    assert ro.plan_pause(dep(paused=True), True)["patch"] is None
    plan = ro.plan_pause(dep(paused=True), False)
    assert plan == {
        "patch": {"spec": {"paused": False}},
        "before": {"paused": True},
        "after": {"paused": False},
    }
    assert ro.plan_pause(dep(), False)["patch"] is None


def test_only_deployments_pause():
    with pytest.raises(
        ro.RolloutError, match="StatefulSet mplp-postgresql in mplp-production: pausing is only"
    ):
        ro.plan_pause(sts(), True)


# -- history --------------------------------------------------------------------------------


def history_objects():
    """mplp-core at revision 3 (image 1.2); revisions 1 and 2 kept, one foreign ReplicaSet."""
    obj = dep()
    obj["metadata"]["annotations"] = {ro.REVISION: "3", ro.CHANGE_CAUSE: "deploy 1.2"}
    obj["spec"]["template"] = template("mplp/core:1.2")
    replicasets = [
        rs("mplp-core-ccc", 3, image="mplp/core:1.2", replicas=2, created="2026-11-22T10:00:00Z"),
        rs("mplp-core-aaa", 1, image="mplp/core:1.0", replicas=0, annotations={ro.CHANGE_CAUSE: "first"}),
        rs(
            "mplp-core-bbb", 2, image="mplp/core:1.1", replicas=0, annotations={ro.CHANGE_CAUSE: "deploy 1.1"}
        ),
        rs("mplp-core-zzz", 7, owner="uid-mplp-core-canary", image="mplp/core:9"),  # same prefix, other owner
        {
            "metadata": {
                "name": "mplp-core-norev",
                "ownerReferences": [{"uid": "uid-mplp-core", "controller": True}],
            }
        },
    ]
    return obj, replicasets


def test_deployment_history_from_owned_replicasets_sorted_by_revision():
    obj, replicasets = history_objects()
    history = ro.rollout_history(obj, replicasets)
    assert [(h["revision"], h["name"], h["images"], h["change_cause"], h["current"]) for h in history] == [
        (1, "mplp-core-aaa", ["mplp/core:1.0"], "first", False),
        (2, "mplp-core-bbb", ["mplp/core:1.1"], "deploy 1.1", False),
        # the controller has not copied the change-cause onto the current ReplicaSet yet
        (3, "mplp-core-ccc", ["mplp/core:1.2"], "deploy 1.2", True),
    ]
    assert history[-1]["replicas"] == 2 and history[-1]["created"] == "2026-11-22T10:00:00Z"
    assert ro.current_revision(obj, replicasets) == 3


def controller_revision(name, number, image, owner="uid-pg"):
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-11-20T10:00:00Z",
            "ownerReferences": [{"kind": "StatefulSet", "uid": owner, "controller": True}],
        },
        "revision": number,
        "data": {"spec": {"template": dict(template(image), **{"$patch": "replace"})}},
    }


def test_statefulset_history_from_controller_revisions():
    obj = sts(update="mplp-postgresql-b", current="mplp-postgresql-b")
    obj["spec"]["template"] = template("postgres:16")
    revisions = [
        controller_revision("mplp-postgresql-b", 2, "postgres:16"),
        controller_revision("mplp-postgresql-a", 1, "postgres:15"),
        controller_revision("other-a", 5, "redis:7", owner="uid-redis"),
    ]
    history = ro.rollout_history(obj, revisions)
    assert [(h["revision"], h["images"], h["current"]) for h in history] == [
        (1, ["postgres:15"], False),
        (2, ["postgres:16"], True),
    ]
    assert "replicas" not in history[0]
    assert ro.current_revision(obj, revisions) == 2


# -- undo -----------------------------------------------------------------------------------


def test_merge_patch_nulls_what_goes_and_replaces_lists_whole():
    current = {"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2], "gone": {"k": 1}}
    target = {"a": 1, "m": {"x": 1, "z": 3}, "l": [2], "new": {"k": []}}
    assert ro.merge_patch(current, target) == {
        "gone": None,
        "m": {"y": None, "z": 3},
        "l": [2],
        "new": {"k": []},
    }
    assert ro.merge_patch(current, current) == {}


def apply_merge_patch(obj, patch):
    """RFC 7386, to check that a patch really produces the target."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


def test_undo_goes_to_the_previous_revision_template_without_the_hash_label():
    obj, replicasets = history_objects()
    obj["spec"]["template"]["metadata"]["annotations"] = {ro.RESTARTED_AT: "2026-11-22T09:00:00Z"}
    plan = ro.plan_undo(obj, replicasets)
    assert plan["target_revision"] == 2 and plan["revision_before"] == 3
    assert plan["message"] == "rolled back to revision 2"
    patched = apply_merge_patch(obj, plan["patch"])
    assert patched["spec"]["template"] == template("mplp/core:1.1")  # restartedAt gone, no hash label
    assert patched["metadata"]["annotations"][ro.CHANGE_CAUSE] == "deploy 1.1"
    assert patched["metadata"]["annotations"][ro.REVISION] == "3"  # the controller numbers revisions
    assert plan["before"] == {
        "template_revision": 3,
        "images": ["mplp/core:1.2"],
        "change_cause": "deploy 1.2",
        "template_annotations": {ro.RESTARTED_AT: "2026-11-22T09:00:00Z"},
    }
    assert plan["after"] == {
        "template_revision": 2,
        "images": ["mplp/core:1.1"],
        "change_cause": "deploy 1.1",
        "template_annotations": {},
    }


def test_undo_to_a_revision_without_change_cause_removes_it():
    obj, replicasets = history_objects()
    replicasets[1]["metadata"]["annotations"].pop(ro.CHANGE_CAUSE)
    plan = ro.plan_undo(obj, replicasets, to_revision=1)
    assert plan["patch"]["metadata"] == {"annotations": {ro.CHANGE_CAUSE: None}}
    assert apply_merge_patch(obj, plan["patch"])["spec"]["template"] == template("mplp/core:1.0")


def test_undo_to_the_current_template_changes_nothing():
    obj, replicasets = history_objects()
    plan = ro.plan_undo(obj, replicasets, to_revision=3)
    assert plan["patch"] is None
    assert plan["message"] == "already at revision 3: the current template matches it"
    # after a rollback the template matches an older revision's, which is not current yet
    obj["spec"]["template"] = template("mplp/core:1.1")
    obj["metadata"]["annotations"][ro.REVISION] = "3"
    assert ro.plan_undo(obj, replicasets, to_revision=2)["patch"] is None


@pytest.mark.parametrize(
    "change,to_revision,message",
    [
        (
            None,
            7,
            r"Deployment mplp-core in mplp-production: revision 7 does not exist \(revisions: 1, 2, 3\)",
        ),
        (None, -1, r"revision -1 does not exist"),
        ("paused", None, r"cannot undo a paused Deployment; resume it first"),
        ("no-history", None, r"no previous revision to go back to \(history: 3\)"),
    ],
)
def test_undo_refusals_name_the_workload_and_the_revision(change, to_revision, message):
    obj, replicasets = history_objects()
    if change == "paused":
        obj["spec"]["paused"] = True
    if change == "no-history":
        replicasets = replicasets[:1]
    with pytest.raises(ro.RolloutError, match=message):
        ro.plan_undo(obj, replicasets, to_revision=to_revision)


def test_statefulset_undo_from_controller_revision_data():
    obj = sts(update="mplp-postgresql-b", current="mplp-postgresql-b")
    obj["spec"]["template"] = template("postgres:16")
    revisions = [
        controller_revision("mplp-postgresql-a", 1, "postgres:15"),
        controller_revision("mplp-postgresql-b", 2, "postgres:16"),
    ]
    plan = ro.plan_undo(obj, revisions)
    assert plan["target_revision"] == 1 and "metadata" not in plan["patch"]
    patched = apply_merge_patch(obj, plan["patch"])
    assert patched["spec"]["template"] == template("postgres:15")  # no "$patch" key carried over


def test_an_empty_map_and_a_missing_one_are_the_same_template():
    assert ro.normalized({"metadata": {"labels": {}, "annotations": None}, "spec": {"x": []}}) == {}
    assert ro.without_hash(template("i", hash_="abc")) == template("i")
