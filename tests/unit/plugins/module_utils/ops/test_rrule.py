"""Maintenance windows as AWX schedule rules: every occurrence dateutil expands from a rule is
inside the window it came from (checked with windows.py itself), in the window's time zone."""

import datetime

import pytest
from dateutil import rrule as du

from ansible_collections.multiagent.ops.plugins.module_utils.ops import rrule, windows


def expand(rule, days=400, start="2026-01-01"):
    """The occurrences of ``rule`` within ``days`` of ``start``, as dateutil (and AWX) expands it."""
    rules = du.rrulestr(rule.replace(" RRULE:", "\nRRULE:"), forceset=True)
    begin = datetime.datetime.fromisoformat(start).replace(tzinfo=datetime.UTC)
    return rules.between(begin, begin + datetime.timedelta(days=days), inc=True)


@pytest.mark.parametrize(
    "text,tz,offset,expected",
    [
        ("02:00-04:00", "UTC", 0, "DTSTART;TZID=UTC:20260101T020000 RRULE:FREQ=DAILY;INTERVAL=1"),
        (
            "Sunday 01:00-05:00",
            "Asia/Shanghai",
            0,
            "DTSTART;TZID=Asia/Shanghai:20260104T010000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=SU",
        ),
        (
            "First Sunday 00:00-06:00",
            "UTC",
            30,
            "DTSTART;TZID=UTC:20260104T003000 RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=SU;BYSETPOS=1",
        ),
        (
            "Last Friday 23:00-01:00",
            "Europe/Berlin",
            0,
            "DTSTART;TZID=Europe/Berlin:20260130T230000 RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=FR;BYSETPOS=-1",
        ),
        (
            "2026-12-24 22:00-02:00",
            "UTC",
            0,
            "DTSTART;TZID=UTC:20261224T220000 RRULE:FREQ=DAILY;INTERVAL=1;COUNT=1",
        ),
    ],
)
def test_rule_text(text, tz, offset, expected):
    assert rrule.rrule(text, tz, "2026-01-01", offset) == expected


def window_starts(window, tz, first, last):
    """Every opening of the window between two aware moments, by windows.py's own calendar."""
    day, starts = first.astimezone(tz).date() - datetime.timedelta(days=1), []
    while day <= last.astimezone(tz).date():
        occ = window.occurrence(day, tz)
        if occ and first <= occ[0] <= last:
            starts.append(occ[0])
        day += datetime.timedelta(days=1)
    return starts


@pytest.mark.parametrize(
    "text,offset",
    [
        ("02:00-04:00", 60),  # 02:00 is skipped in spring in Berlin and New York; 03:00 never is
        ("Sunday 01:00-05:00", 0),
        ("Wed 23:30-00:30", 0),
        ("First Sunday 00:00-06:00", 0),
        ("Second Tuesday 03:00-04:00", 0),
        ("Fourth Saturday 22:00-23:00", 0),
        ("Last Sunday 01:00-04:00", 150),  # 03:30: after the skipped hour in Berlin
        ("2026-10-25 02:00-04:00", 0),
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_every_occurrence_is_inside_its_window_and_none_is_missed(text, offset, tz):
    window, zone = windows.Window(text), windows.timezone(tz)
    rule = rrule.rrule(text, tz, "2026-01-01", offset)
    occurrences = expand(rule)
    assert occurrences, rule
    for moment in occurrences:
        local = moment.astimezone(zone)
        status = windows.status({"w": text}, tz, local)
        assert status["open"] and status["window"] == "w", "%s: %s is outside %r" % (rule, local, text)
    # one occurrence per opening of the window, offset minutes after it (fall-back hours included)
    shift = datetime.timedelta(minutes=offset)
    starts = window_starts(window, zone, occurrences[0] - shift, occurrences[-1] - shift)
    expected = [start + shift for start in starts]
    assert [m.timestamp() for m in occurrences] == [e.timestamp() for e in expected]


@pytest.mark.parametrize(
    "text,tz,day",
    [
        ("02:00-04:00", "America/New_York", "2026-03-08"),
        ("Sunday 02:30-05:00", "Europe/Berlin", "2026-03-29"),
        ("Last Sunday 02:00-03:00", "Europe/Berlin", "2026-03-29"),
    ],
)
def test_a_start_the_clock_skips_is_refused(text, tz, day):
    with pytest.raises(windows.WindowError, match="does not exist in %s on %s" % (tz, day)):
        rrule.rrule(text, tz, "2026-01-01")
    # the same window in a zone without daylight-saving time is fine
    assert rrule.rrule(text, "Asia/Shanghai", "2026-01-01")


def test_an_offset_moves_every_occurrence_into_the_window():
    rule = rrule.rrule("Sunday 01:00-05:00", "UTC", "2026-01-01", offset=90)
    for moment in expand(rule, days=60):
        assert (moment.weekday(), moment.hour, moment.minute) == (6, 2, 30)


def test_a_fixed_start_gives_the_same_rule_every_time():
    assert len({rrule.rrule("02:00-04:00", "UTC", "2026-01-01") for _ in range(3)}) == 1
    assert rrule.rrule("02:00-04:00", "UTC", datetime.date(2026, 1, 1)) == rrule.rrule(
        "02:00-04:00", "UTC", "2026-01-01"
    )


def test_the_window_is_chosen_by_name():
    spec = {"daily": "02:00-04:00", "weekly": "Sunday 01:00-05:00"}
    assert rrule.rrule_of(spec, "weekly", "UTC", "2026-01-01") == rrule.rrule(
        "Sunday 01:00-05:00", "UTC", "2026-01-01"
    )
    assert "BYDAY=SU" in rrule.rrule_of(["Sunday 01:00-05:00"], "Sunday 01:00-05:00", "UTC", "2026-01-01")


def test_no_numeric_byday_prefix():
    # AWX refuses BYDAY=1SU; the ordinal goes into BYSETPOS
    rule = rrule.rrule("Third Monday 01:00-02:00", "UTC", "2026-01-01")
    assert "BYDAY=MO;BYSETPOS=3" in rule
    assert [m.day for m in expand(rule, days=90)] == [19, 16, 16]


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: rrule.rrule("02:00-04:00", "UTC", "2026-01-01", 120),
            "offset of 120 minutes is not inside it",
        ),
        (lambda: rrule.rrule("02:00-04:00", "UTC", "2026-01-01", -5), "offset of -5 minutes"),
        (lambda: rrule.rrule("23:00-02:00", "UTC", "2026-01-01", 90), "starts on the next day"),
        (lambda: rrule.rrule("2025-12-24 22:00-02:00", "UTC", "2026-01-01"), "does not open on or after"),
        (lambda: rrule.rrule("02:00-04:00", "UTC", "soon"), "start 'soon' is not a date"),
        (lambda: rrule.rrule("02:00-04:00", "Nowhere/City", "2026-01-01"), "time zone 'Nowhere/City'"),
        (
            lambda: rrule.rrule_of({"daily": "02:00-04:00"}, "nightly", "UTC"),
            "no maintenance window 'nightly'",
        ),
    ],
)
def test_errors_name_what_cannot_be_used(call, message):
    with pytest.raises(windows.WindowError, match=message):
        call()
