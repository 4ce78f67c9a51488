"""Runs services as child processes, restarts a crashed one with backoff, stops them all gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.logging import EventLog
from shared.retry import backoff_delay

log = logging.getLogger(__name__)


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


@dataclass
class Supervisor:
    """Keep every child running until stop(); each restart is logged as a `service_restarted` event."""

    events: EventLog
    backoff_base_secs: float = 0.5
    backoff_max_secs: float = 30.0
    reset_after_secs: float = 60.0
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

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
        output = None
        if getattr(self, "_log_dir", None) is not None:
            output = open(self._log_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        child.process = await asyncio.create_subprocess_exec(*child.argv, env=child.env, start_new_session=True,
                                                             stdout=output, stderr=output)
        if output is not None:
            output.close()
        child.started_at = time.monotonic()
        self.events.emit("service_spawned", child=child.name, pid=child.process.pid, restarts=child.restarts)

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            child.exit_codes.append(code)
            if self._stopping.is_set():
                return
            uptime = time.monotonic() - child.started_at
            child.failures_in_a_row = 1 if uptime > self.reset_after_secs else child.failures_in_a_row + 1
            delay = backoff_delay(child.failures_in_a_row, base_secs=self.backoff_base_secs,
                                  max_secs=self.backoff_max_secs)
            log.warning("%s exited with %s after %.1fs; restarting in %.1fs", child.name, code, uptime, delay)
            self.events.emit("service_restarted", child=child.name, exit_code=code, uptime_secs=round(uptime, 3),
                             delay_secs=round(delay, 3), restarts=child.restarts + 1)
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

    async def stop(self, grace_secs: float = 25.0) -> dict[str, int | None]:
        """SIGTERM every child, wait up to `grace_secs`, SIGKILL what is left; returns final exit codes."""
        self._stopping.set()
        running = [c for c in self.children.values() if c.process and c.process.returncode is None]
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
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return {c.name: (c.process.returncode if c.process else None) for c in self.children.values()}
