"""One hash per token per price_change frame (its first hashed entry) accepts and refuses exactly the frames that
checking every entry's hash does, where the venue sends a hash of the book after each entry.

Why the first and not the last: each entry sets one level to the venue's value, so it can only repair a
difference between our book and the venue's, never make one. If the book after the first hashed entry is right,
every later state is; if it is wrong, checking each step refuses the frame there. The state a frame ends in is
not enough: a frame that rewrites the only wrong level ends right, and would hide the update we missed.
"""

from __future__ import annotations

import copy

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.book import BookSet, NeedsResync
from tests.ingest.conftest import NO, YES, RefBook, price_change

TS = "1700000000001"
SIZES = st.sampled_from(["0", "5", "12.5", "100", "2500"])
BID_CENTS, ASK_CENTS = st.integers(1, 49), st.integers(51, 99)  # bids below every ask: never crossed


def _price(cents: int) -> str:
    return f"0.{cents:02d}"


def _side_levels(cents: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(cents.map(_price), SIZES.filter(lambda s: s != "0"), max_size=8)


@st.composite
def _level_edit(draw: st.DrawFn) -> tuple[str, str, str]:
    side = draw(st.sampled_from(["BUY", "SELL"]))
    return side, _price(draw(BID_CENTS if side == "BUY" else ASK_CENTS)), draw(SIZES)


@st.composite
def _case(
    draw: st.DrawFn,
) -> tuple[dict[str, RefBook], dict[str, RefBook], list[tuple[str, str, str, str, bool]]]:
    """(venue books, our books before the frame, the frame's entries: token, side, price, size, hashed)."""
    venue = {
        token: RefBook(token, draw(_side_levels(BID_CENTS)).items(), draw(_side_levels(ASK_CENTS)).items())
        for token in (YES, NO)
    }
    ours = copy.deepcopy(venue)
    for token in (YES, NO):  # what a missed update leaves behind: some levels of our book are not the venue's
        for side, price, size in draw(st.lists(_level_edit(), max_size=2)):
            ours[token].apply(side, price, size)
    entries = draw(
        st.lists(st.tuples(st.sampled_from([YES, NO]), _level_edit(), st.booleans()), min_size=1, max_size=8)
    )
    return venue, ours, [(token, *edit, hashed) for token, edit, hashed in entries]


def _frame(venue: dict[str, RefBook], entries: list[tuple[str, str, str, str, bool]]) -> list[dict]:
    """The venue's price_change entries: each hash is of the token's venue book after that entry."""
    wire = []
    for token, side, price, size, hashed in entries:
        entry = venue[token].change(side, price, size, TS)
        del entry["best_bid"], entry["best_ask"]  # only hashes are compared here
        if not hashed:
            del entry["hash"]
        wire.append(entry)
    return wire


def _refused_step_by_step(ours: dict[str, RefBook], wire: list[dict]) -> set[str]:
    """The tokens a check of every entry's hash refuses: the book after some hashed entry is not the venue's."""
    books, refused = copy.deepcopy(ours), set()
    for entry in wire:
        book = books[entry["asset_id"]]
        book.apply(entry["side"], entry["price"], entry["size"])
        if "hash" in entry and book.hash(TS) != entry["hash"]:
            refused.add(entry["asset_id"])
    return refused


def _refused_by_bookset(ours: dict[str, RefBook], wire: list[dict]) -> tuple[set[str], BookSet]:
    books = BookSet(check_best=False)
    books.feed(orjson.dumps([ours[YES].book_frame("1700000000000"), ours[NO].book_frame("1700000000000")]))
    assert books.counters["hash_mismatch"] == 0 and books.books[YES].recipe_ok and books.books[NO].recipe_ok
    outcomes = books.feed(orjson.dumps(price_change(wire, TS)))
    return {o.asset_id for o in outcomes if isinstance(o, NeedsResync)}, books


@settings(max_examples=400, deadline=None)
@given(_case())
def test_first_hash_per_token_refuses_exactly_what_every_step_refuses(case) -> None:
    venue, ours, entries = case
    wire = _frame(venue, entries)
    refused, books = _refused_by_bookset(ours, wire)
    assert refused == _refused_step_by_step(ours, wire)
    hashed = {entry["asset_id"] for entry in wire if "hash" in entry}
    assert books.counters["hash_checked"] == 2 + len(hashed)  # two snapshots, then one per hashed token
    for token in hashed - refused:  # accepted: the book the frame ends in is the venue's
        assert books.books[token].wire_bids() == venue[token].wire_bids()
        assert books.books[token].wire_asks() == venue[token].wire_asks()


def test_a_frame_that_rewrites_the_only_wrong_level_is_refused_though_it_ends_right() -> None:
    venue = {YES: RefBook(YES, [("0.40", "100")], [("0.60", "50")]), NO: RefBook(NO, [], [("0.60", "100")])}
    ours = copy.deepcopy(venue)
    ours[YES].apply("BUY", "0.40", "90")  # we missed the update that made 0.40 100
    wire = _frame(venue, [(YES, "SELL", "0.61", "5", True), (YES, "BUY", "0.40", "100", True)])
    refused, books = _refused_by_bookset(ours, wire)
    assert refused == {YES} == _refused_step_by_step(ours, wire)
    # The final state alone would have accepted: the book ends equal to the venue's.
    assert books.books[YES].wire_bids() == venue[YES].wire_bids()
    assert books.books[YES].hash_for(TS, "0.500", False) == wire[-1]["hash"]


def test_later_hashes_of_a_token_in_one_frame_are_counted_as_implied() -> None:
    venue = {YES: RefBook(YES, [("0.40", "100")], [("0.60", "50")]), NO: RefBook(NO, [], [("0.60", "100")])}
    ours = copy.deepcopy(venue)
    wire = _frame(
        venue,
        [
            (YES, "BUY", "0.41", "5", True),
            (YES, "BUY", "0.42", "5", True),
            (NO, "BUY", "0.30", "7", True),
            (YES, "SELL", "0.59", "1", True),
        ],
    )
    refused, books = _refused_by_bookset(ours, wire)
    assert refused == set()
    assert books.counters["hash_checked"] == 2 + 2 and books.counters["hash_implied"] == 2
    assert books.books[YES].wire_bids() == venue[YES].wire_bids()
