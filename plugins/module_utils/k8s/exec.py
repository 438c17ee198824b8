# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod through the Kubernetes ``pods/exec`` API and stream its bytes.

The ``kubernetes`` client's ``stream()`` opens the websocket (authentication, TLS, proxies,
channel sub-protocols exactly as the client is configured); the frames are then read here,
one at a time, so that gigabytes of binary output flow through a callback without being
buffered, decoded or captured. The channel protocol (``v5.channel.k8s.io`` … ``channel.k8s.io``):
every frame starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 the exit status (a
``Status`` object), 255 close a channel (v5 only).

A stream that ends without a status on channel 3 is a failure (the connection dropped, the
API server or kubelet went away): the caller never mistakes a cut stream for a finished one.
"""

from __future__ import annotations

import json
import threading

STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255
V5 = "v5.channel.k8s.io"
STDERR_KEEP = 65536


class ExecError(Exception):
    """The exec could not start, was cut, or the command failed; the message says which."""


def _exit_code(status):
    """The exit code in a channel-3 Status: 0 on Success, the ExitCode cause otherwise."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    return None


class PodExec:
    """One command in one container; use as a context manager.

    ``pump(on_stdout)`` calls ``on_stdout(bytes)`` for every stdout frame until the stream
    ends and returns the exit code; ``write(data)`` / ``close_stdin()`` feed stdin (from
    another thread while pump() runs, or before it).
    """

    def __init__(self, api_client, namespace, pod, command, container=None, stdin=False, timeout=None):
        self.api_client = api_client
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.command = list(command)
        self.stdin = stdin
        self.timeout = timeout
        self.stderr = b""
        self.status = None
        self.exit_code = None
        self._ws = None
        self._sock = None
        self._lock = threading.Lock()
        self.where = "pod %s/%s%s" % (namespace, pod, " container %s" % container if container else "")

    def open(self):
        from kubernetes.client import CoreV1Api
        from kubernetes.client.rest import ApiException
        from kubernetes.stream import stream

        kwargs = dict(command=self.command, stdin=self.stdin, stdout=True, stderr=True, tty=False)
        if self.container:
            kwargs["container"] = self.container
        try:
            self._ws = stream(
                CoreV1Api(self.api_client).connect_get_namespaced_pod_exec,
                self.pod,
                self.namespace,
                _preload_content=False,
                **kwargs,
            )
        except ApiException as exc:
            detail = exc.reason
            try:
                detail = json.loads(exc.body).get("message") or detail
            except (TypeError, ValueError, AttributeError):
                pass
            raise ExecError("cannot exec in %s: %s (HTTP %s)" % (self.where, detail, exc.status)) from exc
        except Exception as exc:  # noqa: BLE001 - websocket/urllib3 errors name the cause
            raise ExecError("cannot exec in %s: %s" % (self.where, exc)) from exc
        self._sock = self._ws.sock
        if self.timeout:
            self._sock.settimeout(self.timeout)
        return self

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def protocol(self):
        return getattr(self._ws, "subprotocol", None) or getattr(self._sock, "subprotocol", None)

    def write(self, data):
        """Send bytes to the command's stdin (binary frames)."""
        if data:
            from websocket import ABNF

            with self._lock:
                self._sock.send(bytes([STDIN]) + bytes(data), opcode=ABNF.OPCODE_BINARY)

    def close_stdin(self):
        """End the command's stdin (needs the v5 protocol; older ones cannot say it)."""
        if self.protocol != V5:
            raise ExecError(
                "the API server of %s does not speak %s, so stdin cannot be closed" % (self.where, V5)
            )
        from websocket import ABNF

        with self._lock:
            self._sock.send(bytes([CLOSE, STDIN]), opcode=ABNF.OPCODE_BINARY)

    def pump(self, on_stdout, on_stderr=None):
        """Deliver stdout until the stream ends; returns the exit code (raises on a cut stream)."""
        from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

        status_raw = b""
        while True:
            try:
                opcode, frame = self._sock.recv_data_frame(True)
            except WebSocketTimeoutException as exc:
                raise ExecError("no output from %s for %s s" % (self.where, self.timeout)) from exc
            except (WebSocketConnectionClosedException, OSError) as exc:
                if status_raw:
                    break
                raise ExecError(
                    "the exec stream of %s was cut before the command finished (%s)%s"
                    % (self.where, exc or "connection closed", self._stderr_tail())
                ) from exc
            if opcode == ABNF.OPCODE_CLOSE:
                break
            if opcode not in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT):
                continue
            data = frame.data
            if isinstance(data, str):
                data = data.encode("utf-8")
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDOUT:
                if payload:
                    on_stdout(payload)
            elif channel == STDERR:
                if on_stderr:
                    on_stderr(payload)
                self.stderr = (self.stderr + payload)[-STDERR_KEEP:]
            elif channel == ERROR:
                status_raw += payload
            # CLOSE frames for stdout/stderr just announce their end.
        if not status_raw:
            raise ExecError(
                "the exec stream of %s ended without an exit status (connection closed by the "
                "server or a proxy); the output is incomplete%s" % (self.where, self._stderr_tail())
            )
        try:
            self.status = json.loads(status_raw)
        except ValueError:
            self.status = {"status": "Failure", "message": status_raw.decode("utf-8", "replace")}
        self.exit_code = _exit_code(self.status)
        return self.exit_code

    def failure(self, what):
        """The message for a non-zero exit or an error status."""
        message = self.status.get("message") if isinstance(self.status, dict) else None
        return "%s in %s failed (exit code %s): %s%s" % (
            what,
            self.where,
            self.exit_code,
            message or "no message",
            self._stderr_tail(),
        )

    def _stderr_tail(self):
        text = self.stderr.decode("utf-8", "replace").strip()
        return "; stderr: %s" % text[-2000:] if text else ""

    def close(self):
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass
            self._ws = None
