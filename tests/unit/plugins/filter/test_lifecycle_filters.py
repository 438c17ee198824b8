"""The lifecycle filters: scale targets and the state a stopped runbook left, as Jinja calls them."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.lifecycle import FilterModule

F = FilterModule().filters()
PLATFORM = [{"name": "core", "workload": "mplp-core", "autoscaling": {"min": 2, "max": 4}}]


def test_scale_targets():
    plan = F["scale_targets"](PLATFORM, {"core": "3"})
    assert plan["targets"] == [
        {"component": "core", "kind": "Deployment", "name": "mplp-core", "replicas": 3, "min": 2, "max": 4}
    ]
    assert F["scale_targets"](PLATFORM, restore=True)["names"] == ["core"]


def test_maintenance_state():
    state = F["maintenance_state"](
        {"page": {"changed": True}, "routed": {"failed": True}},
        "enable",
        cluster="us-east-1",
        stopped_at="Enable | point the Services at the maintenance page (selectors recorded on them)",
        error="Service mplp-core: forbidden",
        page="mplp-maintenance",
    )
    assert state["state"] == "partly_routed" and state["changed"] is True
    assert state["message"].startswith(
        'maintenance.yml enable on us-east-1 stopped at "Enable | point the Services at the maintenance page '
        '(selectors recorded on them)": Service mplp-core: forbidden. State: the maintenance page is up;'
    )
    with pytest.raises(AnsibleFilterError, match="maintenance_state: action must be enable or disable"):
        F["maintenance_state"]({}, "on")


def test_upgrade_outcome():
    undo = {"workloads": [{"name": "mplp-core", "changed": True, "target_revision": 3}]}
    outcome = F["upgrade_outcome"](undo, "us-east-1", "Apply: stuck", components=["core"])
    assert outcome["rolled_back"] == [{"name": "mplp-core", "revision": 3}]
    failed = F["upgrade_outcome"](None, "us-east-1", "Apply: stuck", components=["core"], undo_error="x: y")
    assert failed["state"] == "unknown" and "rolling it back failed too — x: y." in failed["message"]
