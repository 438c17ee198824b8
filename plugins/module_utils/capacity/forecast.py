# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity trends of the LangGraph runbook's ``capacity-planning.py``, pure, on numpy arrays.

Input is what a Prometheus range query gives per series, ``[[timestamp, "value"], ...]``, or
``points``: ``(timestamp, value)`` pairs as a list or an ``(n, 2)`` array. The work is numpy's
(a month of 5-minute samples per series, 60 series a region: a Python loop per sample cost
the report most of its time).
The trend is fitted to **hourly peaks** (capacity is about the busiest hour, not the mean),
by least squares, with x in days so the slope reads "per day". Where the data is noisy the
robust alternative, Theil-Sen (the median of the pairwise slopes), is used instead:

- noisy = r² of the least-squares fit below ``R2_MIN`` (0.6), or at least one outlier, a
  residual further than ``OUTLIER_SIGMAS`` (3.5) robust standard deviations (1.4826 x MAD of the
  residuals) from their median. On Gaussian noise such a residual comes about once in 2,000
  points; a single spike or outage is enough to tilt a least-squares line, not a median.
- Theil-Sen over n points has n(n-1)/2 pairs (258,840 for 30 days of hourly peaks). Up to
  ``MAX_PAIRS`` (20,000) pairs every pair is used; above that a fixed-seed sample of
  ``MAX_PAIRS`` pairs (less the few that draw one point twice), so a report over 120 series
  stays fast (about 1 ms a series) and a re-run gives the same slope. The median of
  20,000 sampled slopes lies within about 1 % (in rank, 3 standard errors) of the exact one.

The seed's flaws this avoids: its regression used raw epoch seconds as x (a slope per second,
ill-conditioned), predicted from ``datetime.now()`` rather than the data's end, and divided by
the last sample (a zero request rate raised ZeroDivisionError).
"""

from __future__ import annotations

import functools
import random

from ansible_collections.multiagent.ops.plugins.module_utils.capacity.arrays import numpy as np

DAY = 86400.0
HOUR = 3600
R2_MIN = 0.6
OUTLIER_SIGMAS = 3.5
MAX_PAIRS = 20000
LEAST_SQUARES, THEIL_SEN = "least_squares", "theil_sen"

# The seed's recommendation thresholds: predicted CPU > 80 %, memory > 85 %, request growth > 50 %.
RECOMMEND = {"cpu": 80.0, "memory": 85.0, "requests_growth": 50.0}


class ForecastError(ValueError):
    pass


def parse(values, finite=True):
    """Prometheus ``[[ts, "value"], ...]`` -> an ``(n, 2)`` float array of ``(ts, value)``, NaN
    and infinities dropped unless ``finite`` is false (Prometheus writes them as strings: "NaN",
    "+Inf"). An ``(n, 2)`` array is taken as it is."""
    if isinstance(values, np.ndarray):
        points = values.astype(np.float64, copy=False).reshape(-1, 2)
    elif not values:
        return np.empty((0, 2))
    else:
        try:
            stamps, numbers = zip(*values, strict=False)
            points = np.column_stack(
                (np.array(stamps, dtype=np.float64), np.array(numbers, dtype=np.float64))
            )
        except (TypeError, ValueError):
            points = None
        if points is None or points.shape != (len(values), 2) or not np.isfinite(points[:, 0]).all():
            raise ForecastError("not a [timestamp, value] sample: %r" % (_bad(values),)) from None
    return points[np.isfinite(points[:, 1])] if finite else points


def _bad(values):
    for pair in values:
        try:
            float(pair[0]), float(pair[1])
            if len(pair) == 2:
                continue
        except (TypeError, ValueError, IndexError):
            pass
        return pair
    return values


def samples(values):
    """:func:`parse` as a list of ``(ts, value)`` tuples."""
    return [tuple(row) for row in parse(values).tolist()]


def peaks(points):
    """``(n, 2)`` points -> their hourly peaks, ``(hour_start, max)`` in time order, one per hour
    that has samples, as an ``(m, 2)`` array."""
    points = parse(points)
    if not len(points):
        return points
    hours = np.floor(points[:, 0] / HOUR) * HOUR
    order = np.argsort(hours, kind="stable")
    hours, values = hours[order], points[order, 1]
    first = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    return np.column_stack((hours[first], np.maximum.reduceat(values, first)))


def hourly_peaks(points):
    """:func:`peaks` of ``[(ts, value)]`` -> ``[(hour_start, max)]``."""
    return [tuple(row) for row in peaks(np.asarray(points, dtype=np.float64)).tolist()]


def _xy(points, least=2):
    """``(origin, xs in days from it, ys)`` of ``points``; ForecastError for fewer than ``least`` times."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    distinct = len(np.unique(points[:, 0]))
    if distinct < least:
        raise ForecastError(
            "a trend needs samples at %d different times at least, got %d" % (least, distinct)
        )
    origin = points[0, 0]
    return float(origin), (points[:, 0] - origin) / DAY, points[:, 1]


