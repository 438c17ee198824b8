"""Capacity trends from literal series as a Prometheus range query returns them."""

from __future__ import annotations

import math

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import forecast

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary
DAY = 86400


def series(fn, days=30, step=300):
    """[[ts, "value"], ...] every ``step`` seconds for ``days``; fn(t_in_days) -> value."""
    return [[T0 + s, str(fn(s / DAY))] for s in range(0, days * DAY, step)]


def test_samples_parse_prometheus_strings_and_drop_nan():
    assert forecast.samples([[1, "2.5"], [2, "NaN"], [3, "+Inf"], [4, "1"]]) == [(1.0, 2.5), (4.0, 1.0)]
    with pytest.raises(forecast.ForecastError, match="not a \\[timestamp, value\\] sample"):
        forecast.samples([[1]])


def test_hourly_peaks_keep_the_busiest_sample_of_each_hour():
    points = [(T0 + 10, 1.0), (T0 + 20, 5.0), (T0 + 3599, 2.0), (T0 + 3600, 0.5), (T0 + 7300, 3.0)]
    assert forecast.hourly_peaks(points) == [(T0, 5.0), (T0 + 3600, 0.5), (T0 + 7200, 3.0)]


def test_least_squares_reads_the_slope_per_day_exactly():
    points = [(T0 + h * 3600, 40 + 0.5 * h / 24) for h in range(720)]
    fit = forecast.least_squares(points)
    assert fit["slope_per_day"] == pytest.approx(0.5, abs=1e-9)
    assert fit["intercept"] == pytest.approx(40, abs=1e-9)
    assert fit["r2"] == pytest.approx(1.0)
    assert forecast.value_at(fit, T0 + 10 * DAY) == pytest.approx(45)


def test_a_flat_series_has_slope_zero_and_a_perfect_r2():
    fit = forecast.least_squares([(T0 + h * 3600, 7.0) for h in range(48)])
    assert (fit["slope_per_day"], fit["r2"]) == (0.0, 1.0)


def test_a_trend_needs_two_times():
    with pytest.raises(forecast.ForecastError, match="2 different times"):
        forecast.least_squares([(T0, 1.0), (T0, 2.0)])


def test_theil_sen_ignores_a_spike_that_tilts_least_squares():
    points = [(T0 + h * 3600, 50 + 0.2 * h / 24) for h in range(200)]
    points[-5] = (points[-5][0], 500.0)  # one hour of an incident near the end
    ls = forecast.least_squares(points)
    ts = forecast.theil_sen(points)
    assert ts["slope_per_day"] == pytest.approx(0.2, abs=1e-9)
    assert abs(ls["slope_per_day"] - 0.2) > 0.5
    assert ts["sampled"] is False and ts["pairs"] == 200 * 199 // 2


def test_theil_sen_samples_a_bounded_number_of_pairs_reproducibly():
    points = [(T0 + h * 3600, 50 + 0.3 * h / 24 + (7 if h % 97 == 0 else 0)) for h in range(720)]
    first = forecast.theil_sen(points)
    # bounded work (MAX_PAIRS of the 258,840 pairs), the same sample every time
    assert first["sampled"] is True and forecast.MAX_PAIRS * 0.99 < first["pairs"] <= forecast.MAX_PAIRS
    assert first == forecast.theil_sen(points)
    assert first["slope_per_day"] == pytest.approx(0.3, abs=1e-6)


def test_noisy_data_switches_to_theil_sen_and_says_why():
    spiky = [(T0 + h * 3600, 50 + 0.2 * h / 24) for h in range(200)]
    spiky[100] = (spiky[100][0], 400.0)
    chosen = forecast.trend(spiky)
    assert chosen["fit"]["method"] == forecast.THEIL_SEN
    assert "outlier" in chosen["noisy"]

    clean = [(T0 + h * 3600, 50 + 0.2 * h / 24 + (0.01 if h % 2 else -0.01)) for h in range(200)]
    chosen = forecast.trend(clean)
    assert chosen["fit"]["method"] == forecast.LEAST_SQUARES
    assert chosen["noisy"] is None and chosen["theil_sen"] is None


