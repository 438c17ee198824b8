"""Maintenance windows as the seeds write them."""

import datetime

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.ops import windows

UTC = datetime.UTC
SEEDS = {"daily": "02:00-04:00", "weekly": "Sunday 01:00-05:00", "monthly": "First Sunday 00:00-06:00"}


def at(text, tz="UTC"):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=windows.timezone(tz))


@pytest.mark.parametrize(
    "moment,open_window",
    [
        ("2026-11-24 03:00", "daily"),  # a Tuesday
        ("2026-11-24 04:00", None),  # the end is exclusive
        ("2026-11-24 01:59", None),
        ("2026-11-22 04:30", "weekly"),  # Sunday 22nd: weekly open, daily closed at 04:00
        ("2026-12-06 05:30", "monthly"),  # first Sunday of December
        ("2026-12-13 04:30", "weekly"),  # second Sunday: weekly, not monthly
        ("2026-12-13 05:30", None),
        ("2026-12-13 00:30", None),
    ],
)
def test_seed_windows(moment, open_window):
    result = windows.status(SEEDS, "UTC", at(moment))
    assert result["open"] is (open_window is not None)
    assert result["window"] == open_window


def test_longest_open_window_is_reported():
    result = windows.status(SEEDS, "UTC", at("2026-12-06 03:00"))  # all three are open
    assert result["window"] == "monthly" and result["ends_at"] == "2026-12-06T06:00:00+00:00"


def test_window_across_midnight_belongs_to_its_start_day():
    w = {"sat-night": "Saturday 23:00-01:00"}
    assert windows.status(w, "UTC", at("2026-11-22 00:30"))["open"] is True  # Sunday 00:30
    assert windows.status(w, "UTC", at("2026-11-21 00:30"))["open"] is False  # Saturday 00:30


def test_last_weekday_of_month_and_once():
    assert windows.Window("Last Friday 20:00-22:00").current(at("2026-11-27 21:00")) is not None
    assert windows.Window("Last Friday 20:00-22:00").current(at("2026-11-20 21:00")) is None
    once = windows.Window("2026-12-24 22:00-02:00")
    assert once.current(at("2026-12-25 01:00")) is not None
    assert once.next_start(at("2026-12-25 03:00")) is None


def test_next_window_and_time_zone():
    result = windows.status(SEEDS, "Asia/Shanghai", at("2026-11-24 10:00", "Asia/Shanghai"))
    assert result["open"] is False
    assert result["next_window"] == "daily"
    assert result["next_start"] == "2026-11-25T02:00:00+08:00"
    # 02:30 UTC is 10:30 in Shanghai: the UTC instant is converted, not relabelled
    assert windows.status(SEEDS, "Asia/Shanghai", at("2026-11-24 18:30"))["open"] is True


def test_daylight_saving_keeps_wall_clock_times():
    w = windows.Window("Sunday 01:00-05:00")
    start, end = w.occurrence(datetime.date(2026, 10, 25), windows.timezone("Europe/Berlin"))
    assert (start.hour, end.hour) == (1, 5)
    # four hours on the wall clock, five in reality: the clocks go back at 03:00 that night
    assert end.astimezone(UTC) - start.astimezone(UTC) == datetime.timedelta(hours=5)
    assert w.current(datetime.datetime(2026, 10, 25, 3, 30, tzinfo=UTC).astimezone(start.tzinfo))


@pytest.mark.parametrize(
    "text,message",
    [
        ("2am-4am", "is not understood"),
        ("Funday 01:00-02:00", "'Funday' is not a day of the week"),
        ("25:00-26:00", "is not a time of day"),
        ("02:00-02:00", "is empty"),
        ("2026-02-30 01:00-02:00", "is not a date"),
        (42, "expected text"),
    ],
)
def test_bad_windows_are_quoted(text, message):
    with pytest.raises(windows.WindowError, match=message):
        windows.Window(text)


def test_bad_time_zone():
    with pytest.raises(windows.WindowError, match="time zone 'Mars/Olympus' is not known"):
        windows.status(SEEDS, "Mars/Olympus")
