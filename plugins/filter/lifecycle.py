# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import runbook, targets


def scale_targets(components, given=None, restore=False):
    return targets.scale_targets(components, given, restore)


def maintenance_state(steps, action, cluster=None, stopped_at=None, error=None, page=None):
    try:
        return runbook.maintenance_state(steps, action, cluster, stopped_at, error, page)
    except runbook.StateError as exc:
        raise AnsibleFilterError("maintenance_state: %s" % exc)


def upgrade_outcome(undo, cluster, reason, components=None, undo_error=None):
    return runbook.upgrade_outcome(cluster, reason, components or (), undo, undo_error)


class FilterModule:
    def filters(self):
        return {
            "maintenance_state": maintenance_state,
            "scale_targets": scale_targets,
            "upgrade_outcome": upgrade_outcome,
        }
