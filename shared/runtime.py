"""The tasks of one service process, run in one asyncio TaskGroup by `run_service`.

A service declares what it runs on its ServiceContext instead of starting tasks itself:
  - `ctx.consume(stream, group, handler)`: a consumer group reader;
  - `ctx.every(name, interval_secs, job)`: a periodic job; an error in it is logged and backed off here,
    and the job goes on (the one place that policy lives);
  - `ctx.task(name, run)`: a long-running task; its death (an exception, or returning while the service
    runs) takes the service down: health goes red first (the health key is deleted, `service_up` 0), then
    the service stops and exits 1, so its supervisor restarts it. A task that dies quietly while the
    health key stays green is what this prevents (e.g. a dead heartbeat loop under a green service).

The service's main coroutine is itself a task that may return once it has declared the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from shared import metrics
from shared.errors import ConfigurationError, PolydeskError
from shared.retry import backoff_delay

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[object]]
# A periodic job failing with one of these (a venue, Redis or network error) is logged without a traceback:
# the message says it all. Anything else (a bug) gets its traceback with the first failure.
OPERATIONAL_ERRORS = (PolydeskError, RedisError, OSError, TimeoutError)
Interval = float | Callable[[], float]


@dataclass
class _Declared:
    name: str
    factory: TaskFactory
    may_return: bool  # the main coroutine and the runtime's own helpers may finish early


@dataclass
class Runtime:
    """One service's declared tasks: started in one TaskGroup, watched, drained on stop."""

    service: str
    stopping: asyncio.Event
    request_stop: Callable[[], None]
    mark_failed: Callable[[str], Awaitable[None]]  # health red, before the stop
    failure: str | None = None
    _declared: list[_Declared] = field(default_factory=list)
    _group: asyncio.TaskGroup | None = None
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    # ---- declaring ---------------------------------------------------------------------------------------

    def task(self, name: str, run: TaskFactory, *, may_return: bool = False) -> None:
        """A long-running task; its death stops the service (see the module doc)."""
        if name in self._tasks or any(d.name == name for d in self._declared):
            raise ValueError(f"{self.service}: two tasks named {name!r}")
        declared = _Declared(name, run, may_return)
        if self._group is None:
            self._declared.append(declared)
        else:
            self._spawn(declared)

    def every(
        self,
        name: str,
        interval_secs: Interval,
        job: TaskFactory,
        *,
        error_backoff_max_secs: float = 60.0,
        wake: asyncio.Event | None = None,
        wait_first: bool = False,
    ) -> None:
        """Run `job` now (after one interval with `wait_first`) and then every `interval_secs` (a number, or a
        function read before each wait) until the service stops. Setting `wake` runs it at once (it is cleared
        as a run starts, so a wake during a run gives one more). An error is logged (the first, the 10th,
        every 100th in a row with its traceback, the others counted) and the next run comes after a backoff
        no longer than the interval, which a wake does not cut short."""
        self.task(
            name,
            lambda: self._periodic(name, interval_secs, job, error_backoff_max_secs, wake, wait_first),
        )

    async def _periodic(
        self,
        name: str,
        interval_secs: Interval,
        job: TaskFactory,
        backoff_max: float,
        wake: asyncio.Event | None,
        wait_first: bool,
    ) -> None:
        failures = 0
        if wait_first and not await self._wait(_interval(interval_secs), wake):
            return
        while not self.stopping.is_set():
            interval = _interval(interval_secs)
            delay = interval
            if wake is not None:
                wake.clear()
            try:
                await job()
                if failures:
                    log.info(
                        "%s: periodic job %s works again after %d failure(s)", self.service, name, failures
                    )
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                metrics.PERIODIC_JOB_ERRORS.labels(service=self.service, job=name).inc()
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning(
                        "%s: periodic job %s failed (%d in a row): %s",
                        self.service,
                        name,
                        failures,
                        error,
                        exc_info=failures == 1 and not isinstance(error, OPERATIONAL_ERRORS),
                    )
                delay = min(
                    interval, backoff_delay(failures, base_secs=min(1.0, interval), max_secs=backoff_max)
                )
            await self._wait(delay, None if failures else wake)

    async def _wait(self, secs: float, wake: asyncio.Event | None) -> bool:
        """Sleep `secs`, less when the service stops or `wake` is set; False when the service stops."""
        waits = [asyncio.ensure_future(self.stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=max(0.0, secs), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return not self.stopping.is_set()

    async def join(self, names: list[str], timeout: float | None = None) -> None:
        """Wait (up to `timeout`) for the named tasks to finish, e.g. consumers handing back their batch."""
        tasks = [self._tasks[n] for n in names if n in self._tasks and not self._tasks[n].done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def cancel(self, names: list[str]) -> None:
        """Cancel the named tasks (loops blocked on a socket that do not watch the stop) and wait for them."""
        tasks = [self._tasks[n] for n in names if n in self._tasks and not self._tasks[n].done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- running ------------------------------------------------------------------------------------------

    def _spawn(self, declared: _Declared) -> None:
        assert self._group is not None
        self._tasks[declared.name] = self._group.create_task(self._guard(declared), name=declared.name)

    async def _guard(self, declared: _Declared) -> None:
        try:
            await declared.factory()
        except asyncio.CancelledError:
            raise
        except ConfigurationError as error:  # found while starting: one line, no traceback
            await self._died(declared.name, f"{error}", traceback=False)
            return
        except Exception as error:  # noqa: BLE001 - any death of a task takes the service down
            await self._died(declared.name, f"{type(error).__name__}: {error}", traceback=True)
            return
        if not declared.may_return and not self.stopping.is_set():
            await self._died(declared.name, "returned while the service runs", traceback=False)
        elif declared.may_return and not self.stopping.is_set() and not self._user_tasks_running():
            self.request_stop()  # a main that declared nothing else has finished the service's work

    def _user_tasks_running(self) -> bool:
        me = asyncio.current_task()
        return any(
            not t.done() and t is not me for name, t in self._tasks.items() if not name.startswith("runtime:")
        )

    async def _died(self, name: str, reason: str, *, traceback: bool) -> None:
        if self.stopping.is_set():
            log.warning(
                "%s: task %s failed while stopping: %s", self.service, name, reason, exc_info=traceback
            )
            self.failure = self.failure or f"{name}: {reason}"
            return
        self.failure = f"{name}: {reason}"
        log.error(
            "%s: task %s died (%s); health red, stopping so the supervisor restarts the service",
            self.service,
            name,
            reason,
            exc_info=traceback,
        )
        try:
            await self.mark_failed(self.failure)
        finally:
            self.request_stop()

    async def run(self, grace_secs: float) -> int:
        """Run every declared task until the stop request, then give them `grace_secs` to finish; returns the
        exit code (1 when a task died or had to be cancelled)."""
        exit_code = 0
        async with asyncio.TaskGroup() as group:
            self._group = group
            for declared in self._declared:
                self._spawn(declared)
            self._declared.clear()
            await self.stopping.wait()
            running = [t for t in self._tasks.values() if not t.done()]
            if running:
                _, late = await asyncio.wait(running, timeout=grace_secs)
                if late:
                    log.error(
                        "%s: %s did not finish within %.0fs of the stop request; cancelling",
                        self.service,
                        ", ".join(sorted(t.get_name() for t in late)),
                        grace_secs,
                    )
                    exit_code = 1
                    for task in late:
                        log.error("%s: %s was waiting at:\n%s", self.service, task.get_name(), _where(task))
                        task.cancel()
        return 1 if self.failure else exit_code


def _where(task: asyncio.Task[None]) -> str:
    """Where a late task waits (its coroutine chain's frames), so a slow stop names its cause."""
    frames: list[str] = []
    coro: object = task.get_coro()
    while coro is not None and len(frames) < 30:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            frames.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return "\n".join(frames) or "  (no frames)"


def _interval(interval_secs: Interval) -> float:
    return interval_secs() if callable(interval_secs) else interval_secs
