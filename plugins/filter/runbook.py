# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain
from ansible_collections.multiagent.ops.plugins.module_utils.ops import summary


def runbook_summary(results, runbook, cluster, completed=False):
    try:
        # plain data first (common/plain.py): a deploy's result holds every object it applied
        return summary.summary(runbook, cluster, completed, plain(results))
    except summary.SummaryError as exc:
        raise AnsibleFilterError("runbook_summary: %s" % exc)


class FilterModule:
    def filters(self):
        return {"runbook_summary": runbook_summary}
