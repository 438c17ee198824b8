"""The replica record: quiesce keeps the first record, restore needs one; the runner reads
everything first, patches through the one patch loop and waits through the one waiter."""

import datetime

import fakes
import pytest
from fakes import Exit, FakeApi

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import quiesce as rec
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.modules import quiesce as quiesce_module

NS = "mplp-production"
NOW = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.UTC)


def dep(replicas, recorded=None, name="mplp-core"):
    meta = {"name": name}
    if recorded is not None:
        meta["annotations"] = {records.RECORDED_REPLICAS: str(recorded)}
    return {"kind": "Deployment", "metadata": meta, "spec": {"replicas": replicas}}


def cron(suspend, recorded=None):
    meta = {"name": "backup"}
    if recorded is not None:
        meta["annotations"] = {records.RECORDED_SUSPEND: recorded}
    return {"kind": "CronJob", "metadata": meta, "spec": {"suspend": suspend}}


def test_quiesce_records_then_keeps_the_first_record():
    patch, summary = rec.plan_quiesce_workload(dep(3), "restore", "t")
    assert patch["spec"] == {"replicas": 0}
    assert patch["metadata"]["annotations"][records.RECORDED_REPLICAS] == "3"
    assert summary == {
        "object": "Deployment/mplp-core",
        "replicas_before": 3,
        "recorded": 3,
        "replicas_after": 0,
    }
    # the second run sees 0 replicas and the record: nothing to do, the record stays 3
    assert rec.plan_quiesce_workload(dep(0, recorded=3), "restore", "t")[0] is None
    # scaled up by someone meanwhile: back to zero, the record untouched
    patch, summary = rec.plan_quiesce_workload(dep(2, recorded=3), "restore", "t")
    assert patch == {"spec": {"replicas": 0}} and summary["recorded"] == 3


def test_restore_puts_back_and_drops_the_record():
    patch, summary = rec.plan_restore_workload(dep(0, recorded=3))
    assert patch["spec"] == {"replicas": 3}
    assert patch["metadata"]["annotations"] == {
        records.RECORDED_REPLICAS: None,
        records.QUIESCED_BY: None,
        records.QUIESCED_AT: None,
    }
    assert summary["replicas_after"] == 3
    assert rec.plan_restore_workload(dep(2))[0] is None  # never quiesced: left alone


def test_missing_replicas_means_one_and_zero_is_a_valid_record():
    obj = {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}
    assert rec.plan_quiesce_workload(obj, "p", "t")[1]["recorded"] == 1
    assert rec.plan_restore_workload(dep(0, recorded=0))[0]["spec"] == {"replicas": 0}


@pytest.mark.parametrize("bad", ["three", "-1"])
def test_a_damaged_record_is_named(bad):
    with pytest.raises(
        rec.RecordError, match="Deployment/mplp-core: annotation multiagent.ops/recorded-replicas="
    ):
        rec.plan_restore_workload(dep(0, recorded=bad))


def test_cronjobs_keep_their_own_suspend_flag():
    patch, summary = rec.plan_quiesce_cronjob(cron(False), "p", "t")
    assert (
        patch["spec"] == {"suspend": True}
        and patch["metadata"]["annotations"][records.RECORDED_SUSPEND] == "false"
    )
    assert rec.plan_quiesce_cronjob(cron(True, recorded="false"), "p", "t")[0] is None
    # a CronJob that was already suspended stays suspended after the restore
    patch, summary = rec.plan_restore_cronjob(cron(True, recorded="true"))
    assert patch["spec"] == {"suspend": True} and summary["suspended_after"] is True
    patch, _summary = rec.plan_restore_cronjob(cron(True, recorded="false"))
    assert patch["spec"] == {"suspend": False}
    with pytest.raises(rec.RecordError, match="is not true or false"):
        rec.plan_restore_cronjob(cron(True, recorded="maybe"))


# -- the runner ------------------------------------------------------------------------------


def deployment_path(name):
    return resources.DEPLOYMENT.object_path(NS, name)


def cronjob_path(name):
    return resources.CRON_JOB.object_path(NS, name)


