"""run_service(): the life of every service process: start, run, drain on SIGTERM/SIGINT, shut down.

Start: connect to Redis (waiting for it), serve /metrics, keep a health key with a TTL.
Stop: on a signal, consumers finish the batch in hand and return; the service's main returns;
shutdown hooks run in reverse order of registration; the health key is removed; `shutdown_clean` is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared import clock, crashpoints, heap, metrics, topology
from shared.config import ServiceSettings, mask_url
from shared.errors import ConfigurationError
from shared.logging import EventLog, register_secret
from shared.redis_conn import DEFAULT_URL, EMBEDDED_PORT, connect, is_reachable
from shared.runtime import Runtime
from shared.streams import Bus, Consumer, Handler

log = logging.getLogger(__name__)

ShutdownHook = Callable[[], Awaitable[None]]
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
STREAM_STATS_SECS = 5.0


def health_key(prefix: str, service: str, instance: str) -> str:
    return prefix + topology.health_key(service, instance)


def supervised_key(prefix: str) -> str:
    """Where a running `polydesk up` publishes its supervisor's view of each service (state, restarts)."""
    return f"{prefix}up:supervised"


@dataclass
class ServiceContext:
    """What a service's main coroutine gets: its settings, the bus, the event log and the stop signal."""

    service: str
    settings: ServiceSettings
    redis: aioredis.Redis
    bus: Bus
    events: EventLog
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    consumers: list[Consumer] = field(default_factory=list)
    shutdown_hooks: list[ShutdownHook] = field(default_factory=list)
    status: dict[str, object] = field(default_factory=dict)  # published in the health key
    runtime: Runtime | None = None
    failure: str | None = None  # set when a task died: the health key is no longer written

    @property
    def consumer_name(self) -> str:
        return f"{self.service}-{self.settings.instance}"

    def consumer(self, stream: str, group: str, handler: Handler, **options: object) -> Consumer:
        """A consumer named after this process slot, stopped with the service."""
        defaults = {
            "max_deliveries": self.settings.max_deliveries,
            "claim_min_idle_ms": self.settings.claim_min_idle_ms,
            "retain_secs": self.settings.stream_retain_secs,
        }
        consumer = self.bus.consumer(stream, group, self.consumer_name, handler, **{**defaults, **options})
        self.consumers.append(consumer)
        return consumer

    def on_shutdown(self, hook: ShutdownHook) -> None:
        self.shutdown_hooks.append(hook)

    # ---- the declarative runtime (shared/runtime.py): what run_service runs in its TaskGroup ----------------

    def consume(self, stream: str, group: str, handler: Handler, **options: object) -> str:
        """A consumer run by the runtime (its death stops the service); returns its task's name."""
        consumer = self.consumer(stream, group, handler, **options)
        return self.task(f"consume:{stream}/{group}", consumer.run)

    def task(self, name: str, run: Callable[[], Awaitable[object]], *, may_return: bool = False) -> str:
        """A long-running task run by the runtime; its death takes the service down, health red first.
        `may_return`: returning is no death (a loop that is switched off by its settings returns at once).
        Returns `name` (for join_tasks and cancel_tasks)."""
        self._runtime().task(name, run, may_return=may_return)
        return name

    async def join_tasks(self, names: list[str], timeout: float | None = None) -> None:
        await self._runtime().join(names, timeout)

    async def cancel_tasks(self, names: list[str]) -> None:
        await self._runtime().cancel(names)

    def every(
        self,
        name: str,
        interval_secs: float | Callable[[], float],
        job: Callable[[], Awaitable[object]],
        *,
        error_backoff_max_secs: float = 60.0,
        wake: asyncio.Event | None = None,
        wait_first: bool = False,
    ) -> str:
        """A periodic job run by the runtime; its errors are logged and backed off, and it goes on (`wake`
        runs it at once; `wait_first` waits one interval before the first run; see Runtime.every).
        Returns `name` (for join_tasks and cancel_tasks)."""
        self._runtime().every(
            name,
            interval_secs,
            job,
            error_backoff_max_secs=error_backoff_max_secs,
            wake=wake,
            wait_first=wait_first,
        )
        return name

    def _runtime(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("tasks are declared on the context run_service created")
        return self.runtime

    async def mark_failed(self, reason: str) -> None:
        """Health red at once: no more health writes, the key deleted, service_up 0."""
        self.failure = reason
        metrics.SERVICE_UP.labels(service=self.service).set(0)
        task = reason.split(":", 1)[0]
        metrics.TASK_DEATHS.labels(service=self.service, task=task).inc()
        self.events.emit("task_died", reason=reason)
        try:
            await self.redis.delete(
                health_key(self.settings.stream_prefix, self.service, self.settings.instance)
            )
        except (RedisError, OSError) as error:
            log.warning("health key not deleted (it expires by its TTL): %s", error)

    def request_stop(self) -> None:
        self.stopping.set()
        for consumer in self.consumers:
            consumer.stop()


# What a service's build_main returns: the coroutine function run as the service's main task.
ServiceMain = Callable[[ServiceContext], Coroutine[Any, Any, None]]


def find_redis_url(settings: ServiceSettings) -> str:
    """The Redis a service should use: the configured one, else the default, else a running embedded one."""
    if settings.redis_url:
        return settings.redis_url
    embedded = f"redis://127.0.0.1:{EMBEDDED_PORT}/0"
    password = settings.redis_password_value()
    for candidate in (DEFAULT_URL, embedded):
        if is_reachable(candidate, password):
            return candidate
    return DEFAULT_URL


async def wait_for_redis(client: aioredis.Redis, url: str, timeout_secs: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_secs
    while True:
        try:
            await client.ping()
            return
        except (RedisError, OSError) as error:
            if time.monotonic() > deadline:
                raise ConfigurationError(f"no Redis answers at {mask_url(url)}: {error}") from None
            await asyncio.sleep(0.5)


async def _write_health(ctx: ServiceContext) -> None:
    """One write of the health key (a periodic job, every third of its TTL); none once a task has died."""
    if ctx.failure is not None:
        return
    payload = {
        "service": ctx.service,
        "instance": ctx.settings.instance,
        "pid": os.getpid(),
        "ts": time.time(),
        **ctx.status,
    }
    key = health_key(ctx.settings.stream_prefix, ctx.service, ctx.settings.instance)
    await ctx.redis.set(key, json.dumps(payload, default=str), px=int(ctx.settings.health_ttl_secs * 1000))


async def _report_stream_stats(ctx: ServiceContext) -> None:
    """The lag, pending and length gauges of every stream this service consumes (a periodic job)."""
    for stream in sorted({c.stream for c in ctx.consumers}):
        for stats in await ctx.bus.group_stats(stream):
            metrics.STREAM_PENDING.labels(stream=stream, group=stats.group).set(stats.pending)
            if stats.lag is not None:
                metrics.STREAM_LAG.labels(stream=stream, group=stats.group).set(stats.lag)
        metrics.STREAM_LENGTH.labels(stream=stream).set(await ctx.bus.length(stream))


async def run_declared(
    ctx: ServiceContext, main: Callable[[], Awaitable[object]], grace_secs: float | None = None
) -> int:
    """Run `main` and whatever it declares on `ctx` in a runtime of their own until `ctx` is asked to stop:
    run_service's task handling without its Redis connection, metrics and health key (tests drive a
    service's objects with it). Returns the exit code."""
    runtime = Runtime(ctx.service, ctx.stopping, ctx.request_stop, ctx.mark_failed)
    ctx.runtime = runtime
    runtime.task(f"{ctx.service}:main", main, may_return=True)
    return await runtime.run(ctx.settings.shutdown_grace_secs if grace_secs is None else grace_secs)


async def run_service(
    service: str,
    settings: ServiceSettings,
    main: ServiceMain,
    *,
    serve_metrics: bool = True,
) -> int:
    """Run `main(ctx)` as the service `service` until it returns or a signal asks to stop; returns an exit code."""
    if settings.redis_password:
        register_secret(settings.redis_password)
    url = find_redis_url(settings)
    password = settings.redis_password_value()
    client = connect(url, password, settings.redis_username)
    await wait_for_redis(client, url)
    bus = Bus(client, prefix=settings.stream_prefix, producer=service)
    events = EventLog(settings.log_dir, service)
    ctx = ServiceContext(service, settings, client, bus, events)
    crashpoints.arm(settings.crash_points_dir, service)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, ctx.request_stop)
    if serve_metrics:
        port = settings.metrics_port_for(service)
        try:
            metrics.serve(port, settings.metrics_host, service=service)
        except OSError as error:
            await client.aclose()
            raise ConfigurationError(
                f"POLYDESK_METRICS_PORT: cannot serve /metrics on {settings.metrics_host}:"
                f"{port} ({error.strerror or error})"
            ) from None
    metrics.SERVICE_UP.labels(service=service).set(1)
    metrics.SERVICE_STARTED.labels(service=service).set(time.time())
    events.emit("service_started", instance=settings.instance, pid=os.getpid(), redis=mask_url(url))
    runtime = Runtime(service, ctx.stopping, ctx.request_stop, ctx.mark_failed)
    ctx.runtime = runtime
    runtime.every("runtime:health", ctx.settings.health_ttl_secs / 3, lambda: _write_health(ctx))
    runtime.every("runtime:stream-stats", STREAM_STATS_SECS, lambda: _report_stream_stats(ctx))
    runtime.task(f"{service}:main", lambda: main(ctx), may_return=True)
    heap.freeze_start_up()
    settled = loop.call_later(heap.SETTLED_AFTER_SECS, heap.freeze_settled)
    exit_code = 1
    try:
        exit_code = await runtime.run(settings.shutdown_grace_secs)
    finally:
        settled.cancel()
        metrics.SERVICE_UP.labels(service=service).set(0)
        for hook in reversed(ctx.shutdown_hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
                exit_code = exit_code or 1
        try:
            await client.delete(health_key(settings.stream_prefix, service, settings.instance))
        except (RedisError, OSError):
            pass
        await client.aclose()
        events.emit(
            "shutdown_clean" if exit_code == 0 else "shutdown_error",
            exit_code=exit_code,
            **({"failure": runtime.failure} if runtime.failure else {}),
        )
        events.close()
    return exit_code


async def wait_stopped(ctx: ServiceContext) -> None:
    """A main for a service with nothing to do yet: wait for the stop request."""
    await ctx.stopping.wait()


def service_entry(
    service: str,
    settings_cls: type[SettingsT],
    build_main: Callable[[SettingsT], ServiceMain],
) -> int:
    """The body of every `python -m services.<layer>`: settings, logging, run; a bad setting exits 2."""
    from shared.config import load_settings
    from shared.logging import setup_console

    os.umask(0o077)  # SQLite state, logs: ours alone
    try:
        settings = load_settings(settings_cls)
    except ConfigurationError as error:
        print(f"{service}: {error}", file=sys.stderr, flush=True)
        return 2
    setup_console(service, settings.log_level)
    clock.follow_file(settings.sim_clock_path)
    try:
        return asyncio.run(run_service(service, settings, build_main(settings)))
    except ConfigurationError as error:
        log.error("%s", error)
        return 2
