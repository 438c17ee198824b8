"""Lease decisions and the runner's lock wait, on a fake API and a fake clock."""

import datetime
import time

import fakes
import pytest
from fakes import Exit

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import lease as leases
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.modules import lease as lease_module

T0 = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=datetime.UTC)


def held(holder, renewed_ago, duration=60, transitions=0, purpose=None):
    stamp = leases.micro_time(T0 - datetime.timedelta(seconds=renewed_ago))
    meta = {"name": "lock", "namespace": "ns", "resourceVersion": "7"}
    if purpose:
        meta["annotations"] = {records.LEASE_PURPOSE: purpose}
    return {
        "metadata": meta,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        },
    }


@pytest.mark.parametrize(
    "current,action",
    [
        (None, "create"),
        (held("me", 10), "renew"),
        (held("other", 10), "wait"),
        (held("other", 61), "take_over"),  # stale
        (held(None, 5), "take_over"),  # released
    ],
)
def test_plan_acquire(current, action):
    got, spec = leases.plan_acquire(current, "me", T0, 60)
    assert got == action
    if action == "wait":
        assert spec is None
    else:
        assert spec["holderIdentity"] == "me" and spec["renewTime"] == "2026-11-22T12:00:00.000000Z"


def test_take_over_counts_transitions_and_keeps_nothing_of_the_old_holder():
    action, spec = leases.plan_acquire(held("other", 120, transitions=2), "me", T0, 30)
    assert action == "take_over"
    assert spec["leaseTransitions"] == 3 and spec["acquireTime"] == spec["renewTime"]
    assert spec["leaseDurationSeconds"] == 30


@pytest.mark.parametrize(
    "current,action",
    [
        (None, "absent"),
        (held(None, 5), "not_held"),
        (held("other", 5), "held_by_other"),
        (held("me", 5), "release"),
    ],
)
def test_plan_release(current, action):
    got, spec = leases.plan_release(current, "me")
    assert got == action
    assert (spec is not None) == (action == "release")
    if spec:
        assert spec["holderIdentity"] is None and "renewTime" not in spec


def test_lease_object_keeps_resource_version_and_purpose():
    current = held("other", 120)
    body = leases.lease_object("lock", "ns", {"holderIdentity": "me"}, "restore", current)
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["metadata"]["annotations"][records.LEASE_PURPOSE] == "restore"
    assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "multiagent.ops"
    released = leases.lease_object("lock", "ns", {"holderIdentity": None}, None, held("me", 1, purpose="x"))
    assert records.LEASE_PURPOSE not in released["metadata"]["annotations"]


# --- the module's loop -----------------------------------------------------------------
def fake_module(**params):
    """fakes.FakeModule of lease_module with this file's defaults."""
    defaults = {"namespace": "ns", "name": "lock", "holder": "me"}
    return fakes.FakeModule(lease_module, **dict(defaults, **params))


LEASE = resources.LEASE.object_path("ns", "lock")


class FakeApi(fakes.FakeApi):
    """One Lease at its registry path; the first write can be made to lose a race (409)."""

    def __init__(self, lease=None, conflict_once=False, refuse=None):
        super().__init__({LEASE: lease} if lease else {}, refuse=refuse)
        self.conflict_once = conflict_once
        self.writes = []

    @property
    def lease(self):
        return self.objects.get(LEASE)

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        self.writes.append((method, body["spec"].get("holderIdentity")))
        if self.conflict_once:
            self.conflict_once = False
            self.put_object(LEASE, held("racer", 0))  # the racer won meanwhile
            return 409, {"message": "the object has been modified"}
        return super().send(method, path, body, what, content_type, query, idempotent)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def run(module, api, clock=None):
    clock = clock or Clock()
    with pytest.raises(Exit):
        finish(
            module,
            leases.run,
            api,
            clock=clock,
            sleep=clock.sleep,
            now=lambda: T0 + datetime.timedelta(seconds=clock.t),
        )
    return module.result


def test_acquire_creates_then_renews():
    api = FakeApi()
    first = run(fake_module(purpose="backup"), api)
    assert first["operation"] == "create" and first["changed"] and api.writes == [("POST", "me")]
    assert first["lease"]["purpose"] == "backup"
    assert api.calls[:2] == [("GET", LEASE), ("POST", resources.LEASE.collection_path("ns"))]
    again = run(fake_module(), api)
    assert again["operation"] == "renew" and api.writes[-1] == ("PUT", "me")


