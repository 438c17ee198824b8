"""A scheduler and kubelet in one: pods are state only, their status follows time and faults.

Every pod is scheduled onto a fake node, "pulls" its images and becomes Ready ``ready_delay``
seconds later, unless a fault says otherwise (pod annotation, or a broken image registered through
the control API). Status is recomputed on every tick from a little per-pod memory (when it was
scheduled, when its current mode began), so a fault added or removed later takes effect.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .faults import AGE_ANNOTATION, FAULT_ANNOTATION, FAULTS, RESTARTS_ANNOTATION
from .store import now, parse_timestamp, timestamp

if TYPE_CHECKING:
    from .api import Kubemu

# Warning events that repeat while their condition lasts are re-counted this often (seconds).
_REPEAT_PERIOD = 10.0


def node_names(count: int) -> list[str]:
    return [f"kubemu-node-{i}" for i in range(1, count + 1)]


def node_object(name: str, index: int, cluster: str) -> dict[str, Any]:
    resources = {"cpu": "4", "memory": "16318504Ki", "pods": "110", "ephemeral-storage": "101430960Ki"}
    moment = timestamp()
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "kubemu",
                "topology.kubernetes.io/region": cluster,
                "topology.kubernetes.io/zone": f"{cluster}{'abc'[index % 3]}",
            },
        },
        "spec": {
            "podCIDR": f"10.42.{index}.0/24",
            "podCIDRs": [f"10.42.{index}.0/24"],
            "providerID": f"kubemu://{cluster}/{name}",
        },
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources, memory="16216104Ki"),
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": moment,
                    "lastTransitionTime": moment,
                }
                for kind, status, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": hashlib.md5(name.encode()).hexdigest(),
                "systemUUID": hashlib.md5(cluster.encode() + name.encode()).hexdigest(),
                "bootID": hashlib.md5(b"boot" + name.encode()).hexdigest(),
                "kernelVersion": "6.1.0-kubemu",
                "osImage": "kubemu (emulated node)",
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": "v1.33.0",
                "kubeProxyVersion": "",  # deprecated and left empty since 1.31, yet required
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


@dataclass
class _PodMemory:
    node: str | None = None
    pod_ip: str | None = None
    scheduled_at: datetime.datetime | None = None
    mode: str = ""
    mode_since: datetime.datetime | None = None
    restarts_before: int = 0  # restarts accumulated in earlier modes
    emitted: set[str] = field(default_factory=set)  # one-shot events already recorded
    repeats: dict[str, datetime.datetime] = field(default_factory=dict)  # repeating event → last


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class Kubelet:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator
        self._pods: dict[str, _PodMemory] = {}
        self._next_ip: dict[str, int] = {}
        self._next_node = 0

    @property
    def nodes(self) -> list[str]:
        return node_names(self._emu.options.node_count)

    def pod_removed(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        memory = self._pods.pop(uid, None)
        if memory is not None and memory.node is not None:
            for container in pod["spec"].get("containers") or []:
                self._event(pod, "Normal", "Killing", f"Stopping container {container['name']}", memory)
        self._emu.events.forget(uid)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        shutil.rmtree(self._emu.options.state_dir / "logs" / ns / name, ignore_errors=True)

    def _event(self, pod: dict[str, Any], kind: str, reason: str, message: str, memory: _PodMemory) -> None:
        component = "default-scheduler" if reason in ("Scheduled", "FailedScheduling") else "kubelet"
        host = memory.node if component == "kubelet" else None
        self._emu.events.record(pod, kind, reason, message, component, host=host)

    def tick(self) -> None:
        moment = now()
        for pod in self._emu.list("", "pods"):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            self._sync(pod, moment)

    def _mode(self, pod: dict[str, Any]) -> str:
        fault = (pod["metadata"].get("annotations") or {}).get(FAULT_ANNOTATION, "")
        if fault in FAULTS:
            return fault
        for container in pod["spec"].get("containers") or []:
            if (broken := self._emu.faults.broken_images.get(container.get("image", ""))) is not None:
                return broken
        return "healthy"

    def _sync(self, pod: dict[str, Any], moment: datetime.datetime) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        memory = self._pods.get(uid)
        if memory is None:
            memory = self._pods[uid] = _PodMemory()
            age = (meta.get("annotations") or {}).get(AGE_ANNOTATION)
            if age and age.replace(".", "", 1).isdigit():
                created = moment - datetime.timedelta(seconds=float(age))

                def backdate(p: dict[str, Any]) -> None:
                    p["metadata"]["creationTimestamp"] = timestamp(created)

                pod = self._emu.update_internal("", "pods", meta["namespace"], meta["name"], backdate) or pod
                meta = pod["metadata"]
        mode = self._mode(pod)
        if mode == "pending":
            self._unschedulable(pod, memory, moment)
            return
        if memory.node is None:
            self._schedule(pod, memory, moment)
            pod = self._emu.get("", "pods", meta["namespace"], meta["name"]) or pod
        assert memory.scheduled_at is not None
        if mode != memory.mode:
            if memory.mode == "crashloop" and memory.mode_since is not None:
                memory.restarts_before += self._crash_restarts(pod, memory, moment)
            memory.mode = mode
            memory.mode_since = memory.scheduled_at if memory.mode_since is None else moment
            memory.repeats.clear()
        status = self._status(pod, memory, moment)
        if status != pod.get("status"):

            def set_status(p: dict[str, Any]) -> None:
                p["status"] = status

            self._emu.update_internal("", "pods", meta["namespace"], meta["name"], set_status)

    def _unschedulable(self, pod: dict[str, Any], memory: _PodMemory, moment: datetime.datetime) -> None:
        total = len(self.nodes)
        message = (
            f"0/{total} nodes are available: {total} Insufficient cpu. preemption: 0/{total} nodes "
            f"are available: {total} No preemption victims found for incoming pod."
        )
        if memory.node is None:
            status = {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastTransitionTime": pod["metadata"]["creationTimestamp"],
                    }
                ],
                "qosClass": pod.get("status", {}).get("qosClass", "BestEffort"),
            }
            if status != pod.get("status"):

                def set_status(p: dict[str, Any]) -> None:
                    p["status"] = status

                meta = pod["metadata"]
                self._emu.update_internal("", "pods", meta["namespace"], meta["name"], set_status)
            if self._repeat_due(memory, "scheduling", moment):
                self._event(pod, "Warning", "FailedScheduling", message, memory)

    @staticmethod
    def _repeat_due(memory: _PodMemory, key: str, moment: datetime.datetime) -> bool:
        last = memory.repeats.get(key)
        if last is None or (moment - last).total_seconds() >= _REPEAT_PERIOD:
            memory.repeats[key] = moment
            return True
        return False

    @staticmethod
    def _once(memory: _PodMemory, key: str) -> bool:
        if key in memory.emitted:
            return False
        memory.emitted.add(key)
        return True

    def _schedule(self, pod: dict[str, Any], memory: _PodMemory, moment: datetime.datetime) -> None:
        meta = pod["metadata"]
        wanted = pod["spec"].get("nodeName")
        nodes = self.nodes
        if wanted not in nodes:
            wanted = nodes[self._next_node % len(nodes)]
            self._next_node += 1
        index = nodes.index(wanted) + 1
        self._next_ip[wanted] = self._next_ip.get(wanted, 1) % 250 + 1
        memory.node = wanted
        memory.pod_ip = f"10.42.{index}.{self._next_ip[wanted] + 1}"
        created = parse_timestamp(meta["creationTimestamp"])
        # creationTimestamp has second precision: trust it only when the pod was backdated.
        memory.scheduled_at = created if (moment - created).total_seconds() > 2 else moment

        def bind(p: dict[str, Any]) -> None:
            p["spec"]["nodeName"] = wanted

        self._emu.update_internal("", "pods", meta["namespace"], meta["name"], bind)
        self._event(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {wanted}",
            memory,
        )

    def _crash_restarts(self, pod: dict[str, Any], memory: _PodMemory, moment: datetime.datetime) -> int:
        assert memory.mode_since is not None
        elapsed = (moment - memory.mode_since).total_seconds() - self._emu.options.ready_delay
        if elapsed < 0:
            return 0
        return 1 + int(elapsed // self._emu.options.crashloop_period)

    def _status(self, pod: dict[str, Any], memory: _PodMemory, moment: datetime.datetime) -> dict[str, Any]:
        assert memory.scheduled_at is not None and memory.mode_since is not None
        delay = datetime.timedelta(seconds=self._emu.options.ready_delay)
        annotations = pod["metadata"].get("annotations") or {}
        started = memory.mode_since + delay  # when the containers of this mode (re)started
        running = moment >= started
        mode = memory.mode
        restarts_annotation = annotations.get(RESTARTS_ANNOTATION, "")
        fixed_restarts = int(restarts_annotation) if restarts_annotation.isdigit() else None
        statuses = []
        all_ready = True
        for container in pod["spec"].get("containers") or []:
            image = container.get("image", "")
            container_mode = mode
            if mode in ("crashloop", "imagepull") and FAULT_ANNOTATION not in annotations:
                # A broken image breaks only the containers that run it.
                container_mode = self._emu.faults.broken_images.get(image, "healthy")
            state, ready, restarts, last_state = self._container(
                pod, container, container_mode, memory, moment, started, running, fixed_restarts
            )
            all_ready = all_ready and ready
            entry: dict[str, Any] = {
                "name": container["name"],
                "state": state,
                "lastState": last_state,
                "ready": ready,
                "restartCount": restarts,
                "image": image,
                "imageID": "",
                "started": "running" in state,
            }
            if container_mode != "imagepull" and running:
                entry["imageID"] = f"{image.split(':')[0]}@sha256:{_digest(image)}"
                entry["containerID"] = (
                    f"containerd://{_digest(pod['metadata']['uid'], container['name'], str(restarts))}"
                )
            statuses.append(entry)
        pending = not running or any("running" not in s["state"] and s["restartCount"] == 0 for s in statuses)
        scheduled = timestamp(memory.scheduled_at)
        ready_since = timestamp(started if running else memory.mode_since)
        ready_text = "True" if all_ready and running else "False"
        not_ready = [s["name"] for s in statuses if not s["ready"]]

        def condition(kind: str, value: str, since: str) -> dict[str, Any]:
            entry: dict[str, Any] = {"type": kind, "status": value, "lastTransitionTime": since}
            if value == "False" and kind in ("Ready", "ContainersReady"):
                entry["reason"] = "ContainersNotReady"
                entry["message"] = f"containers with unready status: [{' '.join(not_ready)}]"
            return entry

        status: dict[str, Any] = {
            "phase": "Pending" if pending else "Running",
            "conditions": [
                condition("PodReadyToStartContainers", "True", scheduled),
                condition("Initialized", "True", scheduled),
                condition("Ready", ready_text, ready_since),
                condition("ContainersReady", ready_text, ready_since),
                condition("PodScheduled", "True", scheduled),
            ],
            "hostIP": f"10.0.0.{10 + self.nodes.index(memory.node or self.nodes[0]) + 1}",
            "hostIPs": [],
            "podIP": memory.pod_ip,
            "podIPs": [{"ip": memory.pod_ip}],
            "startTime": scheduled,
            "containerStatuses": statuses,
            "qosClass": pod.get("status", {}).get("qosClass", "BestEffort"),
        }
        status["hostIPs"] = [{"ip": status["hostIP"]}]
        if pod["spec"].get("initContainers"):
            status["initContainerStatuses"] = [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": f"{c.get('image', '').split(':')[0]}@sha256:{_digest(c.get('image', ''))}",
                    "containerID": f"containerd://{_digest(pod['metadata']['uid'], c['name'])}",
                    "ready": True,
                    "started": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": scheduled,
                            "finishedAt": scheduled,
                        }
                    },
                    "lastState": {},
                }
                for c in pod["spec"]["initContainers"]
            ]
        return status

    def _container(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        mode: str,
        memory: _PodMemory,
        moment: datetime.datetime,
        started: datetime.datetime,
        running: bool,
        fixed_restarts: int | None,
    ) -> tuple[dict[str, Any], bool, int, dict[str, Any]]:
        """(state, ready, restartCount, lastState) of one container, emitting its events."""
        name, image = container["name"], container.get("image", "")
        meta = pod["metadata"]
        since = memory.mode_since
        assert since is not None and memory.scheduled_at is not None
        if mode == "imagepull":
            if self._once(memory, f"pulling/{name}"):
                self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"', memory)
            # ErrImagePull for as long as the pull took, then ImagePullBackOff.
            reason = "ErrImagePull" if moment < started + (started - since) else "ImagePullBackOff"
            pull_error = (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
                f'failed to resolve reference "{image}": not found'
            )
            if self._repeat_due(memory, f"pull/{name}", moment):
                self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {pull_error}', memory)
                self._event(pod, "Warning", "Failed", "Error: ErrImagePull", memory)
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', memory)
                self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff", memory)
            message = (
                pull_error
                if reason == "ErrImagePull"
                else f'Back-off pulling image "{image}": ErrImagePull: {pull_error}'
            )
            return {"waiting": {"reason": reason, "message": message}}, False, 0, {}
        if not running:
            return {"waiting": {"reason": "ContainerCreating"}}, False, memory.restarts_before, {}
        if self._once(memory, f"started/{name}/{since.isoformat()}"):
            self._event(
                pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', memory
            )
            self._event(pod, "Normal", "Created", f"Created container: {name}", memory)
            self._event(pod, "Normal", "Started", f"Started container {name}", memory)
        started_at = timestamp(started)
        if mode == "crashloop":
            grown = self._crash_restarts(pod, memory, moment)
            restarts = fixed_restarts if fixed_restarts is not None else memory.restarts_before + grown
            period = datetime.timedelta(seconds=self._emu.options.crashloop_period)
            last_crash = started + period * max(grown - 1, 0)
            pod_ref = f"{meta['name']}_{meta['namespace']}({meta['uid']})"
            if self._once(memory, f"crash/{name}/{grown}"):
                self._event(
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod {pod_ref}",
                    memory,
                )
            state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={name} pod={pod_ref}",
                }
            }
            last = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": timestamp(last_crash),
                    "finishedAt": timestamp(last_crash),
                    "containerID": f"containerd://{_digest(meta['uid'], name, str(restarts - 1))}",
                }
            }
            return state, False, restarts, last
        state = {"running": {"startedAt": started_at}}
        if mode == "notready":
            if self._repeat_due(memory, f"probe/{name}", moment):
                self._event(
                    pod,
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    memory,
                )
            return state, False, memory.restarts_before, {}
        if mode == "restarts":
            restarts = fixed_restarts if fixed_restarts is not None else max(memory.restarts_before, 1)
            last = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": timestamp(memory.scheduled_at),
                    "finishedAt": started_at,
                    "containerID": f"containerd://{_digest(meta['uid'], name, 'previous')}",
                }
            }
            return state, True, restarts, last
        return state, True, memory.restarts_before, {}
