"""Pure parts of the executor: the phase plan, the order store, error translation, status mappings, heartbeat."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polymarket.errors import RateLimitError, RequestRejectedError, TransportError, UnexpectedResponseError
from polymarket.streams import KnownUserOrderStatus

from services.executor.config import ExecutorSettings
from services.executor.heartbeat import Gate, Heartbeat
from services.executor.orders import OrderRow, OrderStore
from services.executor.phases import plan
from services.executor.tracking import TRADE_CHAIN, VENUE_ORDER_STATUS
from services.executor.venue import Rejected, TradingRestricted, translate
from services.risk.checks import price_limit
from services.risk.config import RiskSettings
from shared.config import load_settings
from shared.errors import ConfigurationError, RateLimited, TransientVenueError, UnknownOutcome
from shared.messages import (
    ApprovedOrder,
    Envelope,
    OrderEventKind,
    OrderStatus,
    OrderType,
    Side,
    replace,
    to_json,
)

D = Decimal


def phases(side=Side.BUY, target="0.50", limit="0.60", tick="0.01", must_fill=True, bps=200):
    return [(p.number, str(p.price)) for p in plan(side=side, target=D(target), limit=D(limit), tick=D(tick),
                                                   must_fill=must_fill, phase2_offset_bps=150,
                                                   max_slippage_bps=bps)]


@pytest.mark.parametrize("side, target, tick, expected", [
    (Side.BUY, "0.30", "0.01", ["0.30", "0.31", "0.32"]),   # 1.5 % and 2 % are fractions of a tick here
    (Side.SELL, "0.30", "0.01", ["0.30", "0.29", "0.28"]),
    (Side.BUY, "0.05", "0.01", ["0.05", "0.06", "0.07"]),
    (Side.BUY, "0.80", "0.01", ["0.80", "0.81", "0.82"]),   # 1.5 % is 0.012, 2 % 0.016: a tick each
    (Side.BUY, "0.500", "0.001", ["0.500", "0.507", "0.510"]),
    (Side.SELL, "0.5000", "0.0001", ["0.5000", "0.4925", "0.4900"]),
])
def test_default_settings_give_three_phases_a_tick_apart_at_any_tick(side, target, tick, expected):
    """With the default settings on both sides (risk's limit, the executor's phases), three phases always."""
    settings = ExecutorSettings()
    limit = price_limit(side, D(target), D(tick), RiskSettings().risk_price_limit_bps,
                        RiskSettings().risk_price_limit_min_ticks)
    planned = plan(side=side, target=D(target), limit=limit, tick=D(tick), must_fill=True,
                   phase2_offset_bps=settings.phase2_offset_bps, max_slippage_bps=settings.max_slippage_bps,
                   min_step_ticks=settings.phase_min_step_ticks)
    assert [(p.number, p.label) for p in planned] == [(1, "target"), (2, "offset"), (3, "max_slippage")]
    assert [str(p.price) for p in planned] == expected


def test_min_step_ticks_spreads_the_phases_further():
    planned = plan(side=Side.BUY, target=D("0.30"), limit=D("0.40"), tick=D("0.01"), must_fill=True,
                   phase2_offset_bps=150, max_slippage_bps=200, min_step_ticks=2)
    assert [str(p.price) for p in planned] == ["0.30", "0.32", "0.34"]


@pytest.mark.parametrize("env, field", [
    ({"POLYDESK_PHASE2_OFFSET_BPS": "300", "POLYDESK_MAX_SLIPPAGE_BPS": "200"}, "POLYDESK_MAX_SLIPPAGE_BPS"),
    ({"POLYDESK_PHASE_MIN_STEP_TICKS": "0"}, "POLYDESK_PHASE_MIN_STEP_TICKS"),
    ({"POLYDESK_PHASE2_OFFSET_BPS": "-1"}, "POLYDESK_PHASE2_OFFSET_BPS"),
    ({"POLYDESK_RISK_PRICE_LIMIT_MIN_TICKS": "-1"}, "POLYDESK_RISK_PRICE_LIMIT_MIN_TICKS"),
])
def test_bad_phase_settings_fail_at_start_naming_the_field(monkeypatch, tmp_path, env, field):
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cls = RiskSettings if "RISK" in field else ExecutorSettings
    with pytest.raises(ConfigurationError, match=field):
        load_settings(cls)


def test_three_phases_move_toward_a_worse_price():
    assert phases(Side.BUY, "0.50", "0.60", bps=500) == [(1, "0.50"), (2, "0.51"), (3, "0.52")]
    assert phases(Side.SELL, "0.50", "0.40", bps=500) == [(1, "0.50"), (2, "0.49"), (3, "0.48")]
    assert phases(Side.BUY, "0.50", "0.60", bps=1000) == [(1, "0.50"), (2, "0.51"), (3, "0.55")]


def test_phases_stop_at_the_price_limit():
    assert phases(Side.BUY, "0.50", "0.52", bps=1000) == [(1, "0.50"), (2, "0.51"), (3, "0.52")]
    assert phases(Side.BUY, "0.50", "0.505", bps=1000) == [(1, "0.50")]  # limit rounds down onto the grid
    assert phases(Side.SELL, "0.50", "0.50", bps=1000) == [(1, "0.50")]


def test_one_phase_unless_must_fill_and_never_past_the_limit_at_the_start():
    assert phases(must_fill=False) == [(1, "0.50")]
    with pytest.raises(ValueError):
        phases(Side.BUY, "0.55", "0.50")


@given(target=st.integers(1, 98), extra=st.integers(0, 50), bps=st.integers(0, 3000), buy=st.booleans(),
       tick=st.sampled_from(["0.01", "0.001"]))
def test_every_phase_is_on_the_grid_within_the_limit_and_strictly_worse(target, extra, bps, buy, tick):
    side = Side.BUY if buy else Side.SELL
    t = D(target) / 100
    limit = min(t + D(extra) / 100, D("0.99")) if buy else max(t - D(extra) / 100, D("0.01"))
    planned = plan(side=side, target=t, limit=limit, tick=D(tick), must_fill=True, phase2_offset_bps=150,
                   max_slippage_bps=bps)
    prices = [p.price for p in planned]
    assert [p.number for p in planned] == sorted(p.number for p in planned)
    for price in prices:
        assert price % D(tick) == 0 and D(tick) <= price <= 1 - D(tick)
        assert price <= limit if buy else price >= limit
    assert all((b > a) if buy else (b < a) for a, b in pairwise(prices))


def _approval(cid="c1") -> ApprovedOrder:
    return ApprovedOrder(envelope=Envelope.new("risk"), client_order_id=cid, intent_id="i", signal_key="k",
                         strategy="s", market="m", token_id="1", side=Side.BUY, size=D(10), price=D("0.5"),
                         price_limit=D("0.5"), order_type=OrderType.GTC, tick_size=D("0.01"))


def test_store_keeps_pending_orders_across_reopen_and_dedups_approvals(tmp_path):
    store = OrderStore(tmp_path / "x.sqlite")
    assert store.add_approval(_approval()) is True
    assert store.add_approval(_approval()) is False  # a replay of the same client order id
    row = OrderRow("0xabc", "c1", 1, OrderStatus.PENDING, "BUY", "1", "m", D("0.5"), D(10), D(0), "GTC", "s", "",
                   0, 0)
    store.add_pending([(row, {"salt": 1})])
    store.close()
    reopened = OrderStore(tmp_path / "x.sqlite")  # migrations are idempotent
    assert [o.order_hash for o in reopened.orders_in(OrderStatus.PENDING)] == ["0xabc"]
    assert reopened.update_order("0xabc", OrderStatus.LIVE, size_matched=D(3)).size_matched == D(3)
    assert reopened.first_time("k") and not reopened.first_time("k")
    reopened.forget("k")
    assert reopened.first_time("k")
    # Saved with its order in one transaction: no crash can leave a saved order beside a QUEUED approval
    # (the next start signed that approval again while re-posting the saved order: two orders, one phase).
    assert (reopened.approval("c1").state, reopened.approval("c1").phase) == ("ACTIVE", 1)
    assert reopened.signed_body("0xabc") == {"salt": 1} and reopened.posts("0xabc") == 1


def _rejected(status, **kw):
    return RequestRejectedError("boom", status=status, **kw)


def _transport(cause: Exception) -> TransportError:
    try:
        raise TransportError("failed") from cause
    except TransportError as error:
        return error


def test_error_translation_at_the_boundary():
    assert isinstance(translate(RateLimitError("slow", retry_after=3), mutating=True), RateLimited)
    assert translate(RateLimitError("slow", retry_after=3), mutating=True).retry_after_secs == 3
    restart = translate(_rejected(425, restriction="restarting", retry_after=7), mutating=True)
    assert isinstance(restart, TradingRestricted) and restart.retry_after_secs == 7
    assert translate(_rejected(503, restriction="post_only"), mutating=True).restriction == "post_only"
    assert isinstance(translate(_rejected(502), mutating=True), UnknownOutcome)
    assert isinstance(translate(_rejected(500), mutating=False), TransientVenueError)
    assert isinstance(translate(_rejected(400, code="x"), mutating=True), Rejected)
    assert isinstance(translate(_transport(httpx.ConnectError("no")), mutating=True), TransientVenueError)
    assert isinstance(translate(_transport(httpx.ReadTimeout("late")), mutating=True), UnknownOutcome)
    assert isinstance(translate(_transport(httpx.ReadTimeout("late")), mutating=False), TransientVenueError)
    assert isinstance(translate(TimeoutError(), mutating=True), UnknownOutcome)
    assert isinstance(translate(UnexpectedResponseError("?"), mutating=True), UnknownOutcome)
    assert not isinstance(translate(_rejected(502), mutating=True), TransientVenueError)  # never retried


def test_every_venue_order_status_and_trade_status_is_mapped():
    assert {s.value for s in KnownUserOrderStatus} <= set(VENUE_ORDER_STATUS)
    assert set(TRADE_CHAIN) == {"MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"}


class _FlakyVenue:
    def __init__(self) -> None:
        self.fail = False

    async def heartbeat(self, heartbeat_id: str) -> str:
        if self.fail:
            raise TransientVenueError("down")
        return heartbeat_id + "x"


class _Events:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def emit(self, kind, **fields):
        self.seen.append(kind)


def test_failing_heartbeats_close_the_gate_and_say_so():
    async def scenario():
        venue, gate, events = _FlakyVenue(), Gate(), _Events()
        recovered = []

        async def on_recovered():
            recovered.append(True)

        beat = Heartbeat(venue, gate, events, interval_secs=1, max_failures=2, on_recovered=on_recovered)
        assert not gate.open  # nothing is posted before the first accepted heartbeat
        await beat.beat()
        assert gate.open and beat.heartbeat_id == "x"
        venue.fail = True
        await beat.beat()
        assert gate.open
        await beat.beat()
        assert not gate.open and gate.reason() == "heartbeats failing" and events.seen == ["heartbeat_failed"]
        venue.fail = False
        await beat.beat()
        assert gate.open and events.seen[-1] == "heartbeat_recovered" and recovered == [True]

    asyncio.run(scenario())


def test_a_malformed_private_key_is_a_bad_setting_named_without_its_value(monkeypatch, tmp_path):
    from services.executor.config import ExecutorSettings
    from shared.config import load_settings
    from shared.errors import ConfigurationError

    monkeypatch.chdir(tmp_path)
    for bad in ("12ab", "0x" + "g" * 64, "f" * 64, "0" * 64):  # short, not hex, above the curve order, zero
        monkeypatch.setenv("POLYDESK_PRIVATE_KEY", bad)
        with pytest.raises(ConfigurationError, match="POLYDESK_PRIVATE_KEY") as info:
            load_settings(ExecutorSettings)
        assert bad not in str(info.value)
    good = "0x" + "1" * 64
    monkeypatch.setenv("POLYDESK_PRIVATE_KEY", " " + good + "\n")
    assert load_settings(ExecutorSettings).private_key.get_secret_value() == good


class _Emitted:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict]] = []

    def emit(self, kind: str, **fields) -> None:
        self.emitted.append((kind, fields))


class _Reporter:
    def order_update(self, row, kind):
        return (row.order_hash, None)

    async def publish(self, keyed) -> None:
        pass


def test_a_must_fill_approval_dropped_while_its_post_is_in_flight_is_not_requeued(tmp_path):
    """Kill switch / cancel during a FOK post: the fok_not_filled answer must not bring the approval back to
    QUEUED (it did, and the next phase went out after the switch was released)."""
    from services.executor.submitter import Submitter
    from services.executor.venue import PostResult

    store = OrderStore(tmp_path / "x.sqlite")
    approval = replace(_approval(), must_fill=True, order_type=OrderType.FOK)
    store.add_approval(approval)
    row = store.approval(approval.client_order_id)
    store.add_pending([(OrderRow("0xabc", approval.client_order_id, 1, OrderStatus.PENDING, "BUY", "1", "m",
                                 D("0.5"), D(10), D(0), "FOK", "s", "", 0, 0), {"salt": 1})])
    store.set_approval(approval.client_order_id, state="ACTIVE", phase=1)
    store.set_approval(approval.client_order_id, state="DONE", outcome="kill switch")  # while the post is out
    events = _Emitted()
    submitter = Submitter(None, store, _Reporter(), events, Gate(), None)
    asyncio.run(submitter._record(row, 1, PostResult("0xabc", False, code="fok_not_filled")))
    assert store.approval(approval.client_order_id).state == "DONE"
    assert "phase_next" not in [kind for kind, _ in events.emitted]


@pytest.mark.parametrize("filled, requeued", [(D("9.99"), False), (D("9.9"), True)])
def test_a_market_buy_with_less_than_a_cent_left_is_filled_to_the_cent_not_requeued(tmp_path, filled, requeued):
    """A FOK/FAK BUY phase that fills all but dust (0.01 share at most at 0.5 is half a cent): a next phase would
    spend 0 cents, which the SDK refuses ("not signed", 25 times in a chaos run); the approval ends filled."""
    from services.executor.submitter import Submitter

    store = OrderStore(tmp_path / "x.sqlite")
    approval = replace(_approval(), must_fill=True, order_type=OrderType.FOK)  # 10 shares, limit 0.5
    store.add_approval(approval)
    store.set_approval(approval.client_order_id, state="ACTIVE", phase=1)
    submitter = Submitter(None, store, _Reporter(), _Emitted(), Gate(), None)
    asyncio.run(submitter.after_placed(approval.client_order_id, 1, filled))
    row = store.approval(approval.client_order_id)
    if requeued:  # 0.1 shares left: 5 cents at the limit, a next phase
        assert row.state == "QUEUED" and row.remaining == D("0.1")
    else:
        assert row.state == "DONE" and row.outcome.startswith("filled") and row.remaining == D("0.01")


def test_a_phase_price_below_the_limit_can_leave_less_than_a_cent_too(tmp_path):
    """0.03 share is a cent at the limit 0.34 (0.0102) but not at a phase price of 0.30 (0.009): checked at the
    price the phase would sign (a chaos run still had one 'amount must be a positive number' at phase 2)."""
    from services.executor.submitter import Submitter

    store = OrderStore(tmp_path / "x.sqlite")
    approval = replace(_approval(), must_fill=True, order_type=OrderType.FOK, price=D("0.3"), price_limit=D("0.34"))
    store.add_approval(approval)
    submitter = Submitter(None, store, _Reporter(), _Emitted(), Gate(), None)
    assert not submitter._under_a_cent(approval.client_order_id, approval, D("0.03"), D("0.34"))
    assert store.approval(approval.client_order_id).state == "QUEUED"
    assert submitter._under_a_cent(approval.client_order_id, approval, D("0.03"), D("0.30"))
    row = store.approval(approval.client_order_id)
    assert row.state == "DONE" and row.outcome.startswith("filled to the cent") and row.remaining == D("0.03")
    sell = replace(approval, client_order_id="c2", side=Side.SELL)
    store.add_approval(sell)
    assert not submitter._under_a_cent("c2", sell, D("0.03"), D("0.30"))  # a market SELL gives shares, not cents


WALLET = "0x" + "ab" * 20


@pytest.mark.parametrize("raw, expected", [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("POLY_PROXY", 1),
                                           ("gnosis_safe", 2), ("POLY_1271", 3), ("DEPOSIT_WALLET", 3)])
def test_signature_type_from_the_environment_as_a_number_or_a_name(monkeypatch, tmp_path, raw, expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLYDESK_SIGNATURE_TYPE", raw)
    monkeypatch.setenv("POLYDESK_WALLET_ADDRESS", WALLET)
    settings = load_settings(ExecutorSettings)
    assert settings.signature_type == expected and settings.wallet_address == WALLET


@pytest.mark.parametrize("env, field", [
    ({"POLYDESK_SIGNATURE_TYPE": "4"}, "POLYDESK_SIGNATURE_TYPE"),
    ({"POLYDESK_SIGNATURE_TYPE": "PROXYY"}, "POLYDESK_SIGNATURE_TYPE"),
    ({"POLYDESK_SIGNATURE_TYPE": "1"}, "POLYDESK_WALLET_ADDRESS"),  # a smart wallet needs its funder address
    ({"POLYDESK_SIGNATURE_TYPE": "3", "POLYDESK_WALLET_ADDRESS": "0x1234"}, "POLYDESK_WALLET_ADDRESS"),
])
def test_bad_wallet_settings_fail_at_start_naming_the_field(monkeypatch, tmp_path, env, field):
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=field) as info:
        load_settings(ExecutorSettings)
    assert "Traceback" not in str(info.value)


def test_a_stored_approval_out_of_todays_bounds_is_ended_and_the_others_still_listed(tmp_path):
    store = OrderStore(tmp_path / "x.sqlite")
    store.add_approval(_approval("c1"))
    store.add_approval(_approval("c2"))
    payload = to_json(_approval("c1")).decode().replace('"tick_size":"0.01"', '"tick_size":"0"')
    store._db.execute("UPDATE approvals SET payload = ? WHERE client_order_id = 'c1'", (payload,))
    assert [a.approval.client_order_id for a in store.approvals_in("QUEUED")] == ["c2"]
    row = store._db.execute("SELECT state, outcome FROM approvals WHERE client_order_id = 'c1'").fetchone()
    assert row["state"] == "DONE" and row["outcome"].startswith("invalid: ")


@pytest.mark.parametrize("order_type, status", [("FAK", OrderStatus.CANCELED), ("FOK", OrderStatus.CANCELED),
                                                ("GTC", OrderStatus.MATCHED)])
def test_a_partly_matched_market_order_is_not_reported_as_resting(tmp_path, order_type, status):
    from services.executor.tracking import Reporter

    reporter = Reporter(OrderStore(tmp_path / "r.sqlite"), None, None, "key")
    row = OrderRow("0xfa", "c1", 1, OrderStatus.MATCHED, "SELL", "1", "m", D("0.4"), D(30), D(12), order_type, "s",
                   "", 0, 0)
    _, (_, update) = reporter.order_update(row, OrderEventKind.PLACEMENT)
    assert update.status is status and update.size_matched == D(12) and update.original_size == D(30)