def _r2(ys, fitted):
    """1 - SS_res / SS_tot: 1.0 for a flat series fitted exactly, at least 0.0."""
    deviations = ys - ys.mean()
    ss_tot = float(deviations @ deviations)
    if ss_tot == 0:
        return 1.0
    residuals = ys - fitted
    return max(0.0, 1.0 - float(residuals @ residuals) / ss_tot)


def least_squares(points):
    """Ordinary least squares -> ``{"method", "slope_per_day", "intercept", "origin", "r2"}``.
    ``intercept`` is the fitted value at ``origin`` (the first timestamp): fitting on epoch
    seconds loses digits; r² is 1.0 for a flat series fitted exactly, 0.0 for a flat fit of noise."""
    origin, xs, ys = _xy(points)
    mx, my = xs.mean(), ys.mean()
    dx = xs - mx
    slope = float(dx @ (ys - my)) / float(dx @ dx)
    intercept = float(my) - slope * float(mx)
    return {
        "method": LEAST_SQUARES,
        "slope_per_day": slope,
        "intercept": intercept,
        "origin": origin,
        "r2": _r2(ys, intercept + slope * xs),
    }


@functools.lru_cache(maxsize=8)
def _pairs(n, max_pairs, seed):
    """The sampled index pairs of :func:`theil_sen` for ``n`` points, as two index arrays: the
    same for every series of the same length (a report's series mostly are), so drawn once."""
    rng = random.Random(seed)
    index = range(n)
    firsts = np.array(rng.choices(index, k=max_pairs))
    seconds = np.array(rng.choices(index, k=max_pairs))
    keep = firsts != seconds
    return firsts[keep], seconds[keep]


def theil_sen(points, max_pairs=MAX_PAIRS, seed=0):
    """Theil-Sen: the median of the slopes between pairs of points (every pair up to
    ``max_pairs``, else a sample with a fixed ``seed``), intercept the median of y - slope x.
    Same keys as :func:`least_squares`, plus ``pairs`` and ``sampled``."""
    origin, xs, ys = _xy(points)
    n = len(xs)
    sampled = n * (n - 1) // 2 > max_pairs
    firsts, seconds = _pairs(n, max_pairs, seed) if sampled else np.triu_indices(n, 1)
    dx = xs[seconds] - xs[firsts]
    apart = dx != 0
    slopes = (ys[seconds] - ys[firsts])[apart] / dx[apart]
    slope = float(np.median(slopes))
    intercept = float(np.median(ys - slope * xs))
    return {
        "method": THEIL_SEN,
        "slope_per_day": slope,
        "intercept": intercept,
        "origin": origin,
        "r2": _r2(ys, intercept + slope * xs),
        "pairs": int(len(slopes)),
        "sampled": sampled,
    }


def _outlying(points, fit):
    """The mask of the points whose residual from ``fit`` is more than OUTLIER_SIGMAS robust
    standard deviations from the residuals' median."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    residuals = points[:, 1] - value_at(fit, points[:, 0])
    middle = np.median(residuals)
    mad = float(np.median(np.abs(residuals - middle)))
    scale = float(np.abs(points[:, 1]).max()) or 1.0
    limit = OUTLIER_SIGMAS * 1.4826 * mad if mad > 0 else 1e-9 * scale
    return points, np.abs(residuals - middle) > limit


def outliers(points, fit):
    """The points whose residual from ``fit`` is more than OUTLIER_SIGMAS robust standard
    deviations from the residuals' median (a perfect fit but for some points: those points)."""
    points, mask = _outlying(points, fit)
    return [tuple(row) for row in points[mask].tolist()]


def noisy(points, fit):
    """Why the least-squares ``fit`` should give way to Theil-Sen, or None (see the module doc)."""
    reasons = []
    if fit["r2"] < R2_MIN:
        reasons.append("r² %.2f < %.2f" % (fit["r2"], R2_MIN))
    found = int(_outlying(points, fit)[1].sum())
    if found:
        reasons.append("%d outlier(s)" % found)
    return "; ".join(reasons) or None


def trend(points, robust="auto", max_pairs=MAX_PAIRS):
    """The fit to use for ``points`` (hourly peaks): ``robust`` auto (Theil-Sen when noisy),
    always or never -> ``{"fit", "least_squares", "theil_sen" (or None), "noisy" (why, or None)}``."""
    if robust not in ("auto", "always", "never"):
        raise ForecastError("robust must be auto, always or never, not %r" % (robust,))
    ls = least_squares(points)
    why = noisy(points, ls)
    ts = theil_sen(points, max_pairs) if robust == "always" or (robust == "auto" and why) else None
    return {"fit": ts or ls, "least_squares": ls, "theil_sen": ts, "noisy": why}


