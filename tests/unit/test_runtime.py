"""The declarative runtime: periodic jobs back off and go on; a long-running task's death turns health red
first, then stops the service with exit code 1; a main that declared nothing ends the service when done."""

from __future__ import annotations

import asyncio
import gc
import logging
import json
import os
import signal

import pytest

from shared import heap, metrics
from shared.config import ServiceSettings
from shared.lifecycle import ServiceContext, health_key, run_service
from shared.logging import read_events
from tests.helpers import eventually


@pytest.fixture
def settings(redis_url, prefix, tmp_path) -> ServiceSettings:
    return ServiceSettings(redis_url=redis_url, stream_prefix=prefix, log_dir=tmp_path / "logs",
                           state_dir=tmp_path / "state", instance="t1", health_ttl_secs=3.0, shutdown_grace_secs=2.0)


def _events(tmp_path) -> list[dict]:
    return read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))


async def test_a_dying_task_turns_health_red_before_the_service_stops(settings, bus, prefix, tmp_path):
    key = health_key(prefix, "svc", "t1")
    die = asyncio.Event()
    seen_at_stop: list[object] = []

    async def main(ctx: ServiceContext) -> None:
        async def heartbeat() -> None:
            await die.wait()
            raise ConnectionError("redis went away in the recovery")

        async def other() -> None:
            await ctx.stopping.wait()
            seen_at_stop.append(await bus.redis.get(key))  # health already gone when the others are told

        ctx.task("heartbeat", heartbeat)
        ctx.task("other", other)

    service = asyncio.create_task(run_service("svc", settings, main, serve_metrics=False))
    await eventually(lambda: bus.redis.exists(key), timeout=10)
    die.set()
    assert await asyncio.wait_for(service, timeout=10) == 1
    assert seen_at_stop == [None]
    events = _events(tmp_path)
    assert [e["reason"] for e in events if e["type"] == "task_died"] == [
        "heartbeat: ConnectionError: redis went away in the recovery"]
    assert events[-1]["type"] == "shutdown_error" and events[-1]["failure"].startswith("heartbeat:")


async def test_a_task_that_returns_while_the_service_runs_is_a_death(settings, bus, tmp_path):
    async def main(ctx: ServiceContext) -> None:
        async def quits() -> None:
            return None

        ctx.task("loop", quits)

    assert await asyncio.wait_for(run_service("svc", settings, main, serve_metrics=False), timeout=10) == 1
    assert any(e["type"] == "task_died" and "returned while the service runs" in e["reason"]
               for e in _events(tmp_path))


async def test_a_periodic_job_error_is_backed_off_and_the_job_goes_on(settings, bus):
    runs: list[int] = []
    before = metrics.PERIODIC_JOB_ERRORS.labels(service="svc", job="flaky")._value.get()

    async def main(ctx: ServiceContext) -> None:
        async def flaky() -> None:
            runs.append(1)
            if len(runs) <= 2:
                raise OSError("venue hiccup")
            if len(runs) == 4:
                ctx.request_stop()

        ctx.every("flaky", 0.05, flaky)

    assert await asyncio.wait_for(run_service("svc", settings, main, serve_metrics=False), timeout=20) == 0
    assert len(runs) == 4
    assert metrics.PERIODIC_JOB_ERRORS.labels(service="svc", job="flaky")._value.get() - before == 2


async def test_the_set_up_heap_is_frozen_out_of_collections_at_start_and_once_settled(settings, monkeypatch):
    monkeypatch.setattr(heap, "SETTLED_AFTER_SECS", 0.2)
    kept: list[object] = []
    frozen: list[int] = []

    async def main(ctx: ServiceContext) -> None:
        frozen.append(gc.get_freeze_count())  # what was set up before main (imports, clients) is frozen
        kept.append([[] for _ in range(1000)])  # what main builds (books, caches): frozen once settled

        async def wait() -> None:
            await asyncio.sleep(0.5)
            frozen.append(gc.get_freeze_count())
            ctx.request_stop()

        ctx.task("wait", wait)

    gc.unfreeze()
    assert await asyncio.wait_for(run_service("svc", settings, main, serve_metrics=False), timeout=10) == 0
    assert frozen[0] > 0
    assert frozen[1] >= frozen[0] + 1000


