"""Issue 8's test gaps, against the paper exchange, real Redis and the real executor process: the resting (GTC)
must-fill phases, ApprovedCancel (by client order ids, by market), CancelAllRequested and the kill switch on
`control`, start-up reconciliation (adopt / cancel), and batching of POST /orders."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from polymarket import SecureClient

from shared.messages import (
    ApprovedCancel,
    CancelAllRequested,
    Envelope,
    Fill,
    KillSwitchChanged,
    OrderEventKind,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from shared.polymarket.sdk_env import paper_environment
from shared.streams import APPROVED_ORDERS, CONTROL, FILLS, Output
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def updates(bus, **match) -> list[OrderUpdate]:
    return [m for _, m in await bus.history(FILLS) if isinstance(m, OrderUpdate)
            and all(getattr(m, k) == v for k, v in match.items())]


def orders_by_id(admin, wallet) -> dict[str, dict]:
    return {o["id"]: o for o in own_orders(admin, wallet.address)}


def live_ids(admin, wallet) -> set[str]:
    return {o["id"] for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"}


def order_of(executor, client_order_id: str, phase: int = 1) -> str | None:
    """The hash the executor posted for this approval's phase (from its order_submitted event)."""
    for event in executor.events("order_submitted"):
        if event["client_order_id"] == client_order_id and event["phase"] == phase:
            return event["order_hash"]
    return None


def control(message_type, **fields):
    return message_type(envelope=Envelope.new("test"), **fields)


# ---- 1. the resting (GTC) must-fill path -----------------------------------------------------------------

async def test_resting_must_fill_cancels_each_phase_before_the_next_and_stops_at_the_limit(bus, executor, admin,
                                                                                          market, wallet):
    token = market["token_ids"][0]
    admin.house(token, "SELL", "0.51", "4")  # phase 2 takes these 4; the rest of it rests
    admin.house(token, "SELL", "0.56", "100")  # past the price limit: never touched
    executor.start(POLYDESK_MAX_SLIPPAGE_BPS="1000", POLYDESK_PHASE_WAIT_SECS="1")
    await executor.wait_started()
    order = approval(market, price="0.50", size="10", limit="0.54", order_type=OrderType.GTC, must_fill=True)
    await bus.publish(APPROVED_ORDERS, order)

    # Each next phase is posted only after the one before was cancelled on the exchange.
    for count in (2, 3):
        await eventually(lambda n=count: len(own_orders(admin, wallet.address)) >= n, timeout=30)
        earlier = own_orders(admin, wallet.address)[:count - 1]
        assert [o["status"] for o in earlier] == ["CANCELED"] * (count - 1), earlier
    await eventually(lambda: executor.events("phases_exhausted"), timeout=30)

    posted = own_orders(admin, wallet.address)  # the exchange's log, in arrival order
    assert [(o["price"], o["original_size"], o["size_matched"], o["status"]) for o in posted] == [
        ("0.5", "10", "0", "CANCELED"),
        ("0.51", "10", "4", "CANCELED"),  # partly filled, the rest cancelled after phase_wait_secs
        ("0.54", "6", "0", "CANCELED"),  # only what is left, at the slippage price capped at the limit (0.55)
    ]
    assert all(Decimal(o["price"]) <= order.price_limit for o in posted)

    mine = [e for e in executor.events() if e.get("client_order_id") == order.client_order_id
            and e["type"] in ("order_phase", "order_submitted", "phase_next", "phases_exhausted")]
    assert [(e["type"], e.get("phase", e.get("after_phase"))) for e in mine] == [
        ("order_phase", 1), ("order_submitted", 1), ("phase_next", 1),
        ("order_phase", 2), ("order_submitted", 2), ("phase_next", 2),
        ("order_phase", 3), ("order_submitted", 3), ("phase_next", 3),
        ("phases_exhausted", None),
    ]
    assert [(e["price"], e["size"]) for e in mine if e["type"] == "order_phase"] == [
        ("0.50", "10"), ("0.51", "10"), ("0.54", "6")]
    assert [o["id"] for o in posted] == [e["order_hash"] for e in mine if e["type"] == "order_submitted"]

    async def all_cancelled():
        done = {u.order_id for u in await updates(bus, client_order_id=order.client_order_id,
                                                   status=OrderStatus.CANCELED)}
        return done == {o["id"] for o in posted}

    assert await eventually(all_cancelled, timeout=20)
    fills = [m for _, m in await bus.history(FILLS) if isinstance(m, Fill) and m.client_order_id ==
             order.client_order_id]
    assert {(f.price, f.size) for f in fills} == {(Decimal("0.51"), Decimal(4))}
    assert executor.stop() == 0


# ---- 2. ApprovedCancel by client order ids and by market ------------------------------------------------