def value_at(fit, ts):
    """The fit's value at ``ts`` (a timestamp, or an array of them)."""
    return fit["intercept"] + fit["slope_per_day"] * (ts - fit["origin"]) / DAY


def days_until(fit, now, threshold):
    """When the trend reaches ``threshold`` -> ``{"threshold", "days", "status"}``: status
    ``already_above`` (the trend's value now is at or above it; days 0), ``not_rising`` (flat or
    decreasing: days None), or ``rising`` (days from ``now``, a float)."""
    current = value_at(fit, now)
    if current >= threshold:
        return {"threshold": threshold, "days": 0.0, "status": "already_above"}
    if fit["slope_per_day"] <= 0:
        return {"threshold": threshold, "days": None, "status": "not_rising"}
    return {"threshold": threshold, "days": (threshold - current) / fit["slope_per_day"], "status": "rising"}


def analyse(values, now=None, days_ahead=30, thresholds=(), robust="auto", max_pairs=MAX_PAIRS):
    """One series as Prometheus gives it (or its points) -> its hourly peaks' trend, the value
    ``now`` (default: the last sample's time, so a report of fixed data is reproducible) and
    ``days_ahead`` later, the growth between them in percent (None from a value of 0 or less),
    and days until each threshold."""
    hourly = peaks(parse(values))
    chosen = trend(hourly, robust, max_pairs)
    fit = chosen["fit"]
    now = float(hourly[-1, 0]) if now is None else float(now)
    current = value_at(fit, now)
    predicted = value_at(fit, now + days_ahead * DAY)
    return {
        "points": int(len(hourly)),
        "method": fit["method"],
        "slope_per_day": fit["slope_per_day"],
        "r2": chosen["least_squares"]["r2"],
        "noisy": chosen["noisy"],
        "least_squares": chosen["least_squares"],
        "theil_sen": chosen["theil_sen"],
        "last_peak": float(hourly[-1, 1]),
        "current": current,
        "days_ahead": days_ahead,
        "predicted": predicted,
        "growth_pct": (predicted - current) / current * 100 if current > 0 else None,
        "trend": "increasing"
        if fit["slope_per_day"] > 0
        else "decreasing"
        if fit["slope_per_day"] < 0
        else "flat",
        "thresholds": [days_until(fit, now, t) for t in thresholds],
    }


def recommendations(cpu=None, memory=None, requests=None, limits=None):
    """The seed's advice from the analyses of CPU and memory utilisation (percent of requests)
    and the request rate: ``[{"type": "scale_up", "metric", "reason", "action"}]``."""
    t = dict(RECOMMEND, **(limits or {}))
    out = []
    if cpu is not None and cpu["predicted"] > t["cpu"]:
        out.append(
            {
                "type": "scale_up",
                "metric": "cpu",
                "reason": "CPU utilisation is predicted to reach %.1f%% in %d days (> %g%%)"
                % (cpu["predicted"], cpu["days_ahead"], t["cpu"]),
                "action": "add 2 replicas (or raise the autoscaling maximum)",
            }
        )
    if memory is not None and memory["predicted"] > t["memory"]:
        out.append(
            {
                "type": "scale_up",
                "metric": "memory",
                "reason": "memory utilisation is predicted to reach %.1f%% in %d days (> %g%%)"
                % (memory["predicted"], memory["days_ahead"], t["memory"]),
                "action": "raise the memory request and limit, or add replicas",
            }
        )
    growth = requests.get("growth_pct") if requests else None
    if growth is not None and growth > t["requests_growth"]:
        out.append(
            {
                "type": "scale_up",
                "metric": "requests",
                "reason": "the request rate is predicted to grow by {:.1f}% in {:d} days (> {:g}%)".format(
                    float(growth), int(requests["days_ahead"]), t["requests_growth"]
                ),
                "action": "scale out ahead of the traffic growth",
            }
        )
    return out


# The thresholds a capacity report counts the days to: the seed's recommendation levels, which
# are also the Operations MCP seed's CPU 80 and memory 85.
THRESHOLDS = {"cpu": (80.0,), "memory": (85.0,)}


def component_forecast(
    cpu=None, memory=None, requests=None, now=None, days_ahead=30, thresholds=None, robust="auto"
):
    """One component's capacity outlook from its series (``[[ts, "v"], ...]`` each, None when
    missing): CPU and memory utilisation in percent of requests (e.g. from
    rollup.ratio_series) and its request rate -> ``{"cpu", "memory", "requests"}`` analyses
    (None where no series) and the seed's ``recommendations``."""
    levels = dict(THRESHOLDS, **(thresholds or {}))
    out = {}
    for name, values in (("cpu", cpu), ("memory", memory), ("requests", requests)):
        if not values:
            out[name] = None
            continue
        out[name] = analyse(values, now, days_ahead, levels.get(name, ()), robust)
    out["recommendations"] = recommendations(out["cpu"], out["memory"], out["requests"])
    return out
