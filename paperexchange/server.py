"""Run the paper exchange: in this event loop (async with), in a background thread (with), or as a process.

All three bind 127.0.0.1 and accept port 0 (a free port chosen by the OS) and expose `.url` (http) and
`.ws_url` (ws) once started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Self

import uvicorn

from paperexchange.api.app import create_app
from paperexchange.core.clock import Clock
from paperexchange.core.config import Settings
from paperexchange.venue import Venue

LISTENING_LINE = "paper exchange listening on "


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections on Linux: without it a response written in two parts (head,
    # body) waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_server(app, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        lifespan="on",
        ws="websockets-sansio",
        ws_ping_interval=None,
        access_log=False,
    )
    return uvicorn.Server(config)


class PaperExchangeServer:
    """An in-process paper exchange. `async with` runs it in the current loop; `with` in its own thread.

    Example: `with PaperExchangeServer(admin=True) as server: SDK(host=server.url)`.
    """

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None, **overrides) -> None:
        settings = settings or Settings(port=0)
        self.settings = replace(settings, **overrides) if overrides else settings
        self.venue = Venue(self.settings, clock)
        self.app = create_app(self.settings, venue=self.venue)
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
        self._task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        assert self._sock is not None, "server not started"
        return self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}"

    async def start(self) -> None:
        self._sock = bind_socket(self.settings.host, self.settings.port)
        self._server = uvicorn_server(self.app, self.settings)
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sock is not None:
            self._sock.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run function(*args) on the server's loop thread and return its result (thread mode only)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(function, *args), self._loop)
        return future.result(timeout=10)

    def __enter__(self) -> Self:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            async def main() -> None:
                try:
                    await self.start()
                except BaseException as exc:  # noqa: BLE001 - not swallowed: re-raised in the caller's thread
                    # Whatever its kind, a startup failure goes to the thread that called __enter__; escaping
                    # here would only end this thread and leave the caller waiting for a server that never came.
                    failure.append(exc)
                    started.set()
                    return
                started.set()
                assert self._task is not None, "start() returned, so the server task exists"
                await self._task

            asyncio.run(main())

        self._thread = threading.Thread(target=run, name="paper-exchange", daemon=True)
        self._thread.start()
        started.wait(timeout=15)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()


async def _as_coroutine(function, *args):
    return function(*args)


class PaperExchangeProcess:
    """`python -m paperexchange` in a child process on a free port; `.url` once it says it is listening."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self._args = ["--port", "0", *args]
        self._env = env
        self._process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "paperexchange", *self._args],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(self._env or {})},
        )
        deadline = time.monotonic() + 20
        assert self._process.stdout is not None
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            match = re.search(LISTENING_LINE + r"(\S+)", line)
            if match:
                self.url = match.group(1)
                return self
        self.__exit__()
        raise RuntimeError("paper exchange process did not start")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def serve(settings: Settings) -> None:
    """Run in the foreground until interrupted (what `polydesk paper-exchange` does)."""
    sock = bind_socket(settings.host, settings.port)
    app = create_app(settings)
    host, port = sock.getsockname()[:2]
    print(
        f"{LISTENING_LINE}http://{host}:{port}" + (" (admin API at /_paper)" if settings.admin else ""),
        flush=True,
    )
    uvicorn_server(app, settings).run(sockets=[sock])
