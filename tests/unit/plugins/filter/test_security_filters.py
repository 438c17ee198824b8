"""security_audit: the deploy preflight's audit of rendered manifests on the controller."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.security import FilterModule

F = FilterModule().filters()
ROOT_POD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "mplp"},
    "spec": {
        "template": {
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:1",
                        "securityContext": {
                            "runAsUser": 0,
                            "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            }
        }
    },
}


def test_a_finding_at_fail_on_fails_naming_rule_and_object():
    verdict = F["security_audit"]([ROOT_POD], fail_on="high")
    assert verdict["failed"] and "MAO-004 Deployment/mplp/web" in verdict["message"]
    assert "nothing was changed" in verdict["message"]


def test_below_fail_on_it_passes_with_the_score():
    verdict = F["security_audit"]([ROOT_POD], fail_on="critical")
    assert not verdict["failed"] and verdict["message"].startswith(
        "The security audit passes at critical: score "
    )


def test_a_waiver_lets_the_finding_through_and_the_message_says_which_until_when_and_why():
    waiver = {
        "rule": "MAO-004",
        "kind": "Deployment",
        "name": "web",
        "reason": "binds 80",
        "expires": "2099-12-31",
    }
    verdict = F["security_audit"]([ROOT_POD], fail_on="high", waivers=[waiver])
    assert not verdict["failed"]
    assert verdict["waived"] == ["MAO-004 Deployment/mplp/web until 2099-12-31 (binds 80)"]
    assert "waived: MAO-004" in verdict["message"]
    expired = F["security_audit"]([ROOT_POD], fail_on="high", waivers=[dict(waiver, expires="2020-01-01")])
    assert expired["failed"] and "MAO-004" in expired["message"]


@pytest.mark.parametrize(
    "objects, fail_on, message", [({}, "high", "a list"), ([], "severe", "not a severity")]
)
def test_bad_input_is_a_filter_error(objects, fail_on, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F["security_audit"](objects, fail_on=fail_on)
