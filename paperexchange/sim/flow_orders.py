"""Orders the scenario flow places: unsigned but otherwise ordinary (funds checks, matching, frames),
house quote management, and the neg-risk mispricing (YES asks across an event summing below 1)."""

from __future__ import annotations

from eth_utils import keccak

from paperexchange.core.engine import Order
from paperexchange.core.markets import Market
from paperexchange.core.orders import Posted, exchange_for
from paperexchange.core.units import AMOUNT_SCALE, PRICE_SCALE, notional, price_str
from paperexchange.venue import HOUSE_OWNER, Venue


def on_tick(market: Market, price: float) -> str:
    """`price` rounded to the market's tick and kept within [tick, 1 - tick]."""
    tick = market.tick_units
    units = round(price * PRICE_SCALE / tick) * tick
    return price_str(min(PRICE_SCALE - tick, max(tick, units)))


def post(
    venue: Venue,
    owner: str,
    wallet: str,
    market: Market,
    token_id: str,
    side: str,
    price: str,
    size: float,
    order_type: str,
    salt: str,
) -> dict:
    price_units = round(float(price) * PRICE_SCALE)
    shares = int(size * AMOUNT_SCALE)
    amount = notional(shares, price_units)
    exchange = venue.exchange
    order = Order(
        id="0x" + keccak(text=f"flow|{salt}").hex(),
        condition_id=market.condition_id,
        token_id=token_id,
        is_yes=market.is_yes(token_id),
        side=side,
        price=price_units,
        original_size=shares,
        owner=owner,
        maker=wallet,
        signer=wallet,
        order_type=order_type,
        created_at=int(venue.clock.now()),
        spend_limit=amount if side == "BUY" and order_type in ("FOK", "FAK") else None,
    )
    maker_amount, taker_amount = (amount, shares) if side == "BUY" else (shares, amount)
    return exchange.post(
        Posted(
            order=order,
            market=market,
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            exchange=exchange_for(market),
        )
    )


def cancel_house(venue: Venue, market: Market) -> None:
    exchange = venue.exchange
    ids = [
        o.id for o in exchange.live_of.get(HOUSE_OWNER, {}).values() if o.condition_id == market.condition_id
    ]
    exchange.cancel(HOUSE_OWNER, ids)


def best_yes_ask(venue: Venue, market: Market) -> float | None:
    asks = [price for price, size in venue.exchange.book(market.condition_id).levels("SELL") if size > 0]
    return min(asks) / PRICE_SCALE if asks else None


def misprice(venue: Venue, markets: list[Market], fair: dict[str, float], edge: float, size: float) -> float:
    """Pull the house quotes of an event and offer every outcome's YES below fair so that the asks sum to
    1 - edge (buying the complete set pays $1 at resolution); bids sit a few ticks under. Returns the sum."""
    open_markets = [m for m in markets if not m.closed]
    total = sum(fair[m.condition_id] for m in open_markets) or 1.0
    for market in open_markets:
        cancel_house(venue, market)
        share = fair[market.condition_id] / total
        ask = on_tick(market, share * (1 - edge))
        venue.house_order(market.token_ids[0], "SELL", ask, str(size))
        bid = on_tick(market, float(ask) - 3 * market.tick_units / PRICE_SCALE)
        if float(bid) < float(ask):
            venue.house_order(market.token_ids[0], "BUY", bid, str(size))
    asks = [best_yes_ask(venue, m) for m in open_markets]
    return round(sum(a for a in asks if a is not None), 6) if all(a is not None for a in asks) else 0.0
