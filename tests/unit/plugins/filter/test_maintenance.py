import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.maintenance import (
    maintenance_rrule,
    maintenance_window,
)
from ansible_collections.multiagent.ops.plugins.test import maintenance as maintenance_tests

WINDOWS = {"daily": "02:00-04:00", "weekly": "Sunday 01:00-05:00"}
in_window = maintenance_tests.TestModule().tests()["in_maintenance_window"]


def test_filter_and_test_agree():
    assert maintenance_window(WINDOWS, "UTC", "2026-11-24T03:00:00Z")["window"] == "daily"
    assert in_window(WINDOWS, "UTC", "2026-11-24T03:00:00Z") is True
    assert in_window(WINDOWS, "UTC", "2026-11-24T05:00:00+00:00") is False
    assert in_window("02:00-04:00", "Asia/Shanghai", "2026-11-24T03:00:00") is True  # naive: Shanghai time


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: maintenance_window("soon", "UTC"),
            "maintenance_window: maintenance window 'soon' is not understood",
        ),
        (lambda: maintenance_window(WINDOWS, "UTC", "yesterday"), "now='yesterday' is not an ISO 8601 time"),
        (lambda: in_window(WINDOWS, "Nowhere/City"), "in_maintenance_window: time zone 'Nowhere/City'"),
    ],
)
def test_errors(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_the_gate_filters_are_registered_and_name_bad_input():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.multiagent.ops.plugins.filter import gate as gate_filters

    filters = gate_filters.FilterModule().filters()
    assert filters["gate_lock"]("platform-a", "a", "")["name"] == "maops-lock-platform-a"
    assert filters["gate_holder"]("", awx_job_id=3) == "awx-job-3"
    assert filters["gate_verdict"]({"open": False, "timezone": "UTC"}, "x", "c", force=True)["allowed"]
    with pytest.raises(AnsibleFilterError, match="gate_verdict: the window status"):
        filters["gate_verdict"](None, "x", "c")


def test_maintenance_rrule_is_the_named_window_as_a_rule():
    rule = maintenance_rrule(WINDOWS, "weekly", "Asia/Shanghai", "2026-01-01")
    assert rule == "DTSTART;TZID=Asia/Shanghai:20260104T010000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=SU"
    with pytest.raises(AnsibleFilterError, match="maintenance_rrule: no maintenance window 'nightly'"):
        maintenance_rrule(WINDOWS, "nightly", "UTC")
