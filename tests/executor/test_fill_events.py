"""The executor's `fill` JSONL lines carry our part of a trade (our side, price and size), the same fields
as risk's, whichever side of the trade we were on; written once per fill report."""

from __future__ import annotations

from decimal import Decimal as D

from services.executor.orders import OrderRow, OrderStore
from services.executor.tracking import Reporter
from services.executor.venue import MakerFill, VenueTrade
from shared.logging import EventLog, read_events
from shared.messages import Fill, OrderStatus, field_names

API_KEY = "our-api-key"
MARKET = "0x" + "ab" * 32
YES, NO = "111", "222"


def _row(order_hash: str, side: str, token: str, price: str, size: str) -> OrderRow:
    return OrderRow(order_hash, f"c-{order_hash}", 1, OrderStatus.LIVE, side, token, MARKET, D(price), D(size),
                    D(0), "GTC", "copy", "", 0, 0)


def _trade(status: str, makers: tuple[MakerFill, ...]) -> VenueTrade:
    # Someone else's taker order: BUY 10 YES at 0.60; our two maker orders are on the other side of it.
    return VenueTrade(id="t-1", status=status, market=MARKET, token_id=YES, side="BUY", price=D("0.60"),
                      size=D(10), taker_order_id="0xtheirs", trader_side="MAKER", owner="someone-else",
                      transaction_hash="0xtx", fee_rate_bps=D(0), makers=makers)


async def test_a_maker_fill_logs_our_side_price_and_size_not_the_takers(bus, tmp_path):
    store = OrderStore(tmp_path / "orders.sqlite")
    store.adopt(_row("0xours-no", "BUY", NO, "0.40", "8"))
    store.adopt(_row("0xours-yes", "SELL", YES, "0.59", "5"))
    log = EventLog(tmp_path / "logs", "executor")
    reporter = Reporter(store, bus, log, API_KEY)
    makers = (MakerFill("0xours-no", API_KEY, "BUY", NO, D("0.40"), D(6)),  # complement match: we buy NO
              MakerFill("0xours-yes", API_KEY, "SELL", YES, D("0.59"), D(4)),
              MakerFill("0xother", "another-key", "SELL", YES, D("0.60"), D(0)))
    await reporter.on_trade(_trade("MATCHED", makers))
    await reporter.on_trade(_trade("MATCHED", makers))  # a replay: reported and logged once

    fills = [e for e in read_events(sorted((tmp_path / "logs").glob("*.jsonl"))) if e["type"] == "fill"]
    ours = {e["order_id"]: e for e in fills}
    assert len(fills) == 2 and set(ours) == {"0xours-no", "0xours-yes"}
    assert {k: ours["0xours-no"][k] for k in ("side", "token_id", "price", "size", "is_maker", "status")} == {
        "side": "BUY", "token_id": NO, "price": "0.40", "size": "6", "is_maker": True, "status": "MATCHED"}
    assert (ours["0xours-yes"]["side"], ours["0xours-yes"]["price"], ours["0xours-yes"]["size"]) == (
        "SELL", "0.59", "4")
    # The same schema as the Fill on the bus (and as risk's fill line, which adds its `outcome`).
    assert set(ours["0xours-no"]) - {"ts", "type", "service"} == set(field_names(Fill)) - {"envelope"}
