"""Deciding intents in process: outputs, clamping, dry run, dedup with a clock, replay, loss trips."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.risk.books import BookGuard
from services.risk.config import RiskSettings
from services.risk.decisions import DECISIONS, Decider, client_order_id
from services.risk.handling import handle_once
from services.risk.state import RiskState
from services.risk.tracking import Tracker
from shared import messages as m
from shared.ledger import ORDER_STATUS_CAN_TRADE
from shared.logging import EventLog, read_events
from shared.streams import APPROVED_ORDERS, CONTROL
from tests.risk.helpers import CID, NO, YES, Clock, fill, intent, market_info


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settings(tmp_path):
    return RiskSettings(_env_file=None, dry_run=False, state_dir=tmp_path, max_trade_size_usd=D(50),
                        max_daily_loss_usd=D(10), min_liquidity_usd=D(1000), max_per_market_notional_usd=D(100),
                        dedup_window_secs=60)


class Harness:
    def __init__(self, settings, path, clock, log_dir):
        self.state = RiskState(path, clock=clock)
        self.decider = Decider(settings, self.state)
        self.tracker = Tracker(settings, self.state)
        self.events = EventLog(log_dir, "risk", clock=clock)

    def decide(self, message):
        return handle_once(self.state, self.events, message.envelope.message_id,
                           lambda fx: self.decider.decide(message, fx), record_always=True)

    def on_fill(self, message):
        return handle_once(self.state, self.events, message.envelope.message_id,
                           lambda fx: self.tracker.on_fill(message, fx), record_always=False)

    def on_event(self, message):
        return handle_once(self.state, self.events, message.envelope.message_id,
                           lambda fx: self.tracker.on_market_event(message, fx), record_always=False)

    def close(self):
        self.state.close()
        self.events.close()


@pytest.fixture
def harness(settings, tmp_path, clock):
    h = Harness(settings, tmp_path / "risk.sqlite", clock, tmp_path / "logs")
    h.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))
    yield h
    h.close()


def by_stream(outputs):
    found = {}
    for stream, message in outputs:
        found.setdefault(stream, []).append(message)
    return found


def test_an_approved_intent_yields_a_decision_and_an_order_with_a_price_limit(harness):
    i = intent(size="10", price="0.50")
    out = by_stream(harness.decide(i))
    decision, = out[DECISIONS]
    order, = out[APPROVED_ORDERS]
    assert decision.approved and decision.intent_id == i.envelope.message_id and decision.approved_size == D(10)
    assert order.client_order_id == client_order_id(i.envelope.message_id)
    # 200 bps of 0.50 is one tick; the limit is two ticks away so a must-fill order's three phases fit.
    assert (order.size, order.price, order.price_limit, order.tick_size) == (D(10), D("0.50"), D("0.52"), D("0.01"))
    assert order.envelope.correlation_id == i.envelope.correlation_id


def test_clamping_changes_the_size_and_nothing_else(settings, tmp_path, clock):
    big = intent(size="300", price="0.30", message_id="a" * 32)  # 90 USD > 50
    clamped = Harness(settings, tmp_path / "a.sqlite", clock, tmp_path / "logs")
    roomy = Harness(settings.model_copy(update={"max_trade_size_usd": D(1000)}), tmp_path / "b.sqlite", clock,
                    tmp_path / "logs")
    for h in (clamped, roomy):
        h.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))
    a, = by_stream(clamped.decide(big))[APPROVED_ORDERS]
    b, = by_stream(roomy.decide(big))[APPROVED_ORDERS]
    assert a.size == D("166.66") and a.clamped_from_size == D(300) and b.size == D(300) and b.clamped_from_size is None
    same = {"size", "clamped_from_size", "envelope"}
    assert {k: v for k, v in m.to_builtins(a).items() if k not in same} == {
        k: v for k, v in m.to_builtins(b).items() if k not in same}
    assert a.envelope.message_id == b.envelope.message_id
    clamped.close()
    roomy.close()


def test_dry_run_logs_the_intent_and_sends_nothing(settings, tmp_path, clock):
    h = Harness(settings.model_copy(update={"dry_run": True}), tmp_path / "d.sqlite", clock, tmp_path / "dl")
    h.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))
    out = by_stream(h.decide(intent()))
    assert APPROVED_ORDERS not in out
    assert out[DECISIONS][0].dry_run and out[DECISIONS][0].rule == "DRY_RUN"
    h.close()
    events = read_events(sorted((tmp_path / "dl").glob("*.jsonl")))
    assert [e["type"] for e in events] == ["order_intent", "risk_reject"]
    assert events[0]["dry_run"] is True and events[1]["rule"] == "DRY_RUN"


def test_a_redelivered_intent_re_emits_the_same_outputs_and_counts_once(harness, clock):
    i = intent(size="100", price="0.50")  # 50 USD of a 100 USD market limit
    first = harness.decide(i)
    clock.now += 120  # past the dedup window: re-evaluating would approve it again
    assert harness.decide(i) == first
    assert harness.state.market_notional(CID) == D(50)


def test_dedup_window_with_a_clock(harness, clock):
    assert by_stream(harness.decide(intent(key="k")))[DECISIONS][0].approved
    clock.now += 59
    rejected = by_stream(harness.decide(intent(key="k")))[DECISIONS][0]
    assert not rejected.approved and rejected.rule == "DEDUP_WINDOW"
    clock.now += 1
    assert by_stream(harness.decide(intent(key="k")))[DECISIONS][0].approved


def test_dedup_is_per_leg_so_every_leg_of_one_signal_passes_once(harness):
    # An arbitrage buys both sides below 1 in total (at 1 or more the two BUYs would mint against each other).
    yes_leg, no_leg = intent(key="arb:b:1", token=YES, price="0.48"), intent(key="arb:b:1", token=NO, price="0.48")
    assert by_stream(harness.decide(yes_leg))[DECISIONS][0].approved
    assert by_stream(harness.decide(no_leg))[DECISIONS][0].approved
    again = by_stream(harness.decide(intent(key="arb:b:1", token=NO, price="0.48")))[DECISIONS][0]
    assert not again.approved and again.rule == "DEDUP_WINDOW"


def test_rejections_are_logged_with_rule_and_numbers(harness, tmp_path):
    out = by_stream(harness.decide(intent(market="0xunknown")))
    assert out[DECISIONS][0].rule == "MIN_LIQUIDITY_USD" and APPROVED_ORDERS not in out
    harness.events.close()
    reject = [e for e in read_events(sorted((tmp_path / "logs").glob("*.jsonl"))) if e["type"] == "risk_reject"]
    assert reject[0]["rule"] == "MIN_LIQUIDITY_USD" and reject[0]["numbers"] == {"limit_usd": "1000"}


def test_losses_past_the_limit_trip_the_switch_once_and_block_everything(harness):
    harness.on_fill(fill("b1", m.TradeStatus.MATCHED, size="100", price="0.50"))
    harness.on_event(m.BookSnapshot(envelope=m.Envelope.new("ingest"), market=CID, token_id=YES,
                                    bids=(m.PriceLevel(price=D("0.45"), size=D(1)),), asks=(), tick_size=D("0.01")))
    assert not harness.state.kill_switch().active  # -5 of a 10 limit
    out = harness.on_fill(fill("s1", m.TradeStatus.MATCHED, side=m.Side.SELL, size="50", price="0.30"))
    control = by_stream(out)[CONTROL]  # realized -10, unrealized -2.5
    assert [type(c) for c in control] == [m.KillSwitchChanged, m.CancelAllRequested]
    assert control[0].active and control[0].actor == "risk:auto"
    assert harness.state.kill_switch().active
    assert harness.on_fill(fill("s2", m.TradeStatus.MATCHED, side=m.Side.SELL, size="1", price="0.30")) == []
    blocked = by_stream(harness.decide(intent(side=m.Side.SELL, size="1")))[DECISIONS][0]
    assert blocked.rule == "KILL_SWITCH"


def test_a_falling_mark_trips_the_switch(harness):
    harness.on_fill(fill("b1", m.TradeStatus.MATCHED, size="100", price="0.50"))
    delta = m.BookDelta(envelope=m.Envelope.new("ingest"), market=CID, changes=(), best_bid={YES: D("0.35")})
    first = harness.on_event(delta)
    assert by_stream(first)[CONTROL][0].active and harness.state.kill_switch().active
    assert harness.on_event(delta) == first  # redelivered: the recorded announcement again, no new one


def test_order_updates_move_open_notional(harness):
    harness.decide(intent(size="10", price="0.50", message_id="b" * 32))
    cid = client_order_id("b" * 32)
    assert harness.state.market_notional(CID) == D(5)
    update = {"envelope": m.Envelope.new("executor"), "client_order_id": cid, "kind": m.OrderEventKind.UPDATE,
              "market": CID, "token_id": YES, "side": m.Side.BUY, "price": D("0.50"), "original_size": D(10)}
    harness.tracker.on_order_update(m.OrderUpdate(status=m.OrderStatus.LIVE, size_matched=D(4), **update))
    assert harness.state.market_notional(CID) == D(3)
    harness.tracker.on_order_update(m.OrderUpdate(status=m.OrderStatus.CANCELED, size_matched=D(4), **update))
    assert harness.state.market_notional(CID) == D(0)


def test_every_order_status_is_mapped():
    assert set(ORDER_STATUS_CAN_TRADE) == set(m.OrderStatus)


def test_cancels_pass_even_with_the_kill_switch_on(harness):
    harness.state.set_kill_switch(True, "test", "cli")
    cancel = m.CancelIntent(envelope=m.Envelope.new("strategy"), strategy="mm", signal_key="mm:1", reason="r",
                            market=CID)
    out = by_stream(handle_once(harness.state, harness.events, cancel.envelope.message_id,
                                lambda fx: harness.decider.pass_cancel(cancel, fx), record_always=True))
    assert isinstance(out[APPROVED_ORDERS][0], m.ApprovedCancel)


def test_after_a_release_by_hand_a_loss_does_not_re_trip_that_day_but_still_rejects(harness, clock):
    harness.on_fill(fill("b1", m.TradeStatus.MATCHED, size="100", price="0.50"))
    harness.on_fill(fill("s1", m.TradeStatus.MATCHED, side=m.Side.SELL, size="100", price="0.38"))  # -12
    assert harness.state.kill_switch().active
    harness.state.set_kill_switch(False, "checked", "cli")
    out = by_stream(harness.decide(intent()))
    assert out[DECISIONS][0].rule == "MAX_DAILY_LOSS_USD" and CONTROL not in out
    assert not harness.state.kill_switch().active
    clock.now += 86_400  # a new trading day: PnL starts again from zero
    assert by_stream(harness.decide(intent(key="next-day")))[DECISIONS][0].approved



def test_rejections_are_counted_by_rule(harness):
    from prometheus_client import REGISTRY

    def count():
        return REGISTRY.get_sample_value("polydesk_risk_rejections_total", {"rule": "MIN_LIQUIDITY_USD"}) or 0

    before = count()
    harness.decide(intent(market="0xunknown", key="count-me"))
    assert count() == before + 1


def test_a_resolution_against_us_moves_daily_pnl_and_trips_the_switch_at_once(harness, tmp_path):
    harness.on_fill(fill("t1", m.TradeStatus.CONFIRMED, size="200", price="0.50"))
    assert harness.state.daily_pnl() == (D(0), D(0)) and not harness.state.kill_switch().active
    resolved = m.MarketResolved(envelope=m.Envelope.new("ingest"), condition_id=CID, winning_outcome="No")
    out = by_stream(harness.on_event(resolved))
    assert harness.state.daily_pnl()[0] == D(-100)
    assert harness.state.kill_switch().active and out[CONTROL][0].active
    events = read_events(sorted((tmp_path / "logs").glob("*.jsonl")))
    assert any(e["type"] == "market_resolved" and e["winner"] == NO for e in events)


def test_a_sell_of_provisional_shares_is_rejected_until_they_settle(harness):
    harness.on_fill(fill("t1", m.TradeStatus.MATCHED, size="10", price="0.50"))
    sell = by_stream(harness.decide(intent(side=m.Side.SELL, size="10", key="mm:s1")))[DECISIONS][0]
    assert not sell.approved and sell.rule == "UNSETTLED_INVENTORY"
    harness.on_fill(fill("t1", m.TradeStatus.MINED, size="10", price="0.50"))
    assert by_stream(harness.decide(intent(side=m.Side.SELL, size="10", key="mm:s2")))[DECISIONS][0].approved


def test_an_intent_crossing_our_own_resting_order_is_rejected(harness):
    assert by_stream(harness.decide(intent(side=m.Side.BUY, price="0.55", token=NO, key="mm:b")))[DECISIONS][0].approved
    crossing = by_stream(harness.decide(intent(side=m.Side.BUY, price="0.45", token=YES, key="v:1")))[DECISIONS][0]
    assert not crossing.approved and crossing.rule == "SELF_TRADE"


def book_status(state: m.BookState, token: str = YES, reason: str = "hash_mismatch", epoch: int = 1):
    return m.BookStatus(envelope=m.Envelope.new("ingest"), market=CID, token_id=token, state=state, reason=reason,
                        epoch=epoch)


def test_nothing_is_approved_on_a_book_ingest_reports_not_valid_until_a_fresh_snapshot(harness, tmp_path):
    harness.on_event(book_status(m.BookState.GAP))
    out = by_stream(harness.decide(intent(key="copy:gap")))
    assert out[DECISIONS][0].rule == "BOOK_NOT_VALID" and APPROVED_ORDERS not in out
    assert "gap" in out[DECISIONS][0].detail and "hash_mismatch" in out[DECISIONS][0].detail
    other = by_stream(harness.decide(intent(key="copy:other", token=NO, price="0.40")))
    assert APPROVED_ORDERS in other, other  # the other token's book is fine
    snapshot = m.BookSnapshot(envelope=m.Envelope.new("ingest"), market=CID, token_id=YES, epoch=2,
                              bids=(m.PriceLevel(price=D("0.49"), size=D(10)),),
                              asks=(m.PriceLevel(price=D("0.51"), size=D(10)),), tick_size=D("0.01"))
    harness.on_event(snapshot)
    assert by_stream(harness.decide(intent(key="copy:fresh")))[APPROVED_ORDERS]
    harness.events.close()
    reject = [e for e in read_events(sorted((tmp_path / "logs").glob("*.jsonl"))) if e["type"] == "risk_reject"]
    assert reject[0]["rule"] == "BOOK_NOT_VALID" and "hash_mismatch" in reject[0]["detail"]


def test_a_tick_size_change_halts_the_token_and_the_next_approval_carries_the_new_tick(harness):
    harness.on_event(m.TickSizeChanged(envelope=m.Envelope.new("ingest"), market=CID, token_id=YES,
                                       old_tick_size=D("0.01"), new_tick_size=D("0.001")))
    assert by_stream(harness.decide(intent(key="copy:t1")))[DECISIONS][0].rule == "BOOK_NOT_VALID"
    harness.on_event(book_status(m.BookState.VALID, reason="", epoch=3))
    order, = by_stream(harness.decide(intent(key="copy:t2", price="0.419")))[APPROVED_ORDERS]
    assert order.tick_size == D("0.001") and order.price == D("0.419")


def test_resting_orders_are_cancelled_once_a_book_stays_not_valid_past_the_setting(harness, clock, settings):
    guard = BookGuard(settings, harness.state)
    harness.decide(intent(key="copy:resting"))  # approved: an open order in the market
    harness.on_event(book_status(m.BookState.STALE, reason="frozen_feed"))
    assert guard.cancels() == []
    clock.now += settings.book_invalid_cancel_secs - 1
    assert guard.cancels() == []  # not yet
    clock.now += 2
    cancel, = guard.cancels()
    assert cancel.market == CID and "frozen_feed" in cancel.reason
    assert guard.cancels() == []  # asked once per period
    harness.on_event(book_status(m.BookState.VALID, reason="", epoch=2))
    clock.now += settings.book_invalid_cancel_secs + 1
    assert guard.cancels() == []  # valid again


def test_a_recurring_identical_opportunity_is_judged_afresh_and_only_a_redelivery_replays(harness):
    """An arbitrage seen again after the kill switch was released gets a new decision; the same input
    message (a redelivery) gets the recorded one."""
    from services.strategy.intents import order

    harness.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))

    def opportunity(cause):
        return order(cause, strategy="arbitrage", signal_key="arb:m:samefingerprint", leg="yes", market=CID,
                     token_id=YES, side=m.Side.BUY, price=D("0.40"), size=D(10), reason="arb: test",
                     must_fill=True)

    first_event, second_event = (m.BookDelta(envelope=m.Envelope.new("ingest"), market=CID, changes=())
                                 for _ in range(2))
    first, again = opportunity(first_event), opportunity(second_event)
    assert first.envelope.message_id != again.envelope.message_id
    assert opportunity(first_event).envelope.message_id == first.envelope.message_id  # a redelivery

    harness.state.set_kill_switch(True, "test", "cli")
    rejected, = by_stream(harness.decide(first))[DECISIONS]
    assert not rejected.approved and rejected.rule == "KILL_SWITCH"
    harness.state.set_kill_switch(False, "released", "cli")
    approved, = by_stream(harness.decide(again))[DECISIONS]
    assert approved.approved and approved.intent_id == again.envelope.message_id
    replayed, = by_stream(harness.decide(opportunity(first_event)))[DECISIONS]
    assert replayed == rejected


def test_odd_fills_are_logged_with_their_reason_and_never_change_a_position_silently(harness, tmp_path):
    harness.on_fill(fill("t1", m.TradeStatus.MINED, size="10"))
    harness.on_fill(fill("t1", m.TradeStatus.MATCHED, size="10"))  # a status going backwards: kept MINED
    harness.on_fill(fill("t1", m.TradeStatus.CONFIRMED, size="12"))  # the same part with other numbers: ignored
    harness.on_fill(fill("t2", m.TradeStatus.MATCHED, size="5", order="0xother", client=None))  # nobody's order
    position = harness.state.position(YES)
    assert (position.settled, position.provisional) == (D(10), D(5))
    events = read_events(sorted((tmp_path / "logs").glob("*.jsonl")))
    reasons = [e["reason"] for e in events if e["type"] == "ledger_anomaly"]
    assert reasons == ["status_backwards", "part_mismatch", "unknown_order"]


def test_fill_lines_carry_our_side_price_and_size_in_the_shared_schema(harness, tmp_path):
    sold = fill("t-9", m.TradeStatus.MATCHED, side=m.Side.SELL, size="4", price="0.61", token=NO, fee="0.02")
    harness.on_fill(sold)
    harness.on_fill(sold)  # a replay changes nothing and writes no second line
    harness.events.close()
    (line,) = [e for e in read_events(sorted((tmp_path / "logs").glob("*.jsonl"))) if e["type"] == "fill"]
    assert (line["side"], line["price"], line["size"], line["token_id"], line["fee_usd"]) == (
        "SELL", "0.61", "4", NO, "0.02")
    assert line["trade_id"] == "t-9" and line["status"] == "MATCHED" and line["outcome"] == "applied"
    # The executor writes the same fields (the Fill's own); risk adds how the fill moved its ledger.
    own = {"outcome", "moved"}
    assert set(line) - {"ts", "type", "service"} == (set(m.field_names(m.Fill)) - {"envelope"}) | own


# Tables one row per setting or per held token: reading them whole is what the query asks for.
READ_WHOLE = ("kill_switch", "ledger_positions")


def test_deciding_an_intent_scans_no_table_that_grows_with_orders_or_markets(harness):
    """Open orders and known markets grow with trading: an intent's reads of them go through an index (a scan
    of open_orders made each decision cost 0.3 ms more at 1,000 resting orders)."""
    for k in range(3):
        harness.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"),
                                            market=market_info(cid=f"0x{k:064x}", tokens=(f"{k}1", f"{k}2"))))
    harness.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))
    harness.decide(intent(key="k0"))
    statements: list[str] = []
    harness.state.db.set_trace_callback(statements.append)
    harness.decide(intent(key="k1", size="5"))
    harness.state.db.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads
    for sql in reads:
        plan = [row[3] for row in harness.state.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        scans = [step for step in plan if step.startswith("SCAN") and not step.split()[1] in READ_WHOLE]
        assert not scans, f"{sql}: {plan}"
