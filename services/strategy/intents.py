"""Building intents: deterministic ids from the signal key, the cause's envelope, and a bounded reason kind.

A redelivered event yields intents with the same message ids (deterministic_id("intent", cause id, key,
leg)), so risk replays its recorded decision; a new event that finds the same opportunity again (same
signal key) makes a new intent, judged afresh (risk's DEDUP_WINDOW is what blocks a repeat of an approved
one). The cause's id is in it because a recurring identical arbitrage once replayed an old rejection. A reason reads "<kind>: <detail>"; the kind alone is a metric label.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Protocol

from services.strategy.state import WorldState
from shared.messages import (
    BasketIntent,
    BasketLeg,
    CancelIntent,
    CancelIntentV2,
    Envelope,
    Message,
    OrderIntent,
    OrderType,
    Side,
    deterministic_id,
)

PRODUCER = "strategy"
Intent = OrderIntent | CancelIntent | BasketIntent


class Strategy(Protocol):
    """A pure strategy: no I/O, no clock; its memory lives in the state it is given."""

    name: str

    def relevant(self, event: Message) -> bool:
        """Whether this event is a trigger the strategy considers (counted as a signal seen)."""

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        """The intents this event calls for, given the state after the event was applied."""


class Ignored(list[Intent]):
    """No intents, and why: what a strategy may return for a trigger it considered and did not act on, so
    the worker can log the reason (`signal_seen`). An empty list: callers that only want intents see []."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def why_ignored(result: list[Intent]) -> str:
    """The reason a strategy gave for returning no intents, or a generic one when it gave none."""
    return result.reason if isinstance(result, Ignored) else "no opportunity"


def fingerprint(*parts: object) -> str:
    """A short stable digest of an opportunity (prices and sizes), for signal keys."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def envelope(cause: Message, signal_key: str, leg: str) -> Envelope:
    return Envelope.new(
        PRODUCER,
        cause=cause,
        message_id=deterministic_id("intent", cause.envelope.message_id, signal_key, leg),
    )


def order(
    cause: Message,
    *,
    strategy: str,
    signal_key: str,
    leg: str,
    market: str,
    token_id: str,
    side: Side,
    price: Decimal,
    size: Decimal,
    reason: str,
    order_type: OrderType = OrderType.GTC,
    post_only: bool = False,
    must_fill: bool = False,
    replaces_signal_key: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        envelope=envelope(cause, signal_key, leg),
        token_id=token_id,
        side=side,
        size=size,
        price=price,
        order_type=order_type,
        reason=reason,
        strategy=strategy,
        signal_key=signal_key,
        market=market,
        post_only=post_only,
        must_fill=must_fill,
        replaces_signal_key=replaces_signal_key,
    )


def basket(
    cause: Message,
    *,
    strategy: str,
    signal_key: str,
    market: str,
    legs: list[BasketLeg],
    reason: str,
    order_type: OrderType = OrderType.FOK,
) -> BasketIntent:
    """Legs that are worth something only together: risk judges them as one, the executor fills all or none."""
    return BasketIntent(
        envelope=envelope(cause, signal_key, "basket"),
        strategy=strategy,
        signal_key=signal_key,
        reason=reason,
        market=market,
        legs=tuple(legs),
        order_type=order_type,
    )


def cancel(
    cause: Message,
    *,
    strategy: str,
    signal_key: str,
    market: str,
    reason: str,
    of_signal_key: str | None = None,
) -> CancelIntent:
    """Cancel the open orders of `strategy` in `market`: all of them, or only those `of_signal_key` produced
    (the executor resolves the ids; never another strategy's orders)."""
    return CancelIntentV2(
        envelope=envelope(cause, signal_key, "cancel"),
        strategy=strategy,
        signal_key=signal_key,
        reason=reason,
        market=market,
        of_signal_key=of_signal_key,
    )


def reason_kind(reason: str) -> str:
    """The bounded part of a reason, for metric labels: the text before the first colon."""
    return reason.split(":", 1)[0].strip() or "unspecified"
