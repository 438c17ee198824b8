# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lock held in the cluster as a ``coordination.k8s.io/v1`` Lease: the decisions, and the
runner of multiagent.ops.lease.

One Lease per target (a database, a namespace). Whoever holds an unexpired Lease owns the
target; a Lease not renewed within its duration is stale and may be taken over (its
``leaseTransitions`` counts the hand-overs). Writes use the Lease's resourceVersion, so two
contenders racing for a free or stale Lease cannot both win: the loser gets a conflict and
looks again. Times are the controller's clock; keep it in sync with the cluster (NTP), or
give durations with room for the skew.

Waiting for another holder is a lock wait, not a rollout wait: :func:`run` looks again
every ``poll_interval`` seconds until the Lease is free, stale or ``wait_timeout`` (by
default 0: one look) has passed.

A run that starts a long step async (``poll: 0``) keeps its Lease with ``job``: the call
renews the Lease every third of its duration while it waits up to ``job_wait`` seconds for
the async job to finish (:func:`_watch_job`); the step itself only watches the Lease
(``lease.renew: false``) and stops once nobody renews it, so it dies with the run.
Everything but :func:`run` is pure.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common import async_job
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import status_message
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records

MANAGED_BY = "multiagent.ops"
ACQUIRED, RELEASED = "acquired", "released"
STATES = (ACQUIRED, RELEASED)


def micro_time(moment):
    """The API's MicroTime format."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def describe(lease, now):
    """Who holds the Lease, since when, until when, and whether that is over."""
    spec = (lease or {}).get("spec") or {}
    holder = spec.get("holderIdentity") or None
    renewed = wl.parse_time(spec.get("renewTime") or spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or 0)
    expires = renewed + datetime.timedelta(seconds=duration) if renewed else None
    return {
        "holder": holder,
        "acquired_at": spec.get("acquireTime"),
        "renewed_at": spec.get("renewTime"),
        "expires_at": expires.isoformat() if expires else None,
        "duration_seconds": duration,
        "transitions": int(spec.get("leaseTransitions") or 0),
        "purpose": (wl.meta(lease or {}).get("annotations") or {}).get(records.LEASE_PURPOSE),
        "expired": holder is None or expires is None or expires <= now,
    }


def plan_acquire(lease, holder, now, duration):
    """What acquiring means given the current Lease (None: there is none).

    Returns ``(action, spec)``: ``create`` (no Lease yet), ``renew`` (ours: extend it),
    ``take_over`` (free or stale: claim it), or ``wait`` (someone else holds it; spec None).
    """
    state = describe(lease, now)
    stamp = micro_time(now)
    if lease is None:
        return "create", {
            "holderIdentity": holder,
            "leaseDurationSeconds": int(duration),
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        }
    spec = dict(lease.get("spec") or {})
    if state["holder"] == holder:
        spec.update(renewTime=stamp, leaseDurationSeconds=int(duration))
        return "renew", spec
    if state["expired"]:
        spec.update(
            holderIdentity=holder,
            leaseDurationSeconds=int(duration),
            acquireTime=stamp,
            renewTime=stamp,
            leaseTransitions=state["transitions"] + (1 if state["holder"] else 0),
        )
        return "take_over", spec
    return "wait", None


def takeover_warning(what, before):
    """The warning of a take-over from a holder whose Lease went stale (None when the Lease
    was free): it was not released, so its run was cancelled or killed, or its host lost."""
    if not before["holder"]:
        return None
    return (
        "took %s over from %s%s, whose lease expired at %s without being released (that run was "
        "cancelled or killed, or lost its connection): check what it left half done"
        % (
            what,
            before["holder"],
            " (%s)" % before["purpose"] if before["purpose"] else "",
            before["expires_at"],
        )
    )


def plan_renew(lease, holder, now, duration, renew=True):
    """Renewing a Lease we hold, from a long step: ``("renew", spec)``, or ``("lost", state)``
    when it is gone, released, or held by someone else (ours went stale and was taken over).

    With ``renew`` false the step only watches a Lease that its run renews (an async step):
    ``("held", state)`` while it is ours and fresh, ``("stale", state)`` once it expired (the
    run stopped renewing it: it ended)."""
    state = describe(lease, now)
    if lease is None or state["holder"] != holder:
        return "lost", state
    if not renew:
        return ("stale" if state["expired"] else "held"), state
    spec = dict(lease.get("spec") or {})
    spec["renewTime"] = micro_time(now)
    if duration:  # else the Lease keeps its own
        spec["leaseDurationSeconds"] = int(duration)
    return "renew", spec


def lost_message(what, holder, state):
    """Why a long step stops: the Lease it renews is no longer its holder's."""
    if state["holder"]:
        return "%s was taken over by %s (the lease of %s went stale)" % (what, state["holder"], holder)
    return "%s is no longer held by %s (it was released or deleted)" % (what, holder)


