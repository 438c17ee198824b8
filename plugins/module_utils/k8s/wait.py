# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one waiter: read objects until a predicate holds for each, one fails, or time runs out.

A predicate looks at one object as the API returns it and answers a status dict with at
least ``done``, ``failed`` and ``message`` (the rollout predicate answers kubectl's whole
rollout status). The predicates of the collection are here and beside the decisions they
belong to:

- ``rollout.rolled_out``: kubectl's ``rollout status`` (a paused Deployment fails);
- ``lifecycle/scaling.scaled``: rolled out with every replica ready, the count within bounds;
- :func:`pods_gone`: no pods left (a workload scaled to zero);
- :func:`ready`: the latest generation observed with at least N replicas ready;
- :func:`established`: a CustomResourceDefinition whose kind is served.

Each round reads what is still pending with one GET, or one LIST per kind and namespace
when several share them. Transient API failures (no answer, timeouts, 429, 5xx) are tried
again until the deadline; any other (403, 401...) settles the objects read as failed. The
first failure ends the wait: the others are reported as last seen.
"""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError

MIN_READ = 5.0


class Target:
    """One object to wait for. ``check(obj)`` answers its status dict; ``absent``: the
    status to answer when the object does not exist (None: its absence is a failure)."""

    __slots__ = ("resource", "namespace", "name", "check", "absent")

    def __init__(self, resource, namespace, name, check, absent=None):
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.check = check
        self.absent = absent

    @property
    def key(self):
        return (self.resource.api_version, self.resource.kind, self.namespace, self.name)

    @property
    def label(self):
        return self.resource.label(self.namespace, self.name)


def blank(target):
    """The status of a target never read."""
    return {
        "kind": target.resource.kind,
        "name": target.name,
        "namespace": target.namespace,
        "done": False,
        "failed": False,
        "message": "",
    }


def read_objects(client, resource, namespace, names, timeout=None):
    """``{name: object or None}``: a GET for one, one LIST for several. Objects get their
    ``kind`` (LIST items have none) and namespace. ``timeout``: the reads' budget when it
    is not the client's (a wait's reads end with the wait)."""
    budget = {} if timeout is None else {"timeout": timeout}
    if len(names) == 1:
        name = names[0]
        found = {
            name: client.get_optional(
                resource.object_path(namespace, name), "read %s" % resource.label(namespace, name), **budget
            )
        }
    else:
        items = client.list(
            resource.collection_path(namespace), "list %s in %s" % (resource.plural, namespace), **budget
        )
        by_name = {wl.meta(item).get("name"): item for item in items}
        found = {name: by_name.get(name) for name in names}
    for obj in found.values():
        if obj is not None:
            obj["kind"] = resource.kind
            obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return found


class Waiter:
    """Waits for targets as the module docstring says.

    ``what``: what is read, for messages (``the rollout status``); ``noun``: what one
    target's wait is (``rollout``). ``blank(target)``: the status of a target never read.
    ``on_failure(target, obj or None, status)`` may return a new status for a failed
    target, ``on_timeout(target, status, obj, error, timeout)`` answers one for a target
    still pending at the deadline: the rollout waiter names the stuck pods there."""

    def __init__(
        self,
        client,
        timeout,
        poll=1.0,
        what="the status",
        noun="wait",
        blank=blank,
        on_failure=None,
        on_timeout=None,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        self.client = client
        self.timeout = max(timeout, 0)
        self.poll = poll
        self.what = what
        self.noun = noun
        self.blank = blank
        self.on_failure = on_failure
        self.on_timeout = on_timeout or timed_out
        self.clock = clock
        self.sleep = sleep

    def wait(self, targets):
        """One status per target, in order, each with ``seconds`` (time until it settled, or
        waited in all). ``timeout=0`` reads once."""
        start = self.clock()
        deadline = start + self.timeout
        by_key = {}
        for target in targets:
            by_key.setdefault(target.key, target)
        results, last, objects, api_error = {}, {}, {}, {}

        def since():
            return round(self.clock() - start, 1)

        while True:
            pending = [key for key in by_key if key not in results]
            groups = {}
            for key in pending:
                target = by_key[key]
                groups.setdefault((target.resource, target.namespace), []).append(target)
            failed_now = False
            for (resource, namespace), group in groups.items():
                try:
                    found = read_objects(
                        self.client, resource, namespace, [t.name for t in group], self._budget(deadline)
                    )
                except ApiError as exc:
                    if exc.transient:
                        api_error.update({t.key: exc for t in group})
                        continue
                    for target in group:
                        status = dict(
                            self.blank(target),
                            failed=True,
                            message="cannot read %s: %s" % (self.what, exc),
                            seconds=since(),
                        )
                        results[target.key] = self._failed(target, None, status)
                    failed_now = True
                    continue
                for target in group:
                    api_error.pop(target.key, None)
                    obj = found[target.name]
                    if obj is None:
                        status = target.absent
                        if status is None:
                            message = "%s %s does not exist in namespace %s" % (
                                resource.kind,
                                target.name,
                                namespace,
                            )
                            status = dict(self.blank(target), failed=True, message=message)
                    else:
                        status = target.check(obj)
                    objects[target.key], last[target.key] = obj, status
                    if status["done"]:
                        results[target.key] = dict(status, seconds=since())
                    elif status["failed"]:
                        results[target.key] = self._failed(target, obj, dict(status, seconds=since()))
                        failed_now = True
            remaining = [key for key in by_key if key not in results]
            if not remaining:
                break
            now = self.clock()
            if failed_now:
                for key in remaining:  # reported as last seen, still in progress
                    results[key] = dict(
                        last.get(key) or self.blank(by_key[key]), seconds=round(now - start, 1)
                    )
                    if key not in last:
                        results[key]["message"] = "not checked: another %s failed first" % self.noun
                break
            if now >= deadline:
                for key in remaining:
                    status = self.on_timeout(
                        by_key[key], last.get(key), objects.get(key), api_error.get(key), self.timeout
                    )
                    results[key] = dict(status, seconds=round(now - start, 1))
                break
            self.sleep(max(min(self.poll, deadline - now), 0))
        return [results[target.key] for target in targets]

    def _budget(self, deadline):
        """A read's time: what is left of the wait (never past it by a whole api_timeout of
        retries), at least MIN_READ seconds so that a read can be answered at all."""
        return max(deadline - self.clock(), MIN_READ)

    def _failed(self, target, obj, status):
        if self.on_failure is None:
            return status
        return self.on_failure(target, obj, status) or status


def timed_out(target, status, obj, error, timeout, noun=None):
    """The status of a target still pending at the deadline: what it waited for, or that
    the API stopped answering. ``noun``: what was waited for (``rollout``). It is failed, and
    ``timed_out`` tells it from a target that failed by itself: waiting longer may still
    see it done."""
    base = dict(status or blank(target), done=False, failed=True, timed_out=True)
    waited = "%g s" % timeout
    if error is not None:
        base["message"] = "the Kubernetes API stopped answering (%s); %snot confirmed within %s" % (
            error,
            "%s " % noun if noun else "",
            waited,
        )
        if status:
            base["message"] += "; last seen: %s" % status["message"]
        return base
    base["message"] = "%s within %s: %s" % (
        "%s did not finish" % noun if noun else "not done",
        waited,
        (status or {}).get("message") or "never read",
    )
    return base


# -- predicates -----------------------------------------------------------------------------


def _status(obj, done, message, **extra):
    meta = wl.meta(obj)
    return dict(
        kind=obj.get("kind"),
        name=meta.get("name"),
        namespace=meta.get("namespace"),
        done=done,
        failed=False,
        message=message,
        **extra,
    )


def pods_gone(obj):
    """A workload scaled to zero whose pods are gone (``status.replicas`` is 0)."""
    left = int((obj.get("status") or {}).get("replicas") or 0)
    return _status(obj, left == 0, "%d pod(s) left" % left if left else "no pods left", replicas=left)


def ready(replicas):
    """A workload whose latest generation is observed with at least ``replicas`` updated,
    ready replicas."""

    def check(obj):
        counts = wl.workload_replicas(obj)
        status = obj.get("status") or {}
        done = (
            counts["observed_generation_current"]
            and int(status.get("readyReplicas") or 0) >= replicas
            and int(status.get("updatedReplicas", replicas) or 0) >= replicas
        )
        return _status(
            obj,
            done,
            "%d of %d replicas ready" % (counts["ready"], replicas),
            ready=counts["ready"],
            replicas=replicas,
        )

    return check


def established(obj):
    """A CustomResourceDefinition whose ``Established`` condition is True (its kind is served)."""
    condition = wl.condition(obj, "Established") or {}
    done = condition.get("status") == "True"
    return _status(obj, done, "Established" if done else "not Established yet: its kind is not served yet")
