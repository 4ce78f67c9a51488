"""Market metadata wire shapes: the CLOB market object (/markets) and the compact /clob-markets form."""

from __future__ import annotations

from paperexchange.core import bookview
from paperexchange.core.markets import Market
from paperexchange.core.units import parse_price


def compact_market(market: Market) -> dict:
    """GET /clob-markets/{condition_id}: the short keys the SDKs read (t, mts, mos, nr, fd, itode...)."""
    return {
        "t": [{"t": token_id, "o": outcome} for token_id, outcome in zip(market.token_ids, market.outcomes)],
        "mts": float(market.tick_size),
        "mos": market.min_order_size,
        "nr": market.neg_risk,
        "fd": {"r": float(market.fee_rate), "e": float(market.fee_exponent), "to": market.taker_only_fees},
        "mbf": market.maker_base_fee_bps,
        "tbf": market.taker_base_fee_bps,
        "rfqe": False,
        "itode": market.taker_delay,
        "ibce": False,
        "oas": 0,
        "gst": None,
        "r": None,
    }


def clob_market(market: Market, exchange) -> dict:
    """GET /markets/{condition_id} and the items of GET /markets (market.json field set)."""
    book = exchange.book(market.condition_id)
    tokens = []
    for token_id, outcome in zip(market.token_ids, market.outcomes):
        bid, ask = bookview.best_bid_ask(book, market, token_id)
        mid = (parse_price(bid) + parse_price(ask)) / 2 / 10_000
        tokens.append(
            {
                "token_id": token_id,
                "outcome": outcome,
                "price": round(mid, 4),
                "winner": market.winner == token_id,
            }
        )
    return {
        "enable_order_book": True,
        "active": market.active,
        "closed": market.closed,
        "archived": False,
        "accepting_orders": market.accepting_orders,
        "accepting_order_timestamp": None,
        "minimum_order_size": market.min_order_size,
        "minimum_tick_size": float(market.tick_size),
        "condition_id": market.condition_id,
        "question_id": market.question_id,
        "question": market.question,
        "description": market.description,
        "market_slug": market.slug,
        "end_date_iso": market.end_date_iso,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": market.maker_base_fee_bps,
        "taker_base_fee": market.taker_base_fee_bps,
        "notifications_enabled": False,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": market.neg_risk_market_id,
        "neg_risk_request_id": market.neg_risk_request_id,
        "icon": "",
        "image": "",
        "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
        "is_50_50_outcome": False,
        "tokens": tokens,
        "tags": list(market.tags),
    }
