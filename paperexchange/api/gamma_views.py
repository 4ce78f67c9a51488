"""Gamma market and event objects built from the venue's markets, with Gamma's field names and types.

Types follow the captures (SHAPES.md §9): `outcomes`, `outcomePrices`, `clobTokenIds` are JSON-encoded
strings; `id`, `volume`, `liquidity` strings on markets but numbers on events; `closedTime` uses
`"2026-05-09 02:07:01+00"`. Markets are CTF (Protocol V1) markets, so `version` is "v1" and they carry
`clobTokenIds`; Protocol V2 `positionIds` are not simulated.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import orjson

from paperexchange.core import bookview
from paperexchange.core.activity import DAY_SECS, Activity
from paperexchange.core.exchange import Exchange
from paperexchange.core.markets import Market
from paperexchange.core.units import AMOUNT_SCALE, PRICE_SCALE, parse_price


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _closed_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _encoded(values: list[str]) -> str:
    return orjson.dumps(values).decode()


def tag_object(label: str) -> dict:
    # A stable numeric id per label, since paper tags have no table of their own.
    return {
        "id": str(zlib.crc32(label.encode()) % 1_000_000),
        "label": label,
        "slug": "-".join(label.lower().split()),
    }


def _price(text: str) -> float:
    return parse_price(text) / PRICE_SCALE


def outcome_prices(market: Market, exchange: Exchange) -> list[str]:
    """Resolved: ["1","0"] / ["0","1"]; otherwise the YES midpoint (or last trade when one side is empty)."""
    if market.winner is not None:
        return ["1", "0"] if market.winner == market.token_ids[0] else ["0", "1"]
    bid, ask = bookview.best_bid_ask(exchange.book(market.condition_id), market, market.token_ids[0])
    last = exchange.last_yes_price(market.condition_id)
    if bid != "0" and ask != "1":
        yes = (_price(bid) + _price(ask)) / 2
    else:
        yes = last / PRICE_SCALE if last is not None else 0.5
    yes = round(yes, 4)
    return [format(yes, "g"), format(round(1 - yes, 4), "g")]


def liquidity(market: Market, exchange: Exchange) -> float:
    """pUSD resting on the book: bids at their price, asks at their complement (what a taker could hit)."""
    book = exchange.book(market.condition_id)
    total = sum(size * price for price, size in book.levels("BUY"))
    total += sum(size * (PRICE_SCALE - price) for price, size in book.levels("SELL"))
    return round(total / PRICE_SCALE / AMOUNT_SCALE, 6)


def _fee_fields(market: Market) -> dict:
    enabled = market.fee_rate > 0
    return {
        "feesEnabled": enabled,
        "feeType": "crypto_fees_v2" if enabled else None,
        "feeSchedule": {
            "exponent": float(market.fee_exponent),
            "rate": float(market.fee_rate),
            "takerOnly": market.taker_only_fees,
            "rebateRate": 0.25,
        }
        if enabled
        else None,
        "makerBaseFee": market.maker_base_fee_bps,
        "takerBaseFee": market.taker_base_fee_bps,
    }


def market_object(
    market: Market,
    exchange: Exchange,
    activity: Activity,
    ids: dict[str, str],
    event_ref: dict | None = None,
    include_tag: bool = False,
) -> dict:
    now = exchange.clock.now()
    book = exchange.book(market.condition_id)
    bid, ask = bookview.best_bid_ask(book, market, market.token_ids[0])
    history = market.prior_volume_24h
    volume = history + activity.volume(market.condition_id)
    volume_24h = history + activity.volume(market.condition_id, now - DAY_SECS)
    last = exchange.last_yes_price(market.condition_id)
    liq = liquidity(market, exchange)
    out = {
        "id": ids[market.condition_id],
        "version": "v1",
        "question": market.question,
        "conditionId": market.condition_id,
        "slug": market.slug,
        "resolutionSource": "",
        "endDate": market.end_date_iso,
        "startDate": iso(market.created_at),
        "description": market.description,
        "outcomes": _encoded(list(market.outcomes)),
        "outcomePrices": _encoded(outcome_prices(market, exchange)),
        "volume": str(volume),
        "active": market.active,
        "closed": market.closed,
        "marketMakerAddress": "",
        "createdAt": iso(market.created_at),
        "updatedAt": iso(now),
        "new": False,
        "featured": False,
        "archived": False,
        "restricted": True,
        "groupItemTitle": market.group_item_title,
        "groupItemThreshold": "0",
        "questionID": market.question_id,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(market.tick_size),
        "orderMinSize": market.min_order_size,
        "volumeNum": volume,
        "liquidity": str(liq),
        "liquidityNum": liq,
        "liquidityClob": liq,
        "endDateIso": market.end_date_iso[:10],
        "startDateIso": iso(market.created_at)[:10],
        "clobTokenIds": _encoded(list(market.token_ids)),
        "volume24hr": volume_24h,
        "volume1wk": volume,
        "volume1mo": volume,
        "volume1yr": volume,
        "volumeClob": volume,
        "volume24hrClob": volume_24h,
        "acceptingOrders": market.accepting_orders,
        "negRisk": market.neg_risk,
        "negRiskRequestID": market.neg_risk_request_id,
        "negRiskMarketID": market.neg_risk_market_id or None,
        "ready": True,
        "funded": True,
        "cyom": False,
        "rfqEnabled": False,
        "holdingRewardsEnabled": False,
        "secondsDelay": 1 if market.taker_delay else 0,
        "bestBid": _price(bid),
        "bestAsk": _price(ask),
        "spread": round(_price(ask) - _price(bid), 4),
        "lastTradePrice": last / PRICE_SCALE if last is not None else 0,
        "oneDayPriceChange": 0,
        "oneHourPriceChange": 0,
        "oneWeekPriceChange": 0,
        "oneMonthPriceChange": 0,
        "clobRewards": [],
        "rewardsMinSize": 0,
        "rewardsMaxSpread": 0,
        "umaResolutionStatus": "resolved" if market.winner else None,
        **_fee_fields(market),
    }
    if market.closed_at:
        out["closedTime"] = _closed_time(market.closed_at)
    if event_ref is not None:
        out["events"] = [event_ref]
    if include_tag:
        out["tags"] = [tag_object(label) for label in market.tags]
    return out


class Event:
    """A Gamma event: one per neg-risk group, and one per stand-alone binary market."""

    def __init__(self, event_id: str, markets: list[Market]) -> None:
        self.id, self.markets = event_id, markets
        first = markets[0]
        self.neg_risk = first.neg_risk
        self.title = first.event_title or first.question
        self.slug = first.event_slug or first.slug

    @property
    def closed(self) -> bool:
        return all(market.closed for market in self.markets)

    @property
    def tags(self) -> list[str]:
        return list(dict.fromkeys(label for market in self.markets for label in market.tags))

    def ref(self) -> dict:
        return {"id": self.id, "ticker": self.slug, "slug": self.slug, "title": self.title}


def event_object(event: Event, exchange: Exchange, activity: Activity, ids: dict[str, str]) -> dict:
    markets = [market_object(m, exchange, activity, ids, event.ref()) for m in event.markets]
    first, now = event.markets[0], exchange.clock.now()
    return {
        **event.ref(),
        "version": "v1",
        "description": first.description,
        "resolutionSource": "",
        "startDate": iso(first.created_at),
        "creationDate": iso(first.created_at),
        "endDate": first.end_date_iso,
        "active": any(m.active for m in event.markets),
        "closed": event.closed,
        "archived": False,
        "new": False,
        "featured": False,
        "restricted": True,
        "liquidity": sum(m["liquidityNum"] for m in markets),
        "volume": sum(m["volumeNum"] for m in markets),
        "openInterest": 0,
        "createdAt": iso(first.created_at),
        "updatedAt": iso(now),
        "volume24hr": sum(m["volume24hr"] for m in markets),
        "volume1wk": sum(m["volume1wk"] for m in markets),
        "volume1mo": sum(m["volume1mo"] for m in markets),
        "volume1yr": sum(m["volume1yr"] for m in markets),
        "enableOrderBook": True,
        "liquidityClob": sum(m["liquidityNum"] for m in markets),
        "negRisk": event.neg_risk,
        "negRiskMarketID": first.neg_risk_market_id or None,
        "enableNegRisk": event.neg_risk,
        "negRiskAugmented": False,
        "commentCount": 0,
        "cyom": False,
        "showAllOutcomes": True,
        "showMarketImages": True,
        "tags": [tag_object(label) for label in event.tags],
        "markets": markets,
    }
