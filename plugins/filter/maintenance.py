# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.ops import rrule, windows


def _moment(now):
    if now is None or isinstance(now, datetime.datetime):
        return now
    try:
        return datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
    except ValueError:
        raise AnsibleFilterError("maintenance_window: now=%r is not an ISO 8601 time" % (now,))


def maintenance_window(windows_spec, timezone=None, now=None):
    try:
        return windows.status(windows_spec, timezone, _moment(now))
    except windows.WindowError as exc:
        raise AnsibleFilterError("maintenance_window: %s" % exc)


def maintenance_rrule(windows_spec, name, timezone=None, start=None, offset=0):
    try:
        return rrule.rrule_of(windows_spec, name, timezone, start, offset)
    except windows.WindowError as exc:
        raise AnsibleFilterError("maintenance_rrule: %s" % exc)


class FilterModule:
    def filters(self):
        return {"maintenance_window": maintenance_window, "maintenance_rrule": maintenance_rrule}
