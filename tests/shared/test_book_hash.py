import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.polymarket.book_hash import book_hash

decimals = st.decimals(min_value=0, max_value=100000, places=3, allow_nan=False).map(lambda d: str(d))
levels = st.lists(st.tuples(decimals, decimals), max_size=6)


def reference(market, asset_id, timestamp, bids, asks, tick_size, neg_risk, last_trade_price):
    summary = {"market": market, "asset_id": asset_id, "timestamp": timestamp, "hash": "",
               "bids": [{"price": p, "size": s} for p, s in bids],
               "asks": [{"price": p, "size": s} for p, s in asks],
               "min_order_size": "5", "tick_size": tick_size, "neg_risk": neg_risk}
    if last_trade_price is not None:
        summary["last_trade_price"] = last_trade_price
    return hashlib.sha1(json.dumps(summary, separators=(",", ":")).encode()).hexdigest()


@given(bids=levels, asks=levels, neg_risk=st.booleans(), ltp=st.one_of(st.none(), decimals))
def test_matches_the_json_dumps_recipe(bids, asks, neg_risk, ltp):
    args = dict(market="0x" + "ab" * 32, asset_id="123", timestamp="1778204225247", bids=bids, asks=asks,
                tick_size="0.01", neg_risk=neg_risk, last_trade_price=ltp)
    assert book_hash(**args) == reference(**args)


def test_rejects_values_that_would_need_escaping():
    with pytest.raises(ValueError, match="not a plain id"):
        book_hash(market='x"', asset_id="1", timestamp="1", bids=[], asks=[], tick_size="0.01",
                  neg_risk=False, last_trade_price="0.5")


@given(st.lists(st.tuples(levels, levels, st.booleans(), st.one_of(st.none(), decimals),
                          st.sampled_from(["0.01", "0.001"]), st.sampled_from(["1778204225247", "1"])),
                min_size=1, max_size=5))
def test_one_hasher_reused_across_recipes_gives_each_book_hash(calls):
    from shared.polymarket.book_hash import BookHasher, level_json

    hasher = BookHasher("0x" + "ab" * 32, "123")
    for bids, asks, neg_risk, ltp, tick, timestamp in calls:
        got = hasher.hash(timestamp, ",".join(level_json(*b) for b in bids), ",".join(level_json(*a) for a in asks),
                          tick, neg_risk, ltp)
        assert got == reference("0x" + "ab" * 32, "123", timestamp, bids, asks, tick, neg_risk, ltp)


@pytest.mark.parametrize("timestamp", ['1"', "1\\", "1\n", "١٢"])
def test_a_hasher_rejects_a_timestamp_that_would_need_escaping(timestamp):
    from shared.polymarket.book_hash import BookHasher

    with pytest.raises(ValueError, match="not a plain id"):
        BookHasher("0xab", "1").hash(timestamp, "", "", "0.01", False, "0.5")
