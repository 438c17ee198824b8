"""Scaling with and without an HPA: range checks, HPA planning, records, restore, writes, waiting."""

import copy

import fakes
import pytest
from fakes import Exit, merge

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import scaling as sc
from ansible_collections.multiagent.ops.plugins.modules import scale

NS = "mplp-production"
CORE = {"kind": "Deployment", "name": "mplp-core", "component": "core", "min": 3, "max": 20}


def target(replicas=None, **more):
    return dict(CORE, replicas=replicas, **more)


def deployment(replicas, name="mplp-core", ready=None, annotations=None):
    ready = replicas if ready is None else ready
    meta = {"name": name, "namespace": NS, "uid": "uid-" + name, "generation": 1}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "observedGeneration": 1,
            "replicas": ready,
            "updatedReplicas": ready,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def hpa(low, high, name="mplp-core", workload="mplp-core", kind="Deployment", recorded=None, by=None):
    meta = {"name": name, "namespace": NS}
    if recorded or by:
        meta["annotations"] = {}
    if recorded:
        meta["annotations"].update(
            {records.RECORDED_MIN_REPLICAS: str(recorded[0]), records.RECORDED_MAX_REPLICAS: str(recorded[1])}
        )
    if by:
        meta["annotations"][records.SCALED_BY] = by
    return {
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": workload},
            "minReplicas": low,
            "maxReplicas": high,
        },
    }


# -- the request ------------------------------------------------------------------------------


def test_outside_the_range_fails_naming_component_value_and_range():
    with pytest.raises(sc.ScaleError) as err:
        sc.check_targets([target(25), dict(target(1), name="mplp-plan", component="plan", min=2, max=8)])
    text = str(err.value)
    assert "core (Deployment mplp-core): 25 replicas requested, outside the allowed range 3-20" in text
    assert "plan (Deployment mplp-plan): 1 replicas requested, outside the allowed range 2-8" in text
    sc.check_targets([target(3), target(20, name="other")])  # the bounds themselves are allowed


def test_request_checks_without_a_range_and_for_restore():
    sc.check_targets([{"kind": "StatefulSet", "name": "mplp-redis-master", "replicas": 0}])
    with pytest.raises(sc.ScaleError, match="replicas is required to scale"):
        sc.check_targets([target(None)])
    sc.check_targets([target(None)], state="restored")  # a restore needs no count
    with pytest.raises(sc.ScaleError, match="Deployment mplp-core\\) is named twice"):
        sc.check_targets([target(4), target(5)])
    with pytest.raises(sc.ScaleError, match="allowed range 8-3 is empty"):
        sc.check_targets([target(4, **{"min": 8, "max": 3})])


# -- planning ---------------------------------------------------------------------------------


def test_no_hpa_scales_through_scale_and_already_there_changes_nothing():
    plan = sc.plan_scale(target(5), deployment(3))
    assert (plan["replicas_before"], plan["replicas_after"], plan["scaled"], plan["changed"]) == (
        3,
        5,
        True,
        True,
    )
    assert plan["hpa"] is None and plan["hpa_patch"] is None and plan["bounds"] == (5, 5)
    assert sc.describe(plan) == "core (Deployment mplp-core): replicas 3 -> 5; no HorizontalPodAutoscaler"

    plan = sc.plan_scale(target(3), deployment(3))
    assert plan["changed"] is False and plan["scaled"] is False
    assert sc.describe(plan).startswith("core (Deployment mplp-core): replicas already 3")


