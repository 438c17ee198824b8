# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-pod Prometheus range-query series summed per owning workload, on numpy arrays.

A rollout renames every pod, so a month of per-pod series is summed per owner
(usage.pod_owners, or usage.owner_by_name) before anything is fitted: at each timestamp, the
sum of the owner's pods' samples and their number. Utilisation is then sum(usage) /
sum(requests) x 100 at the timestamps both have, as the HorizontalPodAutoscaler computes it.
A month at a 5-minute step is about 100,000 samples a query: each pass is one numpy
operation, not a Python loop per sample. numpy is needed where the capacity and cost reports
run; the metrics-API side (usage.py) does without it.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import forecast, usage
from ansible_collections.multiagent.ops.plugins.module_utils.capacity.arrays import numpy as np


def owner_sums(series, owners, workloads=(), label="pod"):
    """Per-pod series -> ``{owner: (stamps, sums, counts)}``, numpy arrays: at each timestamp
    (in order) that some pod of the owner has a sample, the sum of their samples and their
    number. A pod with no owner in ``owners`` is matched by name against ``workloads``; one
    matching nothing is dropped. A NaN sample makes its timestamp's sum NaN (not a smaller sum)."""
    parts = {}
    for item in series or ():
        owner = usage.owner_of(item.get("metric", {}).get(label), owners, workloads)
        if owner is not None:
            parts.setdefault(owner, []).append(forecast.parse(item.get("values"), finite=False))
    out = {}
    for owner, chunks in parts.items():
        points = np.concatenate(chunks)
        stamps, where = np.unique(points[:, 0], return_inverse=True)
        out[owner] = (
            stamps,
            np.bincount(where, weights=points[:, 1], minlength=len(stamps)),
            np.bincount(where, minlength=len(stamps)),
        )
    return out


def sum_by_owner(series, owners, workloads=(), label="pod"):
    """Per-pod series -> ``{owner: (n, 2) array of (ts, sum)}`` (see :func:`owner_sums`): a
    rollout's old and new pods added into one series per workload."""
    return {
        owner: np.column_stack((stamps, sums))
        for owner, (stamps, sums, _counts) in owner_sums(series, owners, workloads, label).items()
    }


def ratio_series(usage, requests):
    """Per owner, usage / requests x 100 at the timestamps both have (requests > 0), from
    :func:`sum_by_owner`'s arrays: ``{owner: (n, 2) array of (ts, pct)}``, in the shape
    :func:`forecast.analyse` takes."""
    out = {}
    for owner, used in usage.items():
        asked = requests.get(owner)
        if asked is None or not len(asked):
            out[owner] = np.empty((0, 2))
            continue
        _common, mine, theirs = np.intersect1d(used[:, 0], asked[:, 0], return_indices=True)
        given = asked[theirs, 1]
        keep = given > 0
        stamps = used[mine, 0][keep]
        out[owner] = np.column_stack((stamps, used[mine, 1][keep] / given[keep] * 100))
    return out
