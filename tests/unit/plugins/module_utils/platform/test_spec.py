"""platform spec: merging a host's per-component overrides into the description."""

from __future__ import annotations

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as ps

COMPONENTS = [
    {"name": "core", "replicas": 3, "autoscaling": {"min": 3, "max": 20, "cpu": 70}, "env": [{"name": "A"}]},
    {"name": "plan", "replicas": 2},
]


def test_overrides_are_deep_merged_into_the_named_components_only():
    merged = ps.merge_overrides(
        COMPONENTS, {"core": {"replicas": 2, "autoscaling": {"min": 2, "max": 15}, "env": [{"name": "B"}]}}
    )
    assert merged[0] == {
        "name": "core",
        "replicas": 2,
        "autoscaling": {"min": 2, "max": 15, "cpu": 70},  # cpu stays: dicts merge
        "env": [{"name": "B"}],  # lists replace
    }
    assert merged[1] is COMPONENTS[1]
    assert COMPONENTS[0]["replicas"] == 3  # the inventory's list is not changed


def test_null_removes_a_field_and_no_overrides_change_nothing():
    merged = ps.merge_overrides(COMPONENTS, {"core": {"autoscaling": None}})
    assert "autoscaling" not in merged[0]
    assert ps.merge_overrides(COMPONENTS, None) == COMPONENTS
    assert ps.merge_overrides(COMPONENTS, {}) == COMPONENTS


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            {"billing": {"replicas": 1}},
            "overrides name unknown component 'billing'; the platform has: core, plan",
        ),
        ({"core": 3}, "overrides of component 'core' must be a dict of fields"),
        ([{"core": {}}], "overrides must map component names to dicts of fields"),
    ],
)
def test_bad_overrides_name_what_is_wrong(overrides, message):
    with pytest.raises(ps.SpecError, match=message):
        ps.merge_overrides(COMPONENTS, overrides)
