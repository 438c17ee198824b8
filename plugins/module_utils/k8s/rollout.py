# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollouts of Deployments, StatefulSets and DaemonSets: status, waiting, restart, history,
undo, and the runner of multiagent.ops.k8s_rollout.

The status rules are kubectl's ``rollout status`` (polymorphichelpers/rollout_status.go);
history and undo follow ``kubectl rollout history/undo``: ReplicaSets (Deployments) or
ControllerRevisions (StatefulSets, DaemonSets) owned by the workload's uid, numbered by
their revision. Everything but :func:`wait_rollouts` and :func:`run` is pure and works on
plain dicts as the API returns them; those two talk through a ``client.Client``.
"""

from __future__ import annotations

import copy
import datetime
import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# What holds each kind's history (apps/v1, namespaced).
HISTORY = {
    "Deployment": resources.REPLICA_SET,
    "StatefulSet": resources.get("ControllerRevision"),
    "DaemonSet": resources.get("ControllerRevision"),
}

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
STS_HASH_LABEL = "controller-revision-hash"

# Container states in which a pod will not become ready on its own (kubectl warns about these).
_STUCK_REASONS = (
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
)
MAX_PODS = 5


class RolloutError(ValueError):
    """An action that cannot be planned; the message names the workload and the cause."""


def _meta(obj):
    return obj.get("metadata") or {}


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def workload_label(obj_or_result):
    """``Deployment mplp-core in mplp-production`` for an object or a status/result dict."""
    if "metadata" in obj_or_result:
        meta = _meta(obj_or_result)
        kind, name, namespace = obj_or_result.get("kind"), meta.get("name"), meta.get("namespace")
    else:
        kind, name, namespace = (obj_or_result.get(k) for k in ("kind", "name", "namespace"))
    if namespace:
        return "%s %s in %s" % (kind, name, namespace)
    return "%s %s" % (kind, name)


# -- status ---------------------------------------------------------------------------------


def rollout_status(obj):
    """The rollout state of a Deployment, StatefulSet or DaemonSet, as ``kubectl rollout
    status`` judges it: ``done`` when the latest spec is observed and fully rolled out,
    ``failed`` when a Deployment exceeded its progress deadline, ``message`` what it is
    waiting for. A paused Deployment is neither done nor failed."""
    kind = obj.get("kind")
    meta = _meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    result = {
        "kind": kind,
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "done": False,
        "failed": False,
        "message": "",
    }
    if kind == "DaemonSet":
        result.update(
            replicas=_int(status.get("desiredNumberScheduled")),
            updated=_int(status.get("updatedNumberScheduled")),
            ready=_int(status.get("numberReady")),
            available=_int(status.get("numberAvailable")),
        )
    elif kind in ("Deployment", "StatefulSet"):
        result.update(
            replicas=_int(spec.get("replicas"), 1) if spec.get("replicas") is not None else 1,
            updated=_int(status.get("updatedReplicas")),
            ready=_int(status.get("readyReplicas")),
            available=_int(status.get("availableReplicas")),
        )
    else:
        raise RolloutError("%s: rollout status is only defined for %s" % (kind, ", ".join(KINDS)))

    strategy = spec.get("updateStrategy") or {}
    if kind != "Deployment" and strategy.get("type", "RollingUpdate") != "RollingUpdate":
        result.update(
            done=True,
            message="update strategy %s: pods are replaced only when deleted, there is no rollout "
            "to wait for" % strategy.get("type"),
        )
        return result

    generation = _int(meta.get("generation"))
    observed = _int(status.get("observedGeneration"))
    if generation > observed or (kind == "StatefulSet" and observed == 0):
        result["message"] = "waiting for the rollout to be observed (generation %d, observed %d)" % (
            generation,
            observed,
        )
        return result

    message = {"Deployment": _deployment, "StatefulSet": _statefulset, "DaemonSet": _daemonset}[kind](
        obj, spec, status, result
    )
    result["message"] = message
    return result


def _deployment(obj, spec, status, result):
    progressing = _condition(status, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        result["failed"] = True
        return "exceeded its progress deadline (ProgressDeadlineExceeded): %s" % (
            (progressing.get("message") or "no progress within progressDeadlineSeconds").rstrip(".")
        )
    replicas, updated = result["replicas"], result["updated"]
    if spec.get("paused"):
        return "paused (%d of %d replicas updated): the rollout cannot progress until it is resumed" % (
            updated,
            replicas,
        )
    if updated < replicas:
        return "%d out of %d new replicas have been updated" % (updated, replicas)
    total = _int(status.get("replicas"))
    if total > updated:
        return "%d old replicas are pending termination" % (total - updated)
    if result["available"] < updated:
        return "%d of %d updated replicas are available" % (result["available"], updated)
    result["done"] = True
    return "successfully rolled out"


def _statefulset(obj, spec, status, result):
    replicas = result["replicas"]
    if result["ready"] < replicas:
        return "waiting for %d pods to be ready" % (replicas - result["ready"])
    partition = _int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition"))
    if result["updated"] < replicas - partition:
        return "partitioned roll out: %d out of %d new pods have been updated" % (
            result["updated"],
            replicas - partition,
        )
    if partition > 0:
        result["done"] = True
        return "partitioned roll out complete: %d new pods have been updated (partition %d)" % (
            result["updated"],
            partition,
        )
    update_revision = status.get("updateRevision")
    if update_revision != status.get("currentRevision"):
        return "waiting for the rolling update to complete: %d pods at revision %s" % (
            result["updated"],
            update_revision,
        )
    result["done"] = True
    return "rolling update complete: %d pods at revision %s" % (
        _int(status.get("currentReplicas"), result["updated"]),
        update_revision,
    )


def _daemonset(obj, spec, status, result):
    desired = result["replicas"]
    if result["updated"] < desired:
        return "%d out of %d new pods have been updated" % (result["updated"], desired)
    if result["available"] < desired:
        return "%d of %d updated pods are available" % (result["available"], desired)
    result["done"] = True
    return "successfully rolled out"


def _condition(status, ctype):
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


# -- why pods are not ready -----------------------------------------------------------------


def pod_problem(pod):
    """``(reason, message)`` for a pod that is not ready, read from its status, else None.

    The reasons are what ``kubectl get pods`` shows: Unschedulable, ImagePullBackOff,
    CrashLoopBackOff, CreateContainerConfigError..., NotReady for a running container that
    fails its readiness probe."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (conditions.get("Ready") or {}).get("status") == "True":
        return None
    scheduled = conditions.get("PodScheduled") or {}
    if scheduled.get("status") == "False":
        return scheduled.get("reason") or "Unschedulable", scheduled.get("message") or ""
    init = status.get("initContainerStatuses") or []
    containers = status.get("containerStatuses") or []
    # The most telling state first: an init container that has not finished blocks the rest,
    # a stuck container explains more than a sibling that merely waits for it.
    for cs in init:
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason"):
            return "Init:" + waiting["reason"], _container_message(cs, waiting.get("message"))
        terminated = state.get("terminated") or {}
        if terminated and _int(terminated.get("exitCode")):
            return "Init:" + (terminated.get("reason") or "Error"), _container_message(
                cs, "exit code %s" % terminated.get("exitCode")
            )
    ranked = []
    for cs in containers:
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        if waiting.get("reason"):
            rank = 0 if waiting["reason"] in _STUCK_REASONS else 2
            ranked.append((rank, waiting["reason"], _container_message(cs, waiting.get("message"))))
        elif terminated:
            text = "exit code %s" % terminated.get("exitCode")
            ranked.append((1, terminated.get("reason") or "Terminated", _container_message(cs, text)))
        elif "running" in state and not cs.get("ready"):
            text = "running but not ready (readiness probe)"
            ranked.append((3, "NotReady", _container_message(cs, text)))
    if ranked:
        _rank, reason, message = min(ranked, key=lambda r: r[0])
        return reason, message
    if status.get("phase") == "Pending":
        return "Pending", status.get("message") or ""
    ready = conditions.get("Ready") or {}
    return ready.get("reason") or status.get("phase") or "NotReady", ready.get("message") or ""


