"""``pods/exec``: the remote-command websocket, served by running the command **on this machine**.

There are no containers here: the command runs as a local process (in its own process group)
with the environment the pod spec gives the container (literal ``env`` values, ``valueFrom``
Secret/ConfigMap keys and pod fields, ``envFrom``) on top of a minimal ``PATH``, in the
container's ``workingDir`` when that exists on this machine, else in the emulator's state
directory. For tests on loopback only.

The websocket speaks the Kubernetes channel protocols (``v5.channel.k8s.io``,
``v4.channel.k8s.io``, ``v3``/``v2``/``channel.k8s.io``; the first one the client offers that is
supported wins, as in the apiserver). Every message is one channel byte and a payload: 0 stdin,
1 stdout, 2 stderr, 3 error (v4+: a JSON ``Status``; before: plain text), 4 resize (ignored). v5
adds ``[255, channel]``, sent by the client to close its stdin. Without v5 there is no way to
close stdin, upstream: kubemu closes it on an empty stdin message (``[0]``), a kubemu extension.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import aiohttp.web

from . import errors
from .api import ApiCall, Subresource
from .faults import ExecFault

if TYPE_CHECKING:
    from .api import Kubemu

log = logging.getLogger("kubemu.exec")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
# What the kubelet's websocket server supports, best first; "" (no header) is the v1 protocol.
PROTOCOLS = (V5, V4, "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", "")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHUNK = 64 * 1024


class _Dropped(Exception):
    """The stream was cut (a fault) or the client went away: no status is sent."""


def select_protocol(header: str | None) -> str | None:
    """The first protocol the client offers that is supported (None: none is)."""
    offered = [p.strip() for p in (header or "").split(",") if p.strip()] or [""]
    return next((p for p in offered if p in PROTOCOLS), None)


def exit_status(command: list[str], code: int) -> dict[str, Any]:
    """What the kubelet puts on the error channel (v4+) when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(command)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_status(message: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Wait for a killed process. On Python 3.11 ``wait()`` also waits for its pipes to reach
    EOF, so drain what is left in them (and close them if something still holds them open)."""
    try:
        async with asyncio.timeout(5):
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    while await stream.read(CHUNK):
                        pass
            await proc.wait()
    except TimeoutError:
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()


class PodExec:
    def __init__(self, emulator: Kubemu) -> None:
        self._emu = emulator
        self.processes: set[asyncio.subprocess.Process] = set()

    # Before the upgrade: the apiserver's checks, answered with Status objects.

    def _container(self, pod: dict[str, Any], requested: str | None) -> dict[str, Any]:
        name = pod["metadata"]["name"]
        containers = pod["spec"].get("containers") or []
        init = pod["spec"].get("initContainers") or []
        if not requested:
            if len(containers) == 1:
                return containers[0]
            names = " ".join(c["name"] for c in containers)
            message = f"a container name must be specified for pod {name}, choose one of: [{names}]"
            if init:
                message += f" or one of the init containers: [{' '.join(c['name'] for c in init)}]"
            raise errors.bad_request(message)
        found = next((c for c in containers + init if c["name"] == requested), None)
        if found is None:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return found

    def _check_running(self, pod: dict[str, Any], container: str) -> None:
        name = pod["metadata"]["name"]
        if not pod["spec"].get("nodeName"):
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise errors.bad_request(
                f"cannot exec into a container in a completed pod; current phase is {phase}"
            )
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        status = next((s for s in statuses if s.get("name") == container), None)
        if status is None or "running" not in (status.get("state") or {}):
            # What the kubelet answers for a container that is not running (yet).
            raise errors.bad_request(f'unable to upgrade connection: container not found ("{container}")')

    def _env(self, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        namespace = pod["metadata"]["namespace"]
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": pod["metadata"]["name"], "HOME": str(self._state_dir())}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            ref = source.get("configMapRef") or source.get("secretRef")
            if not ref:
                continue
            data = self._ref_data("secrets" if "secretRef" in source else "configmaps", namespace, ref)
            env.update({prefix + key: value for key, value in (data or {}).items()})
        for var in container.get("env") or []:
            if "value" in var:
                env[var["name"]] = self._expand(str(var["value"]), env)
                continue
            value = self._value_from(pod, var.get("valueFrom") or {})
            if value is not None:
                env[var["name"]] = value
        return env

    @staticmethod
    def _expand(value: str, env: dict[str, str]) -> str:
        """``$(VAR)`` references to variables defined before, as the kubelet expands them."""
        out, i = [], 0
        while i < len(value):
            if value.startswith("$$", i):
                out.append("$")
                i += 2
            elif value.startswith("$(", i) and (end := value.find(")", i)) != -1:
                name = value[i + 2 : end]
                out.append(env.get(name, value[i : end + 1]))
                i = end + 1
            else:
                out.append(value[i])
                i += 1
        return "".join(out)

    def _ref_data(self, plural: str, namespace: str, ref: dict[str, Any]) -> dict[str, str] | None:
        obj = self._emu.get("", plural, namespace, ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                return None
            kind = "secret" if plural == "secrets" else "configmap"
            raise errors.api_error(
                500,
                "InternalError",
                f'Internal error occurred: {kind} "{ref.get("name")}" not found (the kubelet would not '
                "have started this container: CreateContainerConfigError)",
            )
        if plural == "secrets":
            return {
                k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()
            }
        return dict(obj.get("data") or {})

    def _value_from(self, pod: dict[str, Any], source: dict[str, Any]) -> str | None:
        for plural, field in (("secrets", "secretKeyRef"), ("configmaps", "configMapKeyRef")):
            ref = source.get(field)
            if ref is None:
                continue
            data = self._ref_data(plural, pod["metadata"]["namespace"], ref)
            if data is None:
                return None
            if ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                raise errors.api_error(
                    500,
                    "InternalError",
                    f"Internal error occurred: couldn't find key {ref.get('key')} in "
                    f"{'Secret' if plural == 'secrets' else 'ConfigMap'} "
                    f"{pod['metadata']['namespace']}/{ref.get('name')}",
                )
            return data[ref["key"]]
        field_path = (source.get("fieldRef") or {}).get("fieldPath")
        if field_path:
            meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
            values = {
                "metadata.name": meta.get("name"),
                "metadata.namespace": meta.get("namespace"),
                "metadata.uid": meta.get("uid"),
                "spec.nodeName": spec.get("nodeName"),
                "spec.serviceAccountName": spec.get("serviceAccountName"),
                "status.podIP": status.get("podIP"),
                "status.hostIP": status.get("hostIP"),
            }
            value = values.get(field_path)
            return None if value is None else str(value)
        return None

    def _state_dir(self) -> Path:
        return Path(self._emu.options.state_dir).resolve()

    def _cwd(self, container: dict[str, Any]) -> str:
        working_dir = container.get("workingDir")
        if working_dir and Path(working_dir).is_dir():
            return working_dir
        return str(self._state_dir())

    async def serve(self, call: ApiCall) -> aiohttp.web.StreamResponse:
        if call.raw.method not in ("GET", "POST"):
            raise errors.method_not_allowed()
        if call.verb != "create":
            # RBAC: a websocket GET to pods/exec also needs ``create`` (as the apiserver checks).
            self._emu._authorize(ApiCall(call.raw, call.path, call.rt, "create", call.body))
        api = call.path
        pod = self._emu._existing(call.rt, api.namespace, api.name)
        container = self._container(pod, call.query.get("container"))
        command = call.raw.query.getall("command", [])
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        streams = {k: call.flag(k) for k in ("stdin", "stdout", "stderr")}
        if not any(streams.values()):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        self._check_running(pod, container["name"])
        env = self._env(pod, container)
        if call.raw.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        protocol = select_protocol(call.raw.headers.get("Sec-WebSocket-Protocol"))
        if protocol is None:
            raise errors.bad_request(
                f"requested protocol(s) are not supported: "
                f"[{call.raw.headers.get('Sec-WebSocket-Protocol')}]; supports "
                f"[{' '.join(p for p in PROTOCOLS if p)}]"
            )
        ws = aiohttp.web.WebSocketResponse(
            protocols=(protocol,) if protocol else (), autoping=True, max_msg_size=0, timeout=5.0
        )
        await ws.prepare(call.raw)
        session = _Session(
            self,
            ws,
            call.raw,
            protocol,
            streams,
            self._emu.faults.take_exec_fault(pod["metadata"]["namespace"], pod["metadata"]["name"]),
        )
        try:
            await session.run(command, env, self._cwd(container))
        except Exception:
            log.exception("exec failed: %s", command)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws


class _Session:
    """One exec: a process and the websocket carrying its streams."""

    def __init__(
        self,
        owner: PodExec,
        ws: aiohttp.web.WebSocketResponse,
        raw: aiohttp.web.BaseRequest,
        protocol: str,
        streams: dict[str, bool],
        fault: ExecFault | None,
    ) -> None:
        self.owner, self.ws, self.raw = owner, ws, raw
        self.protocol, self.streams, self.fault = protocol, streams, fault
        self.command: list[str] = []
        self.sent = 0  # stdout/stderr payload bytes sent (for the fault)
        self.lock = asyncio.Lock()
        self.proc: asyncio.subprocess.Process | None = None

    async def send(self, channel: int, data: bytes) -> None:
        fault = self.fault
        if fault is not None and channel in (STDOUT, STDERR) and self.sent + len(data) >= fault.bytes:
            data = data[: fault.bytes - self.sent]
            async with self.lock:
                if data:
                    await self.ws.send_bytes(bytes([channel]) + data)
                self.sent += len(data)
                await self._cut()
            raise _Dropped
        async with self.lock:
            await self.ws.send_bytes(bytes([channel]) + data)
        if channel in (STDOUT, STDERR):
            self.sent += len(data)

    async def _cut(self) -> None:
        assert self.fault is not None
        if self.fault.mode == "close-after-bytes":
            await self.ws.close(code=aiohttp.WSCloseCode.OK)
            return
        # disconnect-after-bytes: drop the connection, no close frame (buffered bytes still go).
        await asyncio.sleep(0.05)
        transport = self.raw.transport
        if transport is not None:
            transport.close()

    async def send_error(self, status: dict[str, Any], text: str) -> None:
        if self.protocol in (V5, V4):
            await self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())  # as Go
        elif text:
            await self.send(ERROR, text.encode())

    async def run(self, command: list[str], env: dict[str, str], cwd: str) -> None:
        self.command = command
        # As the kubelet: an empty message on the lowest writable channel says "connected".
        first = STDOUT if self.streams["stdout"] else STDERR if self.streams["stderr"] else ERROR
        await self.send(first, b"")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE if self.streams["stdin"] else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if self.streams["stdout"] else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE if self.streams["stderr"] else asyncio.subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own process group, killed with the connection
                limit=4 * CHUNK,
            )
        except OSError as exc:
            # What containerd says when the executable cannot be started.
            reason = (
                f'exec: "{command[0]}": executable file not found in $PATH'
                if isinstance(exc, FileNotFoundError)
                else f'exec: "{command[0]}": {exc.strerror or exc}'
            )
            message = (
                "error executing command in container: failed to exec in container: failed to start "
                f"exec: OCI runtime exec failed: exec failed: unable to start container process: "
                f"{reason}: unknown"
            )
            with contextlib.suppress(_Dropped, ConnectionError):
                await self.send_error(internal_status(message), message)
            await self.ws.close()
            return
        proc = self.proc
        self.owner.processes.add(proc)
        reader = asyncio.create_task(self._read_client())
        finished = asyncio.create_task(self._finish())
        try:
            await asyncio.wait({reader, finished}, return_when=asyncio.FIRST_COMPLETED)
            if finished.done() and finished.exception() is None:
                code = finished.result()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                status = exit_status(self.command, code)
                with contextlib.suppress(_Dropped, ConnectionError):
                    await self.send_error(status, status.get("message", ""))
                await self.ws.close()
        finally:
            # A process never outlives its connection.
            _kill_group(proc.pid)
            for task in (reader, finished):
                task.cancel()
            for task in (reader, finished):
                with contextlib.suppress(asyncio.CancelledError, _Dropped, ConnectionError):
                    await task
            await _reap(proc)
            self.owner.processes.discard(proc)
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def _pump(self, stream: asyncio.StreamReader | None, channel: int) -> None:
        if stream is None:
            return
        while chunk := await stream.read(CHUNK):
            await self.send(channel, chunk)

    async def _finish(self) -> int:
        """Stream stdout/stderr until the process exits and both reach EOF; the exit code."""
        assert self.proc is not None
        proc = self.proc
        pumps = asyncio.gather(self._pump(proc.stdout, STDOUT), self._pump(proc.stderr, STDERR))
        try:
            code = await proc.wait()
            # The command is done: what it left in the background goes with it (and lets the
            # pipes reach EOF); output already written is still read.
            _kill_group(proc.pid)
            await pumps
        except BaseException:
            pumps.cancel()
            with contextlib.suppress(BaseException):
                await pumps
            raise
        return code if code >= 0 else 128 - code  # killed by a signal: 128 + signal, as a shell

    async def _read_client(self) -> None:
        """Feed stdin from the client until it goes away (then return)."""
        assert self.proc is not None
        stdin = self.proc.stdin
        while True:
            msg = await self.ws.receive()
            if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                return  # close, closed, error: the client is gone
            data: bytes = msg.data if msg.type == aiohttp.WSMsgType.BINARY else msg.data.encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == CLOSE and self.protocol == V5:
                if payload[:1] == bytes([STDIN]) and stdin is not None:
                    stdin.close()
                    stdin = None
                continue
            if channel != STDIN or stdin is None:
                continue  # resize and anything else: ignored
            if not payload:
                if self.protocol != V5:
                    stdin.close()  # kubemu extension: v4 and older have no close signal
                    stdin = None
                continue
            try:
                stdin.write(payload)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                stdin = None  # the process closed its stdin: drop the rest


def register(emulator: Kubemu) -> PodExec:
    pod_exec = PodExec(emulator)
    emulator.register_subresource(
        "", "pods", "exec", Subresource("PodExecOptions", ("create", "get"), pod_exec.serve)
    )
    return pod_exec