class Cluster(FakeApi):
    """Deployments and CronJobs; a controller moves each Deployment's pods one step toward
    its spec at every read (after ``lag`` reads, never when ``stuck``)."""

    def __init__(self, replicas=None, cronjobs=(), lag=0, stuck=False, refuse=None):
        super().__init__(refuse=refuse)
        self.lag, self.stuck = lag, stuck
        for name, count in (replicas or {}).items():
            self.put_object(
                deployment_path(name),
                {
                    "metadata": {"name": name, "namespace": NS, "generation": 1},
                    "spec": {"replicas": count},
                    "status": {"observedGeneration": 1, "replicas": count, "readyReplicas": count},
                },
            )
        for name in cronjobs:
            self.put_object(cronjob_path(name), {"metadata": {"name": name}, "spec": {"suspend": False}})

    def deployment(self, name):
        return self.objects[deployment_path(name)]

    def patches(self):
        return [path for method, path in self.calls if method == "PATCH"]

    def request(self, path, query=None, **kwargs):
        if self.lag:
            self.lag -= 1
        elif not self.stuck:
            for key, obj in self.objects.items():
                if "/deployments/" in key:
                    want, status = obj["spec"]["replicas"], obj["status"]
                    have = status["replicas"]
                    have += (want > have) - (want < have)
                    status.update(replicas=have, readyReplicas=have, updatedReplicas=have)
                    status["observedGeneration"] = obj["metadata"]["generation"]
        return super().request(path, query, **kwargs)

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        status, answer = super().send(method, path, body, what, content_type, query, idempotent)
        if status == 200 and "/deployments/" in path and "spec" in body:
            self.objects[path]["metadata"]["generation"] += 1
        return status, answer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeModule(fakes.FakeModule):
    """quiesce's module, with AnsibleModule.deprecate."""

    def __init__(self, check_mode=False, diff=False, **params):
        params.setdefault("namespace", NS)
        super().__init__(quiesce_module, check_mode, diff, **params)
        self.deprecations = []

    def deprecate(self, text, version=None, collection_name=None):
        self.deprecations.append((text, version, collection_name))


APP = [{"kind": "Deployment", "name": "mplp-core"}, {"kind": "Deployment", "name": "mplp-plan"}]


def run(module, cluster, clock=None):
    clock = clock or Clock()
    with pytest.raises(Exit):
        finish(module, rec.run, cluster, clock=clock, sleep=clock.sleep, now=lambda: NOW)
    return module.result


def test_quiesce_then_restore_from_a_later_run_waits_each_time():
    cluster = Cluster({"mplp-core": 2, "mplp-plan": 3}, cronjobs=["nightly"])
    result = run(FakeModule(workloads=APP, cronjobs=["*"], purpose="restore"), cluster)
    assert result["failed"] is False and result["changed"] is True
    assert [(w["object"], w["recorded"], w["changed"]) for w in result["workloads"]] == [
        ("Deployment/mplp-core", 2, True),
        ("Deployment/mplp-plan", 3, True),
    ]
    core = cluster.deployment("mplp-core")
    assert core["spec"]["replicas"] == 0 and core["status"]["replicas"] == 0  # waited for the pods
    assert core["metadata"]["annotations"] == {
        records.RECORDED_REPLICAS: "2",
        records.QUIESCED_BY: "restore",
        records.QUIESCED_AT: "2026-11-22T02:00:00Z",
    }
    assert cluster.objects[cronjob_path("nightly")]["spec"]["suspend"] is True
    assert cluster.patches() == [
        deployment_path("mplp-core"),
        deployment_path("mplp-plan"),
        cronjob_path("nightly"),
    ]

    again = run(FakeModule(workloads=APP, cronjobs=["*"]), cluster)
    assert again["changed"] is False and len(cluster.patches()) == 3

    back = run(FakeModule(workloads=APP, cronjobs=["*"], state="restored"), cluster)
    assert back["failed"] is False and back["changed"] is True
    core = cluster.deployment("mplp-core")
    assert (core["spec"]["replicas"], core["status"]["readyReplicas"]) == (2, 2)  # waited until ready
    assert not core["metadata"].get("annotations")
    assert cluster.objects[cronjob_path("nightly")]["spec"]["suspend"] is False
    assert run(FakeModule(workloads=APP, cronjobs=["*"], state="restored"), cluster)["changed"] is False


def test_resumed_is_a_deprecated_name_of_restored():
    cluster = Cluster({"mplp-core": 0})
    cluster.deployment("mplp-core")["metadata"]["annotations"] = {records.RECORDED_REPLICAS: "2"}
    module = FakeModule(workloads=APP[:1], state="resumed")
    result = run(module, cluster)
    assert result["failed"] is False and result["changed"] is True
    assert cluster.deployment("mplp-core")["spec"]["replicas"] == 2
    assert module.deprecations == [
        ("state=resumed is deprecated: use state=restored, which does the same", "2.0.0", "multiagent.ops")
    ]
    module = FakeModule(workloads=APP[:1], state="restored")
    assert run(module, cluster)["changed"] is False and module.deprecations == []


def test_a_missing_object_fails_before_anything_changes():
    cluster = Cluster({"mplp-core": 2})
    result = run(FakeModule(workloads=APP), cluster)
    assert result["failed"] is True and cluster.patches() == []
    assert result["msg"] == "Deployment mplp-plan does not exist in namespace %s; nothing was changed" % NS
    result = run(FakeModule(workloads=APP[:1], cronjobs=["nightly"]), cluster)
    assert result["msg"] == "CronJob nightly does not exist in namespace %s; nothing was changed" % NS
    assert cluster.patches() == []


