"""The markets `polydesk paper-exchange` starts with: one binary market and one 3-outcome neg-risk event,
each with resting house liquidity on both sides, so the server is usable on its own."""

from __future__ import annotations

from paperexchange.core.markets import Market
from paperexchange.core.units import PRICE_SCALE, price_str
from paperexchange.venue import Venue

# (question or event title, outcomes, YES mid price)
BINARY = ("Will the paper exchange stay up through 2027?", "0.55")
NEG_RISK_EVENT = ("Paper election winner", [("Alice", "0.50"), ("Bob", "0.30"), ("Carol", "0.20")])
LEVELS = 5
LEVEL_SIZE = "100"


def seed_book(venue: Venue, market: Market, mid: str, levels: int = LEVELS, size: str = LEVEL_SIZE) -> None:
    """House bids below and asks above `mid` on the YES token, one tick apart, growing with depth."""
    tick = market.tick_units
    mid_units = int(float(mid) * PRICE_SCALE)
    yes = market.token_ids[0]
    for level in range(1, levels + 1):
        bid, ask = mid_units - level * tick, mid_units + level * tick
        if bid >= tick:
            venue.house_order(yes, "BUY", price_str(bid), str(float(size) * level))
        if ask <= PRICE_SCALE - tick:
            venue.house_order(yes, "SELL", price_str(ask), str(float(size) * level))


def create_default_markets(venue: Venue) -> list[Market]:
    question, mid = BINARY
    binary = venue.create_market(question=question, fee_rate="0.04", fee_exponent="1", tags=["Paper"])
    seed_book(venue, binary, mid)
    title, outcomes = NEG_RISK_EVENT
    event = venue.create_neg_risk_event(title=title, outcomes=[name for name, _ in outcomes], tags=["Paper"])
    for market, (_, outcome_mid) in zip(event, outcomes):
        seed_book(venue, market, outcome_mid)
    return [binary, *event]