def test_hpa_raise_min_records_the_original_range():
    plan = sc.plan_scale(target(5), deployment(3), hpa(3, 20), purpose="scale.yml")
    assert plan["hpa_changes"] == [
        {
            "field": "minReplicas",
            "before": 3,
            "after": 5,
            "why": "raised so the autoscaler keeps at least 5 replicas",
        }
    ]
    assert plan["hpa_patch"] == {
        "metadata": {
            "annotations": {
                records.RECORDED_MIN_REPLICAS: "3",
                records.RECORDED_MAX_REPLICAS: "20",
                records.SCALED_BY: "scale.yml",
            }
        },
        "spec": {"minReplicas": 5},
    }
    assert plan["hpa_after"] == {"min": 5, "max": 20} and plan["recorded"] == {"min": 3, "max": 20}
    assert plan["scaled"] is True and plan["bounds"] == (5, 20)  # the HPA may add more under load
    assert "minReplicas 3 -> 5, raised so the autoscaler keeps at least 5" in sc.describe(plan)


def test_hpa_lower_max_on_a_reduction():
    plan = sc.plan_scale(target(3), deployment(8), hpa(3, 20))
    assert [(c["field"], c["before"], c["after"]) for c in plan["hpa_changes"]] == [("maxReplicas", 20, 3)]
    assert (
        "keeps at most 3 replicas (it would otherwise be free to scale back up to 8)"
        in (plan["hpa_changes"][0]["why"])
    )
    assert plan["hpa_patch"]["spec"] == {"maxReplicas": 3}
    assert plan["replicas_after"] == 3 and plan["bounds"] == (3, 3)

    # a reduction to a count above the floor pins the autoscaler: floor up, ceiling down
    plan = sc.plan_scale(target(4), deployment(8), hpa(3, 20))
    assert plan["hpa_after"] == {"min": 4, "max": 4}


def test_hpa_range_moves_to_include_counts_beyond_it():
    wide = dict(CORE, replicas=10, min=2, max=12)
    plan = sc.plan_scale(wide, deployment(3), hpa(3, 8))
    assert [(c["field"], c["after"]) for c in plan["hpa_changes"]] == [
        ("minReplicas", 10),
        ("maxReplicas", 10),
    ]
    assert "at maxReplicas 8 it would scale back down" in plan["hpa_changes"][1]["why"]

    # below a floor an earlier scale raised: the floor comes down, the first record stays
    plan = sc.plan_scale(target(5), deployment(10), hpa(10, 20, recorded=(3, 20)))
    assert plan["hpa_after"] == {"min": 5, "max": 5}
    assert "at minReplicas 10 it would scale back up" in plan["hpa_changes"][0]["why"]
    assert plan["recorded"] == {"min": 3, "max": 20}


def test_records_are_kept_on_re_runs():
    # a second scale of a changed HPA: the patch changes the range, never the record
    plan = sc.plan_scale(target(8), deployment(5), hpa(5, 20, recorded=(3, 20), by="scale.yml"), "scale.yml")
    assert plan["hpa_patch"] == {"spec": {"minReplicas": 8}}
    assert plan["recorded"] == {"min": 3, "max": 20}
    # the same request again: nothing to do
    again = sc.plan_scale(target(5), deployment(5), hpa(5, 20, recorded=(3, 20), by="scale.yml"), "scale.yml")
    assert again["changed"] is False and again["hpa_patch"] is None
    # an HPA already agreeing with the request: no record is written either
    same = sc.plan_scale(target(3), deployment(3), hpa(3, 20), "scale.yml")
    assert same["changed"] is False and same["recorded"] is None


def test_refusals_name_the_workload():
    with pytest.raises(sc.ScaleError, match="0 replicas requested, but HorizontalPodAutoscaler mplp-core"):
        sc.plan_scale(dict(CORE, replicas=0, min=None), deployment(3), hpa(3, 20))
    quiesced = deployment(0, annotations={records.RECORDED_REPLICAS: "3", records.QUIESCED_BY: "restore"})
    with pytest.raises(sc.ScaleError, match="mplp-core\\) is quiesced .*by restore.*state=restored"):
        sc.plan_scale(target(5), quiesced)
    with pytest.raises(sc.ScaleError, match="2 HorizontalPodAutoscalers target it \\(a, b\\)"):
        sc.find_hpa([hpa(3, 20, name="b"), hpa(3, 20, name="a")], target(5))
    broken = hpa(5, 20)
    broken["metadata"]["annotations"] = {
        records.RECORDED_MIN_REPLICAS: "three",
        records.RECORDED_MAX_REPLICAS: "20",
    }
    with pytest.raises(sc.ScaleError, match="HorizontalPodAutoscaler mplp-core: annotations"):
        sc.plan_restore(target(), deployment(5), broken)


