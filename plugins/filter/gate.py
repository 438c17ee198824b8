# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.ops import gate


def gate_verdict(window, purpose, cluster, force=False, need_window=True, windows=None):
    try:
        return gate.verdict(window, purpose, cluster, force=force, need_window=need_window, windows=windows)
    except gate.GateError as exc:
        raise AnsibleFilterError("gate_verdict: %s" % exc)


def gate_lock(target, namespace, fallback_namespace=None):
    try:
        return gate.lock(target, namespace, fallback_namespace or None)
    except gate.GateError as exc:
        raise AnsibleFilterError("gate_lock: %s" % exc)


def gate_holder(
    given=None, awx_job_id=None, user=None, stamp=None, suffix=None, template=None, awx_user=None, pod=None
):
    try:
        return gate.holder(
            given, awx_job_id, user, stamp, suffix, template=template, awx_user=awx_user, pod=pod
        )
    except gate.GateError as exc:
        raise AnsibleFilterError("gate_holder: %s" % exc)


class FilterModule:
    def filters(self):
        return {"gate_verdict": gate_verdict, "gate_lock": gate_lock, "gate_holder": gate_holder}
