# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lock held in the cluster as a ``coordination.k8s.io/v1`` Lease: the decisions.

One Lease per target (a database, a namespace). Whoever holds an unexpired Lease owns the
target; a Lease not renewed within its duration is stale and may be taken over (its
``leaseTransitions`` counts the hand-overs). Writes use the Lease's resourceVersion, so two
contenders racing for a free or stale Lease cannot both win: the loser gets a conflict and
looks again. Times are the controller's clock; keep it in sync with the cluster (NTP), or
give durations with room for the skew.
"""

from __future__ import annotations

import datetime

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl

PURPOSE_ANNOTATION = "multiagent.ops/purpose"
MANAGED_BY = "multiagent.ops"


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
        "purpose": (wl.meta(lease or {}).get("annotations") or {}).get(PURPOSE_ANNOTATION),
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
        annotations[PURPOSE_ANNOTATION] = purpose
    elif spec.get("holderIdentity") is None:
        annotations.pop(PURPOSE_ANNOTATION, None)
    meta["annotations"] = annotations
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}
