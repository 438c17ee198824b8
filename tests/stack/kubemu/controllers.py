"""The control plane: a small asyncio loop running simplified versions of the real controllers.

Each tick runs, in order: namespace lifecycle, garbage collection, Deployments, ReplicaSets,
StatefulSets, the kubelet, then the status-only controllers (Endpoints, PVCs, PDBs, HPAs). A tick
runs after any write (and at least every 100 ms), so state converges within a few ticks.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import math
from typing import TYPE_CHECKING, Any

from .admission import NAME_ALPHABET, random_suffix
from .kubelet import Kubelet, node_names, node_object
from .selection import labels_match, selector_from_label_selector
from .store import now, parse_timestamp, timestamp

if TYPE_CHECKING:
    from .api import Kubemu

log = logging.getLogger("kubemu.controllers")

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
STS_REVISION_LABEL = "controller-revision-hash"
_TICK = 0.1
_IDLE_TICK = 0.8
_FAKE_CA = (
    "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrdWJlbXUt\n"
    "c2VydmVyLWNhLWVtdWxhdGVkMB4XDTI1MDEwMTAwMDAwMFoXDTM1MDEwMTAwMDAw\n-----END CERTIFICATE-----\n"
)


def template_hash(template: dict[str, Any]) -> str:
    """A stable hash of a pod template, encoded like the real controller's (SafeEncodeString)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    number = str(int.from_bytes(digest[:4], "big"))
    return "".join(NAME_ALPHABET[ord(char) % len(NAME_ALPHABET)] for char in number)


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value or 0)


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's pod template as its Deployment wrote it (shallow: for comparison only)."""
    meta = template.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    return {**template, "metadata": {**meta, "labels": labels}}


def _replicas(rs: dict[str, Any]) -> int:
    return int(rs["spec"].get("replicas", 0))


def _status(obj: dict[str, Any], field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def _revision(rs: dict[str, Any]) -> int:
    value = (rs["metadata"].get("annotations") or {}).get(REVISION, "0")
    return int(value) if value.isdigit() else 0


def _condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, touch: bool
) -> list[dict[str, Any]]:
    """Set a Deployment-style condition: lastTransitionTime moves only when status changes."""
    moment = timestamp()
    old = next((c for c in conditions if c["type"] == kind), None)
    new = {
        "type": kind,
        "status": status,
        "lastUpdateTime": moment
        if touch or old is None or old["reason"] != reason
        else old["lastUpdateTime"],
        "lastTransitionTime": old["lastTransitionTime"] if old and old["status"] == status else moment,
        "reason": reason,
        "message": message,
    }
    return [c for c in conditions if c["type"] != kind] + [new]


def _status_condition(
    old: list[dict[str, Any]], kind: str, status: str, reason: str, message: str
) -> dict[str, Any]:
    """A metav1.Condition whose lastTransitionTime moves only when its status changes."""
    previous = next((c for c in old if c["type"] == kind), None)
    unchanged = previous is not None and previous["status"] == status
    return {
        "type": kind,
        "status": status,
        "lastTransitionTime": previous["lastTransitionTime"] if unchanged else timestamp(),
        "reason": reason,
        "message": message,
    }


_SCALE_TARGETS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "ReplicaSet": "replicasets"}
_HPA_NO_SCALE = "the HPA controller was unable to get the target's current scale"
_HPA_METRICS = (
    "the HPA was able to successfully calculate a replica count from cpu resource utilization "
    "(percentage of request)"
)
_HPA_NO_METRICS = (
    "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get "
    "metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could "
    "not find the requested resource (get pods.metrics.k8s.io)"
)