def stale_message(what, holder, state):
    """Why an async step stops: its run no longer renews the Lease (the run ended)."""
    return "%s of %s was not renewed since %s and expired at %s: the run that renews it ended" % (
        what,
        holder,
        state["renewed_at"],
        state["expires_at"],
    )


def plan_release(lease, holder):
    """``(action, spec)``: ``release`` (ours: clear the holder), ``absent`` (no Lease),
    ``not_held`` (free already) or ``held_by_other`` (someone else's: left alone)."""
    if lease is None:
        return "absent", None
    spec = dict(lease.get("spec") or {})
    current = spec.get("holderIdentity")
    if not current:
        return "not_held", None
    if current != holder:
        return "held_by_other", None
    spec["holderIdentity"] = None
    spec.pop("renewTime", None)
    spec.pop("acquireTime", None)
    return "release", spec


def lease_object(name, namespace, spec, purpose=None, lease=None):
    """The Lease to write: the stored one (with its resourceVersion) with a new spec."""
    meta = dict((lease or {}).get("metadata") or {"name": name, "namespace": namespace})
    labels = dict(meta.get("labels") or {})
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    meta["labels"] = labels
    annotations = dict(meta.get("annotations") or {})
    if purpose:
        annotations[records.LEASE_PURPOSE] = purpose
    elif spec.get("holderIdentity") is None:
        annotations.pop(records.LEASE_PURPOSE, None)
    meta["annotations"] = annotations
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}


# -- the runner of multiagent.ops.lease ------------------------------------------------------


def utc_now():
    return datetime.datetime.now(datetime.UTC)


def _validate(p):
    if p["duration"] < 1:
        raise OpsError("duration must be at least 1 second, got %d" % p["duration"])
    if p["wait_timeout"] < 0:
        raise OpsError("wait_timeout must be >= 0, got %d" % p["wait_timeout"])
    if p.get("job"):
        if p["state"] != ACQUIRED:
            raise OpsError("job needs state=acquired (the Lease is renewed while the job runs)")
        if p["job_wait"] < 0:
            raise OpsError("job_wait must be >= 0, got %d" % p["job_wait"])


def held_message(what, holder, waited):
    """Why the Lease cannot be had: who holds it, doing what, since and until when."""
    return "%s is held by %s%s since %s, until %s; gave up after waiting %ds" % (
        what,
        holder["holder"],
        " (%s)" % holder["purpose"] if holder["purpose"] else "",
        holder["acquired_at"],
        holder["expires_at"],
        waited,
    )


def _namespace_exists(client, namespace):
    path = resources.NAMESPACE.object_path(None, namespace)
    return client.get_optional(path, "read namespace %s" % namespace) is not None


def _blocking(client, namespace, name, holder, now):
    """The Lease of ``name`` in ``namespace`` when someone else holds it unexpired, else None."""
    what = "lease %s/%s" % (namespace, name)
    state = describe(client.get_optional(resources.LEASE.object_path(namespace, name), "read %s" % what), now)
    return None if state["expired"] or state["holder"] == holder else (what, state)