def test_hpa_must_target_this_kind_and_name():
    hpas = [hpa(1, 3, name="sts", kind="StatefulSet"), hpa(1, 3, name="other", workload="mplp-plan")]
    assert sc.find_hpa(hpas, target(5)) is None
    assert sc.find_hpa(hpas, {"kind": "StatefulSet", "name": "mplp-core"})["metadata"]["name"] == "sts"


def test_drift_outside_the_inventory_range_is_warned_not_changed():
    plan = sc.plan_scale(target(10), deployment(5), hpa(3, 30))
    assert plan["hpa_after"] == {"min": 10, "max": 30}
    assert "allows 10-30, beyond the allowed range 3-20" in plan["warnings"][0]


def test_restore_puts_the_range_back_and_drops_the_records():
    plan = sc.plan_restore(target(), deployment(5), hpa(5, 20, recorded=(3, 20), by="scale.yml"))
    assert plan["hpa_patch"] == {
        "metadata": {
            "annotations": {
                records.RECORDED_MIN_REPLICAS: None,
                records.RECORDED_MAX_REPLICAS: None,
                records.SCALED_BY: None,
            }
        },
        "spec": {"minReplicas": 3},
    }
    assert plan["hpa_after"] == {"min": 3, "max": 20} and plan["recorded"] is None
    assert plan["scaled"] is False and plan["bounds"] == (3, 20)  # 5 is inside: left to the autoscaler
    assert "replicas 5, left to the autoscaler" in sc.describe(plan, "restored")

    # pinned below the restored floor: brought to it, as the HPA would
    plan = sc.plan_restore(target(), deployment(2), hpa(2, 2, recorded=(3, 20)))
    assert plan["replicas_after"] == 3 and plan["scaled"] is True
    assert plan["hpa_patch"]["spec"] == {"minReplicas": 3, "maxReplicas": 20}

    # nothing recorded, or no HPA: nothing to do
    assert sc.plan_restore(target(), deployment(5), hpa(3, 20))["changed"] is False
    assert sc.plan_restore(target(), deployment(5))["changed"] is False


def test_diff_shows_replicas_and_hpa_range():
    plans = [sc.plan_scale(target(5), deployment(3), hpa(3, 20))]
    assert sc.diff(plans) == {
        "before": {
            "Deployment/mplp-core": {
                "replicas": 3,
                "hpa": {"name": "mplp-core", "minReplicas": 3, "maxReplicas": 20},
            }
        },
        "after": {
            "Deployment/mplp-core": {
                "replicas": 5,
                "hpa": {"name": "mplp-core", "minReplicas": 5, "maxReplicas": 20},
            }
        },
    }


# -- reading, writing, waiting against a fake API ---------------------------------------------