class ControlPlane:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator
        self.kubelet = Kubelet(emulator)
        self._task: asyncio.Task[None] | None = None
        self._running = False

    def _set_status(self, group: str, plural: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        """Write a status only when it differs: most ticks change nothing."""
        meta = obj["metadata"]
        current = self._emu.get(group, plural, meta.get("namespace"), meta["name"])
        if current is None or current.get("status") == status:
            return

        def apply(o: dict[str, Any]) -> None:
            o["status"] = status

        self._emu.update_internal(group, plural, meta.get("namespace"), meta["name"], apply)

    # Start-up state: the namespaces, nodes and objects every cluster has.

    def bootstrap(self) -> None:
        emu = self._emu
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            emu.create_internal("", "namespaces", {"metadata": {"name": name}})
        for index, name in enumerate(node_names(emu.options.node_count), start=1):
            emu.create_internal("", "nodes", node_object(name, index, emu.options.cluster_name))
        emu.create_internal(
            "",
            "services",
            {
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.43.0.1",
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                },
            },
        )
        self._namespace_defaults()

    async def start(self) -> None:
        self._running = True
        self._task = asyncio.create_task(self._run(), name="kubemu-controllers")

    async def stop(self) -> None:
        # A flag rather than Task.cancel(): the loop must end even if a cancellation were lost.
        self._running = False
        self._emu.notify_changed()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        # A full reconcile costs time in proportion to the objects (1,000 pods in a scale
        # test): when a tick writes nothing the loop backs off up to _IDLE_TICK, and any
        # change wakes it at once. Time-driven transitions (ready delay, crash-loop restarts)
        # are therefore seen at most _IDLE_TICK late.
        idle = _TICK
        while self._running:
            before = self._emu.store.resource_version
            try:
                self.tick()
            except Exception:
                # A controller bug must not stop the others from converging; it is logged loudly,
                # and the next attempt waits a full period so that the log is not flooded.
                log.exception("kubemu controller tick failed")
                await asyncio.sleep(_TICK)
            wrote = self._emu.store.resource_version != before
            idle = _TICK if wrote else min(idle * 2, _IDLE_TICK)
            await asyncio.sleep(0.01)  # let requests in between ticks
            await self._emu.wait_for_change(idle)

    def tick(self) -> None:
        self._namespaces()
        self._garbage_collect()
        self._namespace_defaults()
        for deployment in self._emu.list("apps", "deployments"):
            if not deployment["metadata"].get("deletionTimestamp"):
                self._deployment(deployment)
        for replicaset in self._emu.list("apps", "replicasets"):
            if not replicaset["metadata"].get("deletionTimestamp"):
                self._replicaset(replicaset)
        for statefulset in self._emu.list("apps", "statefulsets"):
            if not statefulset["metadata"].get("deletionTimestamp"):
                self._statefulset(statefulset)
        self.kubelet.tick()
        self._endpoints()
        self._volume_claims()
        self._disruption_budgets()
        self._autoscalers()

    # Namespaces: cascade deletion, and the default ServiceAccount and root CA ConfigMap.

    def _namespace_defaults(self) -> None:
        emu = self._emu
        for ns in emu.list("", "namespaces"):
            name = ns["metadata"]["name"]
            if ns["status"].get("phase") != "Active":
                continue
            if emu.get("", "serviceaccounts", name, "default") is None:
                emu.create_internal(
                    "", "serviceaccounts", {"metadata": {"name": "default", "namespace": name}}
                )
            if emu.get("", "configmaps", name, "kube-root-ca.crt") is None:
                emu.create_internal(
                    "",
                    "configmaps",
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "namespace": name,
                            "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle "
                                "that can be used to verify the kube-apiserver when "
                                "using internal endpoints such as the internal "
                                "service IP or kubernetes.default.svc. No other "
                                "usage is guaranteed across distributions of "
                                "Kubernetes clusters."
                            },
                        },
                        "data": {"ca.crt": _FAKE_CA},
                    },
                )

    def _namespaces(self) -> None:
        emu = self._emu
        for ns in emu.list("", "namespaces"):
            if ns["status"].get("phase") != "Terminating":
                continue
            name = ns["metadata"]["name"]
            remaining = 0
            for rt in emu.registry.storage_types():
                if not rt.namespaced or rt.group == "metrics.k8s.io":
                    continue
                for obj in emu.store.list(rt.storage, name):
                    remaining += 1
                    self._delete(rt.group, rt.plural, obj)
            if remaining == 0:
                emu.delete_internal("", "namespaces", None, name)

    def _delete(self, group: str, plural: str, obj: dict[str, Any]) -> None:
        """Delete as the garbage collector does: finalizers first make it only terminate."""
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):

                def mark(o: dict[str, Any]) -> None:
                    o["metadata"]["deletionTimestamp"] = timestamp()
                    o["metadata"]["deletionGracePeriodSeconds"] = 0

                self._emu.update_internal(group, plural, meta.get("namespace"), meta["name"], mark)
            return
        self._emu.delete_internal(group, plural, meta.get("namespace"), meta["name"])

    # Garbage collection by ownerReferences (background and foreground propagation).

    def _dependents(self) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
        dependents: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for rt in self._emu.registry.storage_types():
            if rt.group == "metrics.k8s.io":
                continue
            for obj in self._emu.store.list(rt.storage):
                for ref in obj["metadata"].get("ownerReferences") or []:
                    dependents.setdefault(ref.get("uid", ""), []).append((rt.group, rt.plural, obj))
        return dependents

    def _garbage_collect(self) -> None:
        emu = self._emu
        dependents = self._dependents()
        for uid, objs in dependents.items():
            owner = emu.store.by_uid(uid)
            for group, plural, obj in objs:
                if owner is not None:
                    continue
                refs = obj["metadata"]["ownerReferences"]
                alive = [r for r in refs if emu.store.by_uid(r.get("uid", "")) is not None]
                if alive:

                    def drop_dangling(o: dict[str, Any], keep: list[dict[str, Any]] = alive) -> None:
                        o["metadata"]["ownerReferences"] = keep

                    meta = obj["metadata"]
                    emu.update_internal(group, plural, meta.get("namespace"), meta["name"], drop_dangling)
                else:
                    self._delete(group, plural, obj)
        # Foreground deletion: the owner goes once its dependents are gone.
        for rt in emu.registry.storage_types():
            if rt.group == "metrics.k8s.io":
                continue
            for obj in emu.store.list(rt.storage):
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp") or "foregroundDeletion" not in (
                    meta.get("finalizers") or []
                ):
                    continue
                children = dependents.get(meta["uid"], [])
                for group, plural, child in children:
                    self._delete(group, plural, child)
                if not children:

                    def release(o: dict[str, Any]) -> None:
                        o["metadata"]["finalizers"] = [
                            f for f in o["metadata"]["finalizers"] if f != "foregroundDeletion"
                        ]

                    updated = emu.update_internal(
                        rt.group, rt.plural, meta.get("namespace"), meta["name"], release
                    )
                    if updated is not None and not updated["metadata"]["finalizers"]:
                        emu.delete_internal(rt.group, rt.plural, meta.get("namespace"), meta["name"])

    def orphan_dependents(self, uid: str) -> None:
        for group, plural, obj in self._dependents().get(uid, []):

            def orphan(o: dict[str, Any]) -> None:
                o["metadata"]["ownerReferences"] = [
                    r for r in o["metadata"]["ownerReferences"] if r.get("uid") != uid
                ]
                if not o["metadata"]["ownerReferences"]:
                    del o["metadata"]["ownerReferences"]

            meta = obj["metadata"]
            self._emu.update_internal(group, plural, meta.get("namespace"), meta["name"], orphan)

    # Deployments

    def _owned(self, group: str, plural: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        return [
            obj
            for obj in self._emu.list(group, plural, owner["metadata"]["namespace"])
            if controller_uid(obj) == uid and not obj["metadata"].get("deletionTimestamp")
        ]

    def _deployment(self, deployment: dict[str, Any]) -> None:
        emu = self._emu
        meta, spec = deployment["metadata"], deployment["spec"]
        ns = meta["namespace"]
        desired = int(spec.get("replicas", 1))
        paused = bool(spec.get("paused"))
        rolling = spec["strategy"].get("type") == "RollingUpdate"
        surge = unavailable = 0
        if rolling:
            rolling_spec = spec["strategy"].get("rollingUpdate") or {}
            surge = resolve_int_or_percent(rolling_spec.get("maxSurge", "25%"), desired, True)
            unavailable = resolve_int_or_percent(rolling_spec.get("maxUnavailable", "25%"), desired, False)
            if surge == 0 and unavailable == 0:
                unavailable = 1
        replicasets = self._owned("apps", "replicasets", deployment)
        template = spec["template"]
        new_rs = next((rs for rs in replicasets if _without_hash(rs["spec"]["template"]) == template), None)
        old_rss = [rs for rs in replicasets if rs is not new_rs]
        max_old_revision = max((_revision(rs) for rs in old_rss), default=0)
        created_rs = False
        if new_rs is None and not paused:
            new_rs = self._create_replicaset(deployment, max_old_revision + 1, surge, old_rss)
            created_rs = True
        elif new_rs is not None and not paused and _revision(new_rs) <= max_old_revision:
            # Rolling back to an earlier template re-uses its ReplicaSet under a new revision.
            revision = str(max_old_revision + 1)

            def renumber(rs: dict[str, Any]) -> None:
                rs["metadata"].setdefault("annotations", {})[REVISION] = revision

            new_rs = emu.update_internal("apps", "replicasets", ns, new_rs["metadata"]["name"], renumber)
        if new_rs is not None and not paused:
            if rolling:
                self._roll(deployment, new_rs, old_rss, desired, surge, unavailable)
            else:
                self._recreate(deployment, new_rs, old_rss, desired)
        self._prune_history(deployment, old_rss)
        self._deployment_status(deployment, unavailable, created_rs)

    def _create_replicaset(
        self, deployment: dict[str, Any], revision: int, surge: int, old_rss: list[dict[str, Any]]
    ) -> dict[str, Any]:
        meta, spec = deployment["metadata"], deployment["spec"]
        desired = int(spec.get("replicas", 1))
        pod_hash = template_hash(spec["template"])
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        # With nothing to replace, the first ReplicaSet starts at full size.
        replicas = desired if not any(_replicas(rs) for rs in old_rss) else 0
        rs = self._emu.create_internal(
            "apps",
            "replicasets",
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta['name']}-{pod_hash}",
                    "namespace": meta["namespace"],
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": {
                        REVISION: str(revision),
                        DESIRED: str(desired),
                        MAX_REPLICAS: str(desired + surge),
                    },
                    "ownerReferences": [owner_reference(deployment)],
                },
                "spec": {
                    "replicas": replicas,
                    "minReadySeconds": spec.get("minReadySeconds", 0),
                    "selector": selector,
                    "template": template,
                },
            },
        )
        if replicas:
            self._emu.events.record(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas}",
                "deployment-controller",
            )
        return rs

    def _scale(self, deployment: dict[str, Any], rs: dict[str, Any], replicas: int, surge: int) -> None:
        old = _replicas(rs)
        desired = int(deployment["spec"].get("replicas", 1))

        def resize(obj: dict[str, Any]) -> None:
            obj["spec"]["replicas"] = replicas
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations[DESIRED] = str(desired)
            annotations[MAX_REPLICAS] = str(desired + surge)

        meta = rs["metadata"]
        self._emu.update_internal("apps", "replicasets", meta["namespace"], meta["name"], resize)
        if old != replicas:
            direction = "up" if replicas > old else "down"
            self._emu.events.record(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {meta['name']} from {old} to {replicas}",
                "deployment-controller",
            )

    def _roll(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any],
        old_rss: list[dict[str, Any]],
        desired: int,
        surge: int,
        unavailable: int,
    ) -> None:
        """One step of the real rolling-update algorithm (reconcileNew/OldReplicaSets)."""
        all_rss = [new_rs, *old_rss]
        total = sum(_replicas(rs) for rs in all_rss)
        new_replicas = _replicas(new_rs)
        if new_replicas > desired:
            self._scale(deployment, new_rs, desired, surge)
            return
        if new_replicas < desired:
            step = min(desired + surge - total, desired - new_replicas)
            if step > 0:
                self._scale(deployment, new_rs, new_replicas + step, surge)
                return
        if not any(_replicas(rs) for rs in old_rss):
            return
        min_available = desired - unavailable
        new_unavailable = new_replicas - _status(new_rs, "availableReplicas")
        budget = total - min_available - new_unavailable
        if budget <= 0:
            return
        oldest_first = sorted(old_rss, key=lambda rs: rs["metadata"]["creationTimestamp"])
        scaled = 0
        for rs in oldest_first:  # first the replicas that are not available anyway
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if scaled >= budget or unhealthy <= 0:
                continue
            step = min(budget - scaled, unhealthy)
            self._scale(deployment, rs, _replicas(rs) - step, surge)
            scaled += step
        if scaled:
            return
        available = sum(_status(rs, "availableReplicas") for rs in all_rss)
        can_remove = available - min_available
        for rs in oldest_first:
            if can_remove <= 0:
                break
            step = min(_replicas(rs), can_remove)
            if step > 0:
                self._scale(deployment, rs, _replicas(rs) - step, surge)
                can_remove -= step

    def _recreate(
        self, deployment: dict[str, Any], new_rs: dict[str, Any], old_rss: list[dict[str, Any]], desired: int
    ) -> None:
        active = [rs for rs in old_rss if _replicas(rs)]
        for rs in active:
            self._scale(deployment, rs, 0, 0)
        if active:
            return
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        pods = self._emu.list("", "pods", deployment["metadata"]["namespace"])
        if any(controller_uid(pod) in old_uids for pod in pods):
            return  # Recreate waits for every old pod to be gone
        if _replicas(new_rs) != desired:
            self._scale(deployment, new_rs, desired, 0)

    def _prune_history(self, deployment: dict[str, Any], old_rss: list[dict[str, Any]]) -> None:
        limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
        idle = [rs for rs in old_rss if not _replicas(rs) and not _status(rs, "replicas")]
        idle.sort(key=_revision)
        for rs in idle[: max(len(idle) - limit, 0)]:
            self._emu.delete_internal(
                "apps", "replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]
            )

    def _deployment_status(self, deployment: dict[str, Any], unavailable: int, created_rs: bool) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        desired = int(spec.get("replicas", 1))
        template = spec["template"]
        replicasets = self._owned("apps", "replicasets", deployment)
        new_rs = next((rs for rs in replicasets if _without_hash(rs["spec"]["template"]) == template), None)
        old = deployment.get("status") or {}
        counts = {
            "replicas": sum(_status(rs, "replicas") for rs in replicasets),
            "updatedReplicas": _status(new_rs, "replicas") if new_rs else 0,
            "readyReplicas": sum(_status(rs, "readyReplicas") for rs in replicasets),
            "availableReplicas": sum(_status(rs, "availableReplicas") for rs in replicasets),
        }
        total_spec = sum(_replicas(rs) for rs in replicasets)
        counts["unavailableReplicas"] = max(total_spec - counts["availableReplicas"], 0)
        conditions = list(old.get("conditions") or [])
        if counts["availableReplicas"] >= desired - unavailable:
            conditions = _condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                False,
            )
        else:
            conditions = _condition(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                False,
            )
        progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = (
            counts["updatedReplicas"] == desired
            and counts["replicas"] == desired
            and counts["availableReplicas"] == desired
        )
        advanced = (
            counts["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
            or counts["readyReplicas"] > int(old.get("readyReplicas") or 0)
            or counts["availableReplicas"] > int(old.get("availableReplicas") or 0)
            or counts["replicas"] - counts["updatedReplicas"]
            < int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
        )
        wanted: tuple[str, str, str, bool] | None = None  # (status, reason, message, touch)
        if spec.get("paused"):
            wanted = ("Unknown", "DeploymentPaused", "Deployment is paused", False)
        elif progressing is not None and progressing["reason"] == "DeploymentPaused":
            wanted = ("True", "DeploymentResumed", "Deployment is resumed", True)
        elif created_rs:
            wanted = ("True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"', True)
        elif complete and new_rs is not None:
            message = f'ReplicaSet "{rs_name}" has successfully progressed.'
            wanted = ("True", "NewReplicaSetAvailable", message, False)
        elif advanced or progressing is None:
            wanted = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', True)
        elif progressing["status"] == "True" and progressing["reason"] != "NewReplicaSetAvailable":
            deadline = int(spec.get("progressDeadlineSeconds", 600))
            if (now() - parse_timestamp(progressing["lastUpdateTime"])).total_seconds() > deadline:
                message = f'ReplicaSet "{rs_name}" has timed out progressing.'
                wanted = ("False", "ProgressDeadlineExceeded", message, True)
        if wanted is not None:
            conditions = _condition(conditions, "Progressing", *wanted)
        order = {"Available": 0, "Progressing": 1}
        conditions.sort(key=lambda c: order.get(c["type"], 2))
        status: dict[str, Any] = {"observedGeneration": meta.get("generation", 1)}
        status.update({k: v for k, v in counts.items() if v})  # zero counts are omitted (omitempty)
        status["conditions"] = conditions
        revision = str(_revision(new_rs)) if new_rs else None

        current = self._emu.get("apps", "deployments", meta["namespace"], meta["name"])
        annotations = (current or {}).get("metadata", {}).get("annotations") or {}
        if current is None or (current.get("status") == status and annotations.get(REVISION) == revision):
            return

        def apply(d: dict[str, Any]) -> None:
            d["status"] = status
            if revision:
                d["metadata"].setdefault("annotations", {})[REVISION] = revision

        self._emu.update_internal("apps", "deployments", meta["namespace"], meta["name"], apply)

    # ReplicaSets

    def _replicaset(self, rs: dict[str, Any]) -> None:
        emu = self._emu
        meta, spec = rs["metadata"], rs["spec"]
        ns = meta["namespace"]
        pods = self._owned("", "pods", rs)
        desired = int(spec.get("replicas", 1))
        if len(pods) < desired:
            template = spec["template"]
            for _ in range(desired - len(pods)):
                pod = emu.create_internal(
                    "",
                    "pods",
                    {
                        "metadata": {
                            "name": f"{meta['name']}-{random_suffix()}",
                            "generateName": f"{meta['name']}-",
                            "namespace": ns,
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                            "ownerReferences": [owner_reference(rs)],
                        },
                        "spec": copy.deepcopy(template["spec"]),
                    },
                )
                emu.events.record(
                    rs,
                    "Normal",
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
        elif len(pods) > desired:
            # Like the real controller: unscheduled, then pending, then not ready, newest first.
            def rank(pod: dict[str, Any]) -> tuple[int, int, int, str]:
                status = pod.get("status") or {}
                return (
                    1 if pod["spec"].get("nodeName") else 0,
                    1 if status.get("phase") == "Running" else 0,
                    1 if pod_ready(pod) else 0,
                    "".join(chr(255 - ord(c)) for c in pod["metadata"]["creationTimestamp"]),
                )

            for pod in sorted(pods, key=rank)[: len(pods) - desired]:
                emu.delete_internal("", "pods", ns, pod["metadata"]["name"])
                emu.events.record(
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
        pods = self._owned("", "pods", rs)
        ready = sum(1 for pod in pods if pod_ready(pod))
        status: dict[str, Any] = {"replicas": len(pods)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        status["observedGeneration"] = meta.get("generation", 1)

        self._set_status("apps", "replicasets", rs, status)

    # StatefulSets

    def _statefulset(self, sts: dict[str, Any]) -> None:
        emu = self._emu
        meta, spec = sts["metadata"], sts["spec"]
        ns, name = meta["namespace"], meta["name"]
        desired = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec['template'])}"
        self._controller_revision(sts, revision)
        pods = {pod["metadata"]["name"]: pod for pod in self._owned("", "pods", sts)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"

        def ordinal(pod_name: str) -> int:
            suffix = pod_name.rsplit("-", 1)[-1]
            return int(suffix) if suffix.isdigit() else -1

        extra = sorted((n for n in pods if ordinal(n) >= desired), key=ordinal, reverse=True)
        for pod_name in extra[:1] if ordered else extra:
            emu.delete_internal("", "pods", ns, pod_name)
            emu.events.record(
                sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {pod_name} in StatefulSet {name} successful",
                "statefulset-controller",
            )
        if extra and ordered:  # OrderedReady scales down one pod at a time, highest first
            self._statefulset_status(sts, revision)
            return
        missing = [i for i in range(desired) if f"{name}-{i}" not in pods]
        if ordered:
            # OrderedReady: the lowest missing ordinal, once every pod below it is Ready.
            if missing and all(pod_ready(pods[f"{name}-{i}"]) for i in range(missing[0])):
                self._create_stateful_pod(sts, missing[0], revision)
        else:
            for index in missing:
                self._create_stateful_pod(sts, index, revision)
        pods = {pod["metadata"]["name"]: pod for pod in self._owned("", "pods", sts)}
        partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0))
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and len(pods) == desired and all(pod_ready(p) for p in pods.values()):
            stale = [
                n
                for n, p in pods.items()
                if p["metadata"].get("labels", {}).get(STS_REVISION_LABEL) != revision
                and ordinal(n) >= partition
            ]
            if stale:
                victim = max(stale, key=ordinal)
                emu.delete_internal("", "pods", ns, victim)
        self._statefulset_status(sts, revision)

    def _controller_revision(self, sts: dict[str, Any], revision: str) -> None:
        emu = self._emu
        ns = sts["metadata"]["namespace"]
        if emu.get("apps", "controllerrevisions", ns, revision) is not None:
            return
        existing = self._owned("apps", "controllerrevisions", sts)
        number = max((int(cr.get("revision", 0)) for cr in existing), default=0) + 1
        labels = dict((sts["spec"]["template"].get("metadata") or {}).get("labels") or {})
        labels[STS_REVISION_LABEL] = revision
        emu.create_internal(
            "apps",
            "controllerrevisions",
            {
                "metadata": {
                    "name": revision,
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [owner_reference(sts)],
                },
                "data": {"spec": {"template": dict(sts["spec"]["template"], **{"$patch": "replace"})}},
                "revision": number,
            },
        )

    def _create_stateful_pod(self, sts: dict[str, Any], index: int, revision: str) -> None:
        emu = self._emu
        meta, spec = sts["metadata"], sts["spec"]
        ns, name = meta["namespace"], meta["name"]
        pod_name = f"{name}-{index}"
        template = copy.deepcopy(spec["template"])
        pod_spec = template["spec"]
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            if emu.get("", "persistentvolumeclaims", ns, claim_name) is None:
                emu.create_internal(
                    "",
                    "persistentvolumeclaims",
                    {
                        "metadata": {
                            "name": claim_name,
                            "namespace": ns,
                            "labels": dict((spec.get("selector") or {}).get("matchLabels") or {}),
                        },
                        "spec": copy.deepcopy(claim.get("spec") or {}),
                    },
                )
            volumes = pod_spec.setdefault("volumes", [])
            volumes.append(
                {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
            )
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update(
            {
                STS_REVISION_LABEL: revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(index),
            }
        )
        emu.create_internal(
            "",
            "pods",
            {
                "metadata": {
                    "name": pod_name,
                    "namespace": ns,
                    "labels": labels,
                    "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                    "ownerReferences": [owner_reference(sts)],
                },
                "spec": pod_spec,
            },
        )
        emu.events.record(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {name} successful",
            "statefulset-controller",
        )

    def _statefulset_status(self, sts: dict[str, Any], revision: str) -> None:
        meta = sts["metadata"]
        pods = self._owned("", "pods", sts)
        desired = int(sts["spec"].get("replicas", 1))
        old = sts.get("status") or {}
        updated = [p for p in pods if p["metadata"].get("labels", {}).get(STS_REVISION_LABEL) == revision]
        ready = sum(1 for p in pods if pod_ready(p))
        current_revision = old.get("currentRevision") or revision
        if len(updated) == desired == len(pods) and ready == desired:
            current_revision = revision
        current = [
            p for p in pods if p["metadata"].get("labels", {}).get(STS_REVISION_LABEL) == current_revision
        ]
        status: dict[str, Any] = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(pods),
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        for field, value in (
            ("readyReplicas", ready),
            ("currentReplicas", len(current)),
            ("updatedReplicas", len(updated)),
            ("availableReplicas", ready),
        ):
            if value:
                status[field] = value

        self._set_status("apps", "statefulsets", sts, status)

    # Status-only controllers

    def _endpoints(self) -> None:
        emu = self._emu
        services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in emu.list("", "services")}
        for (ns, name), service in services.items():
            selector = service["spec"].get("selector")
            if not selector:
                continue
            requirements = selector_from_label_selector({"matchLabels": selector})
            ready, not_ready = [], []
            pods = [
                p
                for p in emu.list("", "pods", ns)
                if labels_match(requirements, p["metadata"].get("labels"))
                and not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("podIP")
            ]
            for pod in pods:
                address = {
                    "ip": pod["status"]["podIP"],
                    "nodeName": pod["spec"].get("nodeName"),
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": ns,
                        "name": pod["metadata"]["name"],
                        "uid": pod["metadata"]["uid"],
                    },
                }
                (ready if pod_ready(pod) else not_ready).append(address)
            ports = []
            for port in service["spec"].get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                if isinstance(target, str):
                    target = next(
                        (
                            p.get("containerPort")
                            for pod in pods[:1]
                            for c in pod["spec"].get("containers") or []
                            for p in c.get("ports") or []
                            if p.get("name") == target
                        ),
                        port.get("port"),
                    )
                entry = {"port": target, "protocol": port.get("protocol", "TCP")}
                if port.get("name"):
                    entry["name"] = port["name"]
                ports.append(entry)
            subset: dict[str, Any] = {}
            if ready:
                subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
            if not_ready:
                subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
            endpoints: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns},
            }
            if service["metadata"].get("labels"):
                endpoints["metadata"]["labels"] = dict(service["metadata"]["labels"])
            if subset:
                subset["ports"] = ports
                endpoints["subsets"] = [subset]
            existing = emu.get("", "endpoints", ns, name)
            if existing is None:
                emu.create_internal("", "endpoints", endpoints)
            elif existing.get("subsets") != endpoints.get("subsets"):

                def apply(obj: dict[str, Any], wanted: dict[str, Any] = endpoints) -> None:
                    obj.pop("subsets", None)
                    if "subsets" in wanted:
                        obj["subsets"] = wanted["subsets"]

                emu.update_internal("", "endpoints", ns, name, apply)
        for endpoints in emu.list("", "endpoints"):
            key = (endpoints["metadata"]["namespace"], endpoints["metadata"]["name"])
            if key not in services:
                emu.delete_internal("", "endpoints", *key)

    def _volume_claims(self) -> None:
        for claim in self._emu.list("", "persistentvolumeclaims"):
            if (claim.get("status") or {}).get("phase") == "Bound":
                continue

            def bind(obj: dict[str, Any]) -> None:
                spec = obj["spec"]
                spec["volumeName"] = f"pvc-{obj['metadata']['uid']}"
                spec.setdefault("storageClassName", "standard")
                obj["status"] = {
                    "phase": "Bound",
                    "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                    "capacity": dict((spec.get("resources") or {}).get("requests") or {}),
                }

            meta = claim["metadata"]
            self._emu.update_internal("", "persistentvolumeclaims", meta["namespace"], meta["name"], bind)

    def _disruption_budgets(self) -> None:
        emu = self._emu
        for pdb in emu.list("policy", "poddisruptionbudgets"):
            meta, spec = pdb["metadata"], pdb.get("spec") or {}
            requirements = selector_from_label_selector(spec.get("selector"))
            pods = [
                p
                for p in emu.list("", "pods", meta["namespace"])
                if spec.get("selector") and labels_match(requirements, p["metadata"].get("labels"))
            ]
            expected = len(pods)
            healthy = sum(1 for p in pods if pod_ready(p))
            if "minAvailable" in spec:
                wanted = resolve_int_or_percent(spec["minAvailable"], expected, True)
            else:
                wanted = expected - resolve_int_or_percent(spec.get("maxUnavailable", 0), expected, True)
            allowed = max(healthy - wanted, 0)
            old = (pdb.get("status") or {}).get("conditions") or []
            reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
            condition = _status_condition(
                old, "DisruptionAllowed", "True" if allowed > 0 else "False", reason, ""
            )
            status = {
                "observedGeneration": meta.get("generation", 1),
                "disruptionsAllowed": allowed,
                "currentHealthy": healthy,
                "desiredHealthy": max(wanted, 0),
                "expectedPods": expected,
                "conditions": [condition],
            }

            self._set_status("policy", "poddisruptionbudgets", pdb, status)

    def _autoscalers(self) -> None:
        """Report HPA status from the target's replicas; kubemu never scales on metrics."""
        emu = self._emu
        for hpa in emu.list("autoscaling", "horizontalpodautoscalers"):
            meta, spec = hpa["metadata"], hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            plural = _SCALE_TARGETS.get(ref.get("kind", ""), "")
            target = emu.get(group, plural, meta["namespace"], ref.get("name", "")) if plural else None
            current = _status(target, "replicas") if target else 0
            low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
            old = (hpa.get("status") or {}).get("conditions") or []
            if target:
                able = ("True", "ReadyForNewScale", "recommended size matches current size")
            else:
                missing = f'{plural or ref.get("kind")} "{ref.get("name")}" not found'
                able = ("False", "FailedGetScale", f"{_HPA_NO_SCALE}: {missing}")
            if emu.faults.metrics_enabled:
                active = ("True", "ValidMetricFound", _HPA_METRICS)
            else:
                active = ("False", "FailedGetResourceMetric", _HPA_NO_METRICS)
            limited = ("False", "DesiredWithinRange", "the desired count is within the acceptable range")
            status = {
                "observedGeneration": meta.get("generation", 1),
                "currentReplicas": current,
                "desiredReplicas": min(max(current, low), high),
                "conditions": [
                    _status_condition(old, "AbleToScale", *able),
                    _status_condition(old, "ScalingActive", *active),
                    _status_condition(old, "ScalingLimited", *limited),
                ],
            }

            self._set_status("autoscaling", "horizontalpodautoscalers", hpa, status)