def test_a_low_r2_is_noisy():
    # a daily cycle much larger than the trend
    points = [(T0 + h * 3600, 50 + 20 * math.sin(h / 24 * 2 * math.pi) + 0.01 * h / 24) for h in range(240)]
    chosen = forecast.trend(points)
    assert chosen["least_squares"]["r2"] < forecast.R2_MIN
    assert chosen["noisy"] == "r² %.2f < 0.60" % chosen["least_squares"]["r2"]


def test_robust_can_be_forced_either_way():
    points = [(T0 + h * 3600, float(h)) for h in range(10)]
    assert forecast.trend(points, robust="always")["fit"]["method"] == forecast.THEIL_SEN
    spiky = points[:5] + [(points[5][0], 1000.0)] + points[6:]
    assert forecast.trend(spiky, robust="never")["fit"]["method"] == forecast.LEAST_SQUARES
    with pytest.raises(forecast.ForecastError, match="auto, always or never"):
        forecast.trend(points, robust="sometimes")


def test_days_until_each_threshold():
    fit = {"slope_per_day": 1.0, "intercept": 60.0, "origin": T0}
    assert forecast.days_until(fit, T0, 80) == {"threshold": 80, "days": 20.0, "status": "rising"}
    assert forecast.days_until(fit, T0 + 25 * DAY, 80) == {
        "threshold": 80,
        "days": 0.0,
        "status": "already_above",
    }
    flat = dict(fit, slope_per_day=0.0)
    assert forecast.days_until(flat, T0, 80) == {"threshold": 80, "days": None, "status": "not_rising"}
    falling = dict(fit, slope_per_day=-1.0)
    assert forecast.days_until(falling, T0, 80)["status"] == "not_rising"


def test_analyse_fits_hourly_peaks_and_forecasts_from_the_data_end():
    # 5-minute samples whose hourly peak grows by 1 % a day from 50 %
    values = series(lambda d: 50 + d - (0.0 if int(d * 288) % 12 == 11 else 5.0))
    out = forecast.analyse(values, days_ahead=30, thresholds=[80, 90])
    assert out["points"] == 720
    assert out["method"] == forecast.LEAST_SQUARES
    assert out["slope_per_day"] == pytest.approx(1.0, abs=1e-9)
    assert out["predicted"] == pytest.approx(out["current"] + 30, abs=1e-6)
    assert [t["status"] for t in out["thresholds"]] == ["rising", "rising"]
    assert out["thresholds"][0]["days"] == pytest.approx(80 - out["current"], abs=1e-6)
    assert out["trend"] == "increasing"


def test_growth_is_none_from_zero_not_a_division_error():
    out = forecast.analyse([[T0, "0"], [T0 + 3600, "0"]])
    assert out["growth_pct"] is None and out["trend"] == "flat"


def test_the_seeds_recommendations():
    cpu = {"predicted": 85.0, "days_ahead": 30}
    memory = {"predicted": 86.0, "days_ahead": 30}
    requests = {"growth_pct": 60.0, "days_ahead": 30}
    recs = forecast.recommendations(cpu, memory, requests)
    assert [r["metric"] for r in recs] == ["cpu", "memory", "requests"]
    assert all(r["type"] == "scale_up" for r in recs)
    quiet = forecast.recommendations(
        {"predicted": 80.0, "days_ahead": 30},
        {"predicted": 85.0, "days_ahead": 30},
        {"growth_pct": 50.0, "days_ahead": 30},
    )
    assert quiet == []
    assert forecast.recommendations(requests={"growth_pct": None, "days_ahead": 30}) == []
    assert len(forecast.recommendations(cpu={"predicted": 75.0, "days_ahead": 7}, limits={"cpu": 70})) == 1


def test_component_forecast_puts_the_three_series_and_the_advice_together():
    cpu = series(lambda d: 60 + d)  # 89 % after 30 days, +30 more predicted
    memory = series(lambda d: 40.0)
    out = forecast.component_forecast(cpu=cpu, memory=memory, requests=None, days_ahead=30)
    assert out["requests"] is None
    assert out["cpu"]["thresholds"][0]["status"] == "already_above"
    assert out["memory"]["thresholds"] == [{"threshold": 85.0, "days": None, "status": "not_rising"}]
    assert [r["metric"] for r in out["recommendations"]] == ["cpu"]
