"""The whole paper venue in one object: exchange state, timers (heartbeats, GTD, settlement) and feeds.

Also the market lifecycle that the channels announce: create (new_market), tick-size change and
resolution (market_resolved), shared by the default markets and the admin API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperexchange.api.ws_market import MarketHub
from paperexchange.api.ws_user import UserHub
from paperexchange.core import markets as market_model
from paperexchange.core.activity import Activity
from paperexchange.core.chain_tx import PaperChain
from paperexchange.core.clock import Clock, SystemClock
from paperexchange.core.config import Settings
from paperexchange.core.engine import BUY, SELL, Order
from paperexchange.core.exchange import Exchange
from paperexchange.core.heartbeats import Heartbeats
from paperexchange.core.markets import Market
from paperexchange.core.settlement import Settlement
from paperexchange.core.units import parse_price
from paperexchange.sim.faults import Faults

if TYPE_CHECKING:  # flow imports this module
    from paperexchange.sim.flow import Flow

HOUSE = "0x00000000000000000000000000000000000da7a5"  # the paper exchange's own liquidity wallet
HOUSE_OWNER = "paper-house"


class _HubSink:
    def __init__(self, market_hub: MarketHub, user_hub: UserHub) -> None:
        self._market, self._user = market_hub, user_hub

    def market(self, asset_ids: tuple[str, ...], message: dict, custom: bool = False) -> None:
        self._market.publish(asset_ids, message, custom)

    def user(self, owner: str, condition_id: str, message: dict) -> None:
        self._user.publish(owner, condition_id, message)


class Venue:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.faults = Faults(self.clock)
        self.market_hub = MarketHub(self.faults)
        self.user_hub = UserHub()
        self.exchange = Exchange(settings, self.clock, _HubSink(self.market_hub, self.user_hub))
        self.heartbeats = Heartbeats(self.clock, settings.heartbeat_timeout_secs)
        self.activity = Activity(self.exchange)
        self.settlement = Settlement(self.exchange, self.clock, settings.settlement_delays())
        self.chain = PaperChain(self.exchange, self.clock)  # signed transactions sent to /rpc
        self._house_seq = 0
        self.flow: Flow | None = None  # the scenario's background flow, when one runs

    def tick(self) -> None:
        """One pass of every time-based rule; the server calls it every `timer_tick_secs`."""
        for api_key in self.heartbeats.expired():
            self.exchange.cancel_all(api_key)
        self.exchange.expire(self.clock.now())
        self.exchange.delayed.release(self.clock.now())
        self.settlement.step()
        self.chain.mine()

    # ---- market lifecycle ----------------------------------------------------------------------

    def create_market(self, **kwargs) -> Market:
        market = market_model.create_market(self.exchange.markets, **kwargs)
        return self._announce_new(market)

    def create_neg_risk_event(self, *, title: str, outcomes: list[str], **kwargs) -> list[Market]:
        created = market_model.create_neg_risk_event(
            self.exchange.markets, title=title, outcomes=outcomes, **kwargs
        )
        return [self._announce_new(market) for market in created]

    def _announce_new(self, market: Market) -> Market:
        market.created_at = market.created_at or self.clock.now()
        self.exchange.add_market(market)
        self.market_hub.broadcast_custom(self._new_market_event(market))
        return market

    def _gamma_ids(self, market: Market) -> tuple[str, str]:
        """(market id, event id) as Gamma numbers them (paperexchange.api.gamma: creation order, from 1)."""
        markets = self.exchange.markets.all()
        groups = list(dict.fromkeys(m.neg_risk_market_id or m.condition_id for m in markets))
        return (
            str(markets.index(market) + 1),
            str(groups.index(market.neg_risk_market_id or market.condition_id) + 1),
        )

    def _new_market_event(self, market: Market) -> dict:
        """`new_market` as captured (ws_market_new_market_msg.json): `id` is the numeric Gamma market id; the
        2026 fee fields (taker_base_fee, fees_enabled, fee_schedule) as the SDK model reads them."""
        market_id, event_id = self._gamma_ids(market)
        fees_enabled = market.fee_rate > 0
        return {
            "event_type": "new_market",
            "id": market_id,
            "question": market.question,
            "market": market.condition_id,
            "condition_id": market.condition_id,
            "slug": market.slug,
            "description": market.description,
            "assets_ids": list(market.token_ids),
            "outcomes": list(market.outcomes),
            "clob_token_ids": list(market.token_ids),
            "event_message": {
                "id": event_id,
                "ticker": market.event_slug or market.slug,
                "slug": market.event_slug or market.slug,
                "title": market.event_title or market.question,
                "description": market.description,
            },
            "timestamp": str(self.exchange.now_ms()),
            "tags": list(market.tags),
            "active": market.active,
            "sports_market_type": "",
            "line": "",
            "game_start_time": "",
            "order_price_min_tick_size": market.tick_size,
            "group_item_title": market.group_item_title,
            "taker_base_fee": str(market.taker_base_fee_bps),
            "fees_enabled": fees_enabled,
            "fee_schedule": {
                "rate": float(market.fee_rate),
                "exponent": float(market.fee_exponent),
                "takerOnly": market.taker_only_fees,
                "rebateRate": 0.25,
            }
            if fees_enabled
            else None,
        }

    def change_tick_size(self, market: Market, tick_size: str) -> None:
        if tick_size not in market_model.TICK_SIZES:
            raise ValueError(f"tick size must be one of {market_model.TICK_SIZES}")
        old, market.tick_size = market.tick_size, tick_size
        for token_id in market.token_ids:
            self.market_hub.publish(
                (token_id,),
                {
                    "event_type": "tick_size_change",
                    "asset_id": token_id,
                    "market": market.condition_id,
                    "old_tick_size": old,
                    "new_tick_size": tick_size,
                    "timestamp": str(self.exchange.now_ms()),
                },
            )

    def resolve(self, market: Market, winning_token: str) -> None:
        """Close the market, cancel its resting orders (CANCELED_MARKET_RESOLVED), announce the winner."""
        market.closed, market.accepting_orders, market.winner = True, False, winning_token
        market.closed_at = self.clock.now()
        for owner, live in list(self.exchange.live_of.items()):
            ids = [order.id for order in live.values() if order.condition_id == market.condition_id]
            self.exchange.cancel(owner, ids, status="CANCELED_MARKET_RESOLVED")
        self.market_hub.publish(
            market.token_ids,
            {
                "event_type": "market_resolved",
                "id": market.question_id[:18],
                "market": market.condition_id,
                "assets_ids": list(market.token_ids),
                "winning_asset_id": winning_token,
                "winning_outcome": market.outcome_of(winning_token),
                "timestamp": str(self.exchange.now_ms()),
                "tags": list(market.tags),
            },
            custom=True,
        )

    # ---- house liquidity -----------------------------------------------------------------------

    def house_order(self, token_id: str, side: str, price: str, size: str) -> dict:
        """Rest (or match) an unsigned order from the house wallet, which is topped up as needed."""
        market = self.exchange.markets.by_token(token_id)
        if market is None or side not in (BUY, SELL):
            raise ValueError("unknown token or side")
        price_units, size_units = parse_price(price), int(float(size) * 1_000_000)
        self._house_seq += 1
        ledger = self.exchange.ledger
        ledger.credit(HOUSE, "COLLATERAL", size_units)
        ledger.credit(HOUSE, token_id, size_units)
        order = Order(
            id="0x" + (self._house_seq).to_bytes(32, "big").hex(),
            condition_id=market.condition_id,
            token_id=token_id,
            is_yes=market.is_yes(token_id),
            side=side,
            price=price_units,
            original_size=size_units,
            owner=HOUSE_OWNER,
            maker=HOUSE,
            signer=HOUSE,
            order_type="GTC",
            created_at=int(self.clock.now()),
            internal=True,
        )
        return self.exchange.place_internal(order)
