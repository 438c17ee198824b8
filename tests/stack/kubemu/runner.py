"""Running kubemu: as an asyncio context manager, or in a background thread (for pytest)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from kmock import Server

from .api import Kubemu, Options

T = TypeVar("T")


@contextlib.asynccontextmanager
async def serve(
    options: Options, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[Kubemu, str]]:
    """Serve kubemu over HTTP with its controllers running; yields (emulator, base URL)."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    emulator = Kubemu(options)
    async with Server(emulator, host=host, port=port or None) as server:
        await emulator.controllers.start()
        try:
            yield emulator, f"http://{host}:{server.port}"
        finally:
            await emulator.controllers.stop()


class RunningEmulator:
    """kubemu on its own event loop in a daemon thread, so blocking clients can call it."""

    def __init__(self, options: Options, host: str, port: int) -> None:
        self.options = options
        self._loop = asyncio.new_event_loop()
        self._ready: concurrent.futures.Future[tuple[Kubemu, str]] = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._main(host, port),), name="kubemu", daemon=True
        )
        self._thread.start()
        self.emulator, self.url = self._ready.result(timeout=30)

    async def _main(self, host: str, port: int) -> None:
        self._stop = asyncio.Event()
        try:
            async with serve(self.options, host, port) as ready:
                self._ready.set_result(ready)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    @property
    def token(self) -> str:
        return self.options.token

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the emulator's loop (state is only touched from there)."""

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()


def start_emulator(
    *,
    token: str = "kubemu-test-token",
    state_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> RunningEmulator:
    """Start kubemu in a background thread on a free port; call ``.stop()`` when done.

    ``options`` are the fields of :class:`Options` (``ready_delay``, ``cluster_name``,
    ``default_backend``, ``metrics``, ``node_count``, ``crashloop_period``, ``user``).
    """
    directory = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="kubemu-"))
    return RunningEmulator(Options(token=token, state_dir=directory, **options), host, port)
