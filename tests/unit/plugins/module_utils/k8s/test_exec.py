"""The exec channel protocol as PodExec reads it, on a scripted websocket."""

import json

import pytest
from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as kexec

SUCCESS = {"metadata": {}, "status": "Success"}


def exit_status(code, message="command terminated with non-zero exit code"):
    return {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class Frame:
    def __init__(self, data):
        self.data = data


def binary(channel, payload=b""):
    return (ABNF.OPCODE_BINARY, Frame(bytes([channel]) + payload))


def text(channel, payload=""):
    return (ABNF.OPCODE_TEXT, Frame(chr(channel) + payload))


def status(obj):
    return binary(kexec.ERROR, json.dumps(obj).encode())


CLOSE = (ABNF.OPCODE_CLOSE, Frame(b""))


class FakeSock:
    """recv_data_frame() plays a script of (opcode, frame) pairs or exceptions."""

    def __init__(self, script, subprotocol=None):
        self.script = list(script)
        self.subprotocol = subprotocol
        self.sent = []
        self.timeout = None

    def recv_data_frame(self, control_frame):
        assert control_frame is True
        if not self.script:
            raise AssertionError("read past the end of the script")
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def send(self, data, opcode):
        self.sent.append((opcode, data))

    def settimeout(self, seconds):
        self.timeout = seconds


class FakeWs:
    def __init__(self, sock, subprotocol=None, fail_close=False):
        self.sock = sock
        self.subprotocol = subprotocol
        self.fail_close = fail_close
        self.closed = 0

    def close(self):
        self.closed += 1
        if self.fail_close:
            raise OSError("already closed")


def pod_exec(script, subprotocol=None, container=None, timeout=None):
    exe = kexec.PodExec(None, "db", "pg-0", ["pg_dump", "mplp"], container=container, timeout=timeout)
    exe._sock = FakeSock(script)
    exe._ws = FakeWs(exe._sock, subprotocol)
    return exe


def pump(exe):
    out, err = [], []
    code = exe.pump(out.append, err.append)
    return code, b"".join(out), b"".join(err)


# -- _exit_code ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status_obj,code",
    [
        (SUCCESS, 0),
        (exit_status(3), 3),
        (exit_status(137), 137),
        (
            {
                "status": "Failure",
                "details": {"causes": [{"reason": "Other"}, {"reason": "ExitCode", "message": "2"}]},
            },
            2,
        ),
        ({"status": "Failure", "message": "container not found", "reason": "InternalError"}, None),
        ({"status": "Failure", "details": {"causes": [{"reason": "ExitCode", "message": "x"}]}}, None),
        ({"status": "Failure", "details": None}, None),
        ({}, None),
    ],
)
def test_exit_code(status_obj, code):
    assert kexec._exit_code(status_obj) == code


# -- pump ----------------------------------------------------------------------------------


def test_stdout_and_stderr_are_delivered_and_the_exit_code_returned():
    exe = pod_exec(
        [
            binary(kexec.STDOUT, b"PGDMP\x00\xff"),
            binary(kexec.STDERR, b"pg_dump: notice\n"),
            (ABNF.OPCODE_PING, Frame(b"")),
            binary(kexec.STDOUT, b""),  # an empty payload is no data
            (ABNF.OPCODE_BINARY, Frame(b"")),  # nor is an empty frame
            binary(kexec.STDOUT, bytes(range(256))),
            binary(kexec.CLOSE, bytes([kexec.STDOUT])),  # v5: stdout ended
            status(SUCCESS),
            CLOSE,
        ]
    )
    code, out, err = pump(exe)
    assert code == 0 and exe.exit_code == 0
    assert out == b"PGDMP\x00\xff" + bytes(range(256))
    assert err == exe.stderr == b"pg_dump: notice\n"
    assert exe.status == SUCCESS


def test_text_frames_are_read_as_utf8():
    code, out, _err = pump(
        pod_exec([text(kexec.STDOUT, "héllo"), text(kexec.ERROR, json.dumps(SUCCESS)), CLOSE])
    )
    assert code == 0 and out == "héllo".encode()


def test_a_non_zero_exit_and_its_failure_message():
    exe = pod_exec(
        [
            binary(
                kexec.STDERR,
                b'pg_dump: error: connection to server failed: FATAL: database "x" does not exist\n',
            ),
            status(exit_status(1)),
            CLOSE,
        ],
        container="postgres",
    )
    assert pump(exe)[0] == 1
    assert exe.failure("pg_dump of x") == (
        "pg_dump of x in pod db/pg-0 container postgres failed (exit code 1): command terminated with "
        'non-zero exit code; stderr: pg_dump: error: connection to server failed: FATAL: database "x" '
        "does not exist"
    )


