"""Fixtures for kubemu's own tests: the emulator runs in-process, in a background thread."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))

from kubemu import RunningEmulator, start_emulator  # noqa: E402
from kubemu_testlib import TOKEN, Api  # noqa: E402


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start_emulator(
        token=TOKEN,
        state_dir=tmp_path_factory.mktemp("kubemu"),
        ready_delay=0.2,
        cluster_name="us-east-1",
        crashloop_period=0.5,
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(emulator: RunningEmulator) -> Api:
    return Api(emulator.url, TOKEN)


@pytest.fixture
def namespace(api: Api) -> str:
    """A fresh namespace per test, so tests sharing one emulator do not see each other."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name
