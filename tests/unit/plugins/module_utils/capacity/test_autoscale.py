"""The seed's auto-scaling decision (auto-scaling.sh), bounded by a component's range."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import autoscale

RANGE = {"min": 3, "max": 20}


@pytest.mark.parametrize(
    "cpu, memory",
    [(71, 50), (50, 81), (95, 95), (71, None), (None, 81)],
)
def test_adds_two_above_either_high_threshold(cpu, memory):
    out = autoscale.decide(5, cpu, memory, RANGE)
    assert (out["decision"], out["replicas_after"]) == ("up", 7)


def test_thresholds_are_exclusive_as_in_the_seed():
    assert autoscale.decide(5, 70, 80, RANGE)["decision"] == "keep"
    assert autoscale.decide(5, 30, 20, RANGE)["decision"] == "keep"
    assert autoscale.decide(5, 20, 40, RANGE)["decision"] == "keep"


def test_removes_one_when_both_are_low():
    out = autoscale.decide(5, 29, 39, RANGE)
    assert (out["decision"], out["replicas_after"]) == ("down", 4)
    assert "CPU 29% < 30%" in out["reason"]


def test_a_low_cpu_with_unknown_memory_never_scales_down():
    assert autoscale.decide(5, 10, None, RANGE)["decision"] == "keep"


def test_scale_up_stops_at_the_maximum_instead_of_refusing():
    # The seed refused 19 + 2 > 20 and stayed at 19; the range allows one more.
    out = autoscale.decide(19, 90, 50, RANGE)
    assert out["replicas_after"] == 20
    assert "capped" in out["reason"]
    at_max = autoscale.decide(20, 90, 50, RANGE)
    assert at_max["decision"] == "keep"
    assert "already at the maximum 20" in at_max["reason"]


def test_scale_down_stops_at_the_minimum():
    out = autoscale.decide(3, 5, 5, RANGE)
    assert out["decision"] == "keep"
    assert "already at the minimum 3" in out["reason"]
    assert autoscale.decide(4, 5, 5, dict(RANGE, step_down=3))["replicas_after"] == 3


def test_a_count_outside_the_range_is_brought_back_whatever_the_load():
    assert autoscale.decide(1, 5, 5, {"min": 2, "max": 10})["replicas_after"] == 2
    assert autoscale.decide(12, 95, 95, {"min": 2, "max": 10})["replicas_after"] == 10


def test_no_measurement_keeps_the_count():
    out = autoscale.decide(5, None, None, RANGE)
    assert out["decision"] == "keep"
    assert "no usage measured" in out["reason"]


def test_thresholds_are_configurable():
    limits = dict(RANGE, cpu_high=50, step_up=3)
    assert autoscale.decide(5, 55, 10, limits)["replicas_after"] == 8


def test_the_default_range_is_the_seeds():
    assert autoscale.decide(20, 99, 99)["decision"] == "keep"
    assert autoscale.decide(2, 50, 50)["replicas_after"] == 3


@pytest.mark.parametrize(
    "limits, message",
    [
        ({"cpu_low": 80}, "cpu_low 80 must be below cpu_high 70"),
        ({"memory_high": 10}, "memory_low 40 must be below memory_high 10"),
        ({"min": 5, "max": 4}, "the range 5-4 is not valid"),
        ({"step_up": 0}, "step_up and step_down must be 1 or more"),
        ({"cpu": 70}, "unknown threshold(s) cpu"),
    ],
)
def test_bad_thresholds_are_named(limits, message):
    with pytest.raises(autoscale.DecisionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        autoscale.thresholds(limits)


def test_none_overrides_keep_the_defaults():
    assert autoscale.thresholds({"cpu_high": None, "max": 8})["cpu_high"] == 70.0
