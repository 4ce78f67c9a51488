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
