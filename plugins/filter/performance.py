# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain
from ansible_collections.multiagent.ops.plugins.module_utils.health import perf_report


# The report quotes what the servers said (statements, commands, error texts): it is marked
# unsafe so that Ansible never reads a "{{" in a statement as Jinja when it writes the file.
def performance_report(reports, format="markdown", title="Performance analysis", generated=None):
    try:
        return wrap_var(perf_report.render(plain(reports), format, title, generated))
    except ValueError as exc:
        raise AnsibleFilterError("performance_report: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"performance_report": performance_report}