def test_contention_waits_then_fails_naming_the_holder():
    api = FakeApi(held("alice@awx-job-42", 1, duration=600, purpose="restore_database.yml"))
    result = run(fake_module(wait_timeout=5, poll_interval=1), api)
    assert result["failed"] is True
    assert result["msg"].startswith(
        "lease ns/lock is held by alice@awx-job-42 (restore_database.yml) since 2026-11-22T11:59:59"
    )
    assert "gave up after waiting 5s" in result["msg"]
    assert api.writes == [] and result["changed"] is False and result["operation"] == "wait"


def test_a_lease_that_goes_stale_while_waiting_is_taken_over():
    api = FakeApi(held("crashed-run", 50, duration=60))
    result = run(fake_module(wait_timeout=30, poll_interval=2), api)
    assert result["operation"] == "take_over" and result["previous_holder"] == "crashed-run"
    assert 9 <= result["waited_seconds"] <= 12
    assert api.lease["spec"]["leaseTransitions"] == 1


def test_a_lost_race_is_retried_and_then_waits():
    api = FakeApi(None, conflict_once=True)
    result = run(fake_module(wait_timeout=0), api)
    assert result["failed"] is True and "held by racer" in result["msg"]


def test_check_mode_writes_nothing():
    api = FakeApi()
    module = fake_module()
    module.check_mode = True
    module._diff = True
    result = run(module, api)
    assert result["changed"] is True and api.writes == []
    assert result["diff"] == {"before": {"holder": None}, "after": {"holder": "me"}}


def test_release_only_our_own():
    api = FakeApi(held("other", 1))
    result = run(fake_module(state="released"), api)
    assert result["operation"] == "held_by_other" and result["changed"] is False
    assert result["previous_holder"] == "other" and api.writes == []
    api = FakeApi(held("me", 1))
    result = run(fake_module(state="released"), api)
    assert result["operation"] == "release" and api.writes == [("PUT", None)]


def test_the_default_wait_timeout_looks_once():
    api = FakeApi(held("other", 1))
    clock = Clock()
    result = run(fake_module(), api, clock)
    assert result["failed"] is True and result["waited_seconds"] == 0 and clock.t == 0
    assert api.calls == [("GET", LEASE)]


def test_a_refused_write_fails_naming_the_action_and_changed_nothing():
    api = FakeApi(held("other", 120), refuse={("PUT", LEASE): 403})
    result = run(fake_module(), api)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "Failed to take over lease ns/lock: HTTP 403 refused by the test"
    assert api.lease["spec"]["holderIdentity"] == "other"


@pytest.mark.parametrize(
    "params,message",
    [
        ({"duration": 0}, "duration must be at least 1 second, got 0"),
        ({"wait_timeout": -1}, "wait_timeout must be >= 0, got -1"),
    ],
)
def test_bad_input_fails_before_any_request(params, message):
    api = FakeApi()
    result = run(fake_module(**params), api)
    assert result["failed"] is True and result["msg"] == message and api.calls == []


# --- a fallback namespace for a run that creates the namespace ----------------------------
NS = resources.NAMESPACE.object_path(None, "ns")
FALLBACK = resources.LEASE.object_path("default", "lock")


def test_while_the_namespace_is_absent_the_lease_lives_in_the_fallback():
    api = FakeApi()
    result = run(fake_module(fallback_namespace="default"), api)
    assert result["operation"] == "create" and result["namespace"] == "default"
    assert api.objects[FALLBACK]["spec"]["holderIdentity"] == "me" and api.lease is None
    assert api.calls[:2] == [("GET", NS), ("GET", FALLBACK)]


def test_once_the_namespace_exists_a_holder_in_the_fallback_is_still_waited_for():
    api = FakeApi()
    api.put_object(NS, {"metadata": {"name": "ns"}})
    api.put_object(FALLBACK, dict(held("first-deploy", 5, duration=600), metadata={"name": "lock"}))
    result = run(fake_module(fallback_namespace="default", wait_timeout=4, poll_interval=2), api)
    assert result["failed"] is True and result["operation"] == "wait" and api.writes == []
    assert result["msg"].startswith("lease default/lock is held by first-deploy since")
    assert api.lease is None


def test_once_the_namespace_exists_the_lease_is_taken_there():
    api = FakeApi()
    api.put_object(NS, {"metadata": {"name": "ns"}})
    api.put_object(FALLBACK, dict(held("me", 5), metadata={"name": "lock"}))  # our own
    result = run(fake_module(fallback_namespace="default"), api)
    assert result["operation"] == "create" and result["namespace"] == "ns"
    assert api.lease["spec"]["holderIdentity"] == "me"


