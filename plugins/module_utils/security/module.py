# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of ``k8s_security_audit``: manifests and the ``objects`` option need no
cluster, so the runner (audit.run) runs without a client; ``namespaces`` or
``all_namespaces`` take the live runner (audit.run_live), which reads the cluster on the
module's connection (security/cluster.py) and audits what it read."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit, rotate


def main(module):
    params = module.params
    live = params.get("all_namespaces") or params.get("namespaces")
    if not live and not params.get("src") and params.get("objects") is None:
        module.fail_json(
            msg=nothing_changed(
                "Nothing to audit: give src (manifests), objects, namespaces or all_namespaces"
            ),
            changed=False,
        )
    if not live:
        finish(module, audit.run)
        return
    k8s_module.main(module, audit.run_live)


def rotate_main(module):
    """The glue of ``k8s_secret_rotate`` (security/rotate.py): required inputs by state, then
    the runner on the module's connection."""
    params = module.params
    if params["state"] == "rotated" and not params.get("record_dir"):
        module.fail_json(
            msg=nothing_changed(
                "record_dir is required with state=rotated: the previous values are kept there"
            ),
            changed=False,
        )
    if params["state"] == "rolled_back" and (params.get("data") or params.get("generate")):
        module.fail_json(
            msg=nothing_changed(
                "state=rolled_back takes its values from the record, not from data or generate"
            ),
            changed=False,
        )
    k8s_module.main(module, rotate.run)
