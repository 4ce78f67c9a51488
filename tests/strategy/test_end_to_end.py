"""Issue 6 end to end: the paper exchange's default scenario (fixed seed, accelerated flow) -> ingest (Gamma
discovery, market channel, the whales' Data API trades) -> strategy (copy, arbitrage) -> `intents`.

- Copy trading reacts to a whale trade ingest saw: a FAK with signal key `copy:<trade key>`, the whale's token
  and side, at the touch of the time, sized per the copy settings.
- Arbitrage reacts to the exchange's neg-risk mispricing (its flow log says when and at which asks): one
  must-fill FOK BUY per outcome of the event, at the asks of the time, sized by the thinnest leg.
- Every intent's envelope points at the ingest event that caused it (causation) and shares its correlation.

Ingest and the strategy worker run in this process (each with its own ServiceContext, stopped through it);
the exchange runs in its own thread.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from services.ingest.service import Ingest
from services.strategy import sizing
from services.strategy.config import StrategySettings
from services.strategy.pricing import bps, taker_fee_per_share, tradable_size
from services.strategy.service import StrategyWorker
from services.strategy.state import WorldState, apply_event
from shared.lifecycle import ServiceContext, run_declared
from shared.logging import EventLog
from shared.messages import (
    BasketIntent,
    BasketLeg,
    BookDelta,
    BookSnapshot,
    MarketDiscovered,
    MarketInfo,
    Message,
    OrderIntent,
    OrderType,
    Side,
    TradeSeen,
    decode,
)
from shared.streams import INTENTS, Bus, events_stream
from tests.helpers import eventually
from tests.ingest.paper import ingest_settings

pytestmark = pytest.mark.integration

SEED = 11
SPEED = 10.0  # simulated seconds per real one: whales every 1-3 s, the first mispricing within 2.5-5 s
SHARD = "main"
COPY = {"copy_size_ratio": Decimal("0.5"), "copy_min_size_usd": Decimal(1), "copy_max_size_usd": Decimal(40),
        "copy_price_guard_bps": Decimal(300)}
ARB = {"arb_min_edge_bps": Decimal(50), "arb_max_size_usd": Decimal(200)}
TIMEOUT = 20.0


async def _history(bus: Bus, stream: str) -> list[Message]:
    return [decode(fields) for _, fields in await bus.redis.xrange(bus.key(stream))]


def _context(service: str, settings, bus: Bus, tmp_path) -> ServiceContext:
    return ServiceContext(service, settings, bus.redis, Bus(bus.redis, prefix=bus.prefix, producer=service),
                          EventLog(tmp_path / "logs", service))


def _mispricings(scenario: dict) -> list[dict]:
    return [e for e in scenario["log"] if e["kind"] == "mispricing" and e["event"] == "election"]


async def test_copy_and_arbitrage_react_to_the_default_scenario(bus, redis_url, prefix, tmp_path):
    with PaperExchangeServer(admin=True, scenario="default", seed=SEED, speed=SPEED,
                             settlement_delay_secs=0.2) as server:
        admin = httpx.AsyncClient(base_url=server.url, timeout=10)
        scenario = (await admin.get("/_paper/scenario")).json()
        whales = [w["address"] for w in scenario["wallets"] if w["whale"]]
        markets = scenario["markets"]
        election = {cid for key, cid in markets.items() if key.startswith("election.")}
        assert len(whales) == 2 and len(election) == 3
        # One outcome of the neg-risk event is named: ingest must discover (and announce) all three.
        selected = (markets["btc"], markets["election.Alice"])

        common = {"redis_url": redis_url, "stream_prefix": prefix, "log_dir": tmp_path / "logs",
                  "state_dir": tmp_path / "state", "instance": "e2e", "shards": (SHARD,)}
        ingest_s = ingest_settings(
            **common, clob_url=server.url, market_ws_url=server.ws_url + "/ws/market",
            gamma_url=server.url + "/gamma", data_api_url=server.url + "/data-api",
            discovery_condition_ids=selected, discovery_refresh_secs=5, watched_wallets=tuple(whales), wallet_poll_secs=0.2)
        strategy_s = StrategySettings(_env_file=None, **common, strategies=("copy", "arbitrage"),
                                      copy_wallets=tuple(whales), **COPY, **ARB)
        contexts = [_context("ingest", ingest_s, bus, tmp_path), _context("strategy", strategy_s, bus, tmp_path)]
        tasks = [asyncio.create_task(run_declared(contexts[0], Ingest(ingest_s, contexts[0]).run)),
                 asyncio.create_task(run_declared(contexts[1], StrategyWorker(contexts[1], strategy_s).run))]

        async def intents(strategy: str) -> list[OrderIntent | BasketIntent]:
            return [m for m in await _history(bus, INTENTS)
                    if isinstance(m, OrderIntent | BasketIntent) and m.strategy == strategy]

        async def arbitrage_on_the_whole_mispricing() -> dict | None:
            """The exchange's log once an arbitrage basket, caused by an event ingest built after the first
            mispricing, buys every leg at or below the asks the exchange posted for it. The venue sends one
            event per frame, so the strategy may first act on a part of the mispricing (some legs already at
            the new asks, others still at the house's: a real arbitrage at the asks of its time, checked
            below); waiting for the first basket would stop the run between the two."""
            arbs = [i for i in await intents("arbitrage") if isinstance(i, BasketIntent)]
            if not arbs:
                return None
            described = (await admin.get("/_paper/scenario")).json()
            mispricings = _mispricings(described)
            if not mispricings:
                return None
            causes = {m.envelope.message_id: m for m in await _history(bus, events_stream(SHARD))}
            reacted = [i.legs for i in _after(arbs, causes, mispricings[0])]
            return described if _at_the_posted_asks(reacted, mispricings[0]) else None

        try:
            await eventually(lambda: intents("copy"), timeout=TIMEOUT, interval=0.2)
            scenario = await eventually(arbitrage_on_the_whole_mispricing, timeout=TIMEOUT, interval=0.2)
        finally:
            for ctx in contexts:
                ctx.request_stop()
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
            await admin.aclose()
        assert results == [0, 0]  # both stopped cleanly (exit codes of their runtimes)

    events = await _history(bus, events_stream(SHARD))
    assert all(m.envelope.producer == "ingest" for m in events)
    asks_at, depth_at, infos = _fold(events)
    _check_event_announced_before_its_books(events, election)
    _check_copies(await intents("copy"), events, asks_at, infos, scenario, set(whales))
    _check_arbitrage(await intents("arbitrage"), events, asks_at, depth_at, infos, election, scenario)


def _fold(events: list[Message]):
    """Per event id: the best ask of every token as ingest announced it (snapshots and deltas' best_ask), and
    the best-ask depth as the strategy state folds it; and the market infos ingest announced."""
    asks: dict[str, Decimal | None] = {}
    state = WorldState()
    asks_at: dict[str, dict[str, Decimal | None]] = {}
    depth_at: dict[str, dict[str, Decimal]] = {}
    infos: dict[str, MarketInfo] = {}
    for message in events:
        apply_event(state, message)
        if isinstance(message, MarketDiscovered):
            infos[message.market.condition_id] = message.market
        elif isinstance(message, BookSnapshot):
            asks[message.token_id] = message.asks[0].price if message.asks else None
        elif isinstance(message, BookDelta):
            asks.update(message.best_ask)
        asks_at[message.envelope.message_id] = dict(asks)
        depth_at[message.envelope.message_id] = {
            token: ask.size for market in state.markets.values() for token, book in market.books.items()
            if (ask := book.best_ask()) is not None}
    return asks_at, depth_at, infos


def _check_event_announced_before_its_books(events: list[Message], election: set[str]) -> None:
    discovered = [i for i, m in enumerate(events) if isinstance(m, MarketDiscovered)
                  and m.market.condition_id in election]
    books = [i for i, m in enumerate(events) if isinstance(m, BookSnapshot | BookDelta) and m.market in election]
    assert len(discovered) == len(election) and books and max(discovered) < min(books)


def _check_chain(intent: OrderIntent | BasketIntent, cause: Message) -> None:
    assert intent.envelope.producer == "strategy" and cause.envelope.producer == "ingest"
    assert intent.envelope.causation_id == cause.envelope.message_id
    assert intent.envelope.correlation_id == cause.envelope.correlation_id


def _check_copies(copies: list[OrderIntent], events: list[Message], asks_at, infos, scenario: dict,
                  whales: set[str]) -> None:
    seen = {m.envelope.message_id: m for m in events if isinstance(m, TradeSeen)}
    whale_orders = {(e["wallet"], e["market"], e["token_id"], e["side"]) for e in scenario["log"]
                    if e["kind"] == "whale"}
    assert copies
    copied = {intent.signal_key for intent in copies}
    assert not [t for t in seen.values() if t.side is Side.SELL and f"copy:{t.trade_key}" in copied]  # no inventory
    for intent in copies:
        trade = seen[intent.envelope.causation_id]
        _check_chain(intent, trade)
        assert trade.wallet in whales
        assert (trade.wallet, trade.market, trade.token_id, trade.side.value) in whale_orders  # the exchange's log
        assert intent.signal_key == f"copy:{trade.trade_key}"
        assert (intent.market, intent.token_id, intent.side) == (trade.market, trade.token_id, trade.side)
        assert intent.order_type is OrderType.FAK and not intent.must_fill
        assert intent.price == asks_at[trade.envelope.message_id][trade.token_id]  # the touch of the time
        assert intent.price <= trade.price + bps(COPY["copy_price_guard_bps"])
        expected = sizing.proportional(trade.size, COPY["copy_size_ratio"], intent.price,
                                       min_usd=COPY["copy_min_size_usd"], max_usd=COPY["copy_max_size_usd"])
        assert intent.size == tradable_size(expected, infos[trade.market].min_order_size)


def _check_arbitrage(arbs: list[BasketIntent], events: list[Message], asks_at, depth_at, infos,
                     election: set[str], scenario: dict) -> None:
    by_id = {m.envelope.message_id: m for m in events}
    yes_tokens = {infos[cid].tokens[0].token_id: cid for cid in election}
    assert all(isinstance(basket, BasketIntent) for basket in arbs)  # all legs or none, never loose orders
    mispricing = _mispricings(scenario)[0]
    for basket in arbs:
        legs = basket.legs
        assert basket.signal_key.startswith("arb:") and ":neg_risk_yes:" in basket.signal_key
        assert {leg.token_id: leg.market for leg in legs} == yes_tokens  # one YES leg per outcome of the event
        assert len(legs) == 3 and basket.order_type is OrderType.FOK
        assert all(leg.side is Side.BUY for leg in legs) and len({leg.size for leg in legs}) == 1
        cause = by_id[basket.envelope.causation_id]
        assert isinstance(cause, BookSnapshot | BookDelta) and cause.market in election
        _check_chain(basket, cause)
        for leg in legs:
            assert leg.price == asks_at[cause.envelope.message_id][leg.token_id]  # the asks of the time
        cost = sum(leg.price + taker_fee_per_share(leg.price, infos[leg.market].fee_rate,
                                                   infos[leg.market].fee_exponent) for leg in legs)
        assert cost <= 1 - bps(ARB["arb_min_edge_bps"])
        depth = min(depth_at[cause.envelope.message_id][leg.token_id] for leg in legs)
        cap = ARB["arb_max_size_usd"] / sum(leg.price for leg in legs)
        assert legs[0].size == tradable_size(min(depth, cap), max(infos[c].min_order_size for c in election))
    reacted = [basket.legs for basket in _after(arbs, by_id, mispricing)]
    assert reacted, "no arbitrage after the exchange's mispricing"
    assert sum(_posted(mispricing).values()) < 1
    assert _at_the_posted_asks(reacted, mispricing), (_posted(mispricing), reacted)


def _after(arbs: list[BasketIntent], causes: dict[str, Message], mispricing: dict) -> list[BasketIntent]:
    """The baskets caused by an event ingest built after the exchange posted the mispricing."""
    return [basket for basket in arbs if basket.envelope.causation_id in causes
            and causes[basket.envelope.causation_id].envelope.created_ts_ns >= mispricing["ts"] * 1e9]


def _posted(mispricing: dict) -> dict[str, Decimal]:
    return {cid: Decimal(str(price)) for cid, price in mispricing["asks"].items()}


def _at_the_posted_asks(reacted: list[list[BasketLeg]], mispricing: dict) -> bool:
    """A basket buys every leg at most at the ask the exchange posted for the mispricing (lower only where
    another order undercut it)."""
    posted = _posted(mispricing)
    return any(all(leg.price <= posted[leg.market] for leg in legs) for legs in reacted)