class Cluster:
    """Deployments with /scale and HPAs. Each read moves a Deployment's status one replica
    toward its spec (after ``lag`` reads), as a controller would."""

    def __init__(self, deployments, hpas=(), v2=True, fail=None, lag=0):
        self.deployments = {d["metadata"]["name"]: d for d in deployments}
        self.hpas = {h["metadata"]["name"]: h for h in hpas}
        self.v2 = v2
        self.fail = fail  # path suffix -> HTTP status
        self.lag = lag
        self.calls = []

    def _tick(self):
        if self.lag:
            self.lag -= 1
            return
        for d in self.deployments.values():
            status, want = d["status"], d["spec"]["replicas"]
            have = status["replicas"]
            have += (want > have) - (want < have)
            status.update(replicas=have, updatedReplicas=have, readyReplicas=have, availableReplicas=have)
            status["observedGeneration"] = d["metadata"]["generation"]

    def get_optional(self, path, what, timeout=None):
        self.calls.append(("GET", path))
        self._tick()
        obj = self.deployments.get(path.rsplit("/", 1)[1])
        return copy.deepcopy(obj)

    def list(self, path, what, label_selector=None, field_selector=None, timeout=None):
        self.calls.append(("LIST", path))
        if "/autoscaling/v2/" in path and not self.v2:
            raise ApiError("not_found", "not found while trying to %s" % what, 404)
        if "horizontalpodautoscalers" in path:
            return copy.deepcopy(list(self.hpas.values()))
        if path.endswith("/pods") or path.endswith("/replicasets"):
            return []
        self._tick()
        return copy.deepcopy(list(self.deployments.values()))

    def send(self, method, path, body, what, **_):
        assert method == "PATCH"
        self.calls.append(("PATCH", path, copy.deepcopy(body)))
        for suffix, status in (self.fail or {}).items():
            if path.endswith(suffix):
                return status, {"message": "denied by policy"}
        if "/horizontalpodautoscalers/" in path:
            obj = self.hpas[path.rsplit("/", 1)[1]]
            merge(obj, body)
            return 200, copy.deepcopy(obj)
        assert path.endswith("/scale")
        d = self.deployments[path.rsplit("/", 2)[1]]
        d["spec"]["replicas"] = body["spec"]["replicas"]
        d["metadata"]["generation"] += 1
        return 200, {"spec": {"replicas": d["spec"]["replicas"]}}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0.01)


def apply(cluster, plans, version):
    changes = sc.changes(NS, plans, version)
    patch.patch_each(cluster, changes)
    return [change.done for change in changes]


def execute(cluster, targets, state="scaled", timeout=30):
    workloads, hpas, version = sc.read_state(cluster, NS, targets)
    plans = sc.plan_all(targets, workloads, hpas, state, "test")
    done = apply(cluster, plans, version)
    clock = Clock()
    waited, failures = sc.wait_scaled(cluster, NS, plans, timeout, poll=1.0, clock=clock, sleep=clock.sleep)
    return plans, done, waited, failures


def test_one_call_writes_the_hpa_before_scale_then_waits_until_ready():
    cluster = Cluster([deployment(3), deployment(2, name="mplp-plan")], [hpa(3, 20)])
    targets = [target(5), dict(CORE, name="mplp-plan", component="plan", replicas=2, min=2, max=8)]
    plans, done, waited, failures = execute(cluster, targets)
    assert failures == []
    assert [c[0] for c in cluster.calls].count("LIST") >= 2  # workloads in one LIST, HPAs in one LIST
    patches = [c[1] for c in cluster.calls if c[0] == "PATCH"]
    assert patches == [
        "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/mplp-core" % NS,
        "/apis/apps/v1/namespaces/%s/deployments/mplp-core/scale" % NS,
    ]
    assert done == [
        "HorizontalPodAutoscaler mplp-core minReplicas 3 -> 5",
        "Deployment mplp-core scaled to 5",
    ]
    assert [(w["done"], w["ready"], w["available"]) for w in waited] == [(True, 5, 5), (True, 2, 2)]
    assert cluster.hpas["mplp-core"]["spec"]["minReplicas"] == 5
    assert cluster.hpas["mplp-core"]["metadata"]["annotations"][records.RECORDED_MIN_REPLICAS] == "3"


def test_a_scale_down_waits_until_the_extra_replicas_are_gone():
    # the rollout looks done at once (all replicas updated), but 5 are still ready
    cluster = Cluster([deployment(5)])
    plans, _done, waited, failures = execute(cluster, [target(3)])
    assert failures == [] and waited[0]["ready"] == 3 and waited[0]["available"] == 3


def test_wait_timeout_names_the_workload_and_what_it_waits_for():
    cluster = Cluster([deployment(5)], lag=1000)
    plans, _done, waited, failures = execute(cluster, [target(3)], timeout=5)
    assert waited[0]["done"] is False
    assert len(failures) == 1 and "Deployment mplp-core in %s" % NS in failures[0]


