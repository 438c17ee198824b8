"""Owner mapping and object interpretation."""

from factories import NOW, pod, replicaset, ts

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl


def test_pods_map_to_workloads_through_owner_uids_not_names():
    rs = replicaset("mplp-core-7c9d", "mplp-core")
    # Named like another component, owned by core's ReplicaSet: the owners decide.
    impostor = pod("mplp-plan-abcde", owner_name="mplp-core-7c9d")
    sts_pod = pod("postgresql-0", owner_kind="StatefulSet", owner_name="postgresql")
    bare = pod("debug-shell")
    orphan_rs_pod = pod("x-1", owner_name="lonely-rs")
    mapping = wl.pod_workloads([impostor, sts_pod, bare, orphan_rs_pod], [rs])
    assert mapping["uid-pod-mplp-plan-abcde"] == ("Deployment", "mplp-core")
    assert mapping["uid-pod-postgresql-0"] == ("StatefulSet", "postgresql")
    assert "uid-pod-debug-shell" not in mapping
    assert mapping["uid-pod-x-1"] == ("ReplicaSet", "lonely-rs")


def test_owner_uid_mismatch_is_not_followed():
    rs = replicaset("mplp-core-7c9d", "mplp-core")
    p = pod("p", owner_name="mplp-core-7c9d")
    p["metadata"]["ownerReferences"][0]["uid"] = "some-other-uid"  # a recreated RS of that name
    assert wl.pod_workloads([p], [rs])["uid-pod-p"] == ("ReplicaSet", "mplp-core-7c9d")


def test_pod_summary():
    p = pod("p", ready=False, restarts=4, waiting="CrashLoopBackOff", age=120, last_termination_ago=30)
    s = wl.pod_summary(p, NOW)
    assert s["ready"] is False
    assert s["restarts"] == 4
    assert s["waiting"] == [{"container": "app", "reason": "CrashLoopBackOff"}]
    assert s["age_seconds"] == 120
    assert s["containers_ready"] == "0/1"
    assert s["last_termination"].startswith("2026-11-22T11:59:30")


def test_workload_replicas_for_statefulset_without_unavailable_field():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1},
    }
    r = wl.workload_replicas(sts)
    assert r == {
        "desired": 3,
        "ready": 1,
        "available": 1,
        "updated": 0,
        "unavailable": 2,
        "observed_generation_current": False,
    }


def test_recent_events_window_and_order():
    events = [
        {"reason": "A", "lastTimestamp": ts(10), "involvedObject": {"kind": "Pod", "name": "p"}},
        {"reason": "B", "eventTime": ts(5), "regarding": {"kind": "Pod", "name": "q"}, "note": "n"},
        {"reason": "C", "lastTimestamp": ts(2000), "involvedObject": {"kind": "Pod", "name": "p"}},
        {"reason": "D", "involvedObject": {}},
    ]
    got = wl.recent_events(events, NOW, 900)
    assert [e["reason"] for e in got] == ["B", "A"]
    assert got[0]["message"] == "n" and got[0]["object"] == "Pod/q"


def test_parse_time_variants():
    assert wl.parse_time("2026-11-22T12:00:00Z") == NOW
    assert wl.parse_time("2026-11-22T12:00:00.000000Z") == NOW
    assert wl.parse_time("garbage") is None
    assert wl.parse_time(None) is None
