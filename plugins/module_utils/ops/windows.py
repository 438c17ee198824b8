# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance windows as the runbooks write them, and whether a moment falls inside one.

Accepted forms (case-insensitive; times are HH:MM, 24 h, in the window's time zone):

- ``02:00-04:00``                 every day
- ``Sunday 01:00-05:00``          every week on that day (``Sun`` works too)
- ``First Sunday 00:00-06:00``    every month on that weekday: First, Second, Third,
                                  Fourth or Last
- ``2026-12-24 22:00-02:00``      once, on that date

A window whose end is not after its start runs past midnight into the next day
(``23:00-01:00``); the day named is the day it starts. ``00:00-24:00`` is the whole day.
Times that do not exist or repeat on a daylight-saving change are resolved as the wall
clock reads them (zoneinfo's ``fold=0``).
"""

from __future__ import annotations

import datetime
import re

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_RE = re.compile(
    r"^\s*(?:(?P<date>\d{4}-\d{2}-\d{2})\s+|(?:(?P<ord>first|second|third|fourth|last)\s+)?(?P<day>[a-z]+)\s+)?"
    + r"(?P<sh>\d{1,2}):(?P<sm>\d{2})\s*-\s*(?P<eh>\d{1,2}):(?P<em>\d{2})\s*$",
    re.IGNORECASE,
)


class WindowError(ValueError):
    """A window that cannot be understood; the message quotes it."""


def _day_index(name, text):
    lowered = name.lower()
    for i, day in enumerate(DAYS):
        if day == lowered or (len(lowered) >= 3 and day.startswith(lowered)):
            return i
    raise WindowError("maintenance window %r: '%s' is not a day of the week" % (text, name))


def _minutes(hour, minute, text, allow_24=False):
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not allow_24)):
        raise WindowError("maintenance window %r: %s:%s is not a time of day" % (text, hour, minute))
    return h * 60 + m


class Window:
    """One parsed window: ``kind`` is daily, weekly, monthly or once."""

    def __init__(self, text):
        if not isinstance(text, str):
            raise WindowError("maintenance window %r: expected text such as '02:00-04:00'" % (text,))
        match = _RE.match(text)
        if not match:
            raise WindowError(
                "maintenance window %r is not understood; use '02:00-04:00', 'Sunday 01:00-05:00', "
                "'First Sunday 00:00-06:00' or '2026-12-24 22:00-02:00'" % text
            )
        self.text = text.strip()
        self.start = _minutes(match.group("sh"), match.group("sm"), text)
        self.end = _minutes(match.group("eh"), match.group("em"), text, allow_24=True)
        if self.end == self.start:
            raise WindowError("maintenance window %r is empty (it ends when it starts)" % text)
        # Minutes the window lasts; an end not after the start crosses midnight.
        self.length = (self.end - self.start) % (24 * 60) or 24 * 60
        self.weekday = self.ordinal = self.date = None
        if match.group("date"):
            try:
                self.date = datetime.date.fromisoformat(match.group("date"))
            except ValueError:
                raise WindowError("maintenance window %r: %s is not a date" % (text, match.group("date")))
            self.kind = "once"
        elif match.group("day"):
            self.weekday = _day_index(match.group("day"), text)
            if match.group("ord"):
                self.ordinal = ORDINALS[match.group("ord").lower()]
                self.kind = "monthly"
            else:
                self.kind = "weekly"
        else:
            self.kind = "daily"

    def _day_matches(self, day):
        if self.kind == "daily":
            return True
        if self.kind == "once":
            return day == self.date
        if day.weekday() != self.weekday:
            return False
        if self.kind == "weekly":
            return True
        if self.ordinal > 0:
            return (day.day - 1) // 7 + 1 == self.ordinal
        return (day + datetime.timedelta(days=7)).month != day.month  # the last one

    def occurrence(self, day, tz):
        """``(start, end)`` of the window starting on ``day``, or None."""
        if not self._day_matches(day):
            return None
        # Wall-clock arithmetic from the date, so that across a DST change 02:00 stays 02:00.
        start = datetime.datetime(day.year, day.month, day.day, self.start // 60, self.start % 60, tzinfo=tz)
        end_day = day + datetime.timedelta(days=(self.start + self.length) // (24 * 60))
        end_minute = (self.start + self.length) % (24 * 60)
        end = datetime.datetime(
            end_day.year, end_day.month, end_day.day, end_minute // 60, end_minute % 60, tzinfo=tz
        )
        return start, end

    def current(self, moment):
        """The occurrence containing ``moment`` (aware), or None."""
        for back in (0, 1):  # a window that began yesterday may still run
            occ = self.occurrence(moment.date() - datetime.timedelta(days=back), moment.tzinfo)
            if occ and occ[0] <= moment < occ[1]:
                return occ
        return None

    def next_start(self, moment, horizon_days=400):
        """The next start at or after ``moment``, or None within the horizon."""
        day = moment.date()
        for offset in range(horizon_days + 1):
            occ = self.occurrence(day + datetime.timedelta(days=offset), moment.tzinfo)
            if occ and occ[0] >= moment:
                return occ[0]
        return None


def timezone(name):
    if name in (None, "", "UTC", "utc", "Z"):
        return datetime.UTC
    if ZoneInfo is None:  # pragma: no cover
        raise WindowError("time zone %r needs Python >= 3.9 (zoneinfo)" % name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError("time zone %r is not known (use an IANA name such as 'Europe/Berlin')" % name)


def normalize(windows):
    """A window, a list of windows or a ``{name: window}`` dict -> ``[(name, Window)]``."""
    if isinstance(windows, str):
        return [(windows, Window(windows))]
    if isinstance(windows, dict):
        return [(str(name), Window(text)) for name, text in windows.items()]
    if isinstance(windows, (list, tuple)):
        return [(str(text), Window(text)) for text in windows]
    raise WindowError("maintenance windows must be text, a list or a dict, got %r" % (windows,))


def status(windows, tz_name=None, now=None):
    """Whether ``now`` falls in any of the windows, which one, until when, and what's next."""
    tz = timezone(tz_name)
    parsed = normalize(windows)
    if now is None:
        now = datetime.datetime.now(tz)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=tz)
    now = now.astimezone(tz)
    result = {
        "open": False,
        "window": None,
        "ends_at": None,
        "next_window": None,
        "next_start": None,
        "now": now.isoformat(),
        "timezone": str(tz_name or "UTC"),
    }
    latest_end = None
    for name, window in parsed:
        occ = window.current(now)
        if occ and (latest_end is None or occ[1] > latest_end):  # the one open longest
            latest_end = occ[1]
            result.update(open=True, window=name, ends_at=occ[1].isoformat())
    upcoming = [(w.next_start(now), name) for name, w in parsed]
    upcoming = [(start, name) for start, name in upcoming if start is not None]
    if upcoming:
        start, name = min(upcoming)
        result.update(next_window=name, next_start=start.isoformat())
    return result
