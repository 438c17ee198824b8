"""``python -m kubemu`` as a process: the start-up line, the token file, a clean shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from kubemu_testlib import Api

STACK = Path(__file__).resolve().parents[1] / "stack"


def test_cli_serves_until_terminated(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("cli-token\n")
    command = [
        sys.executable,
        "-m",
        "kubemu",
        "--port",
        "0",  # any free port: the start-up line tells which
        "--token-file",
        str(token_file),
        "--state-dir",
        str(tmp_path / "state"),
        "--cluster-name",
        "eu-west-1",
        "--no-metrics",
    ]
    env = dict(os.environ, PYTHONPATH=str(STACK))
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"kubemu listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, (line, proc.poll())
        api = Api(match[1], "cli-token")
        nodes = api.ok("GET", "/api/v1/nodes")["items"]
        assert {n["metadata"]["labels"]["topology.kubernetes.io/region"] for n in nodes} == {"eu-west-1"}
        assert "metrics.k8s.io" not in {g["name"] for g in api.ok("GET", "/apis")["groups"]}
        assert Api(api.url, "cli-token-wrong").get("/version")[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "GET /api/v1/nodes" not in stderr  # requests are logged at debug level only