def _container_message(cs, text):
    return "container %s: %s" % (cs.get("name"), text) if text else "container %s" % cs.get("name")


def _owner_uid(obj):
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    refs = _meta(obj).get("ownerReferences") or []
    return refs[0].get("uid") if len(refs) == 1 else None


def unready_pods(workload, pods, replicasets=(), limit=MAX_PODS):
    """Up to ``limit`` ``{name, reason, message}`` of the workload's pods that are not ready,
    those of its newest ReplicaSet (Deployment) or update revision (StatefulSet) first.
    Ownership is by uid, never by name prefix."""
    uid = _meta(workload).get("uid")
    kind = workload.get("kind")
    if kind == "Deployment":
        owned_rs = [rs for rs in replicasets if _owner_uid(rs) == uid]
        owners = {_meta(rs).get("uid") for rs in owned_rs}
        newest = max(
            owned_rs, key=lambda rs: _int(_meta(rs).get("annotations", {}).get(REVISION)), default=None
        )
        newest_uid = _meta(newest).get("uid") if newest else None
        mine = [p for p in pods if _owner_uid(p) in owners]

        def first(pod):
            return _owner_uid(pod) != newest_uid

    else:
        mine = [p for p in pods if _owner_uid(p) == uid]
        update_revision = (workload.get("status") or {}).get("updateRevision")

        def first(pod):
            return (_meta(pod).get("labels") or {}).get(STS_HASH_LABEL) != update_revision

    found = []
    for pod in sorted(mine, key=lambda p: (first(p), _meta(p).get("name") or "")):
        problem = pod_problem(pod)
        if problem:
            found.append({"name": _meta(pod).get("name"), "reason": problem[0], "message": problem[1]})
    return found[:limit]