def test_a_status_split_over_frames_is_joined():
    raw = json.dumps(exit_status(5)).encode()
    exe = pod_exec([binary(kexec.ERROR, raw[:10]), binary(kexec.ERROR, raw[10:]), CLOSE])
    assert pump(exe)[0] == 5


def test_a_status_that_is_not_json_is_a_failure_without_exit_code():
    exe = pod_exec([binary(kexec.ERROR, b"container not running"), CLOSE])
    assert pump(exe)[0] is None
    assert exe.status == {"status": "Failure", "message": "container not running"}
    assert "failed (exit code None): container not running" in exe.failure("psql")


def test_a_close_without_status_is_an_incomplete_stream():
    exe = pod_exec([binary(kexec.STDOUT, b"half"), binary(kexec.STDERR, b"killed"), CLOSE])
    with pytest.raises(kexec.ExecError) as info:
        pump(exe)
    assert str(info.value) == (
        "the exec stream of pod db/pg-0 ended without an exit status (connection closed by the server "
        "or a proxy); the output is incomplete; stderr: killed"
    )


def test_a_dropped_connection_before_the_status_is_a_cut_stream():
    exe = pod_exec(
        [binary(kexec.STDOUT, b"half"), WebSocketConnectionClosedException("socket is already closed.")]
    )
    with pytest.raises(kexec.ExecError) as info:
        pump(exe)
    assert str(info.value) == (
        "the exec stream of pod db/pg-0 was cut before the command finished (socket is already closed.)"
    )


def test_a_reset_socket_is_a_cut_stream():
    exe = pod_exec([ConnectionResetError(104, "Connection reset by peer")])
    with pytest.raises(
        kexec.ExecError, match=r"was cut before the command finished \(.*Connection reset by peer\)"
    ):
        pump(exe)


def test_a_dropped_connection_after_the_status_is_fine():
    exe = pod_exec(
        [binary(kexec.STDOUT, b"all"), status(exit_status(2)), WebSocketConnectionClosedException()]
    )
    assert pump(exe) == (2, b"all", b"")


def test_silence_longer_than_the_timeout():
    exe = pod_exec([WebSocketTimeoutException("timed out")], timeout=30)
    with pytest.raises(kexec.ExecError, match=r"^no output from pod db/pg-0 for 30 s$"):
        pump(exe)


def test_a_failing_consumer_stops_the_pump():
    exe = pod_exec([binary(kexec.STDOUT, b"a"), binary(kexec.STDOUT, b"b"), status(SUCCESS), CLOSE])

    def full(_data):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        exe.pump(full)
    assert len(exe._sock.script) == 3


def test_stderr_keeps_only_its_tail():
    chunk = b"e" * 40000
    exe = pod_exec(
        [binary(kexec.STDERR, chunk), binary(kexec.STDERR, chunk + b"END"), status(SUCCESS), CLOSE]
    )
    exe.pump(lambda data: None)
    assert len(exe.stderr) == kexec.STDERR_KEEP and exe.stderr.endswith(b"END")


# -- stdin ---------------------------------------------------------------------------------


def test_write_sends_binary_frames_on_channel_0():
    exe = pod_exec([])
    exe.write(b"*:*:*:u:pw\n")
    exe.write(b"")
    assert exe._sock.sent == [(ABNF.OPCODE_BINARY, b"\x00*:*:*:u:pw\n")]


@pytest.mark.parametrize("ws_proto,sock_proto", [(kexec.V5, None), (None, kexec.V5)])
def test_close_stdin_on_v5(ws_proto, sock_proto):
    exe = pod_exec([], subprotocol=ws_proto)
    exe._sock.subprotocol = sock_proto
    exe.close_stdin()
    assert exe._sock.sent == [(ABNF.OPCODE_BINARY, bytes([255, 0]))]


@pytest.mark.parametrize("proto", ["v4.channel.k8s.io", "channel.k8s.io", None])
def test_close_stdin_needs_v5(proto):
    exe = pod_exec([], subprotocol=proto)
    with pytest.raises(kexec.ExecError) as info:
        exe.close_stdin()
    assert str(info.value) == (
        "the API server of pod db/pg-0 does not speak v5.channel.k8s.io, so stdin cannot be closed"
    )
    assert exe._sock.sent == []


# -- open / close --------------------------------------------------------------------------


def test_close_is_idempotent_and_quiet():
    exe = pod_exec([])
    ws = exe._ws
    ws.fail_close = True
    exe.close()
    exe.close()
    assert ws.closed == 1 and exe._ws is None


