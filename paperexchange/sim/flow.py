"""A scenario's living market: setup (markets, house books, funded wallets) and the background flow.

Flow agents are ordinary wallets posting through the same engine (funds checks, matching, user and
market frames, Data API rows): noise traders that quote, cancel and take around a drifting fair value,
a house market maker that re-centres on fair, whales, neg-risk mispricings (the event's YES asks summing
below 1), and the timed schedule (tick-size changes, resolutions, faults). Everything is driven by one
seeded generator and an event queue on simulated time, so a seed gives the same trades every run.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_utils import keccak

from paperexchange.api.admin_faults import apply_fault
from paperexchange.core.errors import VenueError
from paperexchange.core.funds import spenders
from paperexchange.core.ledger import COLLATERAL, MAX_ALLOWANCE
from paperexchange.core.markets import Market
from paperexchange.core.units import AMOUNT_SCALE
from paperexchange.sim import flow_orders
from paperexchange.sim.defaults import seed_book
from paperexchange.sim.scenario import Action, Range, Scenario
from paperexchange.venue import Venue

log = logging.getLogger("paperexchange.sim.flow")
STEP_REAL_SECS = 0.1  # how often the background task looks at the queue (real time)


def wallet_address(name: str) -> str:
    """A stable address per scenario wallet name (bots never sign, so no key is needed)."""
    return "0x" + keccak(text=f"polydesk-paper-wallet|{name}")[-20:].hex()


@dataclass(slots=True)
class Bot:
    name: str
    address: str
    whale: bool = False
    live: list[str] = field(default_factory=list)  # ids of its resting orders, oldest first

    @property
    def owner(self) -> str:
        return f"paper-bot:{self.name}"


class Flow:
    def __init__(self, venue: Venue, scenario: Scenario, seed: int | None = None, speed: float = 1.0) -> None:
        self.venue, self.scenario, self.speed = venue, scenario, speed
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.markets: dict[str, Market] = {}
        self.fair: dict[str, float] = {}  # condition id -> YES fair value
        self.events: dict[str, list[Market]] = {}
        self.bots: dict[str, Bot] = {}
        self.log: list[dict] = []  # what the flow did that tests and operators look for (see _record)
        self._queue: list[tuple[float, int, str, object]] = []
        self._mispriced: set[str] = set()  # events whose house quotes the mispricing replaced for now
        self._seq = 0
        self._orders = 0
        self._start_real = venue.clock.now()
        self.sim_time = 0.0

    # ---- setup ---------------------------------------------------------------------------------

    def setup(self) -> Flow:
        for spec in self.scenario.markets:
            market = self.venue.create_market(question=spec.question, **self._market_args(spec))
            self._add(spec.key, market, spec.fair, spec.book.levels, spec.book.size)
        for event in self.scenario.events:
            created = self.venue.create_neg_risk_event(
                title=event.title, outcomes=[o.name for o in event.outcomes], **self._market_args(event)
            )
            self.events[event.key] = created
            for market, outcome in zip(created, event.outcomes):
                self._add(
                    f"{event.key}.{outcome.name}", market, outcome.fair, event.book.levels, event.book.size
                )
        for wallet in self.scenario.wallets:
            self._fund(
                Bot(wallet.name, (wallet.address or wallet_address(wallet.name)).lower(), wallet.whale),
                wallet.collateral,
                wallet.shares,
            )
        for index in range(self.scenario.noise.traders):
            self._fund(Bot(f"noise-{index + 1}", wallet_address(f"noise-{index + 1}")), 5000, 500)
        self._schedule_agents()
        return self

    @staticmethod
    def _market_args(spec) -> dict:
        return {
            "tick_size": spec.tick_size,
            "min_order_size": spec.min_order_size,
            "fee_rate": str(spec.fee_rate),
            "fee_exponent": str(spec.fee_exponent),
            "tags": list(spec.tags),
            "end_date_iso": spec.end_date,
            "prior_volume_24h": spec.prior_volume_24h,
        }

    def _add(self, key: str, market: Market, fair: float, levels: int, size: float) -> None:
        self.markets[key], self.fair[market.condition_id] = market, fair
        if levels:
            seed_book(self.venue, market, self._on_tick(market, fair), levels, str(size))

    def _fund(self, bot: Bot, collateral: float, shares: float) -> None:
        ledger = self.venue.exchange.ledger
        ledger.set_balance(bot.address, COLLATERAL, int(collateral * AMOUNT_SCALE))
        for market in self.markets.values():
            for token_id in market.token_ids:
                ledger.set_balance(bot.address, token_id, int(shares * AMOUNT_SCALE))
        for spender in spenders():
            ledger.set_allowance(bot.address, spender, MAX_ALLOWANCE)
            ledger.set_approval_for_all(bot.address, spender, True)
        self.bots[bot.name] = bot

    def _schedule_agents(self) -> None:
        noise = self.scenario.noise
        for bot in self.bots.values():
            if bot.name.startswith("noise-"):
                self._at(self._draw(noise.interval_secs), "noise", bot.name)
        for index, whale in enumerate(self.scenario.whales):
            self._at(self._draw(whale.interval_secs), "whale", index)
        if noise.requote_secs and self.markets:
            self._at(noise.requote_secs, "requote", None)
        if self.scenario.mispricing is not None and self.events:
            self._at(self._draw(self.scenario.mispricing.interval_secs), "mispricing", None)
        for index, action in enumerate(self.scenario.schedule):
            self._at(action.at, "action", index)

    # ---- the clock and the queue ---------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since the flow started: venue-clock time elapsed, times `speed`."""
        return (self.venue.clock.now() - self._start_real) * self.speed

    def _at(self, when: float, kind: str, arg: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, kind, arg))

    def _draw(self, span: Range) -> float:
        return self.rng.uniform(span.low, span.high)

    def step_until(self, sim_time: float) -> int:
        """Run every queued action due by `sim_time`, in time order; returns how many ran."""
        count = 0
        handlers: dict[str, Callable[[object], None]] = {
            "noise": self._noise,
            "whale": self._whale,
            "requote": self._requote,
            "mispricing": self._mispricing,
            "expire": self._expire_mispricing,
            "action": self._action,
        }
        while self._queue and self._queue[0][0] <= sim_time:
            when, _, kind, arg = heapq.heappop(self._queue)
            self.sim_time = when
            try:
                handlers[kind](arg)
            except VenueError as exc:  # a refused bot order is part of a lively market, not a failure
                log.debug("flow %s refused: %s", kind, exc.message)
            count += 1
        self.sim_time = max(self.sim_time, sim_time)
        return count

    async def run(self) -> None:
        """Background task: keep the flow level with the (accelerated) clock."""
        while True:
            try:
                self.step_until(self.now())
            except Exception:  # one bad step must not stop the market for good
                log.exception("scenario flow step failed")
            await asyncio.sleep(STEP_REAL_SECS)

    # ---- agents --------------------------------------------------------------------------------

    def _open(self) -> list[Market]:
        return [m for m in self.markets.values() if not m.closed]

    def _on_tick(self, market: Market, price: float) -> str:
        return flow_orders.on_tick(market, price)

    def _post(
        self,
        bot: Bot,
        market: Market,
        token_id: str,
        side: str,
        price: str,
        size: float,
        order_type: str = "GTC",
    ) -> dict:
        self._orders += 1
        result = flow_orders.post(
            self.venue,
            bot.owner,
            bot.address,
            market,
            token_id,
            side,
            price,
            size,
            order_type,
            f"{self.seed}|{self._orders}",
        )
        if result.get("status") == "live":
            bot.live.append(result["orderID"])
        return result

    def _drift(self, market: Market) -> float:
        fair = self.fair[market.condition_id] + self.rng.gauss(0, self.scenario.noise.drift)
        self.fair[market.condition_id] = fair = min(0.95, max(0.05, fair))
        return fair

    def _noise(self, name: object) -> None:
        noise, bot = self.scenario.noise, self.bots[str(name)]
        self._at(self.sim_time + self._draw(noise.interval_secs), "noise", name)
        markets = self._open()
        if not markets:
            return
        market = self.rng.choice(markets)
        fair, draw = self._drift(market), self.rng.random()
        bot.live = [i for i in bot.live if self.venue.exchange.orders[i].status == "LIVE"]
        size = round(self._draw(noise.size))
        size = max(size, market.min_order_size)
        if draw < noise.cancel_probability and bot.live:
            self.venue.exchange.cancel(bot.owner, [bot.live.pop(0)])
        elif draw < noise.cancel_probability + noise.take_probability:
            side = "BUY" if self.rng.random() < fair else "SELL"
            price = fair + (0.05 if side == "BUY" else -0.05)
            self._post(bot, market, market.token_ids[0], side, self._on_tick(market, price), size, "FAK")
        else:
            side = self.rng.choice(("BUY", "SELL"))
            offset = self.rng.randint(1, 4) * market.tick_units / 10_000
            price = fair - offset if side == "BUY" else fair + offset
            token = self.rng.choice(market.token_ids)
            if not market.is_yes(token):  # the same intent quoted on the NO token (mirrored book)
                side, price = ("SELL" if side == "BUY" else "BUY"), 1 - price
            self._post(bot, market, token, side, self._on_tick(market, price), size)

    def _whale(self, index: object) -> None:
        assert isinstance(index, int), "whale actions are queued with the whale's index"
        spec = self.scenario.whales[index]
        self._at(self.sim_time + self._draw(spec.interval_secs), "whale", index)
        keys = [k for k in (spec.markets or list(self.markets)) if not self.markets[k].closed]
        if not keys:
            return
        market = self.markets[self.rng.choice(keys)]
        fair, bot = self._drift(market), self.bots[spec.wallet]
        token = self.rng.choice(market.token_ids)
        token_fair = fair if market.is_yes(token) else 1 - fair
        side = "BUY" if self.rng.random() < 0.6 else "SELL"
        price = token_fair + (0.08 if side == "BUY" else -0.08)
        result = self._post(
            bot, market, token, side, self._on_tick(market, price), round(self._draw(spec.size)), "FAK"
        )
        self._record(
            {
                "kind": "whale",
                "wallet": bot.address,
                "market": market.condition_id,
                "token_id": token,
                "side": side,
                "status": result.get("status"),
            }
        )

    def _requote(self, _: object) -> None:
        """The house re-centres its quotes on fair value: a market that drifts, not a frozen one."""
        self._at(self.sim_time + self.scenario.noise.requote_secs, "requote", None)
        frozen = {m.condition_id for key in self._mispriced for m in self.events[key]}
        for market in self._open():
            if market.condition_id in frozen:
                continue
            flow_orders.cancel_house(self.venue, market)
            seed_book(self.venue, market, self._on_tick(market, self.fair[market.condition_id]), 3, "50")

    def _mispricing(self, _: object) -> None:
        spec = self.scenario.mispricing
        assert spec is not None
        self._at(self.sim_time + self._draw(spec.interval_secs), "mispricing", None)
        keys = [
            k
            for k in (spec.events or list(self.events))
            if k not in self._mispriced and all(not m.closed for m in self.events[k])
        ]
        if not keys:
            return
        key = self.rng.choice(keys)
        ask_sum = flow_orders.misprice(self.venue, self.events[key], self.fair, spec.edge, spec.size)
        self._mispriced.add(key)
        self._at(self.sim_time + spec.lifetime_secs, "expire", key)
        asks = {
            m.condition_id: flow_orders.best_yes_ask(self.venue, m) for m in self.events[key] if not m.closed
        }
        self._record({"kind": "mispricing", "event": key, "ask_sum": ask_sum, "asks": asks})

    def _expire_mispricing(self, key: object) -> None:
        self._mispriced.discard(str(key))
        for market in self.events[str(key)]:
            if not market.closed:
                flow_orders.cancel_house(self.venue, market)
                seed_book(self.venue, market, self._on_tick(market, self.fair[market.condition_id]), 3, "50")

    def _action(self, index: object) -> None:
        assert isinstance(index, int), "schedule actions are queued with the action's index"
        action: Action = self.scenario.schedule[index]
        market = self.markets.get(action.market or "")
        if action.action == "tick_size" and market is not None and action.tick_size:
            self.venue.change_tick_size(market, action.tick_size)
        elif action.action == "resolve" and market is not None and not market.closed:
            self.venue.resolve(market, market.token_ids[0 if action.winner == "yes" else 1])
        elif action.action == "fault" and action.kind is not None:
            apply_fault(self.venue, action.kind, dict(action.body))
        self._record({"kind": action.action, "market": market.condition_id if market else None})

    def _record(self, entry: dict) -> None:
        """A flow log entry: `t` simulated seconds, `ts` the venue clock (unix seconds) when it happened."""
        self.log.append({"t": self.sim_time, "ts": self.venue.clock.now(), **entry})

    # ---- what others read ----------------------------------------------------------------------

    def describe(self) -> dict:
        return {
            "name": self.scenario.name,
            "seed": self.seed,
            "speed": self.speed,
            "sim_time": self.sim_time,
            "markets": {key: m.condition_id for key, m in self.markets.items()},
            "wallets": [{"name": b.name, "address": b.address, "whale": b.whale} for b in self.bots.values()],
            "log": self.log[-50:],
        }
