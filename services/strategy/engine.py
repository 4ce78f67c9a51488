"""The strategy engine: folds events, fills and signals into the world state and asks each strategy for intents.

No I/O. `now` comes from the triggering message's envelope, so a redelivered or replayed message yields the
same intents. A last check drops any order off the tick grid, outside [tick, 1 - tick], below the minimum, or on a token
whose book is not valid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.strategy import plugins
from services.strategy.config import StrategySettings
from services.strategy.intents import Intent, Strategy, why_ignored
from services.strategy.pricing import on_grid
from services.strategy.state import WorldState, apply_event, apply_fill, apply_order_update, apply_redemption
from services.strategy.strategies.arbitrage import Arbitrage, ArbParams
from services.strategy.strategies.bench import Bench, BenchParams
from services.strategy.strategies.copy import CopyParams, CopyTrading
from services.strategy.strategies.market_making import MarketMaking, MMParams
from services.strategy.strategies.verdict import ExternalVerdict, SizingParams, VerdictParams
from shared import metrics
from shared.messages import (
    BasketIntent,
    BasketLeg,
    ExternalSignal,
    Fill,
    Message,
    OrderIntent,
    OrderUpdate,
    PositionRedeemed,
)

log = logging.getLogger(__name__)


def _copy(s: StrategySettings) -> Strategy:
    return CopyTrading(
        CopyParams(
            wallets=frozenset(w.lower() for w in s.copy_wallets),
            size_ratio=s.copy_size_ratio,
            min_size_usd=s.copy_min_size_usd,
            max_size_usd=s.copy_max_size_usd,
            price_guard_bps=s.copy_price_guard_bps,
        )
    )


def _arbitrage(s: StrategySettings) -> Strategy:
    return Arbitrage(ArbParams(min_edge_bps=s.arb_min_edge_bps, max_size_usd=s.arb_max_size_usd))


def _market_making(s: StrategySettings) -> Strategy:
    return MarketMaking(
        MMParams(
            half_spread_bps=s.mm_half_spread_bps,
            requote_interval_secs=s.mm_requote_interval_secs,
            quote_size_usd=s.mm_quote_size_usd,
            inventory_skew_bps_per_share=s.mm_inventory_skew_bps_per_share,
            reference=s.mm_reference,
            markets=frozenset(s.mm_markets),
        )
    )


def _verdict(s: StrategySettings) -> Strategy:
    sizing = SizingParams(
        mode=s.verdict_sizing,
        fixed_usd=s.verdict_fixed_usd,
        bankroll_usd=s.verdict_bankroll_usd,
        kelly_fraction=s.verdict_kelly_fraction,
        max_usd=s.verdict_max_usd,
        vol_target=s.verdict_vol_target,
    )
    return ExternalVerdict(VerdictParams(min_edge_bps=s.verdict_min_edge_bps, sizing=sizing))


def _bench(s: StrategySettings) -> Strategy:
    return Bench(BenchParams(trigger_price=s.bench_trigger_price, order_price=s.bench_order_price))


# Setting value -> builder: the names in StrategySettings.strategies.
BUILDERS: dict[str, Callable[[StrategySettings], Strategy]] = {
    "copy": _copy,
    "arbitrage": _arbitrage,
    "market_making": _market_making,
    "verdict": _verdict,
    "bench": _bench,
}


def build_strategies(settings: StrategySettings) -> list[Strategy]:
    """The enabled strategies: built-in ones from their settings, own ones loaded by name
    (services/strategy/plugins.py; ConfigurationError naming one that cannot be loaded)."""
    return [
        BUILDERS[name](settings)
        if name in BUILDERS
        else plugins.load(name, settings.strategy_path, settings.strategy_params.get(name, {}))
        for name in settings.strategies
    ]


@dataclass(frozen=True)
class SignalDecision:
    """What the worker did with one external signal: the intents, or why there are none."""

    intents: list[Intent]
    reason: str  # the intents' reasons when it acted; each considering strategy's reason when it did not


def message_time(message: Message) -> float:
    """The deterministic 'now' of a message: when its producer built it, in unix seconds."""
    return message.envelope.created_ts_ns / 1e9


class Engine:
    """The world state and the enabled strategies of one worker."""

    def __init__(self, strategies: Sequence[Strategy], state: WorldState | None = None) -> None:
        self.strategies = list(strategies)
        self.state = state or WorldState()
        self.on_seen: Callable[[str], None] = lambda name: None

    def on_event(self, event: Message, now: float | None = None) -> list[Intent]:
        """An `events:<shard>` message: apply it, then run every strategy on the new state."""
        apply_event(self.state, event)
        return self._run(event, message_time(event) if now is None else now)

    def on_signal(self, signal: ExternalSignal, now: float | None = None) -> list[Intent]:
        """A `signals` message; one for a market this worker has not seen is ignored."""
        return self.decide_signal(signal, now).intents

    def decide_signal(self, signal: ExternalSignal, now: float | None = None) -> SignalDecision:
        """on_signal, with the reason it acted or did not (for the `signal_seen` event)."""
        if signal.market not in self.state.markets:
            return SignalDecision([], "market not served by this worker's shard (or not discovered yet)")
        reasons: list[str] = []
        intents = self._run(signal, message_time(signal) if now is None else now, reasons)
        if intents:
            return SignalDecision(intents, "; ".join(dict.fromkeys(i.reason for i in intents)))
        return SignalDecision([], "; ".join(reasons) or "no enabled strategy takes external signals")

    def on_fill(self, message: Message) -> None:
        """A `fills` message: own inventory (fills, redemptions) and open orders."""
        if isinstance(message, Fill):
            apply_fill(self.state.portfolio, message)
        elif isinstance(message, PositionRedeemed):
            apply_redemption(self.state.portfolio, message)
        elif isinstance(message, OrderUpdate):
            apply_order_update(self.state.portfolio, message)

    def _run(self, event: Message, now: float, reasons: list[str] | None = None) -> list[Intent]:
        """Every strategy's valid intents; `reasons` collects why each strategy that considered the event
        (relevant) gave none."""
        intents: list[Intent] = []
        for strategy in self.strategies:
            relevant = strategy.relevant(event)
            if relevant:
                self.on_seen(strategy.name)
            try:  # one strategy failing on an event (or building an intent out of bounds) costs the others nothing
                made = strategy.on_event(self.state, event, now)
            except Exception:  # logged with its traceback; the other strategies still run
                log.exception(
                    "strategy %s failed on %s; its intents for it are dropped", strategy.name, event.TYPE
                )
                metrics.STRATEGY_ERRORS.labels(strategy=strategy.name).inc()
                if relevant and reasons is not None:
                    reasons.append(f"{strategy.name}: failed on it (see the error log)")
                continue
            valid = [i for i in made if self._valid(i)]
            if relevant and not valid and reasons is not None:
                why = why_ignored(made) if not made else "its intent was invalid and dropped"
                reasons.append(f"{strategy.name}: {why}")
            intents += valid
        return intents

    def _valid(self, intent: Intent) -> bool:
        if isinstance(intent, BasketIntent):  # all legs valid, or none goes out
            return all(self._valid_order(intent.strategy, leg) for leg in intent.legs)
        if not isinstance(intent, OrderIntent):
            return True
        return self._valid_order(intent.strategy, intent)

    def _valid_order(self, strategy: str, intent: OrderIntent | BasketLeg) -> bool:
        market = self.state.markets.get(intent.market)
        if market is not None and on_grid(intent.price, market.tick_size) and intent.size >= market.min_size:
            # A token with no book here was priced from its complement's (a mirrored quote); one whose book
            # ingest reported not valid, or that awaits its snapshot, trades on nothing until a fresh one.
            book = market.books.get(intent.token_id)
            if book is None or book.valid:
                return True
            log.info(
                "dropped an intent from %s on a book that is not valid (%s): %s %s @ %s in %s",
                strategy,
                book.halted_reason or "no snapshot",
                intent.side,
                intent.size,
                intent.price,
                intent.market,
            )
            return False
        log.error(
            "dropped an invalid intent from %s: %s %s @ %s in %s",
            strategy,
            intent.side,
            intent.size,
            intent.price,
            intent.market,
        )
        return False
