"""The control paths a person uses, shared by the `polydesk` commands and the control API: each is a message on
a stream that the owning service applies (risk the kill switch, the executor cancel-all, strategy verdict
decisions), and a wait for that service's confirmation. Nothing here changes state directly."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import time
from typing import Any

import redis.asyncio as aioredis

from services.risk.killswitch import status_key
from shared.approvals import VerdictAnswer, request_verdict_decision
from shared.messages import CancelAllRequested, Envelope, KillSwitchCommand
from shared.streams import CONTROL, Bus

__all__ = [
    "VerdictAnswer",
    "cli_actor",
    "kill_switch_status",
    "request_cancel_all",
    "request_kill_switch",
    "request_verdict_decision",
]


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
