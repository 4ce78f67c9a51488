"""The executor's loops on the declarative runtime (issue 18 item 1), against the paper exchange and a real
Redis: reconciliation is a periodic job, so a pass the venue fails is logged and backed off by the runtime
while the executor stays up (health key kept, heartbeats and posting go on), and passes resume when the
venue answers again."""

from __future__ import annotations

import json

import pytest

from shared.lifecycle import health_key
from shared.messages import OrderStatus, OrderUpdate
from shared.streams import APPROVED_ORDERS, FILLS
from tests.executor.conftest import approval
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

READS = ["/data/orders", "/data/trades"]  # what a reconciliation pass reads (open orders, own trades)


async def test_a_failing_reconciliation_is_backed_off_and_the_executor_stays_up(bus, executor, faults, admin,
                                                                                prefix, market):
    executor.start()
    await executor.wait_started()
    await eventually(lambda: _submitting(bus, prefix), timeout=30)  # past its start reconciliation
    faults("http", {"status": 500, "paths": READS, "methods": ["GET"]})
    await eventually(lambda: _logged(executor, "periodic job reconcile failed"), timeout=60)
    assert executor.process.poll() is None
    assert await bus.redis.exists(health_key(prefix, "executor", "t1"))
    order = approval(market, price="0.40", size="10")  # posting does not wait for reconciliation
    await bus.publish(APPROVED_ORDERS, order)

    async def live() -> bool:
        return any(isinstance(m, OrderUpdate) and m.client_order_id == order.client_order_id
                   and m.status is OrderStatus.LIVE for _, m in await bus.history(FILLS))

    await eventually(live, timeout=30)
    admin.http.delete("/faults").raise_for_status()
    await eventually(lambda: _logged(executor, "periodic job reconcile works again"), timeout=60)
    assert executor.process.poll() is None
    assert executor.stop() == 0


def _logged(executor, text: str) -> bool:
    stderr = executor.stderr()
    assert text in stderr, stderr[-3000:]  # eventually() reports the last stderr when it gives up
    return True


async def _submitting(bus, prefix) -> bool:
    raw = await bus.redis.get(health_key(prefix, "executor", "t1"))
    return raw is not None and json.loads(raw).get("submitting") is True