def failure_message(result):
    """One line for a failed result: the workload, the cause, the pods that are stuck."""
    text = "%s: %s" % (workload_label(result), result.get("message"))
    for pod in result.get("pods") or []:
        text += "; pod %s: %s" % (pod["name"], pod["reason"])
        if pod.get("message"):
            text += " (%s)" % pod["message"]
    return text


def label_selector(selector):
    """A ``LabelSelector`` (matchLabels, matchExpressions) as a ``labelSelector`` query string."""
    parts = ["%s=%s" % kv for kv in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    return ",".join(parts)


# -- waiting --------------------------------------------------------------------------------


def rolled_out(obj):
    """The waiter's predicate: :func:`rollout_status`, and a paused Deployment fails at once
    (it cannot progress until someone resumes it)."""
    status = rollout_status(obj)
    if (
        not status["done"]
        and not status["failed"]
        and obj.get("kind") == "Deployment"
        and (obj.get("spec") or {}).get("paused")
    ):
        status.update(failed=True, pods=[])
    return status


def read_workloads(reader, namespace, kind, names):
    """``{name: object or None}`` for the workloads of one kind in one namespace: a GET for
    one, one LIST for several. Objects get their ``kind`` (LIST items have none)."""
    return wait.read_objects(reader, resources.get(kind), namespace, names)


def diagnose(reader, obj):
    """The unready pods of a workload, or [] when they cannot be read (the status stands)."""
    ns = _meta(obj).get("namespace")
    try:
        selector = label_selector((obj.get("spec") or {}).get("selector")) or None
        what = "list pods of %s" % workload_label(obj)
        pods = reader.list(resources.POD.collection_path(ns), what, label_selector=selector)
        replicasets = []
        if obj.get("kind") == "Deployment":
            replicasets = reader.list(
                resources.REPLICA_SET.collection_path(ns),
                "list replicasets of %s" % workload_label(obj),
                label_selector=selector,
            )
    except ApiError:
        return []
    return unready_pods(obj, pods, replicasets)


def blank(target):
    """The rollout status of a workload never read."""
    return dict(wait.blank(target), replicas=0, updated=0, ready=0, available=0)


def timed_out(reader, target, status, obj, error, waited):
    """The status of a rollout still pending when the wait ended: what it waited for and
    the stuck pods, or that the API stopped answering."""
    base = dict(blank(target), **wait.timed_out(target, status, obj, error, waited, noun="rollout"))
    base["pods"] = diagnose(reader, obj) if error is None and obj is not None else []
    return base


def waiter(
    reader, timeout, poll=1.0, clock=time.monotonic, sleep=time.sleep, on_failure=None, on_timeout=None
):
    """The one waiter (k8s/wait.py) set up for rollouts: a failure names the unready pods,
    a timeout what the rollout waited for (:func:`timed_out`); ``on_failure`` and
    ``on_timeout`` may reword the status after that."""

    def failed(target, obj, status):
        if "pods" not in status:
            status["pods"] = diagnose(reader, obj) if obj is not None else []
        return on_failure(target, obj, status) if on_failure else status

    def late(target, status, obj, error, waited):
        result = timed_out(reader, target, status, obj, error, waited)
        return on_timeout(target, status, obj, error, waited, result) if on_timeout else result

    return wait.Waiter(
        reader,
        timeout,
        poll=poll,
        what="the rollout status",
        noun="rollout",
        blank=blank,
        on_failure=failed,
        on_timeout=late,
        clock=clock,
        sleep=sleep,
    )


def wait_rollouts(reader, targets, timeout, poll=1.0, clock=time.monotonic, sleep=time.sleep):
    """Wait until every target's rollout is done, any has failed, or ``timeout`` seconds pass.

    ``targets``: ``[{"kind", "namespace", "name"}]`` (kind defaults to Deployment). Returns
    one result per target, in order: :func:`rollout_status`'s dict plus ``seconds`` (time
    until it settled, or waited in all) and, for failures, ``pods`` (the unready pods and
    why). A paused Deployment fails at once; a missing workload fails naming it; when time
    runs out the pending ones fail with what they were waiting for. Reads and retries are
    the waiter's (wait.py). ``timeout=0`` reads once.
    """
    goals = []
    for target in targets:
        kind = target.get("kind") or "Deployment"
        if kind not in KINDS:
            raise RolloutError(
                "%s %s: cannot wait for a rollout of kind %s" % (kind, target.get("name"), kind)
            )
        goals.append(wait.Target(resources.get(kind), target["namespace"], target["name"], rolled_out))
    return waiter(reader, timeout, poll=poll, clock=clock, sleep=sleep).wait(goals)


# -- restart --------------------------------------------------------------------------------


def local_now():
    return datetime.datetime.now().astimezone()


def rfc3339(now=None):
    """A time as Go's ``time.RFC3339`` writes it (what kubectl stamps): whole seconds, the
    local offset, ``Z`` for UTC."""
    now = now or local_now()
    if now.tzinfo is None:
        now = now.astimezone()
    text = now.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def restarted_at(obj):
    """The pod template's ``kubectl.kubernetes.io/restartedAt``, or None."""
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return (template_meta.get("annotations") or {}).get(RESTARTED_AT)


def plan_restart(obj, now=None):
    """``{"patch", "before", "after"}`` for ``kubectl rollout restart``: a new pod template
    annotation ``kubectl.kubernetes.io/restartedAt`` makes the controller replace every pod
    (by the workload's own rolling-update rules). A paused Deployment is refused, as kubectl
    does: the restart would wait silently until someone resumes it."""
    if obj.get("kind") == "Deployment" and (obj.get("spec") or {}).get("paused"):
        raise RolloutError("%s: cannot restart a paused Deployment; resume it first" % workload_label(obj))
    stamp = rfc3339(now)
    return {
        "patch": {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
        "before": {"restartedAt": restarted_at(obj)},
        "after": {"restartedAt": stamp},
    }


# -- pause and resume -----------------------------------------------------------------------


def plan_pause(obj, paused):
    """``{"patch" or None, "before", "after"}`` setting ``spec.paused``; Deployments only
    (StatefulSets and DaemonSets cannot be paused)."""
    if obj.get("kind") != "Deployment":
        raise RolloutError(
            "%s: %s is only possible for Deployments"
            % (workload_label(obj), "pausing" if paused else "resuming")
        )
    current = bool((obj.get("spec") or {}).get("paused"))
    patch = None if current == paused else {"spec": {"paused": paused}}
    return {"patch": patch, "before": {"paused": current}, "after": {"paused": paused}}


# -- history --------------------------------------------------------------------------------


def owned_by(workload, items):
    """The items whose controlling ownerReference is the workload (by uid)."""
    uid = _meta(workload).get("uid")
    return [item for item in items if uid and _owner_uid(item) == uid]


def template_images(template):
    return [c.get("image") for c in ((template or {}).get("spec") or {}).get("containers") or []]


def normalized(value):
    """A copy without empty or null fields, to compare templates as the apiserver would
    (an absent map and an empty one are the same)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = normalized(item)
            if item not in (None, {}, []):
                out[key] = item
        return out
    if isinstance(value, list):
        return [normalized(item) for item in value]
    return value


def without_hash(template, label=HASH_LABEL):
    """A ReplicaSet's pod template as its Deployment had it: without ``pod-template-hash``."""
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(label, None)
    return template


def _revisions(workload, items):
    """``[(revision, name, template, annotations, item)]`` of the workload's history, oldest
    first: ReplicaSets for a Deployment, ControllerRevisions for the others."""
    entries = []
    for item in owned_by(workload, items):
        meta = _meta(item)
        if workload.get("kind") == "Deployment":
            number = _int((meta.get("annotations") or {}).get(REVISION), None)
            template = without_hash((item.get("spec") or {}).get("template"))
        else:
            number = _int(item.get("revision"), None)
            template = copy.deepcopy((((item.get("data") or {}).get("spec") or {}).get("template")) or {})
            template.pop("$patch", None)
        if number is None:
            continue  # kubectl skips what has no revision number
        entries.append((number, meta.get("name"), template, meta.get("annotations") or {}, item))
    entries.sort(key=lambda e: e[0])
    return entries


def _current(workload, entries):
    """The history entry the workload runs now, or None (a paused Deployment's new template
    has none yet)."""
    if workload.get("kind") == "StatefulSet":
        update = (workload.get("status") or {}).get("updateRevision")
        for entry in entries:
            if entry[1] == update:
                return entry
    template = normalized((workload.get("spec") or {}).get("template") or {})
    matching = [entry for entry in entries if normalized(entry[2]) == template]
    return matching[-1] if matching else None


def current_revision(workload, items):
    """The revision number the workload's current template has, or None."""
    if workload.get("kind") == "Deployment":
        value = _int((_meta(workload).get("annotations") or {}).get(REVISION), None)
        if value is not None:
            return value
    entry = _current(workload, _revisions(workload, items))
    return entry[0] if entry else None


def rollout_history(workload, items):
    """``kubectl rollout history``: one dict per revision, oldest first, with ``revision``,
    ``name`` (ReplicaSet or ControllerRevision), ``change_cause``, ``images``, ``created``,
    ``replicas`` (ReplicaSets only) and ``current``. ``items`` are the namespace's
    ReplicaSets (Deployment) or ControllerRevisions; only those the workload owns count."""
    entries = _revisions(workload, items)
    current = _current(workload, entries)
    workload_cause = (_meta(workload).get("annotations") or {}).get(CHANGE_CAUSE)
    history = []
    for entry in entries:
        number, name, template, annotations, item = entry
        cause = annotations.get(CHANGE_CAUSE)
        if cause is None and entry is current and workload.get("kind") == "Deployment":
            # The controller copies the Deployment's annotations onto its current ReplicaSet;
            # until it has, the Deployment's own change-cause is the current one.
            cause = workload_cause
        record = {
            "revision": number,
            "name": name,
            "change_cause": cause,
            "images": template_images(template),
            "created": _meta(item).get("creationTimestamp"),
            "current": entry is current,
        }
        if workload.get("kind") == "Deployment":
            record["replicas"] = _int((item.get("spec") or {}).get("replicas"))
        history.append(record)
    return history


# -- undo -----------------------------------------------------------------------------------


def merge_patch(current, target):
    """A JSON merge patch (RFC 7386) turning ``current`` into ``target``: keys that must go
    are null, maps are patched key by key, lists and scalars are replaced whole."""
    if not isinstance(current, dict) or not isinstance(target, dict):
        return copy.deepcopy(target)
    patch = {key: None for key in current if key not in target}
    for key, value in target.items():
        if key not in current:
            patch[key] = copy.deepcopy(value)
        elif current[key] != value:
            if isinstance(value, dict) and isinstance(current[key], dict):
                patch[key] = merge_patch(current[key], value)
            else:
                patch[key] = copy.deepcopy(value)
    return patch


def plan_undo(workload, items, to_revision=None):
    """``kubectl rollout undo``: ``{"patch" or None, "target_revision", "revision_before",
    "message", "before", "after"}``.

    The target is revision ``to_revision``, or the one before the newest (so undoing twice
    toggles between the last two templates, as with kubectl: the controller re-uses the old
    ReplicaSet under a new revision number). The patch is a merge patch replacing the pod
    template with the target's (without the ``pod-template-hash`` label); for a Deployment
    it also restores the target's ``kubernetes.io/change-cause``, so that the history stays
    right (other annotations are left alone, unlike kubectl, which replaces them all).
    ``patch`` is None when the workload already runs the target template.
    Raises RolloutError naming the workload for a paused Deployment, an unknown revision or
    no history to go back to."""
    label = workload_label(workload)
    kind = workload.get("kind")
    if kind not in KINDS:
        raise RolloutError("%s: undo is only possible for %s" % (label, ", ".join(KINDS)))
    if kind == "Deployment" and (workload.get("spec") or {}).get("paused"):
        raise RolloutError("%s: cannot undo a paused Deployment; resume it first" % label)
    if to_revision is not None and to_revision < 0:
        raise RolloutError("%s: revision %d does not exist (revisions are positive)" % (label, to_revision))
    entries = _revisions(workload, items)
    numbers = [e[0] for e in entries]
    if to_revision:
        found = [e for e in entries if e[0] == to_revision]
        if not found:
            raise RolloutError(
                "%s: revision %d does not exist (revisions: %s)"
                % (label, to_revision, ", ".join(str(n) for n in numbers) or "none")
            )
        target = found[0]
    else:
        if len(entries) < 2:
            raise RolloutError(
                "%s: no previous revision to go back to (history: %s)"
                % (label, ", ".join(str(n) for n in numbers) or "none")
            )
        target = entries[-2]
    number, _name, target_template, annotations, _item = target
    current_template = (workload.get("spec") or {}).get("template") or {}
    before_rev = current_revision(workload, items)
    workload_cause = (_meta(workload).get("annotations") or {}).get(CHANGE_CAUSE)
    plan = {
        "target_revision": number,
        "revision_before": before_rev,
        "before": {"template_revision": before_rev, "images": template_images(current_template)},
        "after": {"template_revision": number, "images": template_images(target_template)},
    }
    if normalized(target_template) == normalized(current_template):
        plan.update(patch=None, message="already at revision %d: the current template matches it" % number)
        plan["after"]["template_revision"] = before_rev
        return plan
    patch = {"spec": {"template": merge_patch(current_template, target_template)}}
    if kind == "Deployment":
        cause = annotations.get(CHANGE_CAUSE)
        plan["before"]["change_cause"] = workload_cause
        plan["after"]["change_cause"] = cause
        if cause != workload_cause:
            patch["metadata"] = {"annotations": {CHANGE_CAUSE: cause}}
    template_ann = (current_template.get("metadata") or {}).get("annotations") or {}
    target_ann = (target_template.get("metadata") or {}).get("annotations") or {}
    if template_ann != target_ann:
        plan["before"]["template_annotations"] = template_ann
        plan["after"]["template_annotations"] = target_ann
    plan.update(patch=patch, message="rolled back to revision %d" % number)
    return plan


# -- the runner of multiagent.ops.k8s_rollout ------------------------------------------------

ACTIONS = ("restart", "status", "history", "undo", "pause", "resume")
WAITING = ("restart", "status", "undo", "resume")
READ_ONLY = ("status", "history")


def _validate(p):
    if p["to_revision"] is not None and p["action"] != "undo":
        raise OpsError("to_revision is only used with action=undo, not action=%s" % p["action"])
    revisions = p.get("to_revisions")
    if revisions is not None:
        if p["action"] != "undo":
            raise OpsError("to_revisions is only used with action=undo, not action=%s" % p["action"])
        if not revisions:
            raise OpsError("to_revisions is empty: give each %s its revision" % p["kind"])
        bad = sorted("%s=%r" % (name, rev) for name, rev in revisions.items() if _revision(rev) is None)
        if bad:
            raise OpsError("to_revisions: revisions are whole numbers of 1 or more, got %s" % ", ".join(bad))
    if p["names"] is not None and not p["names"]:
        raise OpsError("names is empty: name at least one %s" % p["kind"])
    if p["wait_timeout"] < 0:
        raise OpsError("wait_timeout must be 0 or more, not %d" % p["wait_timeout"])


def _revision(value):
    """A revision of to_revisions (YAML may give it as a string), or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 and str(number) == str(value).strip() else None


def _target_revision(p, name):
    if p.get("to_revisions") is not None:
        return _revision(p["to_revisions"][name])
    return p["to_revision"]


def _select(p, client):
    """The workloads, read before anything changes; a missing one fails the task."""
    ns, kind = p["namespace"], p["kind"]
    if p.get("to_revisions") is not None:
        p = dict(p, names=list(p["to_revisions"]))
    if p["label_selector"]:
        resource = resources.get(kind)
        items = client.list(
            resource.collection_path(ns),
            "list %s in %s" % (resource.plural, ns),
            label_selector=p["label_selector"],
        )
        if not items:
            raise OpsError(
                nothing_changed(
                    "No %s in namespace %s matches label selector %r" % (kind, ns, p["label_selector"])
                )
            )
        items.sort(key=lambda obj: obj["metadata"]["name"])
    else:
        names = list(dict.fromkeys([p["name"]] if p["name"] else p["names"]))
        found = read_workloads(client, ns, kind, names)
        missing = [name for name in names if found[name] is None]
        if missing:
            raise OpsError(
                nothing_changed(
                    "%s: %s %s %s in namespace %s"
                    % (
                        p["action"],
                        kind,
                        ", ".join(missing),
                        "does not exist" if len(missing) == 1 else "do not exist",
                        ns,
                    )
                )
            )
        items = [found[name] for name in names]
    for obj in items:
        obj["kind"] = kind
        obj["metadata"].setdefault("namespace", ns)
    return items


def _history_items(client, ns, kind):
    resource = HISTORY[kind]
    return client.list(resource.collection_path(ns), "list %s in %s" % (resource.plural, ns))


def _plan(p, obj, items, now):
    action = p["action"]
    if action == "restart":
        plan = plan_restart(obj, now)
        plan["message"] = "restarted at %s" % plan["after"]["restartedAt"]
    elif action == "undo":
        plan = plan_undo(obj, items, _target_revision(p, obj["metadata"]["name"]))
    elif action in ("pause", "resume"):
        plan = plan_pause(obj, action == "pause")
        if plan["patch"] is None:
            plan["message"] = "already paused" if action == "pause" else "not paused: nothing to resume"
        else:
            plan["message"] = "paused" if action == "pause" else "resumed"
    else:
        plan = {"patch": None, "message": ""}
    return plan


def restart_time(objects, clock_now, sleep):
    """Now, but never the second a workload was last restarted: the same stamp would be no
    change at all, and a restart must restart."""
    now = clock_now()
    if any(restarted_at(obj) == rfc3339(now) for obj in objects):
        sleep(1.0)
        now = clock_now()
    return now


def _revisions_after(client, ns, kind, results):
    """Read back the revision each workload runs (best effort: the change is made)."""
    try:
        found = read_workloads(client, ns, kind, [r["name"] for r in results])
        items = _history_items(client, ns, kind) if kind != "Deployment" else []
    except ApiError:
        return
    for result in results:
        obj = found.get(result["name"])
        if obj is not None:
            result["revision_after"] = current_revision(obj, items)


def run(request, client, clock=time.monotonic, sleep=time.sleep, now=None):
    """``kubectl rollout`` for several workloads in one task (multiagent.ops.k8s_rollout)."""
    p = request.params
    _validate(p)
    ns, kind, action = p["namespace"], p["kind"], p["action"]
    objects = _select(p, client)
    # Deployments carry their revision number; the others' is that of a ControllerRevision.
    needs_history = action in ("history", "undo") or (action == "restart" and kind != "Deployment")
    items = _history_items(client, ns, kind) if needs_history else []

    stamp = restart_time(objects, now or local_now, sleep) if action == "restart" else None
    results, plans = [], []
    for obj in objects:
        try:
            plan = _plan(p, obj, items, stamp)
        except RolloutError as exc:
            raise OpsError(nothing_changed("%s of %s" % (action, exc))) from None
        result = {
            "kind": kind,
            "name": obj["metadata"]["name"],
            "namespace": ns,
            "action": action,
            "changed": plan["patch"] is not None,
            "message": plan["message"],
            "revision_before": current_revision(obj, items),
            "revision_after": None,
        }
        if action == "undo":
            result["target_revision"] = plan["target_revision"]
        if action == "history":
            result["history"] = rollout_history(obj, items)
        else:
            result["status"] = rollout_status(obj)
        results.append(result)
        plans.append(plan)

    output = {"changed": any(r["changed"] for r in results), "workloads": results}
    if request.diff and action not in READ_ONLY:
        output["diff"] = {
            side: {"%s/%s" % (kind, r["name"]): plan[side] for r, plan in zip(results, plans, strict=True)}
            for side in ("before", "after")
        }

    written = []
    if not request.check_mode:
        pending = [(r, plan) for r, plan in zip(results, plans, strict=True) if plan["patch"] is not None]
        resource = resources.get(kind)
        changes = [
            patch.Change(
                resource.object_path(ns, r["name"]),
                plan["patch"],
                "%s %s" % (action, workload_label(r)),
                done=workload_label(r),
                result=r,
            )
            for r, plan in pending
        ]
        answers = patch.patch_all(client, changes, output)
        for (result, _sent), answer in zip(pending, answers, strict=True):
            written.append(workload_label(result))
            if isinstance(answer, dict) and answer.get("metadata"):
                answer["kind"] = kind
                result["status"] = rollout_status(answer)

    wait = p["wait"] and action in WAITING and (not request.check_mode or action == "status")
    if not wait:
        return output

    waited = wait_rollouts(
        client,
        [{"kind": kind, "namespace": ns, "name": r["name"]} for r in results],
        p["wait_timeout"],
        clock=clock,
        sleep=sleep,
    )
    for result, status in zip(results, waited, strict=True):
        result["status"] = status
    if action in ("restart", "undo") and not request.check_mode:
        _revisions_after(client, ns, kind, results)
    failed = [s for s in waited if s["failed"]]
    if failed:
        text = " | ".join("%s of %s" % (action, failure_message(s)) for s in failed)
        # The wait stops at the first failure: say what was still rolling, not that it failed.
        rolling = [s for s in waited if not s["done"] and not s["failed"]]
        if rolling:
            text += " | still rolling out when that failed: %s" % ", ".join(
                "%s (%s)" % (workload_label(s), s["message"]) for s in rolling
            )
        if written:
            text += " (the %s was applied; run action=status to wait again)" % action
        raise OpsError(text, **output)
    return output
