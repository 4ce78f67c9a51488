"""The executor's trade and order reports from the venue's shapes (issue 14 items 1 and 3), on the Reporter
alone with a recording bus: one trade with several makers (the captured 6-maker frame) gives one Fill per
own order part at that part's price and size; a `delayed` order is resolved by its later user-stream event."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from services.executor.orders import OrderRow, OrderStore
from services.executor.tracking import Reporter, taker_average_price
from services.executor.venue import MakerFill, VenueOrder, VenueTrade
from shared.messages import Fill, OrderStatus, TradeStatus
from tests.fixtures import fixture_path

D = Decimal
CAPTURE = "polymarket-captures/python-ws/user_trade1.json"


class _Bus:
    def __init__(self) -> None:
        self.published: list = []

    async def publish_once(self, stream, message, **_) -> None:
        self.published.append(message)

    async def dead_letter(self, *args, **kwargs) -> None:
        raise AssertionError(f"dead-lettered: {args}")


class _Events:
    def emit(self, kind: str, **fields) -> None:
        pass


def captured_trade() -> VenueTrade:
    """user_trade1.json as the executor's VenueTrade. The 2024 capture has no maker `side` (2025+ frames and
    the SDK model do): a maker on the taker's token sold to it, one on the other token bought with it."""
    raw = json.loads(fixture_path(CAPTURE).read_text())
    makers = tuple(
        MakerFill(m["order_id"], m["owner"], "SELL" if m["asset_id"] == raw["asset_id"] else "BUY", m["asset_id"],
                  D(m["price"]), D(m["matched_amount"]))
        for m in raw["maker_orders"])
    return VenueTrade(id=raw["id"], status=raw["status"], market=raw["market"], token_id=raw["asset_id"],
                      side=raw["side"], price=D(raw["price"]), size=D(raw["size"]),
                      taker_order_id=raw["taker_order_id"], trader_side=raw["trader_side"], owner=raw["owner"],
                      transaction_hash=raw["transaction_hash"], fee_rate_bps=D(raw["fee_rate_bps"]), makers=makers)


def _reporter(tmp_path, api_key: str) -> tuple[Reporter, _Bus, OrderStore]:
    store, bus = OrderStore(tmp_path / "x.sqlite"), _Bus()
    return Reporter(store, bus, _Events(), api_key), bus, store


def _fills(bus: _Bus) -> list[Fill]:
    return [m for m in bus.published if isinstance(m, Fill)]


def test_a_maker_in_a_six_maker_trade_reports_its_own_part(tmp_path):
    trade = captured_trade()
    ours = trade.makers[1]  # 247.68 YES at 0.518
    reporter, bus, _ = _reporter(tmp_path, api_key=ours.owner)
    asyncio.run(reporter.on_trade(trade))
    fills = _fills(bus)
    # MINED first seen: MATCHED then MINED, both for our maker order only (the top level is the taker's).
    assert [f.status for f in fills] == [TradeStatus.MATCHED, TradeStatus.MINED]
    assert {(f.order_id, f.side.value, f.size, f.price, f.is_maker) for f in fills} == {
        (ours.order_id, "SELL", D("247.68"), D("0.518"), True)}
    assert all(f.trade_id == trade.id for f in fills)


def test_the_taker_of_that_trade_reports_one_fill_for_its_whole_size(tmp_path):
    trade = captured_trade()
    reporter, bus, _ = _reporter(tmp_path, api_key=trade.owner)
    asyncio.run(reporter.on_trade(VenueTrade(**{**trade.__dict__, "trader_side": "TAKER"})))
    (matched, _) = _fills(bus)
    assert (matched.order_id, matched.side.value, matched.size, matched.is_maker) == (
        trade.taker_order_id, "BUY", D("1096.87"), False)
    assert matched.price == D("0.518")  # the NO maker at 0.482 is 0.518 for a YES buyer


def test_the_taker_price_is_its_average_over_makers_at_several_prices():
    trade = captured_trade()
    makers = (MakerFill("a", "x", "SELL", trade.token_id, D("0.01"), D(5)),
              MakerFill("b", "y", "BUY", "other", D("0.98"), D(2)))  # a NO bid at 0.98 = YES 0.02
    priced = VenueTrade(**{**trade.__dict__, "makers": makers, "size": D(7), "price": D("0.013")})
    assert taker_average_price(priced) == D("0.012857")  # (5 x 0.01 + 2 x 0.02) / 7; the venue says 0.013


def test_a_delayed_order_is_resolved_by_its_later_event(tmp_path):
    reporter, _, store = _reporter(tmp_path, api_key="k")
    store.add_pending([(OrderRow("0xd", "c1", 1, OrderStatus.DELAYED, "BUY", "1", "m", D("0.5"), D(10), D(0),
                                 "FOK", "s", "", 0, 0), {"salt": 1})])
    resolved: list[tuple] = []

    async def on_resolved(client_order_id, phase, matched) -> None:
        resolved.append((client_order_id, phase, matched))

    reporter.on_resolved = on_resolved
    event = VenueOrder("0xd", "DELAYED", "m", "1", "BUY", D("0.5"), D(10), D(0), "FOK", kind="PLACEMENT")
    asyncio.run(reporter.on_order(event))
    assert resolved == []  # still waiting out the taker delay
    killed = VenueOrder("0xd", "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.",
                        "m", "1", "BUY", D("0.5"), D(10), D(0), "FOK", kind="CANCELLATION")
    asyncio.run(reporter.on_order(killed))
    assert resolved == [("c1", 1, D(0))] and store.order("0xd").status is OrderStatus.CANCELED
