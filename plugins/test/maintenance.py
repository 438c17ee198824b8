# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.maintenance import maintenance_window


def in_maintenance_window(windows_spec, timezone=None, now=None):
    try:
        return maintenance_window(windows_spec, timezone, now)["open"]
    except AnsibleFilterError as exc:
        raise AnsibleFilterError(str(exc).replace("maintenance_window:", "in_maintenance_window:", 1))


class TestModule:
    def tests(self):
        return {"in_maintenance_window": in_maintenance_window}
