"""book_messages.deltas (written as plain loops for speed) makes the BookDeltas the straightforward
grouping makes: one per market, changes in order, each token's best bid and ask after them."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.ingest import book_messages
from services.ingest.book import DeltasApplied, LevelChange, TopOfBook
from shared.messages import BookDelta, Side

MARKETS = ("0x" + "aa" * 32, "0x" + "bb" * 32)
TOKENS = ("111", "222", "333")
prices = st.sampled_from(("0.01", "0.4", "0.45", ".5", "0.999"))
sizes = st.sampled_from(("0", "10", "2.5", "999999"))
change = st.builds(LevelChange, st.sampled_from(("bid", "ask")), prices, sizes)
top = st.builds(TopOfBook, st.none() | prices, st.none() | sizes, st.none() | prices, st.none() | sizes)
applied = st.builds(
    DeltasApplied,
    st.sampled_from(TOKENS),
    st.sampled_from(MARKETS),
    st.integers(0, 3),
    st.sampled_from(("1764000000000", "1764000000001")),
    st.lists(change, max_size=3).map(tuple),
    top,
    st.booleans(),
)


def reference(items: list[DeltasApplied]) -> list[tuple]:
    """The BookDeltas' content as the comprehensions before the loops built it (envelopes aside)."""
    by_market: dict[str, list[DeltasApplied]] = {}
    for delta in items:
        by_market.setdefault(delta.market, []).append(delta)
    out = []
    for market, group in by_market.items():
        changes = tuple(
            (d.asset_id, Side.BUY if c.side == "bid" else Side.SELL, Decimal(c.price), Decimal(c.size))
            for d in group
            for c in d.changes
        )
        best_bid = {d.asset_id: None if d.top.bid is None else Decimal(d.top.bid) for d in group}
        best_ask = {d.asset_id: None if d.top.ask is None else Decimal(d.top.ask) for d in group}
        source = int(group[0].timestamp) * 1_000_000
        best = list(best_bid.items()), list(best_ask.items())
        out.append((market, changes, *best, max(d.epoch for d in group), source))
    return out


def content(delta: BookDelta) -> tuple:
    changes = tuple((c.token_id, c.side, c.price, c.size) for c in delta.changes)
    # As item lists: dict order too (consumers iterate best_bid/best_ask).
    best = list(delta.best_bid.items()), list(delta.best_ask.items())
    return (delta.market, changes, *best, delta.epoch, delta.envelope.source_ts_ns)


@given(st.lists(applied, max_size=5))
def test_deltas_equal_the_straightforward_grouping(items):
    made = book_messages.deltas(items, "ingest")
    assert [content(d) for d in made] == reference(items)
    assert all(d.envelope.producer == "ingest" for d in made)
