# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue of ``k8s_security_audit``: manifests and the ``objects`` option need no
cluster, so the runner (audit.py) runs without a client; ``namespaces`` or
``all_namespaces`` hand the work to the live reader (security/cluster.py: ``run(request,
client)``, which reads the cluster on the module's connection and calls audit.run with what
it read and found)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit

try:  # an optional import (Ansible packs the module without it where it is absent)
    from ansible_collections.multiagent.ops.plugins.module_utils.security import cluster
except ImportError:  # the live reader comes in its own slice
    cluster = None


def live_reader():
    """The live reader's module, or None where this build has none."""
    return cluster


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
    reader = live_reader()
    if reader is None:
        module.fail_json(
            msg=nothing_changed(
                "Cannot audit the live cluster: this build has no live reader (security/cluster.py)"
            ),
            changed=False,
        )
    k8s_module.main(module, reader.run)
