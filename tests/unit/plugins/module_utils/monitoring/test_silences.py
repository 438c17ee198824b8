"""Silences for the runbooks' changes: matchers, ends, what present/expired do, over an
in-memory Alertmanager that keeps silences as the API v2 does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import silences as sil

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class FakeAlertmanager:
    url = "http://am.test:9093"

    def __init__(self):
        self.store, self.ids, self.writes = {}, itertools.count(1), []

    def silences(self):
        return [dict(s) for s in self.store.values()]

    def create(self, body):
        self.writes.append(("POST", body.get("id")))
        sid = body.get("id") or "s%d" % next(self.ids)
        self.store[sid] = dict(body, id=sid, status={"state": "active"})
        return sid

    def expire(self, sid):
        self.writes.append(("DELETE", sid))
        self.store[sid]["status"] = {"state": "expired"}


def request(check_mode=False, diff=False, **params):
    base = {
        "state": "present",
        "matchers": {"platform": "mplp"},
        "comment": "upgrade of core",
        "created_by": "multiagent.ops",
        "key": None,
        "ends_at": None,
        "duration": None,
        "id": None,
        "url": FakeAlertmanager.url,
    }
    base.update(params)
    return Request(base, check_mode=check_mode, diff=diff)


def test_matchers_from_a_mapping_or_a_list_compare_equal():
    a = sil.matchers_of({"platform": "mplp", "severity": "critical"})
    b = sil.matchers_of(
        [{"name": "severity", "value": "critical"}, {"name": "platform", "value": "mplp", "regex": False}]
    )
    assert a == b
    assert a[0] == {"name": "platform", "value": "mplp", "isRegex": False, "isEqual": True}


@pytest.mark.parametrize(
    "spec, words",
    [
        ({}, "at least one"),
        ([{"value": "x"}], "matchers[0]: needs a label name"),
        ([{"name": "alertname", "value": "(", "regex": True}], "not a valid regular expression"),
        ({"platform": ""}, "name the alerts to silence"),
    ],
)
def test_matchers_that_would_mute_everything_or_do_not_parse_are_refused(spec, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("(", r"\(")):
        sil.matchers_of(spec)


def test_ends_at_from_a_lease_expiry_or_a_duration_and_never_in_the_past():
    assert sil.ends_at({"ends_at": "2026-12-06T12:30:00+00:00"}, NOW) == NOW + timedelta(minutes=30)
    assert sil.ends_at({"ends_at": "2026-12-06T12:30:00.123456789Z"}, NOW) > NOW + timedelta(minutes=30)
    assert sil.ends_at({"duration": 600}, NOW) == NOW + timedelta(minutes=10)
    with pytest.raises(ValueError, match="not in the future"):
        sil.ends_at({"ends_at": "2026-12-06T11:00:00Z"}, NOW)
    with pytest.raises(ValueError, match="needs ends_at or duration"):
        sil.ends_at({}, NOW)


def test_present_creates_once_then_keeps_then_extends_in_place():
    am = FakeAlertmanager()
    first = sil.run(request(duration=600, key="lock-a"), am, now=NOW)
    assert first["changed"] and first["silence"]["comment"] == "[maops:lock-a] upgrade of core"
    again = sil.run(request(duration=600, key="lock-a"), am, now=NOW)
    assert not again["changed"] and again["silence"]["id"] == first["silence"]["id"]
    longer = sil.run(request(duration=1200, key="lock-a"), am, now=NOW)
    assert longer["changed"] and longer["silence"]["id"] == first["silence"]["id"]
    assert am.writes == [("POST", None), ("POST", first["silence"]["id"])]
    assert len(am.store) == 1


def test_present_expires_what_an_earlier_run_of_the_same_key_left_and_nothing_else():
    am = FakeAlertmanager()
    old = sil.run(request(duration=600, key="lock-a", comment="restore by run 1"), am, now=NOW)["silence"][
        "id"
    ]
    other = sil.run(request(duration=600, key="lock-b", comment="restore by run 9"), am, now=NOW)["silence"][
        "id"
    ]
    by_hand = am.create(
        {"matchers": sil.matchers_of({"platform": "mplp"}), "comment": "a person's", "createdBy": "ops"}
    )
    new = sil.run(request(duration=600, key="lock-a", comment="restore by run 2"), am, now=NOW)
    assert new["changed"] and new["expired"] == [old]
    states = {sid: s["status"]["state"] for sid, s in am.store.items()}
    assert states == {old: "expired", other: "active", by_hand: "active", new["silence"]["id"]: "active"}


def test_check_mode_writes_nothing_and_says_what_it_would_do():
    am = FakeAlertmanager()
    result = sil.run(request(check_mode=True, diff=True, duration=60), am, now=NOW)
    assert result["changed"] and am.writes == [] and am.store == {}
    assert result["diff"]["before"]["silence"] is None and result["diff"]["after"]["silence"]["ends_at"]


def test_expired_by_id_and_by_key_then_nothing_to_do():
    am = FakeAlertmanager()
    a = sil.run(request(duration=600, key="lock-a"), am, now=NOW)["silence"]["id"]
    b = sil.run(request(duration=600, key="lock-b", comment="x"), am, now=NOW)["silence"]["id"]
    done = sil.run(request(state="expired", id=[a], key="lock-b"), am, now=NOW)
    assert done["changed"] and sorted(done["expired"]) == sorted([a, b])
    again = sil.run(request(state="expired", id=[a], key="lock-b"), am, now=NOW)
    assert not again["changed"] and again["already_gone"] == [a]


def test_bad_input_fails_before_anything_is_written():
    am = FakeAlertmanager()
    with pytest.raises(OpsError, match="nothing was changed") as err:
        sil.run(request(matchers={"platform": ""}, duration=60), am, now=NOW)
    assert err.value.result["changed"] is False and am.writes == []
    with pytest.raises(OpsError, match="needs id or key"):
        sil.run(request(state="expired"), am, now=NOW)


def test_an_unreachable_alertmanager_is_named_with_the_cause():
    class Down(FakeAlertmanager):
        def silences(self):
            raise OSError("connection refused")

    with pytest.raises(
        OpsError, match=r"Failed to list the silences at http://am.test:9093: connection refused"
    ):
        sil.run(request(duration=60), Down(), now=NOW)
