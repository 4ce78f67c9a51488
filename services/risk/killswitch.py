"""The kill switch: trip (automatically or on command), release only on command, and tell everyone.

Each change is a KillSwitchChanged on `control` (Grafana annotates it), a `kill_switch` event and the
gauge; tripping also asks the executor to cancel every open order. The state lives in risk's SQLite and
is mirrored to a Redis key that `polydesk kill-switch status` reads.
"""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from services.risk.handling import Effects
from services.risk.state import KillState, RiskState
from shared import metrics
from shared.messages import CancelAllRequested, Envelope, KillSwitchChanged, Message, deterministic_id
from shared.streams import CONTROL, Output

PRODUCER = "risk"
AUTO_ACTOR = "risk:auto"


def status_key(prefix: str) -> str:
    """The Redis key holding the last kill switch state risk published (JSON)."""
    return f"{prefix}risk:kill_switch"


def trip_on_loss(state: RiskState, fx: Effects, *, reason: str, cause: Message) -> bool:
    """Trip automatically, at most once per trading day: after a release by hand the operator decides.

    The MAX_DAILY_LOSS_USD rule still rejects every order intent for the rest of that day.
    """
    if state.auto_tripped_today():
        return False
    return change(state, fx, active=True, reason=reason, actor=AUTO_ACTOR, cause=cause, auto=True)


def change(
    state: RiskState,
    fx: Effects,
    *,
    active: bool,
    reason: str,
    actor: str,
    cause: Message,
    auto: bool = False,
) -> bool:
    """Set the switch inside the caller's transaction; returns False when it already was in that state."""
    if not state.set_kill_switch(active, reason, actor, auto=auto):
        return False
    cause_id = cause.envelope.message_id
    changed = KillSwitchChanged(
        envelope=Envelope.new(PRODUCER, cause=cause, message_id=deterministic_id("kill_switch", cause_id)),
        active=active,
        reason=reason,
        actor=actor,
    )
    fx.outputs.append(Output(CONTROL, changed))
    if active:
        cancel_all = CancelAllRequested(
            envelope=Envelope.new(PRODUCER, cause=cause, message_id=deterministic_id("cancel_all", cause_id)),
            reason=f"kill switch: {reason}",
        )
        fx.outputs.append(Output(CONTROL, cancel_all))
    fx.event("kill_switch", active=active, reason=reason, actor=actor, cause_id=cause_id)
    fx.after.append(lambda: metrics.KILL_SWITCH_ACTIVE.set(int(active)))
    return True


def as_json(kill: KillState) -> str:
    return json.dumps(
        {"active": kill.active, "reason": kill.reason, "actor": kill.actor, "changed_ts": kill.changed_ts}
    )


async def publish_status(redis: aioredis.Redis, prefix: str, kill: KillState) -> None:
    """Mirror the switch to Redis (no TTL: the last known state stays readable while risk is down)."""
    await redis.set(status_key(prefix), as_json(kill))