async def test_approved_cancel_by_client_order_ids_and_by_market(bus, executor, admin, wallet):
    first, second = admin.create_market(), admin.create_market()
    executor.start(POLYDESK_PHASE_WAIT_SECS="3")
    await executor.wait_started()
    a1 = approval(first, price="0.30")
    a2 = approval(first, price="0.31")
    a3 = approval(second, price="0.32")
    walking = approval(second, price="0.33", limit="0.40", must_fill=True)  # rests at phase 1 on its timer
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in (a1, a2, a3, walking)])
    await eventually(lambda: len(live_ids(admin, wallet)) == 4, timeout=30)
    await eventually(lambda: all(order_of(executor, a.client_order_id) for a in (a1, a2, a3, walking)),
                     timeout=20)
    h1, h2, h3, hw = (order_of(executor, a.client_order_id) for a in (a1, a2, a3, walking))

    await bus.publish(APPROVED_ORDERS, control(ApprovedCancel, signal_key="k1", strategy="test",
                                               client_order_ids=(a1.client_order_id,)))
    await eventually(lambda: orders_by_id(admin, wallet)[h1]["status"] == "CANCELED", timeout=20)
    assert live_ids(admin, wallet) == {h2, h3, hw}

    await bus.publish(APPROVED_ORDERS, control(ApprovedCancel, signal_key="k2", strategy="test",
                                               market=second["condition_id"]))
    await eventually(lambda: live_ids(admin, wallet) == {h2}, timeout=20)

    async def cancellations():
        found = {u.order_id for u in await updates(bus, kind=OrderEventKind.CANCELLATION,
                                                     status=OrderStatus.CANCELED)}
        return found if found >= {h1, h3, hw} else None

    assert await eventually(cancellations, timeout=20) == {h1, h3, hw}
    # The cancelled must-fill approval does not go on to phase 2 in the cancelled market once its timer ends.
    await asyncio.sleep(4.5)
    assert [e for e in executor.events("order_phase") if e["client_order_id"] == walking.client_order_id
            and e["phase"] > 1] == []
    assert len(own_orders(admin, wallet.address)) == 4 and live_ids(admin, wallet) == {h2}
    assert executor.stop() == 0


# ---- 3. CancelAllRequested, and the kill switch tripped and released ------------------------------------

async def acknowledged(bus, stream: str, group: str, entry_id: str) -> bool:
    """The group has read `entry_id` and acknowledged everything it read."""
    for info in await bus.redis.xinfo_groups(bus.key(stream)):
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        if name == group:
            delivered = info["last-delivered-id"]
            delivered = delivered.decode() if isinstance(delivered, bytes) else delivered
            return int(info["pending"]) == 0 and _id(delivered) >= _id(entry_id)
    return False


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def test_cancel_all_keeps_accepting_and_a_released_kill_switch_reopens_submission(bus, executor, admin,
                                                                                        wallet):
    first, second = admin.create_market(), admin.create_market()
    executor.start(POLYDESK_PHASE_WAIT_SECS="2")
    await executor.wait_started()
    a1, a2 = approval(first, price="0.30"), approval(second, price="0.31")
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in (a1, a2)])
    await eventually(lambda: len(live_ids(admin, wallet)) == 2, timeout=30)
    await eventually(
        lambda: order_of(executor, a1.client_order_id) and order_of(executor, a2.client_order_id), timeout=20)
    h1, h2 = order_of(executor, a1.client_order_id), order_of(executor, a2.client_order_id)

    # Cancel all of one market, then everything: the executor goes on running and posting.
    await bus.publish(CONTROL, control(CancelAllRequested, reason="test", market=first["condition_id"]))
    await eventually(lambda: live_ids(admin, wallet) == {h2}, timeout=20)
    # A must-fill approval resting on its phase timer is over with the cancel all (no phase 2 after it).
    walking_before = approval(second, price="0.19", limit="0.30", must_fill=True)
    await bus.publish(APPROVED_ORDERS, walking_before)
    await eventually(lambda: order_of(executor, walking_before.client_order_id), timeout=20)
    await bus.publish(CONTROL, control(CancelAllRequested, reason="test"))
    await eventually(lambda: live_ids(admin, wallet) == set(), timeout=20)

    async def cancelled(*hashes):
        found = {u.order_id for u in await updates(bus, status=OrderStatus.CANCELED)}
        return found >= set(hashes)

    assert await eventually(lambda: cancelled(h1, h2), timeout=20)
    cancel_all = await eventually(lambda: executor.events("cancel_all"), timeout=20)
    assert [e["open_left"] for e in cancel_all] == [0]
    later = approval(first, price="0.32")
    await bus.publish(APPROVED_ORDERS, later)
    await eventually(lambda: order_of(executor, later.client_order_id), timeout=20)
    assert live_ids(admin, wallet) == {order_of(executor, later.client_order_id)}

    # A must-fill approval resting on its phase timer when the switch trips is over, not resumed on release.
    walking = approval(second, price="0.20", limit="0.30", must_fill=True)
    await bus.publish(APPROVED_ORDERS, walking)
    await eventually(lambda: order_of(executor, walking.client_order_id), timeout=20)
    await bus.publish(CONTROL, control(KillSwitchChanged, active=True, reason="test", actor="test"))
    await eventually(lambda: live_ids(admin, wallet) == set(), timeout=20)
    blocked = approval(first, price="0.33")
    await bus.publish(APPROVED_ORDERS, blocked)
    await eventually(lambda: [e for e in executor.events("approval_dropped")
                        if e["client_order_id"] == blocked.client_order_id], timeout=20)

    release = await bus.publish(CONTROL, control(KillSwitchChanged, active=False, reason="released",
                                                  actor="test"))
    # The release and the next approval travel on different streams: an approval read before the release is
    # dropped (reported as approval_dropped), so the next one goes out once the executor has acted on it.
    await eventually(lambda: acknowledged(bus, CONTROL, "executor", release), timeout=20)
    reopened = approval(first, price="0.34")
    await bus.publish(APPROVED_ORDERS, reopened)
    await eventually(lambda: order_of(executor, reopened.client_order_id), timeout=20)
    await asyncio.sleep(3)  # past the walking approval's phase timer
    assert not order_of(executor, blocked.client_order_id)
    for walker in (walking_before, walking):
        assert [e["phase"] for e in executor.events("order_phase")
                if e["client_order_id"] == walker.client_order_id] == [1]
    assert live_ids(admin, wallet) == {order_of(executor, reopened.client_order_id)}
    assert len(own_orders(admin, wallet.address)) == 6  # a1, a2, 2 walking (phase 1 only), later, reopened
    assert executor.stop() == 0
    assert live_ids(admin, wallet) == set()


