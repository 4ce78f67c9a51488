"""Runs services as child processes, restarts a crashed one with backoff, stops them all gracefully.

Each child's output passes through the supervisor (to its log file, or the console), which keeps the last
error line it printed: the dashboard shows it next to a service that is down, and a service that fails
`max_failures_in_a_row` times without staying up is given up on (`gave_up` is set; `polydesk up` stops).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.logging import EventLog
from shared.retry import backoff_delay

log = logging.getLogger(__name__)

# Upstream first: nothing new is decided while the executor winds down, and risk hears every last fill.
STOP_ORDER: tuple[tuple[str, ...], ...] = (("ingest", "strategy"), ("executor",), ("risk",))
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Error\b|Exception\b|invalid settings|required")


@dataclass
class Child:
    """One supervised process slot."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures_in_a_row: int = 0
    exit_codes: list[int] = field(default_factory=list)
    recent_output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))
    last_error: str | None = None
    gave_up: bool = False
    pump: asyncio.Task[None] | None = None

    def remember_exit(self) -> None:
        """The last error-looking line of the output (else its last line) becomes `last_error`."""
        lines = [line for line in self.recent_output if line.strip()]
        errors = [line for line in lines if ERROR_LINE.search(line)]
        if errors or lines:
            self.last_error = (errors or lines)[-1].strip()[:300]

    def status(self) -> dict[str, object]:
        running = self.process is not None and self.process.returncode is None
        state = "gave up" if self.gave_up else "running" if running else "restarting"
        return {
            "state": state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_exit_code": self.exit_codes[-1] if self.exit_codes else None,
        }


@dataclass
class Supervisor:
    """Keep every child running until stop(); each restart is logged as a `service_restarted` event."""

    events: EventLog
    backoff_base_secs: float = 0.5
    backoff_max_secs: float = 30.0
    reset_after_secs: float = 60.0
    max_failures_in_a_row: int | None = None
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.gave_up = asyncio.Event()  # set when some child failed max_failures_in_a_row times

    def status(self) -> dict[str, dict[str, object]]:
        """Per child: running / restarting / gave up, restarts, last error line, last exit code."""
        return {name: child.status() for name, child in self.children.items()}

    def add_service(self, name: str, env: dict[str, str], module: str | None = None) -> Child:
        argv = [sys.executable, "-m", module or f"services.{name}"]
        child = Child(name, argv, env)
        self.children[name] = child
        return child

    async def start(self, log_dir: Path | None = None) -> None:
        """Spawn every child; with `log_dir`, each child's output goes to `<log_dir>/<name>.log` (when a
        dashboard owns the terminal) instead of the console."""
        self._log_dir = log_dir
        for child in self.children.values():
            await self._spawn(child)
            self._tasks.append(asyncio.create_task(self._watch(child), name=f"watch:{child.name}"))

    async def _spawn(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=child.env,
            start_new_session=True,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        child.started_at = time.monotonic()
        child.pump = asyncio.create_task(self._pump(child, child.process), name=f"output:{child.name}")
        self.events.emit("service_spawned", child=child.name, pid=child.process.pid, restarts=child.restarts)

    async def _pump(self, child: Child, process: asyncio.subprocess.Process) -> None:
        """Copy the child's output to its log file (or our stderr), keeping its last lines."""
        assert process.stdout is not None
        log_dir = getattr(self, "_log_dir", None)
        sink = open(log_dir / f"{child.name}.log", "ab") if log_dir is not None else None  # noqa: SIM115, ASYNC230 - a log file
        try:
            async for raw in process.stdout:
                child.recent_output.append(raw.decode("utf-8", "replace").rstrip("\n"))
                if sink is not None:
                    sink.write(raw)
                    sink.flush()
                else:
                    sys.stderr.buffer.write(raw)
                    sys.stderr.flush()
        finally:
            if sink is not None:
                sink.close()

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if (
                child.pump is not None
            ):  # the output up to the exit (a grandchild could hold the pipe: bounded)
                await asyncio.wait({child.pump}, timeout=2.0)
            child.exit_codes.append(code)
            if self._stopping.is_set():
                return
            child.remember_exit()
            uptime = time.monotonic() - child.started_at
            child.failures_in_a_row = 1 if uptime > self.reset_after_secs else child.failures_in_a_row + 1
            if (
                self.max_failures_in_a_row is not None
                and child.failures_in_a_row >= self.max_failures_in_a_row
            ):
                child.gave_up = True
                log.error(
                    "%s failed %d times in a row; giving up. Last error: %s",
                    child.name,
                    child.failures_in_a_row,
                    child.last_error,
                )
                self.events.emit(
                    "service_gave_up",
                    child=child.name,
                    exit_code=code,
                    failures=child.failures_in_a_row,
                    last_error=child.last_error,
                )
                self.gave_up.set()
                return
            delay = backoff_delay(
                child.failures_in_a_row, base_secs=self.backoff_base_secs, max_secs=self.backoff_max_secs
            )
            log.warning("%s exited with %s after %.1fs; restarting in %.1fs", child.name, code, uptime, delay)
            self.events.emit(
                "service_restarted",
                child=child.name,
                exit_code=code,
                uptime_secs=round(uptime, 3),
                delay_secs=round(delay, 3),
                restarts=child.restarts + 1,
                last_error=child.last_error,
            )
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            child.restarts += 1
            await self._spawn(child)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a child (tests and chaos runs use this); the watcher restarts it."""
        child = self.children[name]
        if child.process and child.process.returncode is None:
            child.process.send_signal(sig)

    async def stop(
        self,
        grace_secs: float = 25.0,
        *,
        order: Sequence[Sequence[str]] = STOP_ORDER,
        before: Callable[[str], Awaitable[None]] | None = None,
    ) -> dict[str, int | None]:
        """Stop the children wave by wave in `order` (children it does not name go first): SIGTERM a wave,
        wait up to `grace_secs`, SIGKILL what is left; `before(name)` is awaited before a child's wave.
        Returns final exit codes.

        Upstream first, risk last: once the executor has cancelled its orders and reported their last fills,
        risk can still apply them (a fill reported after risk stopped was missing from the run's ledger)."""
        self._stopping.set()
        named = [name for wave in order for name in wave]
        waves = [
            [n for n in self.children if n not in named],
            *([n for n in wave if n in self.children] for wave in order),
        ]
        for wave in waves:
            if not wave:
                continue
            if before is not None:
                for name in wave:
                    await before(name)
            await self._stop_wave([self.children[name] for name in wave], grace_secs)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        pumps = [c.pump for c in self.children.values() if c.pump is not None]
        if pumps:
            await asyncio.wait(pumps, timeout=2.0)
        for pump in pumps:
            pump.cancel()
        return {c.name: (c.process.returncode if c.process else None) for c in self.children.values()}

    async def _stop_wave(self, children: list[Child], grace_secs: float) -> None:
        running = [c for c in children if c.process and c.process.returncode is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_secs
        for child in running:
            assert child.process is not None
            try:
                await asyncio.wait_for(child.process.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                log.error("%s did not stop within %.0fs; killing it", child.name, grace_secs)
                os.killpg(child.process.pid, signal.SIGKILL)
                await child.process.wait()
