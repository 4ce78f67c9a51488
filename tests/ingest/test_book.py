"""Behaviour of the per-token books and the BookSet: snapshots, deltas, checks, epochs, staleness."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.book import (
    BookSet,
    DeltasApplied,
    Malformed,
    NeedsResync,
    SnapshotApplied,
    UnknownAsset,
    price_units,
)
from shared.polymarket.schemas import decode_rest_book
from tests.ingest.conftest import MARKET, NO, YES, RefBook, price_change


def dumps(value) -> bytes:
    return orjson.dumps(value)


def yes_no() -> tuple[RefBook, RefBook]:
    # The NO book mirrors the YES book: a YES bid at p is a NO ask at 1-p.
    yes = RefBook(YES, [("0.40", "100"), ("0.45", "50")], [("0.55", "70"), ("0.50", "20")])
    no = RefBook(NO, [("0.50", "20"), ("0.45", "70")], [("0.60", "100"), ("0.55", "50")])
    return yes, no


def loaded() -> tuple[BookSet, RefBook, RefBook]:
    yes, no = yes_no()
    books = BookSet()
    outcomes = books.feed(dumps([yes.book_frame("1000"), no.book_frame("1000")]))
    assert [type(o) for o in outcomes] == [SnapshotApplied, SnapshotApplied]
    assert all(o.hash_ok for o in outcomes)
    return books, yes, no


def test_price_units_are_exact_and_ordered():
    assert price_units("0.49") == price_units("0.490") == 49_000_000
    assert price_units(".48") < price_units("0.481") < price_units("1")
    assert price_units("10500100") == 10500100 * 10**8


def test_snapshot_gives_best_first_levels_and_top():
    books, _, _ = loaded()
    book = books.books[YES]
    assert book.best_bids() == [("0.45", "50"), ("0.40", "100")]
    assert book.best_asks() == [("0.50", "20"), ("0.55", "70")]
    assert (book.top().bid, book.top().ask) == ("0.45", "0.50")
    assert book.wire_bids() == [("0.40", "100"), ("0.45", "50")]  # wire order, best last
    assert book.wire_asks() == [("0.55", "70"), ("0.50", "20")]


def test_both_tokens_move_together_and_hashes_verify():
    books, yes, no = loaded()
    frame = price_change([yes.change("BUY", "0.47", "30", "1001"), no.change("SELL", "0.53", "30", "1001")], "1001")
    outcomes = books.feed(dumps(frame))
    assert [type(o) for o in outcomes] == [DeltasApplied, DeltasApplied]
    assert {o.asset_id for o in outcomes} == {YES, NO}
    assert outcomes[0].top.bid == "0.47" and outcomes[0].top_changed
    assert outcomes[1].top.ask == "0.53"
    assert books.counters["hash_checked"] == 4 and books.counters["hash_mismatch"] == 0
    assert books.counters["best_checked"] == 2 and books.counters["mirror_mismatch"] == 0


def test_size_is_new_total_and_zero_removes():
    books, yes, _ = loaded()
    books.feed(dumps(price_change([yes.change("SELL", "0.55", "5", "1001")], "1001")))
    out = books.feed(dumps(price_change([yes.change("BUY", "0.45", "0", "1002")], "1002")))
    assert books.books[YES].best_asks() == [("0.50", "20"), ("0.55", "5")]
    assert books.books[YES].best_bids() == [("0.40", "100")]
    assert out[0].top.bid == "0.40" and out[0].top_changed


def test_hash_mismatch_asks_for_resync_once_and_snapshot_restores():
    books, yes, _ = loaded()
    entry = yes.change("BUY", "0.41", "10", "1001")
    entry["hash"] = "0" * 40
    assert books.feed(dumps(price_change([entry], "1001"))) == [NeedsResync(YES, MARKET, "hash_mismatch")]
    # Later deltas still apply (a replay shows them) but are not reported again.
    assert books.feed(dumps(price_change([yes.change("BUY", "0.42", "1", "1002")], "1002"))) == []
    assert books.books[YES].hash_ok is False
    rest = yes.book_frame("1003")
    del rest["event_type"]
    outcomes = books.apply_snapshot(decode_rest_book(dumps(rest)))
    assert isinstance(outcomes[0], SnapshotApplied) and books.books[YES].synced


def test_hash_covers_a_trade_price_not_yet_announced():
    books, yes, _ = loaded()
    yes.ltp = "0.500"
    books.feed(dumps({"event_type": "last_trade_price", "asset_id": YES, "market": MARKET, "price": "0.5",
                      "side": "BUY", "size": "1", "timestamp": "1001"}))
    # A fill at 0.45 moved the last trade price; the venue hashes it as "0.450" before announcing it.
    yes.ltp = "0.450"
    out = books.feed(dumps(price_change([yes.change("BUY", "0.45", "40", "1002")], "1002")))
    assert isinstance(out[0], DeltasApplied)
    assert books.books[YES].last_trade_price == "0.450"


def test_hash_covers_the_last_fill_of_a_sweep_across_levels():
    books, yes, _ = loaded()
    # A buy takes the 0.50 ask and part of the 0.55 one: the venue hashes every entry of the message with
    # the last fill's price ("0.550"), also the entry for the 0.50 level, before announcing the trades.
    yes.ltp = "0.550"
    entries = [yes.change("SELL", "0.50", "0", "1001"), yes.change("SELL", "0.55", "60", "1001")]
    out = books.feed(dumps(price_change(entries, "1001")))
    assert [type(o) for o in out] == [DeltasApplied] and books.counters["hash_mismatch"] == 0
    assert books.books[YES].last_trade_price == "0.550" and books.books[YES].synced


def test_both_tokens_hash_one_last_trade_price_for_the_market():
    """A fill at YES 0.45 (NO 0.55): the venue hashes BOTH tokens with "0.450", not the NO token with the
    mirrored 0.55 its own last_trade_price event announces (hash-verified Dec 2025 sequence, SHAPES.md [A])."""
    books, yes, no = loaded()
    books.feed(dumps([{"event_type": "last_trade_price", "asset_id": YES, "market": MARKET, "price": "0.45",
                       "side": "SELL", "size": "10", "timestamp": "1001"},
                      {"event_type": "last_trade_price", "asset_id": NO, "market": MARKET, "price": "0.55",
                       "side": "BUY", "size": "10", "timestamp": "1001"}]))
    yes.ltp = no.ltp = "0.450"
    entries = [yes.change("BUY", "0.45", "40", "1002"), no.change("SELL", "0.55", "40", "1002")]
    out = books.feed(dumps(price_change(entries, "1002")))
    assert [type(o) for o in out] == [DeltasApplied, DeltasApplied]
    assert books.counters["hash_mismatch"] == 0 and books.books[NO].last_trade_price == "0.450"
    # The `book` frame that follows a trade carries no last_trade_price or tick: the known ones are used. It
    # repeats what the price_change said, so it is checked and announces nothing new.
    frame = no.book_frame("1003", with_tick=False)
    del frame["last_trade_price"]
    (snapshot,) = books.feed(dumps(frame))
    assert isinstance(snapshot, SnapshotApplied) and snapshot.hash_ok is True and snapshot.repeated
    assert books.counters["snapshots_unchanged"] == 1


def test_frames_without_a_last_trade_price_are_checked_with_the_older_recipe():
    yes, _ = yes_no()
    yes.ltp = None  # Oct 2025: the summary has no last_trade_price key
    books = BookSet()
    frame = yes.book_frame("1000")
    del frame["last_trade_price"]
    (snapshot,) = books.feed(dumps(frame))
    assert snapshot.hash_ok is True
    books.feed(dumps(price_change([yes.change("BUY", "0.41", "10", "1001")], "1001")))
    assert books.counters["hash_checked"] == 2 and books.counters["hash_skipped"] == 0
    entry = yes.change("BUY", "0.42", "10", "1002")
    entry["hash"] = "0" * 40
    assert books.feed(dumps(price_change([entry], "1002"))) == [NeedsResync(YES, MARKET, "hash_mismatch")]


def test_unknown_neg_risk_is_learnt_from_the_snapshot_hash():
    yes = RefBook(YES, [("0.40", "1")], [("0.60", "1")], neg_risk=True)
    books = BookSet()
    assert books.feed(dumps(yes.book_frame()))[0].hash_ok is True
    assert books.books[YES].neg_risk is True


def test_best_bid_ask_mismatch_and_crossed_book_ask_for_resync():
    books, yes, no = loaded()
    entry = yes.change("BUY", "0.41", "10", "1001")
    entry["best_bid"] = "0.41"
    assert books.feed(dumps(price_change([entry], "1001"))) == [NeedsResync(YES, MARKET, "best_bid_ask_mismatch")]
    books = BookSet(check_best=False, hash_check_every=10**9)
    books.feed(dumps([yes.book_frame(), no.book_frame()]))
    crossing = {"asset_id": NO, "price": "0.70", "size": "5", "side": "BUY"}
    assert books.feed(dumps(price_change([crossing], "1002"))) == [NeedsResync(NO, MARKET, "crossed")]
    assert books.counters["crossed"] == 1


def test_tick_size_change_starts_a_new_epoch_for_both_tokens():
    books, yes, no = loaded()
    out = books.feed(dumps({"event_type": "tick_size_change", "asset_id": YES, "market": MARKET,
                            "old_tick_size": "0.01", "new_tick_size": "0.001", "timestamp": "1001"}))
    assert out == [NeedsResync(YES, MARKET, "tick_size_change"), NeedsResync(NO, MARKET, "tick_size_change")]
    assert books.books[NO].best_bids() == [] and books.books[NO].tick_size == "0.001"
    assert books.feed(dumps(price_change([{"asset_id": YES, "price": "0.41", "size": "1", "side": "BUY"}],
                                         "1002"))) == []
    assert books.counters["ignored_awaiting_snapshot"] == 1
    yes.tick = "0.001"
    snap = books.feed(dumps(yes.book_frame("1003", with_tick=False)))[0]
    assert snap.epoch == 1 and snap.hash_ok is True and snap.tick_size == "0.001"


def test_unknown_assets_and_malformed_frames_are_counted_and_the_feed_continues():
    books, yes, _ = loaded()
    stranger = {"asset_id": "1234", "price": "0.5", "size": "1", "side": "BUY"}
    assert books.feed(dumps(price_change([stranger], "1001"))) == [UnknownAsset("1234", "price_change")]
    bad = b'{"event_type":"price_change","market":"m","timestamp":"1","price_changes":[{"price":"x"}]}'
    for raw in (b"{not json", b'{"event_type":"test"}', bad):
        (outcome,) = books.feed(raw)
        assert isinstance(outcome, Malformed) and outcome.raw == raw and outcome.reason
    assert books.counters["malformed"] == 3
    assert isinstance(books.feed(dumps(price_change([yes.change("BUY", "0.41", "1", "1002")], "1002")))[0],
                      DeltasApplied)


def test_a_bad_entry_rejects_the_whole_frame_for_both_tokens():
    books, yes, no = loaded()
    good = {"asset_id": YES, "price": "0.41", "size": "1", "side": "BUY"}
    too_fine = {"asset_id": NO, "price": "0.123456789", "size": "1", "side": "SELL"}
    (outcome,) = books.feed(dumps(price_change([good, too_fine], "1001")))
    assert isinstance(outcome, Malformed)
    assert books.books[YES].best_bids() == [("0.45", "50"), ("0.40", "100")]


def test_staleness_uses_the_injected_clock():
    now = [100.0]
    books = BookSet(clock=lambda: now[0])
    yes, no = yes_no()
    books.feed(dumps([yes.book_frame(), no.book_frame()]))
    now[0] = 104.0
    books.feed(dumps(price_change([yes.change("BUY", "0.41", "1", "2")], "2")))
    now[0] = 106.0
    assert books.stale(5.0) == [NO]
    assert books.stale(1.0, now=200.0) == [YES, NO]


levels = st.dictionaries(st.integers(1, 99).map(lambda c: f"0.{c:02d}"),
                         st.integers(1, 10**6).map(lambda n: f"{n / 100:g}"), max_size=12)
diffs = st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(1, 99).map(lambda c: f"0.{c:02d}"),
                           st.sampled_from(["0", "0", "1", "12.5", "300", "0.01"])), max_size=40)


@settings(max_examples=60, deadline=None)
@given(bids=levels, asks=levels, changes=diffs)
def test_snapshot_then_random_diffs_equals_the_snapshot_taken_afterwards(bids, asks, changes):
    # Keep the start uncrossed; diffs may cross it, which the guard must report, not hide.
    bids = {p: s for p, s in bids.items() if p < "0.50"}
    asks = {p: s for p, s in asks.items() if p >= "0.50"}
    ref = RefBook(YES, bids.items(), asks.items())
    books = BookSet()
    books.feed(dumps(ref.book_frame("1")))
    reasons = []
    for i, (side, price, size) in enumerate(changes, start=2):
        for outcome in books.feed(dumps(price_change([ref.change(side, price, size, str(i))], str(i)))):
            reasons += [outcome.reason] if isinstance(outcome, NeedsResync) else []
    book = books.books[YES]
    after = RefBook(YES, ref.bids.items(), ref.asks.items())
    assert book.wire_bids() == after.wire_bids() and book.wire_asks() == after.wire_asks()
    crossed = bool(ref.bids and ref.asks and max(map(float, ref.bids)) >= min(map(float, ref.asks)))
    assert set(reasons) <= {"crossed"} and (not crossed or reasons)
    if not reasons:
        assert book.hash_ok is True
        snap = books.feed(dumps(after.book_frame(str(len(changes) + 2))))[0]
        assert snap.hash_ok is True and snap.bids == tuple(book.best_bids())