def run(request, client, clock=time.monotonic, sleep=time.sleep, now=utc_now, read_job=None):
    """Acquire, renew or release the Lease (multiagent.ops.lease); with ``job``, keep it
    renewed while waiting for that async job (``read_job``: its status now, by default read
    from its status file in ``async_dir``).

    With a ``fallback_namespace``, the Lease lives there while ``namespace`` does not exist
    yet (a first deploy creates it). Once it exists, the Lease is taken in ``namespace``, but
    not while another holder still has the one in the fallback (a run that started before the
    namespace was created); a release gives back ours in both.
    """
    p = request.params
    _validate(p)
    ns, fallback = p["namespace"], p.get("fallback_namespace") or None
    if p.get("job"):
        read_job = read_job or async_job.reader(p.get("async_dir"), p["job"])
        return _watch_job(request, client, read_job, clock, sleep, now)
    if fallback in (None, ns):
        return _run_in(request, client, ns, None, clock, sleep, now)
    if not _namespace_exists(client, ns):
        return _run_in(request, client, fallback, None, clock, sleep, now)
    if p["state"] == ACQUIRED:
        return _run_in(request, client, ns, fallback, clock, sleep, now)
    results = [_run_in(request, client, where, None, clock, sleep, now) for where in (ns, fallback)]
    done = [r for r in results if r["changed"]]
    return dict(done[0] if done else results[0], changed=bool(done))


def _run_in(request, client, ns, also, clock, sleep, now):
    """The Lease in namespace ``ns``; when acquiring, also wait while another holder has the
    Lease of the same name in namespace ``also``."""
    p = request.params
    name = p["name"]
    path = resources.LEASE.object_path(ns, name)
    what = "lease %s/%s" % (ns, name)
    started = clock()

    while True:
        current = client.get_optional(path, "read %s" % what)
        moment = now()
        before = describe(current, moment)
        blocked = None
        if p["state"] == RELEASED:
            action, spec = plan_release(current, p["holder"])
        else:
            action, spec = plan_acquire(current, p["holder"], moment, p["duration"])
            blocked = (
                _blocking(client, also, name, p["holder"], moment) if also and action != "wait" else None
            )
            if blocked:
                action, spec = "wait", None
        if action == "wait":
            waited = clock() - started
            if waited >= p["wait_timeout"]:
                held, holder = blocked or (what, before)
                raise OpsError(
                    held_message(held, holder, waited),
                    changed=False,
                    lease=holder,
                    namespace=ns,
                    operation="wait",
                    waited_seconds=round(waited, 1),
                )
            sleep(min(p["poll_interval"], max(p["wait_timeout"] - waited, 0.05)))
            continue

        result = dict(
            operation=action, namespace=ns, waited_seconds=round(clock() - started, 1), changed=False
        )
        if action in ("take_over", "held_by_other") and before["holder"]:
            result["previous_holder"] = before["holder"]
        if action == "take_over" and before["holder"] and not request.check_mode:
            request.warn(takeover_warning(what, before))
        if spec is None:  # nothing to write
            return dict(result, lease=before)
        body = lease_object(name, ns, spec, p["purpose"] if p["state"] == ACQUIRED else None, current)
        after = describe(body, moment)
        result["changed"] = True
        if request.diff:
            result["diff"] = {"before": {"holder": before["holder"]}, "after": {"holder": after["holder"]}}
        if request.check_mode:
            return dict(result, lease=after)
        if current is None:
            status, answer = client.send(
                "POST", resources.LEASE.collection_path(ns), body, "create %s" % what
            )
        else:
            status, answer = client.send("PUT", path, body, "update %s" % what)
        if status == 409:
            continue  # someone else wrote first: look again
        if not 200 <= status < 300:
            raise OpsError(
                "Failed to %s %s: HTTP %d %s"
                % (action.replace("_", " "), what, status, status_message(answer) or ""),
                changed=False,
                lease=before,
                namespace=ns,
                operation=action,
            )
        return dict(result, lease=describe(answer, now()))


