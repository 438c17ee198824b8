"""``pods/exec``: the official client's websocket exec against kubemu, which runs the command here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubemu_testlib import TOKEN, Api, pod, wait_for, wait_until
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import WSClient
from websocket import WebSocketConnectionClosedException

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ns(api: Api) -> str:
    """One namespace with a Secret, a ConfigMap and running pods, shared by the tests here."""
    name = f"x-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    secret = {
        "PGPASSWORD": base64.b64encode(b"s3cr\xc3\xa9t").decode(),
        "user": base64.b64encode(b"app").decode(),
    }
    api.ok("POST", f"/api/v1/namespaces/{name}/secrets", {"metadata": {"name": "pg"}, "data": secret})
    api.ok(
        "POST", f"/api/v1/namespaces/{name}/configmaps", {"metadata": {"name": "cfg"}, "data": {"mode": "ro"}}
    )
    db = pod("db")
    db["spec"]["containers"][0].update(
        env=[
            {"name": "PGHOST", "value": "127.0.0.1"},
            {"name": "PGURL", "value": "postgres://$(PGHOST):5432"},
            {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "PGPASSWORD"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {
                "name": "MISSING",
                "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}},
            },
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        envFrom=[{"secretRef": {"name": "pg"}, "prefix": "S_"}],
        workingDir="/tmp",
    )
    api.ok("POST", f"/api/v1/namespaces/{name}/pods", db)
    two = pod("two")
    two["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    api.ok("POST", f"/api/v1/namespaces/{name}/pods", two)
    api.ok(
        "POST", f"/api/v1/namespaces/{name}/pods", pod("stuck", {"kubemu.multiagent.ops/fault": "pending"})
    )
    for running in ("db", "two"):
        wait_until(
            lambda running=running: api.ok("GET", f"/api/v1/namespaces/{name}/pods/{running}"),
            lambda p: all(
                "running" in s["state"] for s in p["status"].get("containerStatuses") or [{"state": {}}]
            ),
        )
    return name


@pytest.fixture(scope="module")
def core(emulator) -> client.CoreV1Api:
    configuration = client.Configuration(host=emulator.url)
    configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
    return client.CoreV1Api(client.ApiClient(configuration))


@pytest.fixture
def clean_faults(api: Api) -> Iterator[None]:
    yield
    api.ok("POST", "/_kubemu/reset-faults")


def run(core: client.CoreV1Api, ns: str, command: list[str], pod_name: str = "db", **kwargs: Any) -> Any:
    kwargs = {"stdout": True, "stderr": True, "stdin": False, "tty": False, **kwargs}
    return stream(core.connect_get_namespaced_pod_exec, pod_name, ns, command=command, **kwargs)


def test_discovery_advertises_pods_exec(api: Api) -> None:
    resources = {r["name"]: r for r in api.ok("GET", "/api/v1")["resources"]}
    assert resources["pods/exec"] == {
        "name": "pods/exec",
        "singularName": "",
        "namespaced": True,
        "kind": "PodExecOptions",
        "verbs": ["create", "get"],
    }


def test_preloaded_output_and_exit_codes(core: client.CoreV1Api, ns: str) -> None:
    assert run(core, ns, ["echo", "hello"]) == "hello\n"
    assert run(core, ns, ["sh", "-c", "echo out; echo err >&2"]) == "out\nerr\n"

    resp: WSClient = run(
        core, ns, ["sh", "-c", "echo partial; echo oops >&2; exit 3"], _preload_content=False
    )
    assert resp.subprotocol == "v5.channel.k8s.io"  # the best protocol the client offers
    stdout, stderr = "", ""
    while resp.is_open():
        resp.update(timeout=5)
        stdout += resp.read_stdout(timeout=0)
        stderr += resp.read_stderr(timeout=0)
    status = yaml.safe_load(resp.read_channel(3))
    assert (stdout, stderr) == ("partial\n", "oops\n")
    assert status == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c echo partial; echo oops >&2; exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }

    ok = run(core, ns, ["true"], _preload_content=False)
    ok.run_forever(timeout=10)
    assert ok.returncode == 0
    failed = run(core, ns, ["sh", "-c", "exit 7"], _preload_content=False)
    failed.run_forever(timeout=10)
    assert failed.returncode == 7


def test_missing_executable_is_an_internal_error_on_the_error_channel(
    core: client.CoreV1Api, ns: str
) -> None:
    resp = run(core, ns, ["no-such-command-kubemu"], _preload_content=False)
    resp.run_forever(timeout=10)
    status = json.loads(resp.read_channel(3))
    assert status["status"] == "Failure" and status["reason"] == "InternalError" and status["code"] == 500
    assert 'exec: "no-such-command-kubemu": executable file not found in $PATH' in status["message"]


def test_stdin_reaches_the_process_v5_close_and_v4_empty_frame(core: client.CoreV1Api, ns: str) -> None:
    payload = bytes(range(256)) * 1000
    resp = run(core, ns, ["sh", "-c", "cat; echo done >&2"], stdin=True, _preload_content=False, binary=True)
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin(payload)
    resp.close_channel(0)  # v5: [255, 0] closes the process's stdin
    resp.run_forever(timeout=10)
    assert resp.read_stdout() == payload and resp.read_stderr() == b"done\n"
    assert resp.returncode == 0

    # v4 has no close signal: kubemu closes stdin on an empty stdin message instead.
    v4 = run(
        core,
        ns,
        ["wc", "-c"],
        stdin=True,
        _preload_content=False,
        _headers={"sec-websocket-protocol": "v4.channel.k8s.io"},
    )
    assert v4.subprotocol == "v4.channel.k8s.io"
    v4.write_stdin("hello\n")
    v4.write_stdin("")
    v4.run_forever(timeout=10)
    assert v4.read_stdout().strip() == "6" and v4.returncode == 0


def test_environment_and_working_directory_come_from_the_pod_spec(core: client.CoreV1Api, ns: str) -> None:
    out = run(core, ns, ["sh", "-c", "env; echo cwd=$(pwd)"])
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["PGHOST"] == "127.0.0.1"
    assert env["PGURL"] == "postgres://127.0.0.1:5432"
    assert env["PGPASSWORD"] == "s3cr\u00e9t"  # base64-decoded from the Secret
    assert env["MODE"] == "ro" and env["POD_NAME"] == "db" and env["HOSTNAME"] == "db"
    assert env["S_user"] == "app"
    assert "MISSING" not in env
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert "VIRTUAL_ENV" not in env and TOKEN not in out  # nothing leaks from the emulator's own env
    assert env["cwd"] == "/tmp"


def test_binary_output_is_byte_identical(core: client.CoreV1Api, ns: str, tmp_path: Path) -> None:
    target = tmp_path / "random.bin"
    command = ["sh", "-c", f"head -c 5000000 /dev/urandom | tee {target}"]
    resp = run(core, ns, command, _preload_content=False, binary=True)
    chunks = []
    while resp.is_open():
        resp.update(timeout=5)
        chunks.append(resp.read_stdout(timeout=0))
    assert resp.returncode == 0
    received = b"".join(chunks)
    assert len(received) == 5_000_000
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(target.read_bytes()).hexdigest()
    # The preloaded form too.
    assert run(core, ns, ["cat", str(target)], binary=True) == target.read_bytes()


def test_post_and_the_older_channel_protocol(emulator, ns: str) -> None:
    """POST works as GET; ``channel.k8s.io`` (v1) reports a failure as text, success as nothing."""

    async def exchange(protocols: tuple[str, ...], script: str) -> tuple[str | None, list[bytes]]:
        url = f"{emulator.url}/api/v1/namespaces/{ns}/pods/db/exec?command=sh&command=-c"
        url += f"&command={script}&stdout=true&stderr=true"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, method="POST", protocols=protocols, headers=headers) as ws,
        ):
            return ws.protocol, [msg.data async for msg in ws if msg.type == aiohttp.WSMsgType.BINARY]

    protocol, frames = asyncio.run(
        exchange(("base64.channel.k8s.io", "channel.k8s.io"), "echo%20x%3Bexit%202")
    )
    assert protocol == "channel.k8s.io"
    assert frames[0] == b"\x01"  # the kubelet's "connected" message: an empty stdout frame
    assert b"".join(f[1:] for f in frames if f[0] == 1) == b"x\n"
    errors = b"".join(f[1:] for f in frames if f[0] == 3).decode()
    assert errors == (
        "command terminated with non-zero exit code: "
        "error executing command [sh -c echo x;exit 2], exit code 2"
    )
    protocol, frames = asyncio.run(exchange(("v4.channel.k8s.io",), "true"))
    assert protocol == "v4.channel.k8s.io" and frames[-1] == b'\x03{"metadata":{},"status":"Success"}'


def _handshake_error(core: client.CoreV1Api, ns: str, pod_name: str, **kwargs: Any) -> str:
    # kubernetes 36 trips over the exception's None body (AttributeError) while handling the
    # ApiException that carries the handshake status: read the reason from that one.
    with pytest.raises((ApiException, AttributeError)) as caught:
        run(core, ns, ["true"], pod_name=pod_name, **kwargs)
    exc: BaseException | None = caught.value
    while exc is not None and not isinstance(exc, ApiException):
        exc = exc.__context__
    assert exc is not None, caught.value
    return str(exc.reason)


def test_errors_before_the_upgrade(api: Api, core: client.CoreV1Api, ns: str, emulator, clean_faults) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    query = "command=true&stdout=true"
    status, body = api.get(f"{base}/ghost/exec?{query}")
    assert (status, body["reason"], body["message"]) == (404, "NotFound", 'pods "ghost" not found')
    assert "404 Not Found" in _handshake_error(core, ns, "ghost")

    status, body = api.get(f"{base}/two/exec?{query}")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == "a container name must be specified for pod two, choose one of: [app sidecar]"
    assert "400 Bad Request" in _handshake_error(core, ns, "two")
    assert run(core, ns, ["echo", "side"], pod_name="two", container="sidecar") == "side\n"
    status, body = api.get(f"{base}/two/exec?{query}&container=nope")
    assert (status, body["message"]) == (400, "container nope is not valid for pod two")

    status, body = api.get(f"{base}/stuck/exec?{query}")
    assert (status, body["message"]) == (400, "pod stuck does not have a host assigned")
    status, body = api.get(f"{base}/db/exec?stdout=true")
    assert (status, body["message"]) == (400, "you must specify at least 1 command")
    status, body = api.get(f"{base}/db/exec?{query}")  # no websocket upgrade
    assert (status, body["message"]) == (400, "Upgrade request required")
    status, body = api.get(
        f"{base}/db/exec?{query}",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Protocol": "base64.channel.k8s.io",
        },
    )
    assert status == 400 and body["message"].startswith("requested protocol(s) are not supported")

    # RBAC: exec needs create on pods/exec, even for a websocket GET.
    api.ok("POST", "/_kubemu/deny", {"verb": "create", "resource": "pods/exec", "namespace": ns})
    status, body = api.get(f"{base}/db/exec?{query}")
    assert (status, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        f'pods "db" is forbidden: User "system:serviceaccount:ops:runner" cannot create resource '
        f'"pods/exec" in API group "" in the namespace "{ns}"'
    )
    assert "403 Forbidden" in _handshake_error(core, ns, "db")
    api.ok("DELETE", "/_kubemu/deny")

    status, body = Api(emulator.url, "wrong").get(f"{base}/db/exec?{query}")
    assert (status, body["reason"]) == (401, "Unauthorized")


def test_exec_into_a_container_that_is_not_running(api: Api, namespace: str) -> None:
    api.ok(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        pod("crash", {"kubemu.multiagent.ops/fault": "crashloop"}),
    )
    wait_until(
        lambda: api.ok("GET", f"/api/v1/namespaces/{namespace}/pods/crash"),
        lambda p: (
            p["spec"].get("nodeName") and (p["status"].get("containerStatuses") or [{}])[0].get("state")
        ),
    )
    status, body = api.get(f"/api/v1/namespaces/{namespace}/pods/crash/exec?command=true&stdout=true")
    assert (status, body["message"]) == (400, 'unable to upgrade connection: container not found ("app")')


def test_disconnect_fault_ends_the_stream_without_a_status(
    api: Api, core: client.CoreV1Api, ns: str, clean_faults
) -> None:
    fault = {"namespace": ns, "pod": "db", "mode": "disconnect-after-bytes", "bytes": 100_000, "count": 1}
    assert api.ok("POST", "/_kubemu/exec-fault", fault) == {
        f"{ns}/db": {"mode": "disconnect-after-bytes", "bytes": 100_000, "count": 1}
    }
    resp = run(core, ns, ["head", "-c", "1000000", "/dev/zero"], _preload_content=False, binary=True)
    received = b""
    with pytest.raises(WebSocketConnectionClosedException):
        while resp.is_open():
            resp.update(timeout=5)
            received += resp.read_stdout(timeout=0)
    received += resp.read_stdout(timeout=0)
    assert len(received) == 100_000
    assert resp.read_channel(3) == b""  # no exit status: the caller must treat this as a failure
    # count: 1 -- the next exec is whole again.
    assert len(run(core, ns, ["head", "-c", "1000000", "/dev/zero"], binary=True)) == 1_000_000

    api.ok(
        "POST",
        "/_kubemu/exec-fault",
        {"namespace": ns, "pod": "db", "mode": "close-after-bytes", "bytes": 10},
    )
    closed = run(core, ns, ["echo", "hello world, longer than ten"], _preload_content=False)
    closed.run_forever(timeout=10)
    assert closed.read_stdout() == "hello worl" and closed.read_channel(3) == ""
    assert api.ok("GET", "/_kubemu/state")["faults"]["exec"] == {
        f"{ns}/db": {"mode": "close-after-bytes", "bytes": 10, "count": None}
    }
    status, body = api.post("/_kubemu/exec-fault", {"namespace": ns, "pod": "db", "mode": "explode"})
    assert status == 400 and "mode must be one of" in body["error"]
    assert api.ok("DELETE", "/_kubemu/exec-fault") == {}
    assert run(core, ns, ["echo", "whole"]) == "whole\n"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_process_does_not_outlive_its_connection(core: client.CoreV1Api, ns: str) -> None:
    # A child in the background and the shell itself: the whole process group goes.
    resp = run(core, ns, ["sh", "-c", "sleep 60 & echo $! $$; wait"], _preload_content=False)
    line = resp.readline_stdout(timeout=10)
    pids = [int(pid) for pid in line.split()]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    resp.close()
    wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=10)


PLAYBOOK = """
- name: kubernetes.core.k8s_exec against kubemu
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run a command in the pod
      kubernetes.core.k8s_exec:
        kubeconfig: "{{ kubeconfig }}"
        namespace: "{{ ns }}"
        pod: db
        command: sh -c 'echo "user=$S_user"; echo warn >&2'
      register: ok

    - name: Run a failing command in the pod
      kubernetes.core.k8s_exec:
        kubeconfig: "{{ kubeconfig }}"
        namespace: "{{ ns }}"
        pod: db
        command: sh -c 'exit 4'
      register: failing
      ignore_errors: true
"""


def test_kubernetes_core_k8s_exec(emulator, ns: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kubemu", "cluster": {"server": emulator.url}}],
                "users": [{"name": "runner", "user": {"token": emulator.token}}],
                "contexts": [{"name": "kubemu", "context": {"cluster": "kubemu", "user": "runner"}}],
                "current-context": "kubemu",
            }
        )
    )
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
    )
    variables = {"kubeconfig": str(kubeconfig), "ns": ns, "ansible_python_interpreter": sys.executable}
    started = time.monotonic()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook)]
        + ["-e", json.dumps(variables)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert time.monotonic() - started < 60
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    by_name = {task["task"]["name"]: task["hosts"]["localhost"] for task in tasks}
    ok, failing = by_name["Run a command in the pod"], by_name["Run a failing command in the pod"]
    assert (ok["stdout"], ok["stderr"], ok["rc"]) == ("user=app\n", "warn\n", 0)
    assert failing["rc"] == 4 and failing["failed"] is True
