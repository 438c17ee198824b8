"""k8s_rollout glue: selection, planning before writing, check and diff mode, waiting, messages."""

import copy
import datetime

import fakes
import pytest
from fakes import Exit, merge

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout as ro
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.modules import k8s_rollout

NS = "mplp-production"
NOW = datetime.datetime(2026, 11, 22, 4, 0, 0, tzinfo=datetime.UTC)


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(k8s_rollout, check_mode, diff, **dict({"namespace": NS}, **params))


def deployment(name, image="mplp/core:1.1", paused=False, revision=2):
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": "uid-" + name,
            "generation": 1,
            "labels": {"app.kubernetes.io/part-of": "mplp"},
            "annotations": {ro.REVISION: str(revision)},
        },
        "spec": {
            "replicas": 2,
            "paused": paused,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    }


def replicaset(owner, revision, image):
    name = "%s-%d" % (owner["metadata"]["name"], revision)
    template = copy.deepcopy(owner["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    template["metadata"]["labels"][ro.HASH_LABEL] = "h%d" % revision
    return {
        "metadata": {
            "name": name,
            "uid": "uid-" + name,
            "annotations": {ro.REVISION: str(revision)},
            "ownerReferences": [{"uid": owner["metadata"]["uid"], "controller": True}],
        },
        "spec": {"replicas": 0, "template": template},
    }


class Cluster:
    """An API with Deployments and ReplicaSets. A PATCH bumps the generation; the controller
    (``settle``) then rolls it out at once, unless ``stuck`` names the Deployment."""

    def __init__(self, *deployments, stuck=(), patch_status=200):
        self.deployments = {d["metadata"]["name"]: d for d in deployments}
        self.replicasets = []
        for d in deployments:
            self.replicasets += [replicaset(d, 1, "mplp/core:1.0"), replicaset(d, 2, "mplp/core:1.1")]
        self.stuck = set(stuck)
        self.patch_status = patch_status
        self.patches = []
        self.calls = []

    def settle(self):
        for name, d in self.deployments.items():
            if name in self.stuck or d["spec"].get("paused"):
                continue
            d["status"]["observedGeneration"] = d["metadata"]["generation"]

    def get_optional(self, path, what, timeout=None):
        self.calls.append(("GET", path))
        self.settle()
        obj = self.deployments.get(path.rsplit("/", 1)[1])
        return copy.deepcopy(obj) if obj else None

    def list(self, path, what, label_selector=None, field_selector=None, timeout=None):
        self.calls.append(("LIST", path))
        self.settle()
        if path.endswith("/replicasets"):
            return copy.deepcopy(self.replicasets)
        if path.endswith("/pods"):
            return []
        items = list(self.deployments.values())
        if label_selector:
            key, value = label_selector.split("=")
            items = [d for d in items if d["metadata"]["labels"].get(key) == value]
        return copy.deepcopy(items)

    def send(self, method, path, body, what, **_):
        assert method == "PATCH"
        name = path.rsplit("/", 1)[1]
        self.patches.append((name, copy.deepcopy(body)))
        if self.patch_status is None:
            raise ApiError("unreachable", "cannot reach the Kubernetes API at https://k (connection refused)")
        if self.patch_status != 200:
            return self.patch_status, {"message": "admission webhook denied the request"}
        d = self.deployments[name]
        merge(d, body)
        if "spec" in body:
            d["metadata"]["generation"] += 1
        return 200, copy.deepcopy(d)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run(module, cluster, now=NOW):
    clock = Clock()
    with pytest.raises(Exit):
        finish(module, ro.run, cluster, clock=clock, sleep=clock.sleep, now=lambda: now)
    return module.result


def test_restart_patches_every_workload_then_waits_for_all():
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan"))
    result = run(FakeModule(names=["mplp-core", "mplp-plan"], action="restart"), cluster)
    assert result["failed"] is False and result["changed"] is True
    stamp = {"spec": {"template": {"metadata": {"annotations": {ro.RESTARTED_AT: "2026-11-22T04:00:00Z"}}}}}
    assert cluster.patches == [("mplp-core", stamp), ("mplp-plan", stamp)]
    assert [(w["name"], w["changed"], w["status"]["done"]) for w in result["workloads"]] == [
        ("mplp-core", True, True),
        ("mplp-plan", True, True),
    ]
    # one LIST to select both, one LIST per wait round, not one GET per workload
    assert all(call[0] == "LIST" for call in cluster.calls)


def test_check_mode_writes_nothing_and_shows_the_diff():
    cluster = Cluster(deployment("mplp-core"))
    result = run(FakeModule(check_mode=True, diff=True, name="mplp-core", action="restart"), cluster)
    assert result["changed"] is True and cluster.patches == []
    assert result["diff"] == {
        "before": {"Deployment/mplp-core": {"restartedAt": None}},
        "after": {"Deployment/mplp-core": {"restartedAt": "2026-11-22T04:00:00Z"}},
    }
    assert "seconds" not in result["workloads"][0]["status"]  # no waiting in check mode


def test_a_restart_in_the_same_second_as_the_last_one_waits_for_the_next_second():
    core = deployment("mplp-core")
    core["spec"]["template"]["metadata"]["annotations"] = {ro.RESTARTED_AT: "2026-11-22T04:00:00Z"}
    cluster = Cluster(core)
    clock = Clock()
    times = iter([NOW, NOW + datetime.timedelta(seconds=1)])
    module = FakeModule(name="mplp-core", action="restart", wait=False)
    with pytest.raises(Exit):
        finish(module, ro.run, cluster, clock=clock, sleep=clock.sleep, now=lambda: next(times))
    assert clock.sleeps == [1.0]
    assert cluster.patches[0][1]["spec"]["template"]["metadata"]["annotations"] == {
        ro.RESTARTED_AT: "2026-11-22T04:00:01Z"
    }


def test_a_missing_workload_fails_before_anything_is_written():
    cluster = Cluster(deployment("mplp-core"))
    result = run(FakeModule(names=["mplp-core", "ghost"], action="restart"), cluster)
    assert result["failed"] is True and cluster.patches == []
    assert (
        result["msg"] == "restart: Deployment ghost does not exist in namespace %s; nothing was changed" % NS
    )


def test_an_unknown_revision_fails_before_anything_is_written():
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan"))
    result = run(FakeModule(names=["mplp-core", "mplp-plan"], action="undo", to_revision=7), cluster)
    assert result["failed"] is True and cluster.patches == []
    assert result["msg"] == (
        "undo of Deployment mplp-core in %s: revision 7 does not exist (revisions: 1, 2); nothing was changed"
        % NS
    )


def test_undo_puts_back_the_previous_template_and_is_idempotent():
    cluster = Cluster(deployment("mplp-core"))
    result = run(FakeModule(name="mplp-core", action="undo", to_revision=1), cluster)
    assert result["failed"] is False and result["changed"] is True
    assert (
        cluster.deployments["mplp-core"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "mplp/core:1.0"
    )
    assert ro.HASH_LABEL not in cluster.deployments["mplp-core"]["spec"]["template"]["metadata"]["labels"]
    [workload] = result["workloads"]
    assert (workload["revision_before"], workload["target_revision"]) == (2, 1)
    again = run(FakeModule(name="mplp-core", action="undo", to_revision=1), cluster)
    assert again["changed"] is False and len(cluster.patches) == 1
    assert again["workloads"][0]["message"] == "already at revision 1: the current template matches it"


def test_undo_to_revisions_puts_each_workload_back_to_its_own_revision():
    """An upgrade's rollback: one call, each workload to the revision it ran before; one
    that still runs its revision is left alone."""
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan"))
    result = run(FakeModule(action="undo", to_revisions={"mplp-core": 1, "mplp-plan": "2"}), cluster)
    assert result["failed"] is False and result["changed"] is True
    assert [(w["name"], w["changed"], w["target_revision"]) for w in result["workloads"]] == [
        ("mplp-core", True, 1),
        ("mplp-plan", False, 2),
    ]
    assert [name for name, _body in cluster.patches] == ["mplp-core"]
    images = {
        n: d["spec"]["template"]["spec"]["containers"][0]["image"] for n, d in cluster.deployments.items()
    }
    assert images == {"mplp-core": "mplp/core:1.0", "mplp-plan": "mplp/core:1.1"}


def test_undo_to_revisions_checks_every_revision_before_writing():
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan"))
    result = run(FakeModule(action="undo", to_revisions={"mplp-core": 1, "mplp-plan": 7}), cluster)
    assert result["failed"] is True and cluster.patches == []
    assert result["msg"] == (
        "undo of Deployment mplp-plan in %s: revision 7 does not exist (revisions: 1, 2); nothing was changed"
        % NS
    )


def test_pause_and_resume_change_only_what_differs():
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan", paused=True))
    result = run(FakeModule(names=["mplp-core", "mplp-plan"], action="pause"), cluster)
    assert [w["changed"] for w in result["workloads"]] == [True, False]
    assert cluster.patches == [("mplp-core", {"spec": {"paused": True}})]
    assert result["workloads"][1]["message"] == "already paused"
    result = run(FakeModule(names=["mplp-core", "mplp-plan"], action="resume"), cluster)
    assert result["changed"] is True and result["failed"] is False
    assert not any(d["spec"]["paused"] for d in cluster.deployments.values())
    assert run(FakeModule(names=["mplp-core", "mplp-plan"], action="resume"), cluster)["changed"] is False


def test_status_is_read_only_and_fails_naming_what_did_not_finish():
    cluster = Cluster(deployment("mplp-core"), stuck=["mplp-core"])
    cluster.deployments["mplp-core"]["metadata"]["generation"] = 2
    result = run(FakeModule(name="mplp-core", action="status", wait_timeout=5), cluster)
    assert result["failed"] is True and result["changed"] is False and cluster.patches == []
    assert result["msg"] == (
        "status of Deployment mplp-core in %s: rollout did not finish within 5 s: "
        "waiting for the rollout to be observed (generation 2, observed 1)" % NS
    )


def test_status_without_wait_only_reports():
    cluster = Cluster(deployment("mplp-core"), stuck=["mplp-core"])
    cluster.deployments["mplp-core"]["metadata"]["generation"] = 2
    result = run(FakeModule(name="mplp-core", action="status", wait=False), cluster)
    assert result["failed"] is False and result["workloads"][0]["status"]["done"] is False


def test_a_stuck_restart_says_the_change_was_made():
    cluster = Cluster(deployment("mplp-core"), stuck=["mplp-core"])
    result = run(FakeModule(name="mplp-core", action="restart", wait_timeout=3), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith(
        "restart of Deployment mplp-core in %s: rollout did not finish within 3 s" % NS
    )
    assert result["msg"].endswith("(the restart was applied; run action=status to wait again)")


def test_history_by_label_selector_is_read_only():
    cluster = Cluster(deployment("mplp-plan"), deployment("mplp-core"))
    result = run(FakeModule(label_selector="app.kubernetes.io/part-of=mplp", action="history"), cluster)
    assert result["changed"] is False and "diff" not in result
    assert [w["name"] for w in result["workloads"]] == ["mplp-core", "mplp-plan"]
    assert [(h["revision"], h["images"], h["current"]) for h in result["workloads"][0]["history"]] == [
        (1, ["mplp/core:1.0"], False),
        (2, ["mplp/core:1.1"], True),
    ]


def test_a_selector_matching_nothing_fails():
    result = run(FakeModule(label_selector="app=none", action="status"), Cluster(deployment("mplp-core")))
    assert result["failed"] is True
    assert (
        result["msg"]
        == "No Deployment in namespace %s matches label selector 'app=none'; nothing was changed" % NS
    )


def test_a_refused_patch_names_what_was_already_done():
    cluster = Cluster(deployment("mplp-core"), patch_status=403)
    result = run(FakeModule(name="mplp-core", action="pause"), cluster)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        "Failed to pause Deployment mplp-core in %s: HTTP 403 admission webhook denied the request; "
        "already done: nothing" % NS
    )


@pytest.mark.parametrize(
    "params,message",
    [
        ({"name": "x", "action": "restart", "to_revision": 2}, "to_revision is only used with action=undo"),
        ({"names": [], "action": "status"}, "names is empty"),
        ({"name": "x", "action": "status", "wait_timeout": -1}, "wait_timeout must be 0 or more"),
        ({"to_revisions": {"x": 2}, "action": "restart"}, "to_revisions is only used with action=undo"),
        ({"to_revisions": {}, "action": "undo"}, "to_revisions is empty"),
        (
            {"to_revisions": {"x": "two", "y": 0}, "action": "undo"},
            "to_revisions: revisions are whole numbers of 1 or more, got x='two', y=0",
        ),
    ],
)
def test_bad_input_fails_before_any_request(params, message):
    cluster = Cluster()
    result = run(FakeModule(**params), cluster)
    assert result["failed"] is True and message in result["msg"] and cluster.calls == []


def test_a_write_without_answer_names_what_was_already_done():
    cluster = Cluster(deployment("mplp-core"), deployment("mplp-plan", paused=True), patch_status=None)
    result = run(FakeModule(names=["mplp-plan", "mplp-core"], action="pause"), cluster)
    assert result["failed"] is True
    assert result["msg"] == (
        "Failed to pause Deployment mplp-core in %s: cannot reach the Kubernetes API at https://k "
        "(connection refused) (no answer: whether this change was made is unknown); already done: nothing"
        % NS
    )


def test_a_failed_rollout_is_told_apart_from_one_still_rolling():
    core, plan = deployment("mplp-core"), deployment("mplp-plan")
    core["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "timed out.",
        }
    ]
    plan["status"]["availableReplicas"] = 1
    result = run(FakeModule(names=["mplp-core", "mplp-plan"], action="status"), Cluster(core, plan))
    assert result["msg"] == (
        "status of Deployment mplp-core in %s: exceeded its progress deadline (ProgressDeadlineExceeded): "
        "timed out | still rolling out when that failed: Deployment mplp-plan in %s "
        "(1 of 2 updated replicas are available)" % (NS, NS)
    )