async def test_a_main_that_declares_nothing_ends_the_service_when_it_returns(settings):
    async def main(ctx: ServiceContext) -> None:
        await asyncio.sleep(0)

    assert await asyncio.wait_for(run_service("svc", settings, main, serve_metrics=False), timeout=10) == 0


async def test_a_task_that_ignores_the_stop_is_cancelled_after_the_grace(settings, tmp_path, caplog):
    async def main(ctx: ServiceContext) -> None:
        async def stubborn_wait() -> None:
            await asyncio.sleep(3600)

        async def stubborn() -> None:
            await stubborn_wait()

        ctx.task("stubborn", stubborn)
        ctx.request_stop()

    with caplog.at_level(logging.ERROR, logger="shared.runtime"):
        assert await asyncio.wait_for(run_service("svc", settings, main, serve_metrics=False), timeout=10) == 1
    assert _events(tmp_path)[-1]["type"] == "shutdown_error"
    # The log says where the late task waited, so a slow stop names its cause.
    where = next(r.getMessage() for r in caplog.records if "was waiting at" in r.getMessage())
    assert "in stubborn\n" in where and "in stubborn_wait" in where


async def test_the_health_key_carries_the_status_while_tasks_run(settings, bus, prefix):
    async def main(ctx: ServiceContext) -> None:
        ctx.status["ready"] = True  # the health writer publishes it with its next write

        async def idle() -> None:
            await ctx.stopping.wait()

        ctx.task("idle", idle)

    service = asyncio.create_task(run_service("svc", settings, main, serve_metrics=False))
    async def ready() -> bool:
        raw = await bus.redis.get(health_key(prefix, "svc", "t1"))
        return raw is not None and json.loads(raw).get("ready") is True

    await eventually(ready, timeout=10)
    os.kill(os.getpid(), signal.SIGTERM)  # run_service's own handler: a stop request, not our death
    assert await asyncio.wait_for(service, timeout=10) == 0


async def test_a_woken_job_runs_at_once_and_wait_first_waits_an_interval(settings):
    wake = asyncio.Event()
    runs: list[str] = []

    async def main(ctx: ServiceContext) -> None:
        async def woken() -> None:
            runs.append("woken")

        async def later() -> None:
            runs.append("later")

        ctx.every("woken", 3600, woken, wake=wake)
        ctx.every("later", 3600, later, wait_first=True)  # would run in an hour: never in this test

    service = asyncio.create_task(run_service("svc", settings, main, serve_metrics=False))
    await eventually(lambda: runs == ["woken"], timeout=10)  # the first run is at once
    wake.set()
    await eventually(lambda: runs == ["woken", "woken"], timeout=10)  # not an hour later
    assert not wake.is_set()  # cleared as the run started
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(service, timeout=10) == 0
    assert runs == ["woken", "woken"]


async def test_a_wake_does_not_cut_the_backoff_after_an_error_short(settings):
    wake = asyncio.Event()
    runs: list[float] = []

    async def main(ctx: ServiceContext) -> None:
        async def failing() -> None:
            runs.append(asyncio.get_running_loop().time())
            raise OSError("venue down")

        ctx.every("failing", 2.0, failing, wake=wake)  # first backoff: ~1 s (base 1 s, jittered)

    service = asyncio.create_task(run_service("svc", settings, main, serve_metrics=False))
    await eventually(lambda: len(runs) == 1, timeout=10)
    wake.set()  # e.g. a reconnect asking for a pass: the failing job still waits its backoff
    await eventually(lambda: len(runs) == 2, timeout=10)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(service, timeout=10) == 0
    assert runs[1] - runs[0] >= 0.4