def test_a_release_gives_back_ours_in_the_fallback_after_the_namespace_was_created():
    api = FakeApi()
    api.put_object(NS, {"metadata": {"name": "ns"}})
    api.put_object(FALLBACK, dict(held("me", 5), metadata={"name": "lock"}))
    result = run(fake_module(fallback_namespace="default", state="released"), api)
    assert result["changed"] is True and result["operation"] == "release"
    assert result["namespace"] == "default" and api.writes == [("PUT", None)]
    again = run(fake_module(fallback_namespace="default", state="released"), api)
    assert again["changed"] is False and again["operation"] == "absent" and again["namespace"] == "ns"


# -- a stale holder named, and renewals from a long step ------------------------------------------


def test_taking_over_a_stale_lease_warns_naming_the_old_holder():
    api = FakeApi(held("awx-job-41 (alice)", 700, duration=600, purpose="backup_database.yml"))
    module = fake_module()
    result = run(module, api)
    assert result["operation"] == "take_over" and result["previous_holder"] == "awx-job-41 (alice)"
    (warning,) = module.warnings
    assert warning.startswith(
        "took lease ns/lock over from awx-job-41 (alice) (backup_database.yml), whose lease expired at "
        "2026-11-22T11:58:20"
    )
    assert "cancelled or killed" in warning


def test_taking_a_released_lease_does_not_warn():
    module = fake_module()
    run(module, FakeApi(held(None, 5)))
    assert module.warnings == []


@pytest.mark.parametrize(
    "current,action",
    [(held("me", 10), "renew"), (held("other", 1), "lost"), (None, "lost"), (held(None, 1), "lost")],
)
def test_plan_renew(current, action):
    got, spec = leases.plan_renew(current, "me", T0, 90)
    assert got == action
    if action == "renew":
        assert spec["renewTime"] == "2026-11-22T12:00:00.000000Z" and spec["leaseDurationSeconds"] == 90
        assert spec["acquireTime"] == current["spec"]["acquireTime"]


def test_lost_message_names_who_took_it():
    state = leases.describe(held("bob", 1), T0)
    assert leases.lost_message("lease ns/lock", "me", state) == (
        "lease ns/lock was taken over by bob (the lease of me went stale)"
    )
    assert "released or deleted" in leases.lost_message("lease ns/lock", "me", leases.describe(None, T0))


def test_the_renewer_keeps_the_lease_fresh_and_stops_the_step_when_it_is_taken():
    api = FakeApi(held("me", 0, duration=6))
    lost = []
    with leases.Renewer(api, "ns", "lock", "me", 6, on_lost=lost.append, interval=0.05, now=lambda: T0):
        deadline = time.monotonic() + 5
        while not api.writes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert api.writes and api.writes[0] == ("PUT", "me")
        assert api.lease["spec"]["renewTime"] == "2026-11-22T12:00:00.000000Z"
        api.put_object(LEASE, held("bob", 0))  # ours went stale and bob took it
        while not lost and time.monotonic() < deadline:
            time.sleep(0.01)
    assert lost == ["lease ns/lock was taken over by bob (the lease of me went stale)"]
    assert api.lease["spec"]["holderIdentity"] == "bob"  # a lost Lease is never written


def test_a_lost_lease_cancels_the_guarded_step():
    from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel

    api = FakeApi(held("bob", 0))
    with pytest.raises(cancel.Cancelled) as caught:
        with cancel.Guard(watch=False) as guard:
            with leases.Renewer(api, "ns", "lock", "me", 6, on_lost=guard.cancel, interval=0.05):
                time.sleep(5)
    assert str(caught.value) == "cancelled (lease ns/lock was taken over by bob (the lease of me went stale))"


@pytest.mark.parametrize(
    "current,action",
    [(held("me", 10), "held"), (held("me", 61), "stale"), (held("other", 1), "lost"), (None, "lost")],
)
def test_plan_renew_of_a_step_that_only_watches(current, action):
    got, state = leases.plan_renew(current, "me", T0, 60, renew=False)
    assert got == action and state == leases.describe(current, T0)


def test_a_renewal_without_a_duration_keeps_the_leases_own():
    _, spec = leases.plan_renew(held("me", 10, duration=45), "me", T0, None)
    assert spec["leaseDurationSeconds"] == 45 and spec["renewTime"] == "2026-11-22T12:00:00.000000Z"


def test_stale_message_says_the_run_ended():
    state = leases.describe(held("me", 61), T0)
    assert leases.stale_message("lease ns/lock", "me", state) == (
        "lease ns/lock of me was not renewed since 2026-11-22T11:58:59.000000Z and expired at "
        "2026-11-22T11:59:59+00:00: the run that renews it ended"
    )


