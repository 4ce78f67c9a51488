"""The strategy service: one worker per shard, consuming `events:<shard>`, `fills` and `signals`, emitting intents.

Start: rebuild memory (rebuild.py), then run three consumers in the per-shard group `strategy:<shard>`.
Each handler returns the intents as outputs, so they are written and the input acknowledged atomically.
With POLYDESK_VERDICT_APPROVAL=manual, external signals wait for a person's decision (held.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter

from services.strategy.config import StrategySettings
from services.strategy.engine import Engine, build_strategies
from services.strategy.held import SWEEP_SECS, HeldVerdicts
from services.strategy.intents import Intent, Strategy, reason_kind
from services.strategy.rebuild import entry_key, replay, replay_finished
from shared import metrics
from shared.lifecycle import ServiceContext, ServiceMain
from shared.messages import BasketIntent, CancelIntent, ExternalSignal, Message, VerdictDecision
from shared.streams import FILLS, INTENTS, SIGNALS, Delivery, Output, events_stream

log = logging.getLogger(__name__)


def group_name(shard: str) -> str:
    """The consumer group of one shard's worker, on each of the three streams it reads."""
    return f"strategy:{shard}"


class StrategyWorker:
    """The engine on the bus for one shard."""

    def __init__(
        self, ctx: ServiceContext, settings: StrategySettings, strategies: list[Strategy] | None = None
    ) -> None:
        self.ctx = ctx
        self.shard = settings.shard
        self.group = group_name(self.shard)
        self.events = events_stream(self.shard)
        self.engine = Engine(build_strategies(settings) if strategies is None else strategies)
        self.strategy_names = list(settings.strategies)
        self._fills_replayed_to: tuple[int, int] = (0, 0)
        self._seen: dict[str, Counter] = {}
        self.held = (
            HeldVerdicts(ctx, self.engine, self.shard, settings.verdict_approval_window_secs)
            if settings.verdict_approval == "manual"
            else None
        )

    async def rebuild(self) -> None:
        """Inventory and orders from all retained fills; then books and strategy memory; then verdicts."""
        bus = self.ctx.bus
        fills = await replay(bus, FILLS, self.engine.on_fill)
        if fills.last_id is not None:
            self._fills_replayed_to = entry_key(fills.last_id)
        events = await replay_finished(bus, self.events, self.group, self._replay_event)
        signals = await replay_finished(bus, SIGNALS, self.group, self._replay_signal)
        if self.held is not None:
            await self.held.replay_approvals()
        # In the health key rather than the event log, which holds decisions and trades.
        self.ctx.status["rebuilt"] = {
            "fills": fills.entries,
            "events": events.entries,
            "signals": signals.entries,
            "skipped": fills.skipped + events.skipped + signals.skipped,
        }
        log.info(
            "rebuilt shard %s from %d fills, %d events, %d signals",
            self.shard,
            fills.entries,
            events.entries,
            signals.entries,
        )

    def _replay_event(self, message: Message) -> None:
        self.engine.on_event(message)  # the intents were emitted when the entry was first handled

    def _replay_signal(self, message: Message) -> None:
        if self.held is not None:  # a held signal reaches the engine only through its approval
            if isinstance(message, VerdictDecision):
                self.held.remember_replayed(message)
        elif isinstance(message, ExternalSignal):
            self.engine.on_signal(message)

    def count_seen(self, strategy: str) -> None:
        """A trigger a strategy considered (Engine.on_seen, set once the rebuild has replayed the history)."""
        counter = self._seen.get(strategy)
        if counter is None:  # a labelled child is looked up once per strategy, not once per event
            counter = self._seen[strategy] = metrics.STRATEGY_SIGNALS_SEEN.labels(strategy=strategy)
        counter.inc()

    async def run(self) -> None:
        await self.rebuild()
        self.engine.on_seen = self.count_seen
        self.ctx.status.update(shard=self.shard, strategies=self.strategy_names)
        # Run by the runtime once this returns; a consumer that dies takes the service down.
        self.ctx.consume(self.events, self.group, self.on_event)
        self.ctx.consume(FILLS, self.group, self.on_fill, trim_interval_secs=None)
        self.ctx.consume(SIGNALS, self.group, self.on_signal, trim_interval_secs=None)
        self.ctx.status["verdict_approval"] = "manual" if self.held is not None else "auto"
        if self.held is not None:
            self.ctx.every("verdict-expiry", SWEEP_SECS, self.held.expire_due)

    async def on_event(self, delivery: Delivery) -> Sequence[Output]:
        intents = self.engine.on_event(delivery.message)
        self.ctx.status["markets"] = len(self.engine.state.markets)
        return self._emit(intents)

    async def on_fill(self, delivery: Delivery) -> Sequence[Output]:
        if entry_key(delivery.entry_id) > self._fills_replayed_to:
            self.engine.on_fill(delivery.message)
        return ()

    async def on_signal(self, delivery: Delivery) -> Sequence[Output]:
        """Every signal is logged as `signal_seen`: acted on (with its intents) or ignored (with why)."""
        message = delivery.message
        if isinstance(message, VerdictDecision):
            return await self._on_verdict_decision(message)
        if not isinstance(message, ExternalSignal):
            self.ctx.events.emit(
                "signal_seen",
                signal_id=message.envelope.message_id,
                action="ignored",
                reason=f"not an external signal: {message.TYPE}",
            )
            return ()
        if self.held is not None:
            outputs, what = await self.held.hold(message)
            self._signal_seen(message, "held" if outputs else "ignored", what, [])
            return outputs
        decision = self.engine.decide_signal(message)
        self._signal_seen(
            message,
            "acted" if decision.intents else "ignored",
            decision.reason,
            [i.envelope.message_id for i in decision.intents],
        )
        return self._emit(decision.intents)

    async def _on_verdict_decision(self, message: VerdictDecision) -> Sequence[Output]:
        if self.held is None:
            self.ctx.events.emit(
                "verdict_decision_refused",
                verdict_id=message.verdict_id,
                actor=message.actor,
                approve=message.approve,
                reason="POLYDESK_VERDICT_APPROVAL is auto: no verdict is held here",
            )
            return ()
        outputs, decision = await self.held.decide(message)
        if decision is None:
            return outputs
        verdict = await self.held.store.get(message.verdict_id)
        if verdict is not None:
            self._signal_seen(
                verdict.signal,
                "acted" if decision.intents else "ignored",
                f"approved by {message.actor}: {decision.reason}",
                [i.envelope.message_id for i in decision.intents],
            )
        return [*outputs, *self._emit(decision.intents)]

    def _signal_seen(self, message: ExternalSignal, action: str, reason: str, intent_ids: list[str]) -> None:
        self.ctx.events.emit(
            "signal_seen",
            signal_id=message.envelope.message_id,
            source=message.source,
            market=message.market,
            token_id=message.token_id,
            probability=str(message.probability),
            expires_at_ts=message.expires_at_ts,
            action=action,
            reason=reason,
            intent_ids=intent_ids,
        )

    def _emit(self, intents: list[Intent]) -> list[Output]:
        for intent in intents:
            kind = reason_kind(intent.reason)
            metrics.INTENTS_EMITTED.labels(strategy=intent.strategy, reason_kind=kind).inc()
            fields: dict[str, Any] = {
                "strategy": intent.strategy,
                "signal_key": intent.signal_key,
                "reason": intent.reason,
                "market": intent.market,
                "intent_id": intent.envelope.message_id,
            }
            if isinstance(intent, BasketIntent):
                fields.update(
                    order_type=intent.order_type.value,
                    legs=[
                        {
                            "token_id": leg.token_id,
                            "side": leg.side.value,
                            "price": str(leg.price),
                            "size": str(leg.size),
                        }
                        for leg in intent.legs
                    ],
                )
            elif not isinstance(intent, CancelIntent):
                fields.update(
                    token_id=intent.token_id,
                    side=intent.side.value,
                    price=str(intent.price),
                    size=str(intent.size),
                    order_type=intent.order_type.value,
                )
            self.ctx.events.emit("intent_emitted", **fields)
        return [Output(INTENTS, intent) for intent in intents]


def build_main(settings: StrategySettings) -> ServiceMain:
    """The worker's main. Own strategies are loaded here, before anything starts: one that cannot be loaded
    stops the service at start with a ConfigurationError naming it."""
    strategies = build_strategies(settings)

    async def main(ctx: ServiceContext) -> None:
        await StrategyWorker(ctx, settings, strategies).run()

    return main
