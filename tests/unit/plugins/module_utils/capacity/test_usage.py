"""Utilisation against requests per owning workload, from literal series and objects."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import usage

WORKLOADS = ["mplp-core", "mplp-core-api", "mplp-postgresql"]


def test_owner_by_name_takes_the_longest_workload_prefix():
    assert usage.owner_by_name("mplp-core-7d9f8-abcde", WORKLOADS) == "mplp-core"
    assert usage.owner_by_name("mplp-core-api-7d9f8-abcde", WORKLOADS) == "mplp-core-api"
    assert usage.owner_by_name("mplp-postgresql-0", WORKLOADS) == "mplp-postgresql"
    assert usage.owner_by_name("mplp-coreX-1", WORKLOADS) is None


def test_pod_owners_follow_replicasets_to_their_deployment():
    pod_owner = [
        {"metric": {"pod": "mplp-core-aaa-1", "owner_kind": "ReplicaSet", "owner_name": "mplp-core-aaa"}},
        {"metric": {"pod": "mplp-core-bbb-2", "owner_kind": "ReplicaSet", "owner_name": "mplp-core-bbb"}},
        {
            "metric": {
                "pod": "mplp-postgresql-0",
                "owner_kind": "StatefulSet",
                "owner_name": "mplp-postgresql",
            }
        },
        {"metric": {"pod": "debug", "owner_kind": "<none>", "owner_name": "<none>"}},
    ]
    rs_owner = [
        {"metric": {"replicaset": "mplp-core-aaa", "owner_kind": "Deployment", "owner_name": "mplp-core"}}
    ]
    owners = usage.pod_owners(pod_owner, rs_owner, WORKLOADS)
    # the second ReplicaSet has no owner series (expired): matched by its name
    assert owners == {
        "mplp-core-aaa-1": "mplp-core",
        "mplp-core-bbb-2": "mplp-core",
        "mplp-postgresql-0": "mplp-postgresql",
    }
    assert usage.pod_owners(pod_owner[1:2])["mplp-core-bbb-2"] == "mplp-core-bbb"


def pod(name, rs, cpu="500m", memory="1Gi", uid=None):
    resources = {"requests": {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}}
    return {
        "metadata": {
            "name": name,
            "uid": uid or name,
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs, "uid": rs, "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "resources": resources}]},
    }


def rs(name, deployment):
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "ownerReferences": [{"kind": "Deployment", "name": deployment, "uid": "d", "controller": True}],
        }
    }


def metric(name, cpu, memory):
    return {
        "metadata": {"name": name},
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": memory}}],
    }


def test_workload_usage_is_the_hpas_ratio_over_old_and_new_pods():
    pods = [pod("core-a-1", "core-a"), pod("core-b-1", "core-b"), pod("core-b-2", "core-b")]
    replicasets = [rs("core-a", "mplp-core"), rs("core-b", "mplp-core")]
    metrics = [metric("core-a-1", "400000000n", "512Mi"), metric("core-b-1", "800m", "1Gi")]
    got = usage.workload_usage(pods, replicasets, metrics)[("Deployment", "mplp-core")]
    # core-b-2 has no metrics yet: it counts as a pod, not in the ratio
    assert (got["pods"], got["measured"]) == (3, 2)
    assert got["cpu_pct"] == pytest.approx(120.0)
    assert got["memory_pct"] == pytest.approx(75.0)


def test_a_resource_without_requests_has_no_percentage():
    pods = [pod("core-a-1", "core-a", cpu=None)]
    got = usage.workload_usage(pods, [rs("core-a", "mplp-core")], [metric("core-a-1", "100m", "100Mi")])
    entry = got[("Deployment", "mplp-core")]
    assert entry["cpu_pct"] is None
    assert entry["memory_pct"] == pytest.approx(100 / 1024 * 100, abs=0.1)


def test_no_metrics_no_percentages():
    got = usage.workload_usage([pod("core-a-1", "core-a")], [rs("core-a", "mplp-core")], [])
    assert got[("Deployment", "mplp-core")]["cpu_pct"] is None
    assert got[("Deployment", "mplp-core")]["measured"] == 0


def test_a_pods_owner_from_the_owner_data_else_from_its_name():
    owners = {"mplp-core-aaa-1": "mplp-core-api"}  # owner data wins over a name that fits too
    assert usage.owner_of("mplp-core-aaa-1", owners, WORKLOADS) == "mplp-core-api"
    assert usage.owner_of("mplp-core-bbb-1", owners, WORKLOADS) == "mplp-core"
    assert usage.owner_of("other-1", owners, WORKLOADS) is None
    assert usage.owner_of(None, owners, WORKLOADS) is None
