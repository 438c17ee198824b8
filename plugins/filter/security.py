# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain
from ansible_collections.multiagent.ops.plugins.module_utils.security import audit, catalogue


def security_audit(objects, fail_on="critical", waivers=None, registries=None, max_findings=20):
    if not isinstance(objects, list):
        raise AnsibleFilterError("security_audit: the input must be a list of Kubernetes objects")
    if fail_on not in catalogue.SEVERITIES + ("none",):
        raise AnsibleFilterError(
            "security_audit: fail_on %r is not a severity (critical ... info, none)" % fail_on
        )
    # plain data first (common/plain.py): the rules read every manifest's fields many times
    return audit.verdict(
        plain(objects), fail_on, plain(waivers or ()), plain(registries or ()), int(max_findings)
    )


class FilterModule:
    def filters(self):
        return {"security_audit": security_audit}
