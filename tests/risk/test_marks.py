"""Marks from book changes: the service's in-memory path for tokens it does not hold does exactly what handling
each delta in a transaction did (marks, persisted marks, daily PnL, kill switch trips and their outputs)."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal as D
from pathlib import Path

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.risk.config import RiskSettings
from services.risk.handling import handle_once
from services.risk.service import RiskService
from services.risk.state import RiskState
from services.risk.tracking import Tracker
from shared import messages as m
from shared.lifecycle import ServiceContext
from shared.logging import EventLog
from shared.streams import Bus, Delivery, events_stream
from tests.risk.helpers import CID, NO, YES, Clock, fill, market_info

OTHER = "2001"  # a token of no market risk knows
PRICES = [None, "0.10", "0.30", "0.50", "0.52", "0.90"]
TOKENS = [YES, NO, OTHER]


def risk_settings(work: Path) -> RiskSettings:
    return RiskSettings(_env_file=None, dry_run=False, state_dir=work, log_dir=work / "logs",
                        max_daily_loss_usd=D(5))


class Both:
    """The service (fast path first) and the old way (every delta through handle_once), side by side."""

    def __init__(self, work: Path) -> None:
        settings, clock = risk_settings(work), Clock()
        redis = fakeredis.FakeAsyncRedis()
        ctx = ServiceContext("risk", settings, redis, Bus(redis, prefix="t:", producer="risk"),
                             EventLog(work / "logs", "risk", clock=clock))
        self.service = RiskService(settings, ctx, RiskState(work / "fast.sqlite", clock=clock))
        self.state = RiskState(work / "slow.sqlite", clock=clock)
        self.tracker = Tracker(settings, self.state)
        self.events = EventLog(work / "slow-logs", "risk", clock=clock)
        discovered = m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info())
        self.both(discovered)

    def slow(self, message: m.Message, handler) -> list:
        return handle_once(self.state, self.events, message.envelope.message_id, lambda fx: handler(message, fx),
                           record_always=False)

    def both(self, message: m.Message, deliveries: int = 1) -> tuple[list, list]:
        delivery = Delivery("s", "1-0", message, deliveries)
        if isinstance(message, m.Fill):
            fast = asyncio.run(self.service.on_fill(delivery))
            return list(fast), self.slow(message, self.tracker.on_fill)
        fast = asyncio.run(self.service.on_market_event(delivery))
        return list(fast), self.slow(message, self.tracker.on_market_event)

    def seen(self, state: RiskState) -> tuple:
        marks = sorted(state.db.execute("SELECT token_id, price FROM marks"))
        kill = state.kill_switch()
        return state.marks, marks, kill.active, kill.reason, state.daily_pnl(), state.held_tokens()

    def close(self) -> None:
        self.service.state.close()
        self.state.close()


def ids(outputs: list) -> list[tuple[str, str, str]]:
    return [(stream, message.TYPE, message.envelope.message_id) for stream, message in outputs]


def delta(tops: dict[str, tuple[str | None, str | None]]) -> m.BookDelta:
    return m.BookDelta(envelope=m.Envelope.new("ingest"), market=CID, changes=(), epoch=1,
                       best_bid={t: None if b is None else D(b) for t, (b, _) in tops.items()},
                       best_ask={t: None if a is None else D(a) for t, (_, a) in tops.items()})


tops = st.dictionaries(st.sampled_from(TOKENS), st.tuples(st.sampled_from(PRICES), st.sampled_from(PRICES)),
                       max_size=3)
fills = st.tuples(st.sampled_from([YES, NO]), st.sampled_from([m.Side.BUY, m.Side.SELL]),
                  st.sampled_from(["10", "100"]))
steps = st.lists(st.one_of(tops.map(lambda t: ("delta", t)), fills.map(lambda f: ("fill", f))), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_marks_kept_in_memory_equal_every_delta_handled_in_a_transaction(steps):
    with tempfile.TemporaryDirectory() as work:
        both = Both(Path(work))
        try:
            for n, (kind, what) in enumerate(steps):
                if kind == "delta":
                    message = delta(what)
                else:
                    token, side, size = what
                    message = fill(f"t{n}", m.TradeStatus.MATCHED, side=side, size=size, token=token)
                fast, slow = both.both(message)
                assert ids(fast) == ids(slow)
                assert both.seen(both.service.state) == both.seen(both.state)
        finally:
            both.close()


def test_a_redelivered_delta_sends_the_kill_switch_trip_it_recorded_again(tmp_path):
    both = Both(tmp_path)
    try:
        both.both(fill("t1", m.TradeStatus.MATCHED, size="100", price="0.50"))
        both.both(delta({YES: ("0.50", "0.52")}))
        crash = delta({YES: ("0.10", "0.12")})  # 100 shares 0.40 down: -40 < -5 trips the switch
        tripped, _ = both.both(crash)
        assert {message.TYPE for _, message in tripped} >= {"kill_switch_changed", "cancel_all_requested"}
        # Risk committed its state, then died before the bus committed the outputs: the entry comes again,
        # with the mark already where it moved (in memory and on disk) and the switch already on.
        again, _ = both.both(crash, deliveries=2)
        assert ids(again) == ids(tripped)
    finally:
        both.close()


def test_positions_read_inside_a_rolled_back_transaction_are_not_kept(tmp_path):
    """A fill written, positions read (and cached), then the transaction rolled back: the next read is the
    database's, not the cached state of a write that never committed."""
    from shared.ledger import TokenPosition

    state = RiskState(tmp_path / "r.sqlite")
    try:
        with pytest.raises(RuntimeError), state.transaction():
            state._store.put_position(TokenPosition("t1", "m1", settled=D(5), cost_usd=D(2)))
            assert [p.token_id for p in state.positions()] == ["t1"]
            assert state.held_tokens() == frozenset({"t1"})
            raise RuntimeError("the handler failed after the write")
        assert state.positions() == []
        assert state.held_tokens() == frozenset()
    finally:
        state.close()
