# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Waiting for a change to take effect in the cluster (rollouts, scaling, traffic)."""

    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the change has taken effect in the cluster, and fail naming what did not
        when it does not within O(wait_timeout). Never waits in check mode.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait when O(wait=true).
    type: int
    default: 300
"""
