"""The per-delta work made cheaper gives what the plain version gave: a book's mid (recorded on every change)
equals the mid of its best levels; the bench strategy orders on exactly the deltas its first reading did."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.strategy.state import Book, WorldState, apply_event
from services.strategy.strategies.bench import Bench, BenchParams
from shared.messages import BookDelta, LevelChange, Side
from tests.strategy.scenario import delta, discovered, env, info, snapshot, views

PRICES = [Decimal(f"0.{p:02d}") for p in (1, 2, 3, 30, 45, 55, 99)]
prices = st.sampled_from(PRICES)
sizes = st.sampled_from([Decimal(0), Decimal(5), Decimal(10)])


def mid_of_best_levels(book: Book) -> Decimal | None:
    """Book.mid as it was: through best_bid() and best_ask()."""
    bid, ask = book.best_bid(), book.best_ask()
    return None if bid is None or ask is None else (bid.price + ask.price) / 2


@given(bids=st.dictionaries(prices, sizes.filter(bool)), asks=st.dictionaries(prices, sizes.filter(bool)),
       valid=st.booleans())
def test_the_mid_is_the_mid_of_the_best_levels(bids, asks, valid):
    book = Book(bids=bids, asks=asks, valid=valid)
    assert book.mid() == mid_of_best_levels(book)


def first_reading(state: WorldState, event: BookDelta, trigger: Decimal) -> bool:
    """Bench.on_event's test as first written: the market's first token, bid at the trigger, size > 0."""
    market = state.markets.get(event.market)
    if market is None or not market.token_ids:
        return False
    token = market.token_ids[0]
    return any(c.token_id == token and c.side is Side.BUY and c.price == trigger and c.size > 0
               for c in event.changes)


M, OTHER = info("bench-m"), info("bench-other")
TOKENS = [*(t.token_id for t in M.tokens), "unknown-token"]
near_trigger = st.sampled_from([Decimal("0.02"), Decimal("0.01"), Decimal("0.45")])  # the trigger is 0.02
changes = st.lists(st.builds(LevelChange, token_id=st.sampled_from(TOKENS), side=st.sampled_from(list(Side)),
                             price=near_trigger, size=sizes), min_size=1, max_size=4)


@settings(max_examples=200)
@given(market=st.sampled_from([M, OTHER]), changes=changes, known=st.booleans())
def test_the_bench_strategy_orders_on_exactly_the_deltas_it_first_did(market, changes, known):
    state = WorldState()
    if known:
        apply_event(state, discovered(M))
    event = BookDelta(envelope=env(), market=market.condition_id, changes=tuple(changes))
    bench = Bench(BenchParams())
    made = bench.on_event(state, event, 0.0)
    assert bool(made) == first_reading(state, event, BenchParams().trigger_price)
    if made:
        assert views(made) == [("bench", f"bench:{event.envelope.message_id}", M.condition_id, M.tokens[0].token_id,
                                "BUY", "0.01", "5", "GTC")]


def test_mids_are_recorded_as_the_book_changes():
    state = WorldState()
    yes = M.tokens[0].token_id
    for message in (discovered(M), snapshot(M, yes, [("0.40", "10")], [("0.60", "10")]),
                    delta(M, yes, Side.BUY, "0.50", "5"), delta(M, yes, Side.BUY, "0.50", "0"),
                    delta(M, yes, Side.SELL, "0.60", "10")):
        apply_event(state, message)
    assert list(state.mids[yes]) == [Decimal("0.50"), Decimal("0.55"), Decimal("0.50")]


def test_a_markets_tokens_follow_its_info():
    state = WorldState()
    apply_event(state, discovered(M))
    market = state.markets[M.condition_id]
    assert market.token_ids == tuple(t.token_id for t in M.tokens)
    renamed = info(M.condition_id, tokens=("a-yes", "a-no"))
    apply_event(state, discovered(renamed))
    assert market.token_ids == ("a-yes", "a-no")