# ---- 4. start-up reconciliation: open orders of the key, placed with the official SDK -----------------

def place_with_sdk(server, wallet, market, prices: tuple[str, ...]) -> list[str]:
    client = SecureClient.create(private_key=wallet.key.hex(), wallet=wallet.address,
                                 environment=paper_environment(server.url))
    try:
        return [client.place_limit_order(asset_id=market["token_ids"][0], price=price, size="10", side="BUY").order_id
                for price in prices]
    finally:
        client.close()


async def test_open_orders_on_start_adopt_reports_them_reconciled_and_leaves_them(bus, executor, server, admin,
                                                                                  market, wallet):
    placed = place_with_sdk(server, wallet, market, ("0.21", "0.22"))
    assert live_ids(admin, wallet) == set(placed)
    executor.start(POLYDESK_OPEN_ORDERS_ON_START="adopt")
    await executor.wait_started()

    async def reconciled():
        found = await updates(bus, kind=OrderEventKind.RECONCILED, status=OrderStatus.LIVE)
        return found if {u.order_id for u in found} == set(placed) else None

    found = await eventually(reconciled, timeout=30)
    assert all(u.client_order_id is None and u.market == market["condition_id"] for u in found)
    adopted = await eventually(lambda: executor.events("open_orders_adopted"), timeout=20)
    assert [e["count"] for e in adopted] == [2]
    assert not executor.events("open_orders_canceled")
    assert live_ids(admin, wallet) == set(placed)  # left resting
    assert executor.stop() == 0  # shutdown cancels everything open, the adopted orders too
    assert live_ids(admin, wallet) == set()


async def test_open_orders_on_start_cancel_removes_them_from_the_exchange(bus, executor, server, admin, market,
                                                                          wallet):
    placed = place_with_sdk(server, wallet, market, ("0.23", "0.24"))
    executor.start(POLYDESK_OPEN_ORDERS_ON_START="cancel")
    await executor.wait_started()
    await eventually(lambda: executor.events("open_orders_canceled"), timeout=30)
    assert [e["count"] for e in executor.events("open_orders_canceled")] == [2]
    assert live_ids(admin, wallet) == set()
    assert {orders_by_id(admin, wallet)[h]["status"] for h in placed} == {"CANCELED"}
    # Still running, and posting.
    order = approval(market, price="0.25")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: order_of(executor, order.client_order_id), timeout=20)
    assert not await updates(bus, kind=OrderEventKind.RECONCILED, status=OrderStatus.LIVE)
    assert executor.stop() == 0


# ---- 5. batching: POST /orders carries at most post_batch_max (15) orders -------------------------------

async def test_twenty_approvals_go_out_in_posts_of_at_most_fifteen_each_once(bus, executor, proxy, admin, market,
                                                                             wallet):
    # The exchange logs orders, not requests: the recording proxy in front of it counts the orders per POST.
    executor.start(POLYDESK_CLOB_URL=proxy.url)
    await executor.wait_started()
    batch = [approval(market, price=f"0.{10 + i:02d}", size="5") for i in range(20)]
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in batch])  # one XADD script: read together
    await eventually(lambda: len(own_orders(admin, wallet.address)) >= 20, timeout=40)
    await eventually(lambda: len(executor.events("order_submitted")) >= 20, timeout=20)

    sizes = [n for _, n in proxy.posted]
    assert sum(sizes) == 20 and max(sizes) <= 15, proxy.posted
    assert sorted(sizes) == [5, 15], proxy.posted  # all 20 were queued when the submitter ran
    assert all(path == "/orders" for path, n in proxy.posted if n > 1)
    submitted = executor.events("order_submitted")
    assert sorted(e["client_order_id"] for e in submitted) == sorted(a.client_order_id for a in batch)
    assert {e["order_hash"] for e in submitted} == set(orders_by_id(admin, wallet))
    assert len(own_orders(admin, wallet.address)) == 20
    assert executor.stop() == 0
