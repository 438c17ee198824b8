# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.ops import summary


def runbook_summary(results, runbook, cluster, completed=False):
    try:
        return summary.summary(runbook, cluster, completed, results)
    except summary.SummaryError as exc:
        raise AnsibleFilterError("runbook_summary: %s" % exc)


class FilterModule:
    def filters(self):
        return {"runbook_summary": runbook_summary}