def test_a_failed_write_names_object_action_cause_and_what_was_done():
    cluster = Cluster([deployment(3)], [hpa(3, 20)], fail={"/scale": 403})
    targets = [target(5)]
    workloads, hpas, version = sc.read_state(cluster, NS, targets)
    plans = sc.plan_all(targets, workloads, hpas)
    with pytest.raises(patch.PatchError) as err:
        apply(cluster, plans, version)
    assert str(err.value) == (
        "Failed to scale Deployment mplp-core in %s from 3 to 5 replicas: HTTP 403 denied by policy; "
        "already done: HorizontalPodAutoscaler mplp-core minReplicas 3 -> 5" % NS
    )


def test_missing_workload_and_v1_only_servers():
    with pytest.raises(sc.ScaleError, match="core \\(Deployment mplp-core\\): not found in namespace"):
        sc.read_state(Cluster([]), NS, [target(3)])
    cluster = Cluster([deployment(3)], [hpa(3, 20)], v2=False)
    _workloads, hpas, version = sc.read_state(cluster, NS, [target(3)])
    assert version == "v1" and len(hpas) == 1


def test_restore_through_the_api():
    cluster = Cluster([deployment(5)], [hpa(5, 20, recorded=(3, 20), by="test")])
    plans, done, waited, failures = execute(cluster, [target()], state="restored")
    assert failures == [] and done == ["HorizontalPodAutoscaler mplp-core minReplicas 5 -> 3"]
    restored = cluster.hpas["mplp-core"]
    assert restored["spec"] == dict(restored["spec"], minReplicas=3, maxReplicas=20)
    assert not restored["metadata"].get("annotations")


# -- the runner ------------------------------------------------------------------------------


def fake_module(**params):
    """fakes.FakeModule of scale with this file's defaults."""
    return fakes.FakeModule(scale, **dict({"namespace": NS}, **params))


def run_module(cluster, **params):
    module = fake_module(**params)
    clock = Clock()
    with pytest.raises(Exit):
        finish(module, sc.run, cluster, clock=clock, sleep=clock.sleep)
    return module.result


def test_module_check_mode_plans_and_writes_nothing():
    cluster = Cluster([deployment(3)], [hpa(3, 20)])
    result = run_module(cluster, targets=[target(5)], check_mode=True, diff=True)
    assert result["changed"] is True and not result["failed"]
    assert not [c for c in cluster.calls if c[0] == "PATCH"]
    assert result["diff"]["after"]["Deployment/mplp-core"]["hpa"]["minReplicas"] == 5
    assert result["targets"][0]["hpa_changes"][0]["field"] == "minReplicas"


def test_module_outside_the_range_reads_and_writes_nothing():
    cluster = Cluster([deployment(3)], [hpa(3, 20)])
    result = run_module(cluster, targets=[target(21)])
    assert result["failed"] and result["msg"] == (
        "core (Deployment mplp-core): 21 replicas requested, outside the allowed range 3-20; "
        "nothing was changed"
    )
    assert cluster.calls == []


def test_module_scales_waits_and_reports():
    cluster = Cluster([deployment(3)], [hpa(3, 20)])
    result = run_module(cluster, targets=[target(5)])
    assert not result["failed"] and result["changed"] is True
    core = result["targets"][0]
    assert (core["replicas_after"], core["ready"], core["available"]) == (5, 5, 5)
    assert core["message"].startswith("core (Deployment mplp-core): replicas 3 -> 5; HorizontalPodAutoscaler")
    assert run_module(cluster, targets=[target(5)])["changed"] is False


