"""The executor reports each fill exactly once, even when the process dies between marking a report as
published in its store and the XADD (found by the chaos run's audit of the code: the mark came first, so a
SIGKILL, or a task cancelled mid-publish, lost the fill for good; the REST reconciliation skipped it)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.executor.orders import OrderStore
from services.executor.tracking import Reporter
from shared.logging import EventLog
from shared.messages import Envelope, Fill, Side, TradeStatus, deterministic_id
from shared.streams import FILLS, Output

pytestmark = pytest.mark.integration


def _fill(key: str) -> Output:
    return Output(FILLS, Fill(envelope=Envelope.new("executor", message_id=deterministic_id(key)), trade_id="t1",
                              status=TradeStatus.MATCHED, order_id="0xabc", market="m", token_id="tok",
                              side=Side.BUY, size=Decimal(5), price=Decimal("0.5")))


async def test_a_report_cut_off_mid_publish_is_published_after_the_restart(bus, tmp_path, monkeypatch):
    key = "fill:t1:0xabc:MATCHED"
    store = OrderStore(tmp_path / "executor.sqlite")
    reporter = Reporter(store, bus, EventLog(tmp_path / "logs", "executor"), "api-key")
    stuck = asyncio.Event()

    async def hang(*args, **kwargs):  # the process "dies" inside the publish
        stuck.set()
        await asyncio.Event().wait()

    with monkeypatch.context() as patch:
        patch.setattr(bus, "publish_many", hang)
        patch.setattr(bus, "publish_once", hang)
        task = asyncio.create_task(reporter.publish([(key, _fill(key))]))
        await asyncio.wait_for(stuck.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    store.close()

    restarted = Reporter(OrderStore(tmp_path / "executor.sqlite"), bus, EventLog(tmp_path / "logs", "executor"),
                         "api-key")
    await restarted.publish([(key, _fill(key))])  # the reconciliation reports the trade again
    await restarted.publish([(key, _fill(key))])  # and again: still once
    fills = [m for _, m in await bus.history(FILLS)]
    assert [f.trade_id for f in fills] == ["t1"]


async def test_a_publish_that_reached_redis_before_the_crash_is_not_repeated(bus, tmp_path):
    key = "fill:t1:0xabc:MATCHED"
    store = OrderStore(tmp_path / "executor.sqlite")
    reporter = Reporter(store, bus, EventLog(tmp_path / "logs", "executor"), "api-key")
    await reporter.publish([(key, _fill(key))])
    store.forget(key)  # as if the process died after the XADD, before the store remembered it
    await reporter.publish([(key, _fill(key))])
    assert len(await bus.history(FILLS)) == 1
