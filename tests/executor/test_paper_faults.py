"""Never twice and unknown outcomes, against the paper exchange's own faults (/_paper/faults, issue 4): the
executor sees the venue's faithful answers (Retry-After and rate-limit headers, 425 restart and 503 post-only
bodies, 5xx after the order is applied). These ran behind tests/executor/fault_proxy.py before the exchange
had faults; every fault they need is expressible there now, so none of them goes through the proxy."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

from shared.messages import OrderStatus, OrderType, OrderUpdate, Side
from shared.streams import APPROVED_ORDERS, FILLS
from tests.executor.conftest import REPO, approval, own_orders
from tests.helpers import eventually

POSTS = ["/order", "/orders"]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def updates_of(bus, client_order_id):
    return [m for _, m in await bus.history(FILLS)
            if isinstance(m, OrderUpdate) and m.client_order_id == client_order_id]


async def test_sigkill_between_post_and_record_leaves_exactly_one_order(bus, executor, admin, market, wallet):
    executor.start(POLYDESK_EXECUTOR_CRASH_AFTER_POST="true")
    await executor.wait_started()
    order = approval(market, price="0.40", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    assert executor.process.wait(30) == 137  # the hook: exit right after the post returned
    assert len(own_orders(admin, wallet.address)) == 1
    await bus.publish(APPROVED_ORDERS, order)  # and risk even sends it again
    executor.start()
    await executor.wait_started()

    async def reconciled():
        # LIVE; or CANCELED when the restart took longer than the venue's heartbeat timeout (a loaded machine):
        # the venue then cancelled it. Either way it is that one order, found by hash.
        return [u for u in await updates_of(bus, order.client_order_id)
                if u.status in (OrderStatus.LIVE, OrderStatus.CANCELED)][:1]

    (update,) = await eventually(reconciled, timeout=30)
    assert update.order_id == own_orders(admin, wallet.address)[0]["id"]
    assert len(own_orders(admin, wallet.address)) == 1
    assert executor.stop() == 0
    assert len(own_orders(admin, wallet.address)) == 1


async def test_5xx_after_the_order_is_applied_is_unknown_then_reconciled_live(bus, executor, faults, admin, market,
                                                                              wallet):
    executor.start()
    await executor.wait_started()
    faults("http", {"status": 502, "paths": POSTS, "methods": ["POST"], "after_apply": True, "count": 1})
    order = approval(market, price="0.41", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("order_unknown"), timeout=30)

    async def live():
        return [u for u in await updates_of(bus, order.client_order_id) if u.status is OrderStatus.LIVE]

    await eventually(live, timeout=30)
    assert len(own_orders(admin, wallet.address)) == 1
    assert [e["found"] for e in executor.events("unknown_resolved")] == [True]  # by the user stream or REST
    assert executor.stop() == 0


async def test_timeout_before_the_venue_applies_is_unknown_then_the_same_order_posted_once(bus, executor, faults,
                                                                                          admin, market, wallet):
    # The answer (a 503 before the route runs) arrives after the submit timeout (3 s): the order never reached
    # the venue. The exchange applies a delay rule first, then the status rule, to the same request. Absent by
    # hash past the grace period, the same signed order (same hash) is posted again: placed once, not lost.
    executor.start()
    await executor.wait_started()
    faults("delay", {"secs": 5, "paths": POSTS, "methods": ["POST"], "count": 1})
    faults("http", {"status": 503, "paths": POSTS, "methods": ["POST"], "count": 1})
    order = approval(market, price="0.42", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("order_unknown"), timeout=30)

    async def live():
        return [u for u in await updates_of(bus, order.client_order_id) if u.status is OrderStatus.LIVE]

    (placed,) = await eventually(live, timeout=30)
    (unknown,) = executor.events("order_unknown")
    (reposted,) = executor.events("order_reposted")
    assert placed.order_id == unknown["order_hash"] == reposted["order_hash"]  # never signed again
    assert [o["id"] for o in own_orders(admin, wallet.address)] == [placed.order_id]
    assert executor.stop() == 0


async def test_429_after_apply_past_the_retry_budget_leaves_one_order_resolved_by_hash(bus, executor, faults,
                                                                                     admin, market, wallet):
    # Issue 15 #1: the venue placed the order, then answered 429 to it and to every retry (each retry of the
    # same hash is refused as duplicated behind the 429). The old code marked it REJECTED after the retries,
    # signed again and posted a second live order for the approval.
    executor.start(POLYDESK_POST_ATTEMPTS="2")
    await executor.wait_started()
    faults("http", {"status": 429, "retry_after_secs": 0.2, "paths": POSTS, "methods": ["POST"],
                    "after_apply": True, "count": 4})
    order = approval(market, price="0.45", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("order_unknown"), timeout=30)

    async def live():
        return [u for u in await updates_of(bus, order.client_order_id) if u.status is OrderStatus.LIVE]

    (placed,) = await eventually(live, timeout=30)
    assert [o["id"] for o in own_orders(admin, wallet.address)] == [placed.order_id]
    assert len({e["order_hash"] for e in executor.events("order_phase")}) == 1  # signed once
    assert executor.stop() == 0


async def test_429_retry_after_is_respected(bus, executor, faults, admin, market, wallet):
    executor.start()
    await executor.wait_started()
    faults("http", {"status": 429, "retry_after_secs": 2, "paths": POSTS, "methods": ["POST"], "count": 1})
    order = approval(market, price="0.43", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: len(own_orders(admin, wallet.address)) == 1, timeout=30)
    await eventually(lambda: executor.events("order_submitted"), timeout=20)
    (retry,) = executor.events("post_retry")
    assert retry["wait_secs"] == 2.0  # the exchange's Retry-After header, as the SDK read it
    (submitted,) = executor.events("order_submitted")
    assert _secs(submitted["ts"]) - _secs(retry["ts"]) >= 2.0
    assert admin.http.get("/faults").json()["rules"] == []  # the one 429 was answered, and only one
    assert executor.stop() == 0


def _secs(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


async def test_must_fill_walks_three_phases_in_order_and_stops_at_the_limit(bus, executor, admin, market, wallet):
    token = market["token_ids"][0]
    admin.house(token, "SELL", "0.56", "100")  # liquidity only past the price limit
    executor.start(POLYDESK_MAX_SLIPPAGE_BPS="1000")
    await executor.wait_started()
    order = approval(market, price="0.50", size="10", limit="0.54", order_type=OrderType.FOK, must_fill=True)
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("phases_exhausted"), timeout=30)
    phases = [(e["phase"], e["price"]) for e in executor.events("order_phase")]
    assert phases == [(1, "0.50"), (2, "0.51"), (3, "0.54")]  # 3 is 0.55 capped at the limit
    assert [e["code"] for e in executor.events("order_rejected")] == ["fok_not_filled"] * 3

    # With liquidity at 0.51 the second phase fills and the third never happens.
    admin.house(token, "SELL", "0.51", "10")
    second = approval(market, price="0.50", size="10", limit="0.54", order_type=OrderType.FOK, must_fill=True,
                      side=Side.BUY)
    await bus.publish(APPROVED_ORDERS, second)
    await eventually(lambda: [e for e in executor.events("order_submitted")
                        if e["client_order_id"] == second.client_order_id], timeout=30)
    tried = [e["phase"] for e in executor.events("order_phase") if e["client_order_id"] == second.client_order_id]
    assert tried == [1, 2]
    assert executor.stop() == 0


def test_smoke_passes_against_the_paper_exchange(executor, market):
    result = subprocess.run([sys.executable, "-m", "polydesk", "smoke", "--token-id", market["token_ids"][0]],
                            env=executor.env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("smoke: ok") and len(result.stdout.strip().splitlines()) == 1


def test_smoke_fails_with_one_line_when_the_venue_refuses(executor, market, admin):
    env = {**executor.env, "POLYDESK_CLOB_URL": "http://127.0.0.1:9"}  # nothing listens there
    result = subprocess.run([sys.executable, "-m", "polydesk", "smoke", "--token-id", market["token_ids"][0]],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("smoke: ")



async def test_restart_window_then_post_only_mode_then_posted_once(bus, executor, faults, admin, market, wallet):
    # The exchange's restart window: 425 on order paths for 2 s, then post-only mode (503 post_only_mode for a
    # post that is not post-only) for 3 s more. Each refusal is waited out (425: 2 s, no Retry-After; post-only:
    # post_only_retry_secs) and the same signed order is posted again, so it lands once, after both windows.
    executor.start(POLYDESK_POST_ONLY_RETRY_SECS="1")
    await executor.wait_started()
    faults("restart", {"secs": 2, "post_only_secs": 3})
    order = approval(market, price="0.44", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: len(own_orders(admin, wallet.address)) == 1, timeout=40)
    await eventually(lambda: executor.events("order_submitted"), timeout=20)
    restrictions = [e["restriction"] for e in executor.events("venue_restricted")]
    # How many of each depends on the machine's pace; the order of the windows does not.
    assert restrictions[0] == "restarting" and "post_only" in restrictions, restrictions
    assert restrictions == sorted(restrictions, key=["restarting", "post_only"].index), restrictions
    assert len(own_orders(admin, wallet.address)) == 1
    assert [e["order_hash"] for e in executor.events("order_submitted")] == [own_orders(admin, wallet.address)[0]["id"]]
    assert executor.stop() == 0
