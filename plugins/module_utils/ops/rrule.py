# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A maintenance window (ops/windows.py) as an iCalendar recurrence rule, the way AWX schedules
take one: ``DTSTART;TZID=<zone>:YYYYMMDDTHHMMSS RRULE:FREQ=...;INTERVAL=1;...``.

Each occurrence is the window's start (or ``offset`` minutes into it), in the window's own time
zone, so a schedule follows the wall clock across daylight-saving changes as the window does.
A start in the hour the clock skips when daylight-saving time begins is refused: expanders
(dateutil, which AWX uses) put that occurrence an hour early, outside the window.
The rules stay within what AWX accepts: INTERVAL always given, no numeric BYDAY prefix (a
monthly "First Sunday" is ``BYDAY=SU;BYSETPOS=1``), COUNT only for a one-off window.
"""

from __future__ import annotations

import datetime

from ansible_collections.multiagent.ops.plugins.module_utils.ops import windows

BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _rule(window):
    if window.kind == "daily":
        return "FREQ=DAILY;INTERVAL=1"
    if window.kind == "weekly":
        return "FREQ=WEEKLY;INTERVAL=1;BYDAY=%s" % BYDAY[window.weekday]
    if window.kind == "monthly":
        return "FREQ=MONTHLY;INTERVAL=1;BYDAY=%s;BYSETPOS=%d" % (BYDAY[window.weekday], window.ordinal)
    return "FREQ=DAILY;INTERVAL=1;COUNT=1"  # once


def _date(start):
    if isinstance(start, datetime.datetime):
        return start.date()
    if isinstance(start, datetime.date):
        return start
    try:
        return datetime.date.fromisoformat(str(start)[:10])
    except ValueError:
        raise windows.WindowError("start %r is not a date (YYYY-MM-DD)" % (start,))


def _missing_day(window, tz, first, minute, horizon_days=400):
    """The first day within a year or so from ``first`` on which the window opens and its
    ``minute`` of the day does not exist on the clock (the hour skipped when daylight-saving time
    begins), or None. On such a day a recurrence expander (dateutil, and so AWX) places the
    occurrence an hour early, before the window opens."""
    for offset in range(horizon_days):
        day = first + datetime.timedelta(days=offset)
        if window.occurrence(day, tz) is None:
            continue
        wall = datetime.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
        back = wall.astimezone(datetime.UTC).astimezone(tz)
        if back.replace(tzinfo=None) != wall.replace(tzinfo=None):
            return day
    return None


def rrule(text, tz_name=None, start=None, offset=0):
    """The recurrence of window ``text`` from its first occurrence on or after ``start``.

    ``start`` (a date, default today) anchors DTSTART: a fixed one keeps the rule the same from
    run to run, so configuring a scheduler twice changes nothing. ``offset`` minutes move each
    occurrence into the window; the occurrence must stay inside it and on the day it opens.
    """
    window = windows.Window(text)
    tz = windows.timezone(tz_name)
    offset = int(offset)
    if not 0 <= offset < window.length:
        raise windows.WindowError(
            "maintenance window %r: an offset of %d minutes is not inside it (it lasts %d minutes)"
            % (text, offset, window.length)
        )
    minute = window.start + offset
    if minute >= 24 * 60:
        raise windows.WindowError(
            "maintenance window %r: an offset of %d minutes starts on the next day, which a rule for "
            "the day the window opens cannot say; schedule at most %d minutes into it"
            % (text, offset, 24 * 60 - 1 - window.start)
        )
    day = _date(start) if start is not None else datetime.datetime.now(tz).date()
    if window.kind == "once":
        first = window.occurrence(window.date, tz) if window.date >= day else None
    else:
        first = window.next_start(datetime.datetime(day.year, day.month, day.day, tzinfo=tz))
    if first is None:
        raise windows.WindowError("maintenance window %r does not open on or after %s" % (text, day))
    moment = first[0] if isinstance(first, tuple) else first
    moment = moment.replace(hour=minute // 60, minute=minute % 60)
    missing = _missing_day(window, tz, moment.date(), minute)
    if missing is not None:
        raise windows.WindowError(
            "maintenance window %r: %02d:%02d does not exist in %s on %s (the clock skips it for "
            "daylight-saving time), so a schedule would run an hour early, before the window opens; "
            "give an offset that moves it past the skipped hour"
            % (text, minute // 60, minute % 60, tz_name, missing)
        )
    return "DTSTART;TZID=%s:%s RRULE:%s" % (
        str(tz_name or "UTC"),
        moment.strftime("%Y%m%dT%H%M%S"),
        _rule(window),
    )


def rrule_of(windows_spec, name, tz_name=None, start=None, offset=0):
    """:func:`rrule` of the window called ``name`` among the platform's windows (as
    ``platform_maintenance_windows`` holds them: a dict by name, a list, or one window)."""
    named = dict(windows.normalize(windows_spec))
    if name not in named:
        raise windows.WindowError(
            "no maintenance window %r; the windows are: %s" % (name, ", ".join(sorted(named)) or "none")
        )
    return rrule(named[name].text, tz_name, start, offset)
