"""The control paths a person uses, shared by the `polydesk` commands and the control API: each is a message on
a stream that the owning service applies (risk the kill switch, the executor cancel-all, strategy verdict
decisions), and a wait for that service's confirmation. Nothing here changes state directly."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from services.risk.killswitch import status_key
from services.strategy.approvals import VerdictStore, refusal
from shared.messages import CancelAllRequested, Envelope, KillSwitchCommand, VerdictDecision, VerdictState
from shared.streams import CONTROL, SIGNALS, Bus


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


async def kill_switch_status(redis: aioredis.Redis, prefix: str) -> dict[str, Any] | None:
    """The state risk last published (active, reason, actor, changed_ts), None when it never did."""
    raw = await redis.get(status_key(prefix))
    return json.loads(raw) if raw else None


async def request_kill_switch(
    bus: Bus, *, active: bool, reason: str, actor: str, wait_secs: float, producer: str = "cli"
) -> tuple[str, dict[str, Any] | None]:
    """Publish a KillSwitchCommand on `control`; returns (its entry id, risk's status once it shows the
    requested state within `wait_secs`, else None: requested, not confirmed). A switch already in the
    requested state confirms at once (risk leaves it as it is)."""
    command = KillSwitchCommand(envelope=Envelope.new(producer), active=active, reason=reason, actor=actor)
    entry_id = await bus.publish(CONTROL, command)
    deadline = time.monotonic() + wait_secs
    while True:
        status = await kill_switch_status(bus.redis, bus.prefix)
        if status is not None and status.get("active") == active:
            return entry_id, status
        if time.monotonic() >= deadline:
            return entry_id, None
        await asyncio.sleep(0.1)


async def request_cancel_all(
    bus: Bus, *, reason: str, market: str | None = None, producer: str = "cli"
) -> str:
    """Ask the executor to cancel every open order (of `market` when given): a CancelAllRequested on `control`,
    the message risk sends when the kill switch trips. Returns its entry id."""
    return await bus.publish(
        CONTROL, CancelAllRequested(envelope=Envelope.new(producer), reason=reason, market=market)
    )


@dataclass(frozen=True)
class VerdictAnswer:
    """What became of a decision asked for: `state` once strategy applied it (None: not confirmed within the
    wait), or `refused` with the reason a person reads."""

    verdict_id: str
    state: VerdictState | None = None
    refused: str | None = None
    entry_id: str | None = None


async def request_verdict_decision(
    bus: Bus,
    store: VerdictStore,
    verdict_id: str,
    *,
    approve: bool,
    actor: str,
    reason: str,
    wait_secs: float,
    producer: str = "cli",
) -> VerdictAnswer:
    """Approve or reject a held verdict: refused at once when it is unknown, decided or expired; else a
    VerdictDecision on `signals` for the strategy worker holding it, and a wait for its new state."""
    why = refusal(await store.get(verdict_id), verdict_id, approve=approve, now=time.time())
    if why is not None:
        return VerdictAnswer(verdict_id, refused=why)
    decision = VerdictDecision(
        envelope=Envelope.new(producer), verdict_id=verdict_id, approve=approve, actor=actor, reason=reason
    )
    entry_id = await bus.publish(SIGNALS, decision)
    wanted = VerdictState.APPROVED if approve else VerdictState.REJECTED
    deadline = time.monotonic() + wait_secs
    while True:
        verdict = await store.get(verdict_id)
        if verdict is not None and verdict.state != VerdictState.PENDING:
            if verdict.state == wanted and verdict.decision_id == decision.envelope.message_id:
                return VerdictAnswer(verdict_id, state=verdict.state, entry_id=entry_id)
            # Expired (or decided by someone else) before strategy applied this decision.
            why = refusal(verdict, verdict_id, approve=approve, now=time.time())
            return VerdictAnswer(verdict_id, state=verdict.state, refused=why, entry_id=entry_id)
        if time.monotonic() >= deadline:
            return VerdictAnswer(verdict_id, entry_id=entry_id)
        await asyncio.sleep(0.1)
