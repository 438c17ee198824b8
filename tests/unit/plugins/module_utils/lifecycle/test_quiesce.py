"""The replica record: quiesce keeps the first record, resume needs one."""

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import quiesce as rec


def dep(replicas, recorded=None, name="mplp-core"):
    meta = {"name": name}
    if recorded is not None:
        meta["annotations"] = {rec.RECORDED_REPLICAS: str(recorded)}
    return {"kind": "Deployment", "metadata": meta, "spec": {"replicas": replicas}}


def cron(suspend, recorded=None):
    meta = {"name": "backup"}
    if recorded is not None:
        meta["annotations"] = {rec.RECORDED_SUSPEND: recorded}
    return {"kind": "CronJob", "metadata": meta, "spec": {"suspend": suspend}}


def test_quiesce_records_then_keeps_the_first_record():
    patch, summary = rec.plan_quiesce_workload(dep(3), "restore", "t")
    assert patch["spec"] == {"replicas": 0}
    assert patch["metadata"]["annotations"][rec.RECORDED_REPLICAS] == "3"
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


def test_resume_restores_and_drops_the_record():
    patch, summary = rec.plan_resume_workload(dep(0, recorded=3))
    assert patch["spec"] == {"replicas": 3}
    assert patch["metadata"]["annotations"] == {
        rec.RECORDED_REPLICAS: None,
        rec.QUIESCED_BY: None,
        rec.QUIESCED_AT: None,
    }
    assert summary["replicas_after"] == 3
    assert rec.plan_resume_workload(dep(2))[0] is None  # never quiesced: left alone


def test_missing_replicas_means_one_and_zero_is_a_valid_record():
    obj = {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}
    assert rec.plan_quiesce_workload(obj, "p", "t")[1]["recorded"] == 1
    assert rec.plan_resume_workload(dep(0, recorded=0))[0]["spec"] == {"replicas": 0}


@pytest.mark.parametrize("bad", ["three", "-1"])
def test_a_damaged_record_is_named(bad):
    with pytest.raises(
        rec.RecordError, match="Deployment/mplp-core: annotation multiagent.ops/recorded-replicas="
    ):
        rec.plan_resume_workload(dep(0, recorded=bad))


def test_cronjobs_keep_their_own_suspend_flag():
    patch, summary = rec.plan_quiesce_cronjob(cron(False), "p", "t")
    assert (
        patch["spec"] == {"suspend": True}
        and patch["metadata"]["annotations"][rec.RECORDED_SUSPEND] == "false"
    )
    assert rec.plan_quiesce_cronjob(cron(True, recorded="false"), "p", "t")[0] is None
    # a CronJob that was already suspended stays suspended after resume
    patch, summary = rec.plan_resume_cronjob(cron(True, recorded="true"))
    assert patch["spec"] == {"suspend": True} and summary["suspended_after"] is True
    patch, _summary = rec.plan_resume_cronjob(cron(True, recorded="false"))
    assert patch["spec"] == {"suspend": False}
    with pytest.raises(rec.RecordError, match="is not true or false"):
        rec.plan_resume_cronjob(cron(True, recorded="maybe"))
