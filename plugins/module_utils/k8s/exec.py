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

Over the collection's own HTTP session (wire.Session, which does not load the ``kubernetes``
library), the websocket is opened here with ``websocket-client`` and the session's server,
headers and TLS context: a health check that execs into a database pod does not pay the
second it takes to import the library. ``run()`` runs one short command and returns its
exit code and output.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import urlencode

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources

STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255
V5 = "v5.channel.k8s.io"
STDERR_KEEP = 65536


class ExecError(Exception):
    """The exec could not start, was cut, or the command failed; the message says which.
    ``status``: the HTTP status the API server refused the exec with (403: the credentials
    may not ``create pods/exec``), None when it did not refuse it. ``started``: the command
    ran (the stream was open) when it failed; ``timed_out``: it gave no output for the
    timeout."""

    def __init__(self, message, status=None, started=False, timed_out=False):
        super().__init__(message)
        self.status = status
        self.started = started
        self.timed_out = timed_out


_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def _refused_status(status, text):
    """The HTTP status of a refused exec: the ApiException's, or the one websocket-client
    names in its handshake error (the kubernetes library reports those as status 0)."""
    if status:
        return int(status)
    match = _HANDSHAKE.search(text or "")
    return int(match.group(1)) if match else None


def _detail(body, default):
    try:
        return json.loads(body).get("message") or default
    except (TypeError, ValueError, AttributeError):
        return default


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
        if hasattr(self.api_client, "conn"):  # wire.Session: no kubernetes library
            return self._open_websocket(self.api_client.conn)
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
            detail = _detail(exc.body, exc.reason)
            status = _refused_status(exc.status, str(exc.reason))
            raise ExecError(
                "cannot exec in %s: %s (HTTP %s)" % (self.where, detail, status or exc.status), status
            ) from exc
        except Exception as exc:  # noqa: BLE001 - websocket/urllib3 errors name the cause
            raise ExecError("cannot exec in %s: %s" % (self.where, exc)) from exc
        self._sock = self._ws.sock
        if self.timeout:
            self._sock.settimeout(self.timeout)
        return self

    def _open_websocket(self, conn):
        import websocket

        from ansible_collections.multiagent.ops.plugins.module_utils.k8s import wire

        query = [("command", arg) for arg in self.command]
        query += [
            ("stdin", str(self.stdin).lower()),
            ("stdout", "true"),
            ("stderr", "true"),
            ("tty", "false"),
        ]
        if self.container:
            query.append(("container", self.container))
        url = "%s%s?%s" % (
            conn.host.rstrip("/"),
            resources.POD.object_path(self.namespace, self.pod, "exec"),
            urlencode(query),
        )
        url = "ws" + url[len("http") :] if url.startswith("http") else url
        header = ["%s: %s" % item for item in conn.headers.items()]
        header += ["Impersonate-Group: %s" % group for group in conn.groups]
        options = {"header": header, "subprotocols": [V5, "v4.channel.k8s.io"]}
        if conn.proxy and not conn.bypasses_proxy():
            proxy = conn.proxy.split("://", 1)[-1].rstrip("/")
            host, _sep, port = proxy.rpartition(":") if ":" in proxy else (proxy, "", "")
            options.update(http_proxy_host=host, http_proxy_port=int(port) if port else None)
        sslopt = {}
        if url.startswith("wss:"):
            sslopt["context"] = wire.tls_context(conn)
            if conn.tls_server_name:
                sslopt["server_hostname"] = conn.tls_server_name
            if not conn.verify:
                sslopt["check_hostname"] = False
        sock = websocket.WebSocket(sslopt=sslopt, skip_utf8_validation=True)
        try:
            sock.connect(url, timeout=self.timeout, **options)
        except websocket.WebSocketBadStatusException as exc:
            status = getattr(exc, "status_code", None)
            detail = _detail(getattr(exc, "resp_body", None), str(exc))
            raise ExecError("cannot exec in %s: %s (HTTP %s)" % (self.where, detail, status), status) from exc
        except Exception as exc:  # noqa: BLE001 - socket/TLS errors name the cause
            raise ExecError("cannot exec in %s: %s" % (self.where, exc)) from exc
        self._ws = self._sock = sock
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
                raise ExecError(
                    "no output from %s for %s s" % (self.where, self.timeout), started=True, timed_out=True
                ) from exc
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


def run(api_client, namespace, pod, command, container=None, timeout=None, limit=1 << 20):
    """Run a short command in a pod: ``(exit_code, stdout, stderr)`` (bytes; stdout keeps at
    most ``limit`` bytes). ExecError when the exec is refused (``status``) or cut, or when the
    command gives no output for ``timeout`` seconds (``started`` then says it ran)."""
    out = []
    size = [0]

    def keep(data):
        if size[0] < limit:
            out.append(data[: limit - size[0]])
            size[0] += len(data)

    with PodExec(api_client, namespace, pod, command, container=container, timeout=timeout) as pod_exec:
        try:
            code = pod_exec.pump(keep)
        except ExecError as exc:
            raise ExecError(str(exc), started=True, timed_out=exc.timed_out) from exc
    return code, b"".join(out), pod_exec.stderr
