"""Cost of requests, oversized pods and right-sizing, from literal data."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import cost

PRICES = {"vcpu_hour": 0.05, "gb_hour": 0.01}  # the seed's assumed prices
GI = 2**30


def test_prices_are_checked():
    assert cost.prices({"vcpu_hour": "0.05", "gb_hour": 0}) == {"vcpu_hour": 0.05, "gb_hour": 0.0}
    with pytest.raises(cost.CostError, match="gb_hour as a number"):
        cost.prices({"vcpu_hour": 1})
    with pytest.raises(cost.CostError, match="must be 0 or more"):
        cost.prices({"vcpu_hour": -1, "gb_hour": 0})


def test_pod_resources_sum_containers_and_leave_unset_unknown():
    pod = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}}},
                {"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1"}}},
            ]
        }
    }
    got = cost.pod_resources(pod)
    assert got["requests"] == {"cpu": 0.75, "memory": GI + GI // 2}
    assert got["limits"] == {"cpu": 2.0, "memory": None}


def test_monthly_cost_at_730_hours():
    got = cost.monthly_cost(1.0, 2 * GI, PRICES, replicas=3)
    assert got["cpu"] == pytest.approx(3 * 730 * 0.05)
    assert got["memory"] == pytest.approx(3 * 2 * 730 * 0.01)
    assert got["total"] == pytest.approx(got["cpu"] + got["memory"])


def test_oversized_by_the_seeds_thresholds():
    assert cost.oversized(29, 39) == ["cpu", "memory"]
    assert cost.oversized(30, 39) == ["memory"]
    assert cost.oversized(10, 40) == ["cpu"]
    assert cost.oversized(None, None) == []


@pytest.mark.parametrize(
    "replicas, util, target, low, high, want",
    [
        (4, 90, 60, 1, None, 6),  # ceil(4 * 1.5)
        (4, 65, 60, 1, None, 4),  # within the 10 % tolerance
        (10, 20, 70, 3, 20, 3),  # ceil(2.86) = 3 = min
        (10, 300, 70, 3, 20, 20),  # bounded by max
        (5, 10, 70, 3, 20, 3),
    ],
)
def test_hpa_replicas(replicas, util, target, low, high, want):
    assert cost.hpa_replicas(replicas, util, target, low, high) == want


def test_hpa_replicas_refuses_a_zero_target():
    with pytest.raises(cost.CostError, match="above 0"):
        cost.hpa_replicas(3, 50, 0)


def test_right_size_requests_p95_over_target_at_the_replicas_the_hpa_would_hold():
    # 6 pods requesting 1 CPU / 2Gi, using 0.2 CPU on average, 0.35 at p95.
    got = cost.right_size(
        replicas=6,
        requests={"cpu": 1.0, "memory": 2 * GI},
        mean_usage={"cpu": 0.2, "memory": 700 * 2**20},
        p95_usage={"cpu": 0.35, "memory": 800 * 2**20},
        price=PRICES,
        cpu_target=70,
        low=3,
        high=20,
    )
    assert got["requests"]["cpu"] == pytest.approx(0.5)  # 0.35 / 0.7
    assert got["requests"]["memory"] == 1000 * 2**20  # 800Mi / 80 % (no memory target: the default)
    # the same load (6 x 0.2 CPU) against 0.5 CPU requests is 40 % per pod: ceil(6 * 40/70) = 4
    assert got["replicas"] == 4
    assert got["saving"] == pytest.approx(got["current_monthly"]["total"] - got["monthly"]["total"])
    assert got["saving"] > 0
    assert "the HPA would hold 4 replica(s) (6 now)" in got["why"]


def test_right_size_without_an_hpa_keeps_the_replicas():
    got = cost.right_size(
        replicas=2,
        requests={"cpu": 0.5, "memory": GI},
        mean_usage={"cpu": 0.4, "memory": GI},
        p95_usage={"cpu": 0.8, "memory": None},
        price=PRICES,
    )
    assert got["replicas"] == 2
    assert got["requests"] == {"cpu": 1.0, "memory": GI}  # 0.8 / 80 %; memory unmeasured stays
    assert got["saving"] < 0  # an under-sized component costs more, and says so


def test_right_size_stays_within_the_hpa_range():
    got = cost.right_size(
        replicas=3,
        requests={"cpu": 1.0, "memory": GI},
        mean_usage={"cpu": 0.05, "memory": None},
        p95_usage={"cpu": 0.07, "memory": None},
        price=PRICES,
        cpu_target=70,
        low=3,
        high=20,
    )
    assert got["requests"]["cpu"] == pytest.approx(0.1)
    assert got["replicas"] == 3


def pod(name, cpu="500m", memory="1Gi"):
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
    }


def metric(name, cpu, memory):
    return {"metadata": {"name": name}, "containers": [{"usage": {"cpu": cpu, "memory": memory}}]}


def test_oversized_pods_against_their_requests():
    pods = [pod("a"), pod("b"), pod("c")]
    got = cost.oversized_pods(
        pods, [metric("b", "100m", "800Mi"), metric("a", "400m", "300Mi"), metric("gone", "1", "1Gi")]
    )
    assert got == [
        {"pod": "a", "cpu_pct": 80.0, "memory_pct": 29.3, "oversized": ["memory"]},
        {"pod": "b", "cpu_pct": 20.0, "memory_pct": 78.1, "oversized": ["cpu"]},
    ]


def test_component_cost_from_a_pod_template():
    got = cost.component_cost(
        3, {"spec": {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}}, PRICES
    )
    assert got["monthly"] == cost.monthly_cost(1.0, 2 * GI, PRICES, replicas=3)
    assert got["limits"] == {"cpu": None, "memory": None}
