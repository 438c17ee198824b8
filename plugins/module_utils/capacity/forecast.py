# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity trends of the LangGraph runbook's ``capacity-planning.py``, pure and standard-library only.

Input is what a Prometheus range query gives per series: ``[[timestamp, "value"], ...]``.
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
  stays in seconds (about 15 ms a series) and a re-run gives the same slope. The median of
  20,000 sampled slopes lies within about 1 % (in rank, 3 standard errors) of the exact one.

The seed's flaws this avoids: its regression used raw epoch seconds as x (a slope per second,
ill-conditioned), predicted from ``datetime.now()`` rather than the data's end, and divided by
the last sample (a zero request rate raised ZeroDivisionError).
"""

from __future__ import annotations

import functools
import math
import random
import statistics

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


def samples(values):
    """Prometheus ``[[ts, "value"], ...]`` -> ``[(ts, value)]`` as floats, NaN and infinities dropped
    (Prometheus writes them as strings: "NaN", "+Inf")."""
    out = []
    for pair in values or []:
        try:
            ts, value = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError):
            raise ForecastError("not a [timestamp, value] sample: %r" % (pair,)) from None
        if math.isfinite(value):
            out.append((ts, value))
    return out


def hourly_peaks(points):
    """``[(ts, value)]`` -> ``[(hour_start, max)]`` in time order, one per hour that has samples."""
    peaks = {}
    for ts, value in points:
        hour = int(ts // HOUR) * HOUR
        if hour not in peaks or value > peaks[hour]:
            peaks[hour] = value
    return sorted(peaks.items())


def _check(points, least=2):
    xs = {ts for ts, _value in points}
    if len(xs) < least:
        raise ForecastError("a trend needs samples at %d different times at least, got %d" % (least, len(xs)))


def least_squares(points):
    """Ordinary least squares -> ``{"method", "slope_per_day", "intercept", "origin", "r2"}``.
    ``intercept`` is the fitted value at ``origin`` (the first timestamp): fitting on epoch
    seconds loses digits; r² is 1.0 for a flat series fitted exactly, 0.0 for a flat fit of noise."""
    _check(points)
    origin = points[0][0]
    xs = [(ts - origin) / DAY for ts, _value in points]
    ys = [v for _ts, v in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    if ss_tot == 0:
        r2 = 1.0
    else:
        r2 = max(0.0, 1.0 - ss_res / ss_tot)
    return {
        "method": LEAST_SQUARES,
        "slope_per_day": slope,
        "intercept": intercept,
        "origin": origin,
        "r2": r2,
    }


@functools.lru_cache(maxsize=8)
def _pairs(n, max_pairs, seed):
    """The sampled index pairs of :func:`theil_sen` for ``n`` points: the same for every series
    of the same length (a report's series mostly are), so drawn once (drawing 40,000 indexes
    costs more than the slopes)."""
    rng = random.Random(seed)
    index = range(n)
    firsts, seconds = rng.choices(index, k=max_pairs), rng.choices(index, k=max_pairs)
    return tuple((i, j) for i, j in zip(firsts, seconds, strict=True) if i != j)


def theil_sen(points, max_pairs=MAX_PAIRS, seed=0):
    """Theil-Sen: the median of the slopes between pairs of points (every pair up to
    ``max_pairs``, else a sample with a fixed ``seed``), intercept the median of y - slope x.
    Same keys as :func:`least_squares`, plus ``pairs`` and ``sampled``."""
    _check(points)
    origin = points[0][0]
    xs = [(ts - origin) / DAY for ts, _value in points]
    ys = [v for _ts, v in points]
    n = len(xs)
    total = n * (n - 1) // 2
    sampled = total > max_pairs
    if not sampled:
        slopes = [
            (ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(n) for j in range(i + 1, n) if xs[j] != xs[i]
        ]
    else:
        slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i, j in _pairs(n, max_pairs, seed) if xs[i] != xs[j]]
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    my = statistics.fmean(ys)
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1.0 if ss_tot == 0 else max(0.0, 1.0 - ss_res / ss_tot)
    return {
        "method": THEIL_SEN,
        "slope_per_day": slope,
        "intercept": intercept,
        "origin": origin,
        "r2": r2,
        "pairs": len(slopes),
        "sampled": sampled,
    }


def outliers(points, fit):
    """The points whose residual from ``fit`` is more than OUTLIER_SIGMAS robust standard
    deviations from the residuals' median (a perfect fit but for some points: those points)."""
    residuals = [v - value_at(fit, ts) for ts, v in points]
    middle = statistics.median(residuals)
    mad = statistics.median(abs(r - middle) for r in residuals)
    scale = max(abs(v) for _ts, v in points) or 1.0
    limit = OUTLIER_SIGMAS * 1.4826 * mad if mad > 0 else 1e-9 * scale
    return [p for p, r in zip(points, residuals, strict=True) if abs(r - middle) > limit]


def noisy(points, fit):
    """Why the least-squares ``fit`` should give way to Theil-Sen, or None (see the module doc)."""
    reasons = []
    if fit["r2"] < R2_MIN:
        reasons.append("r² %.2f < %.2f" % (fit["r2"], R2_MIN))
    found = outliers(points, fit)
    if found:
        reasons.append("%d outlier(s)" % len(found))
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
    """One series as Prometheus gives it -> its hourly peaks' trend, the value ``now`` (default:
    the last sample's time, so a report of fixed data is reproducible) and ``days_ahead`` later,
    the growth between them in percent (None from a value of 0 or less), and days until each threshold."""
    peaks = hourly_peaks(samples(values))
    chosen = trend(peaks, robust, max_pairs)
    fit = chosen["fit"]
    now = peaks[-1][0] if now is None else float(now)
    current = value_at(fit, now)
    predicted = value_at(fit, now + days_ahead * DAY)
    return {
        "points": len(peaks),
        "method": fit["method"],
        "slope_per_day": fit["slope_per_day"],
        "r2": chosen["least_squares"]["r2"],
        "noisy": chosen["noisy"],
        "least_squares": chosen["least_squares"],
        "theil_sen": chosen["theil_sen"],
        "last_peak": peaks[-1][1],
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
    :func:`usage.ratio_series`) and its request rate -> ``{"cpu", "memory", "requests"}`` analyses
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