def _watch_job(request, client, read_job, clock, sleep, now):
    """Renew our Lease every third of its duration (the first time at once) until the async
    job ``job`` has finished or ``job_wait`` seconds have passed. Fails when the Lease is not
    ours any more (naming who has it): the job, which watches the Lease, stops by itself."""
    p = request.params
    ns, name, holder = p["namespace"], p["name"], p["holder"]
    path = resources.LEASE.object_path(ns, name)
    what = "lease %s/%s" % (ns, name)
    interval = max(1.0, p["duration"] / 3.0)
    started = clock()
    due = started  # the next renewal
    renewals, state = 0, None

    def result(done, **extra):
        out = dict(
            changed=renewals > 0,
            operation="renew",
            namespace=ns,
            lease=state,
            job=p["job"],
            job_finished=done,
            renewals=renewals,
            waited_seconds=round(clock() - started, 1),
        )
        out.update(extra)
        return out

    while True:
        if clock() >= due:
            current = client.get_optional(path, "read %s" % what)
            action, spec = plan_renew(current, holder, now(), p["duration"])
            if action == "lost":
                msg = "%s; async job %s stops once it sees that" % (
                    lost_message(what, holder, spec),
                    p["job"],
                )
                raise OpsError(msg, **result(False, lease=spec))
            due = clock() + interval
            if request.check_mode:
                state = describe(current, now())
            else:
                body = lease_object(name, ns, spec, None, current)
                status, answer = client.send("PUT", path, body, "renew %s" % what)
                if 200 <= status < 300:
                    renewals += 1
                    state = describe(answer, now())
                elif status == 409:  # written meanwhile: look again soon
                    due = clock() + min(p["poll_interval"], interval)
                else:
                    raise OpsError(
                        "Failed to renew %s while async job %s runs: HTTP %d %s"
                        % (what, p["job"], status, status_message(answer) or ""),
                        **result(False, lease=describe(current, now())),
                    )
        if async_job.finished(read_job()):
            return result(True)
        left = p["job_wait"] - (clock() - started)
        if left <= 0:
            return result(False)
        sleep(max(0.05, min(p["poll_interval"], due - clock(), left)))


class Renewer:
    """Renews a Lease from a thread while a long step runs (a dump, a restore), every
    ``duration / 3`` seconds, so the Lease can have a short duration and a cancelled run's
    lock goes stale soon. When a renewal finds the Lease lost (someone else holds it) it
    calls ``on_lost(message)`` once and stops: the step must then stop (common/cancel.py's
    Guard.cancel() does it safely). A renewal that fails on the API is retried at the next
    tick; the Lease is lost only when it is seen to be.

    With ``renew=False`` it only watches (a step run async, whose run renews the Lease
    while it polls): the Lease is lost also when it expires, because the run stopped
    renewing it (it was cancelled or killed), so the step dies with the run.

    ::

        with Renewer(client, ns, name, holder, duration, on_lost=guard.cancel):
            long_step()
    """

    def __init__(
        self, client, namespace, name, holder, duration, on_lost, interval=None, now=utc_now, renew=True
    ):
        import threading

        self.client = client
        self.path = resources.LEASE.object_path(namespace, name)
        self.what = "lease %s/%s" % (namespace, name)
        self.holder = holder
        self.duration = int(duration) if duration else None  # None: the Lease's own
        self._interval = interval
        self.on_lost = on_lost
        self.now = now
        self.renew = renew
        self.renewals = 0
        self.lost = None
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-renewer", daemon=True)

    @property
    def interval(self):
        if self._interval is not None:
            return self._interval
        return max(1.0, (self.duration or 3) / 3.0)

    def renew_once(self):
        """One renewal (or look); returns False when the Lease is lost."""
        current = self.client.get_optional(self.path, "read %s" % self.what)
        if self.duration is None and current is not None:
            self.duration = int((current.get("spec") or {}).get("leaseDurationSeconds") or 0) or None
        action, spec = plan_renew(current, self.holder, self.now(), self.duration or 0, self.renew)
        if action == "lost":
            self.lost = lost_message(self.what, self.holder, spec)
            return False
        if action == "stale":
            self.lost = stale_message(self.what, self.holder, spec)
            return False
        if action == "held":
            return True
        body = lease_object(None, None, spec, lease=current)
        status, answer = self.client.send("PUT", self.path, body, "renew %s" % self.what)
        if 200 <= status < 300:
            self.renewals += 1
        else:  # a conflict or a refusal: looked at again at the next tick
            self.errors.append("HTTP %d %s" % (status, status_message(answer) or ""))
        return True

    def check(self):
        """The first renewal (or look), before the step starts: an OpsError when the Lease is
        not ours any more, so that nothing is started without the lock."""
        if not self.renew_once():
            raise OpsError(nothing_changed(self.lost), changed=False)

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                if not self.renew_once():
                    if not self._stop.is_set():  # the step has not ended meanwhile
                        self.on_lost(self.lost)
                    return
            except Exception as exc:  # noqa: BLE001 - an API hiccup: the next tick tries again
                self.errors.append(str(exc))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=self.interval + 30)
        return False