def test_a_failure_after_a_write_reports_changed_and_which_targets_were_reached():
    cluster = Cluster(
        [deployment(3), deployment(2, name="mplp-plan")], [hpa(3, 20)], fail={"mplp-plan/scale": 403}
    )
    plan_target = dict(CORE, name="mplp-plan", component="plan", replicas=4, min=2, max=8)
    result = run_module(cluster, targets=[target(5), plan_target])
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "Failed to scale Deployment mplp-plan in %s from 2 to 4 replicas: HTTP 403 denied by policy; "
        "already done: HorizontalPodAutoscaler mplp-core minReplicas 3 -> 5, Deployment mplp-core scaled to 5"
        % NS
    )
    assert [t["changed"] for t in result["targets"]] == [True, False]


def test_a_failure_of_the_first_write_changed_nothing():
    cluster = Cluster([deployment(3)], [hpa(3, 20)], fail={"horizontalpodautoscalers/mplp-core": 403})
    result = run_module(cluster, targets=[target(5)])
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith(
        "Failed to set minReplicas 3 -> 5 of HorizontalPodAutoscaler mplp-core (of Deployment mplp-core) in "
    )
    assert result["msg"].endswith("HTTP 403 denied by policy; already done: nothing")
    assert result["targets"][0]["changed"] is False


def test_a_wait_failure_says_what_was_changed():
    cluster = Cluster([deployment(5)], lag=1000)
    result = run_module(cluster, targets=[target(3)], wait_timeout=4)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("Deployment mplp-core in %s: rollout did not finish within 4 s: " % NS)
    assert result["msg"].endswith("(changed: Deployment mplp-core scaled to 3; re-run to wait again)")
    assert result["targets"][0]["seconds"] == 4.0


@pytest.mark.parametrize(
    "params,message",
    [
        ({"targets": []}, "targets is empty: name at least one workload"),
        ({"targets": [CORE], "wait_timeout": -1}, "wait_timeout must be 0 or more, not -1"),
    ],
)
def test_bad_input_fails_before_any_request(params, message):
    cluster = Cluster([deployment(3)])
    result = run_module(cluster, **params)
    assert result["failed"] is True and result["msg"] == message and cluster.calls == []


# -- the waiter's predicate -------------------------------------------------------------------


def test_scaled_is_rolled_out_with_every_replica_ready_within_the_bounds():
    check = sc.scaled((3, 3))
    assert check(deployment(3))["done"] is True
    more = deployment(3, ready=5)  # a scale-down: rolled out by kubectl's rules, 5 still ready
    more["status"]["replicas"] = 5
    status = check(more)
    assert (status["done"], status["failed"], status["rolled_out"]) == (False, False, True)
    assert sc.scaled((4, 6))(deployment(3))["done"] is False  # the HPA's range is 4-6
    paused = deployment(3)
    paused["spec"]["paused"] = True
    paused["metadata"]["generation"] = 2
    assert sc.scaled((3, 3))(paused)["failed"] is True  # a paused rollout cannot progress


def test_a_paused_deployment_fails_the_wait_at_once_naming_it():
    paused = deployment(3)
    paused["spec"]["paused"] = True
    cluster = Cluster([paused], lag=1000)
    plans = [sc.plan_scale(target(5), paused)]
    clock = Clock()
    waited, failures = sc.wait_scaled(cluster, NS, plans, 30, clock=clock, sleep=clock.sleep)
    assert clock.now == 0 and waited[0]["done"] is False
    assert failures == [waited[0]["message"]]
    assert failures[0].startswith("Deployment mplp-core in %s: " % NS)


def test_a_rolled_out_workload_not_yet_settled_times_out_saying_so():
    cluster = Cluster([deployment(5)])
    cluster.lag = 1000
    plans = [sc.plan_scale(target(3), deployment(5))]
    cluster.deployments["mplp-core"]["spec"]["replicas"] = 3  # observed, but 5 still ready
    clock = Clock()
    waited, failures = sc.wait_scaled(cluster, NS, plans, 5, clock=clock, sleep=clock.sleep)
    assert failures == [
        "Deployment mplp-core in %s: not settled at 3 replicas (spec 3, ready 5, available 5) after 5 s" % NS
    ]
    assert (waited[0]["ready"], waited[0]["seconds"]) == (5, 5.0)