def test_a_damaged_record_fails_before_anything_changes():
    cluster = Cluster({"mplp-core": 0, "mplp-plan": 0})
    cluster.deployment("mplp-core")["metadata"]["annotations"] = {records.RECORDED_REPLICAS: "2"}
    cluster.deployment("mplp-plan")["metadata"]["annotations"] = {records.RECORDED_REPLICAS: "two"}
    result = run(FakeModule(workloads=APP, state="restored"), cluster)
    assert result["failed"] is True and cluster.patches() == []
    assert result["msg"] == (
        "Deployment/mplp-plan: annotation multiagent.ops/recorded-replicas='two' is not a replica count; "
        "nothing was changed"
    )


def test_check_mode_writes_nothing_waits_for_nothing_and_shows_the_diff():
    cluster = Cluster({"mplp-core": 2})
    result = run(FakeModule(check_mode=True, diff=True, workloads=APP[:1]), cluster)
    assert result["changed"] is True and cluster.patches() == []
    assert result["diff"] == {"before": {"Deployment/mplp-core": 2}, "after": {"Deployment/mplp-core": 0}}
    assert [method for method, _path in cluster.calls] == ["GET"]  # read once, no wait


def test_a_failure_after_a_write_says_what_was_done_and_changed():
    cluster = Cluster({"mplp-core": 2, "mplp-plan": 3}, refuse={("PATCH", deployment_path("mplp-plan")): 403})
    result = run(FakeModule(workloads=APP), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "Failed to quiesce Deployment/mplp-plan: HTTP 403 refused by the test; "
        "already done: Deployment/mplp-core"
    )
    assert [(w["object"], w["changed"]) for w in result["workloads"]] == [
        ("Deployment/mplp-core", True),
        ("Deployment/mplp-plan", False),
    ]
    assert result["cronjobs"] == []


def test_a_failure_of_the_first_write_changed_nothing():
    cluster = Cluster({"mplp-core": 0}, refuse={("PATCH", deployment_path("mplp-core")): 403})
    cluster.deployment("mplp-core")["metadata"]["annotations"] = {records.RECORDED_REPLICAS: "2"}
    result = run(FakeModule(workloads=APP[:1], state="restored"), cluster)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        "Failed to restore Deployment/mplp-core: HTTP 403 refused by the test; already done: nothing"
    )
    assert result["workloads"][0]["changed"] is False


def test_pods_that_stay_fail_the_wait_naming_the_workloads():
    clock = Clock()
    cluster = Cluster({"mplp-core": 2, "mplp-plan": 1}, stuck=True)
    result = run(FakeModule(workloads=APP, wait_timeout=5), cluster, clock)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "still have pods after 5s: Deployment/mplp-core, Deployment/mplp-plan "
        "(the change is made and recorded; re-run to wait again)"
    )
    assert clock.now == 5.0


def test_a_restore_that_is_not_ready_in_time_fails_naming_it():
    cluster = Cluster({"mplp-core": 0}, stuck=True)
    cluster.deployment("mplp-core")["metadata"]["annotations"] = {records.RECORDED_REPLICAS: "2"}
    result = run(FakeModule(workloads=APP[:1], state="restored", wait_timeout=3), cluster)
    assert result["msg"] == (
        "not ready after 3s: Deployment/mplp-core (the change is made and recorded; re-run to wait again)"
    )


def test_the_wait_reads_the_workloads_with_one_list_per_round():
    cluster = Cluster({"mplp-core": 1, "mplp-plan": 1})
    run(FakeModule(workloads=APP), cluster)
    reads = [path for method, path in cluster.calls if method == "GET"]
    assert reads[2:] == [resources.DEPLOYMENT.collection_path(NS)] * (len(reads) - 2)


def test_a_workload_deleted_while_quiescing_has_no_pods_left():
    cluster = Cluster({"mplp-core": 2}, stuck=True)
    original = cluster.send

    def send(method, path, body, what, content_type=None, query=None, idempotent=False):
        answer = original(method, path, body, what, content_type, query, idempotent)
        cluster.objects.pop(path)  # gone right after the patch
        return answer

    cluster.send = send
    result = run(FakeModule(workloads=APP[:1]), cluster)
    assert result["failed"] is False and result["changed"] is True


def test_a_wait_failure_that_is_not_a_timeout_names_its_cause():
    cluster = Cluster({"mplp-core": 2}, stuck=True)
    original = cluster.send

    def send(method, path, body, what, content_type=None, query=None, idempotent=False):
        answer = original(method, path, body, what, content_type, query, idempotent)
        cluster.refuse[("GET", path)] = 403  # the wait may not read it
        return answer

    cluster.send = send
    result = run(FakeModule(workloads=APP[:1]), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "still have pods: Deployment/mplp-core (cannot read the replicas: permission denied to read "
        "Deployment %s/mplp-core: refused by the test) (the change is made and recorded; re-run to wait "
        "again)" % NS
    )