def test_open_passes_the_command_and_sets_the_timeout(monkeypatch):
    import kubernetes.stream

    calls = {}
    sock = FakeSock([])

    def fake_stream(func, name, namespace, **kwargs):
        calls.update(func=func.__name__, name=name, namespace=namespace, **kwargs)
        return FakeWs(sock, kexec.V5)

    monkeypatch.setattr(kubernetes.stream, "stream", fake_stream)
    with kexec.PodExec(object(), "db", "pg-0", ["psql", "-X"], container="pg", stdin=True, timeout=9) as exe:
        assert exe.protocol == kexec.V5
    assert calls == {
        "func": "connect_get_namespaced_pod_exec",
        "name": "pg-0",
        "namespace": "db",
        "_preload_content": False,
        "command": ["psql", "-X"],
        "stdin": True,
        "stdout": True,
        "stderr": True,
        "tty": False,
        "container": "pg",
    }
    assert sock.timeout == 9


def test_open_failures_name_the_pod_and_the_api_message(monkeypatch):
    import kubernetes.stream
    from kubernetes.client.rest import ApiException

    def forbidden(*args, **kwargs):
        exc = ApiException(status=403, reason="Forbidden")
        exc.body = json.dumps(
            {"kind": "Status", "message": 'pods "pg-0" is forbidden: cannot create pods/exec'}
        )
        raise exc

    monkeypatch.setattr(kubernetes.stream, "stream", forbidden)
    with pytest.raises(kexec.ExecError) as info:
        kexec.PodExec(object(), "db", "pg-0", ["true"]).open()
    assert str(info.value) == (
        'cannot exec in pod db/pg-0: pods "pg-0" is forbidden: cannot create pods/exec (HTTP 403)'
    )

    def refused(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(kubernetes.stream, "stream", refused)
    with pytest.raises(
        kexec.ExecError, match=r"^cannot exec in pod db/pg-0 container c: .*Connection refused"
    ):
        kexec.PodExec(object(), "db", "pg-0", ["true"], container="c").open()


def test_the_status_of_a_refused_exec_is_read_from_the_handshake_error():
    from ansible_collections.multiagent.ops.plugins.module_utils.k8s import exec as k8s_exec

    assert k8s_exec._refused_status(403, "") == 403
    assert k8s_exec._refused_status(0, "Handshake status 403 Forbidden -+-+- {} -+-+- b'{}'") == 403
    assert k8s_exec._refused_status(0, "connection refused") is None


class Conn:
    host = "https://api.example:6443"
    headers = {"authorization": "Bearer t0ken"}
    groups = ["ops"]
    verify = True
    ca_file = ca_data = cert_file = key_file = cert_data = key_data = None
    tls_server_name = None
    proxy = None

    def bypasses_proxy(self):
        return False


class Session:
    conn = Conn()


def test_over_the_collections_session_the_websocket_is_opened_here(monkeypatch):
    import websocket

    seen = {}

    class FakeSocket:
        subprotocol = kexec.V5

        def __init__(self, sslopt=None, skip_utf8_validation=False):
            seen["sslopt"] = sslopt

        def connect(self, url, timeout=None, **options):
            seen.update(url=url, options=options)

    monkeypatch.setattr(websocket, "WebSocket", FakeSocket)
    pod_exec = kexec.PodExec(
        Session(), "mplp", "pg-0", ["pg_isready", "-q"], container="db", timeout=3
    ).open()
    assert seen["url"] == (
        "wss://api.example:6443/api/v1/namespaces/mplp/pods/pg-0/exec?command=pg_isready&command=-q"
        "&stdin=false&stdout=true&stderr=true&tty=false&container=db"
    )
    assert seen["options"]["header"] == ["authorization: Bearer t0ken", "Impersonate-Group: ops"]
    assert seen["options"]["subprotocols"] == [kexec.V5, "v4.channel.k8s.io"]
    assert "context" in seen["sslopt"] and pod_exec.protocol == kexec.V5


def test_a_refused_websocket_names_the_status(monkeypatch):
    import websocket

    class Refused:
        def __init__(self, **kw):
            pass

        def connect(self, url, timeout=None, **options):
            body = json.dumps({"message": 'pods "pg-0" is forbidden: cannot create resource "pods/exec"'})
            raise websocket.WebSocketBadStatusException("Handshake status 403 Forbidden", 403, resp_body=body)

    monkeypatch.setattr(websocket, "WebSocket", Refused)
    with pytest.raises(kexec.ExecError) as err:
        kexec.PodExec(Session(), "mplp", "pg-0", ["true"]).open()
    assert err.value.status == 403 and not err.value.started
    assert 'cannot create resource "pods/exec" (HTTP 403)' in str(err.value)
