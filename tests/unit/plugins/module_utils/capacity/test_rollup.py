"""Per-pod series summed per owning workload, and utilisation against requests, on numpy."""

from __future__ import annotations

import math

import numpy as np

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import rollup

WORKLOADS = ["mplp-core", "mplp-core-api", "mplp-postgresql"]


def test_a_rollouts_renamed_pods_sum_into_one_series():
    old = {"metric": {"pod": "mplp-core-aaa-1"}, "values": [[0, "1"], [60, "2"]]}
    new = {"metric": {"pod": "mplp-core-bbb-1"}, "values": [[60, "0.5"], [120, "3"]]}
    stray = {"metric": {"pod": "other-1"}, "values": [[0, "9"]]}
    sums = rollup.sum_by_owner([old, new, stray], {"mplp-core-aaa-1": "mplp-core"}, WORKLOADS)
    assert {k: v.tolist() for k, v in sums.items()} == {"mplp-core": [[0.0, 1.0], [60.0, 2.5], [120.0, 3.0]]}
    stamps, _sums, counts = rollup.owner_sums([old, new], {}, WORKLOADS)["mplp-core"]
    assert (stamps.tolist(), counts.tolist()) == ([0.0, 60.0, 120.0], [1, 2, 1])


def test_a_nan_sample_makes_its_steps_sum_unknown_not_smaller():
    one = {"metric": {"pod": "mplp-core-aaa-1"}, "values": [[0, "1"], [60, "NaN"]]}
    two = {"metric": {"pod": "mplp-core-aaa-2"}, "values": [[0, "1"], [60, "5"]]}
    sums = rollup.sum_by_owner([one, two], {}, WORKLOADS)["mplp-core"]
    assert sums[0].tolist() == [0.0, 2.0] and math.isnan(sums[1, 1])


def test_ratio_against_requests_skips_times_without_a_request():
    used = np.array([(0.0, 1.0), (60.0, 2.0), (120.0, 1.0)])
    got = rollup.ratio_series({"a": used, "b": used}, {"a": np.array([(0.0, 2.0), (60.0, 0.0)])})
    assert {k: v.tolist() for k, v in got.items()} == {"a": [[0.0, 50.0]], "b": []}
