"""The lifecycle modules take the shared options with one default per meaning: api_timeout
30, wait true and wait_timeout 300; the lease's lock wait keeps its own default of 0."""

import pytest

from ansible_collections.multiagent.ops.plugins.modules import lease, quiesce, scale, service_route


@pytest.mark.parametrize("module", [quiesce, scale, service_route])
def test_the_waiting_modules_share_the_wait_defaults(module):
    spec = module.argspec()
    assert spec["api_timeout"]["default"] == 30
    assert (spec["wait"]["default"], spec["wait_timeout"]["default"]) == (True, 300)


def test_the_lease_waits_for_a_lock_not_a_rollout():
    spec = lease.argspec()
    assert spec["api_timeout"]["default"] == 30
    assert spec["wait_timeout"]["default"] == 0 and "wait" not in spec


def test_quiesce_still_takes_the_deprecated_state_name():
    assert quiesce.argspec()["state"]["choices"] == ["quiesced", "restored", "resumed"]