def test_the_first_renewal_refuses_a_lost_lease_before_the_step_starts():
    api = FakeApi(held("bob", 0))
    renewer = leases.Renewer(api, "ns", "lock", "me", None, on_lost=None, now=lambda: T0)
    with pytest.raises(leases.OpsError) as caught:
        renewer.check()
    assert caught.value.msg.endswith("; nothing was changed") and caught.value.result == {"changed": False}
    assert api.writes == []


def test_a_renewer_without_a_duration_renews_with_the_leases_own_every_third_of_it():
    api = FakeApi(held("me", 0, duration=45))
    renewer = leases.Renewer(api, "ns", "lock", "me", None, on_lost=None, now=lambda: T0)
    renewer.check()
    assert renewer.interval == 15 and api.lease["spec"]["leaseDurationSeconds"] == 45


# --- keeping the Lease while an async job runs (job) ------------------------------------
class Job:
    """An async job's status as the module reads it: running until ``ends_at`` on the clock."""

    def __init__(self, clock, ends_at=None):
        self.clock, self.ends_at, self.reads = clock, ends_at, 0

    def __call__(self):
        self.reads += 1
        if self.ends_at is not None and self.clock.t >= self.ends_at:
            return {"changed": True, "backups": []}  # the module's result: no "started"
        return {"started": True, "finished": False, "ansible_job_id": "j1"}


def run_job(module, api, ends_at=None):
    clock = Clock()
    job = Job(clock, ends_at)
    with pytest.raises(Exit):
        finish(
            module,
            leases.run,
            api,
            clock=clock,
            sleep=clock.sleep,
            now=lambda: T0 + datetime.timedelta(seconds=clock.t),
            read_job=job,
        )
    return module.result, clock, job


def test_a_job_is_waited_for_while_the_lease_is_renewed_every_third_of_its_duration():
    api = FakeApi(held("me", 1, duration=6, purpose="backup"))
    result, clock, _ = run_job(fake_module(job="j1", job_wait=10, duration=6, poll_interval=1), api)
    assert result["job_finished"] is False and result["job"] == "j1"
    assert clock.t == pytest.approx(10)
    # at 0, 2, 4, 6, 8 and 10 s: never older than a third of its duration
    assert result["renewals"] == 6 and api.writes == [("PUT", "me")] * 6
    assert result["changed"] is True and result["operation"] == "renew"
    assert result["lease"]["holder"] == "me" and result["lease"]["purpose"] == "backup"
    assert api.lease["spec"]["renewTime"] == leases.micro_time(T0 + datetime.timedelta(seconds=10))


def test_a_finished_job_ends_the_wait_at_once():
    api = FakeApi(held("me", 1, duration=60))
    result, clock, job = run_job(fake_module(job="j1", job_wait=15, duration=60, poll_interval=1), api, 3)
    assert result["job_finished"] is True
    assert clock.t == pytest.approx(3) and result["renewals"] == 1


def test_a_job_whose_lease_was_taken_fails_naming_the_new_holder():
    api = FakeApi(held("other@awx-job-7", 1, duration=6))
    result, _, job = run_job(fake_module(job="j1", duration=6), api)
    assert result["failed"] is True and result["changed"] is False
    assert "was taken over by other@awx-job-7" in result["msg"] and "async job j1" in result["msg"]
    assert api.writes == [] and job.reads == 0


def test_a_job_wait_in_check_mode_renews_nothing():
    api = FakeApi(held("me", 1, duration=6))
    result, _, _ = run_job(fake_module(job="j1", job_wait=4, duration=6, check_mode=True), api)
    assert result["job_finished"] is False and result["changed"] is False and api.writes == []


def test_a_refused_renewal_fails_the_wait():
    api = FakeApi(held("me", 1, duration=6), refuse={("PUT", LEASE): 403})
    result, _, _ = run_job(fake_module(job="j1", duration=6), api)
    assert result["failed"] is True and result["msg"].startswith(
        "Failed to renew lease ns/lock while async job j1"
    )


@pytest.mark.parametrize(
    "params,message",
    [
        ({"job": "j1", "state": "released"}, "job needs state=acquired"),
        ({"job": "j1", "job_wait": -1}, "job_wait must be >= 0"),
    ],
)
def test_bad_job_input_fails(params, message):
    api = FakeApi(held("me", 1))
    result, _, _ = run_job(fake_module(**params), api)
    assert result["failed"] is True and message in result["msg"] and api.calls == []
