"""Verdicts held for a person's approval (POLYDESK_VERDICT_APPROVAL=manual), kept in Redis so they outlive a
strategy restart: one hash per verdict (`approvals:<id>`: the signal, its expiry, its state) and a sorted set
of the pending ones by expiry (`approvals:pending`).

Every change of state is one Lua script: a verdict leaves `pending` exactly once, to approved, rejected or
expired, whoever asks first (a worker's expiry sweep, a decision arriving late). An approval at or after the
expiry turns the verdict expired instead, and the caller is told so.

A decision is asked for with `request_verdict_decision` (the control API, `polydesk approve/reject` and the
notifier's buttons): refused at once when it cannot be taken, else a VerdictDecision on `signals` that the
strategy worker holding the verdict applies (services/strategy/held.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from shared.messages import Envelope, ExternalSignal, VerdictDecision, VerdictState, from_json, to_json
from shared.streams import SIGNALS, Bus

KEY_PREFIX = "approvals:"
PENDING_KEY = KEY_PREFIX + "pending"
KEEP_DECIDED_SECS = 7 * 86_400  # a decided verdict stays readable (and replayable on restart) this long

# KEYS: record, pending set. ARGV: id, fields... (name, value pairs). Creates once; returns 1 when created.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: record, pending set. ARGV: id, target state, now, actor, reason, decision id, keep secs.
# Returns {outcome, state}: outcome "changed" (this call moved it), "unchanged" (already decided, or not
# expired yet for an expiry), "missing".
_DECIDE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', ''} end
if state ~= 'pending' then return {'unchanged', state} end
local now = tonumber(ARGV[3])
local expired = now >= tonumber(redis.call('HGET', KEYS[1], 'expires_at'))
local target = ARGV[2]
if target == 'expired' and not expired then return {'unchanged', state} end
if target == 'approved' and expired then target = 'expired' end
redis.call('HSET', KEYS[1], 'state', target, 'decided_ts', ARGV[3], 'decided_by', ARGV[4],
           'decision_reason', ARGV[5], 'decision_id', ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return {'changed', target}
"""


@dataclass(frozen=True)
class HeldVerdict:
    verdict_id: str
    signal: ExternalSignal
    shard: str
    question: str
    received_ts: float
    expires_at: float
    state: VerdictState
    decided_by: str = ""
    decided_ts: float | None = None
    decision_reason: str = ""
    decision_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict_id": self.verdict_id,
            "state": self.state.value,
            "market": self.signal.market,
            "question": self.question,
            "token_id": self.signal.token_id,
            "probability": str(self.signal.probability),
            "source": self.signal.source,
            "shard": self.shard,
            "received_ts": self.received_ts,
            "expires_at": self.expires_at,
            "decided_by": self.decided_by or None,
            "decided_ts": self.decided_ts,
            "decision_reason": self.decision_reason or None,
        }


@dataclass(frozen=True)
class Outcome:
    changed: bool  # this call moved the verdict out of pending
    state: VerdictState | None  # None: no such verdict


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class VerdictStore:
    """The held verdicts of one deployment (key prefix)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._create = redis.register_script(_CREATE)
        self._decide = redis.register_script(_DECIDE)

    def key(self, verdict_id: str) -> str:
        return f"{self.prefix}{KEY_PREFIX}{verdict_id}"

    @property
    def pending_key(self) -> str:
        return self.prefix + PENDING_KEY

    async def hold(
        self, signal: ExternalSignal, *, shard: str, question: str, expires_at: float, now: float
    ) -> bool:
        """Keep `signal` pending until `expires_at`; False when it was held before (a redelivery)."""
        fields = {
            "state": VerdictState.PENDING.value,
            "signal": to_json(signal).decode(),
            "shard": shard,
            "question": question,
            "received_ts": repr(now),
            "expires_at": repr(expires_at),
        }
        args: list[Any] = [signal.envelope.message_id, repr(expires_at)]
        for name, value in fields.items():
            args += [name, value]
        created = await self._create(keys=[self.key(signal.envelope.message_id), self.pending_key], args=args)
        return bool(created)

    async def decide(
        self,
        verdict_id: str,
        state: VerdictState,
        *,
        now: float,
        actor: str,
        reason: str = "",
        decision_id: str = "",
    ) -> Outcome:
        """Move a pending verdict to `state` (approved, rejected or expired) unless it left pending before; an
        approval at or after its expiry makes it expired. Exactly one caller sees `changed` per verdict."""
        outcome, current = await self._decide(
            keys=[self.key(verdict_id), self.pending_key],
            args=[verdict_id, state.value, repr(now), actor, reason, decision_id, KEEP_DECIDED_SECS],
        )
        if _text(outcome) == "missing":
            return Outcome(False, None)
        return Outcome(_text(outcome) == "changed", VerdictState(_text(current)))

    async def get(self, verdict_id: str) -> HeldVerdict | None:
        raw = await self.redis.hgetall(self.key(verdict_id))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        signal = from_json(ExternalSignal, fields["signal"])
        return HeldVerdict(
            verdict_id=verdict_id,
            signal=signal,
            shard=fields.get("shard", ""),
            question=fields.get("question", ""),
            received_ts=float(fields["received_ts"]),
            expires_at=float(fields["expires_at"]),
            state=VerdictState(fields["state"]),
            decided_by=fields.get("decided_by", ""),
            decided_ts=float(fields["decided_ts"]) if fields.get("decided_ts") else None,
            decision_reason=fields.get("decision_reason", ""),
            decision_id=fields.get("decision_id", ""),
        )

    async def pending(self, now: float | None = None) -> list[HeldVerdict]:
        """Every verdict that can still be decided, soonest expiry first (one past its expiry that no worker
        has swept yet is not: it can no longer be approved)."""
        now = time.time() if now is None else now
        ids = [_text(i) for i in await self.redis.zrangebyscore(self.pending_key, f"({now!r}", "+inf")]
        found = [await self.get(i) for i in ids]
        return [v for v in found if v is not None and v.state == VerdictState.PENDING]

    async def due(self, now: float | None = None) -> list[str]:
        """Ids of the pending verdicts whose expiry has come."""
        now = time.time() if now is None else now
        return [_text(i) for i in await self.redis.zrangebyscore(self.pending_key, "-inf", now)]


def refusal(verdict: HeldVerdict | None, verdict_id: str, *, approve: bool, now: float) -> str | None:
    """Why a decision on this verdict cannot be taken now (a message for a person), None when it can."""
    if verdict is None:
        return f"no held verdict {verdict_id} (unknown, or decided more than {KEEP_DECIDED_SECS // 86400} days ago)"
    if verdict.state == VerdictState.EXPIRED or (
        verdict.state == VerdictState.PENDING and now >= verdict.expires_at
    ):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(verdict.expires_at))
        return f"verdict {verdict_id} expired at {when}; it can no longer be {'approved' if approve else 'rejected'}"
    if verdict.state != VerdictState.PENDING:
        by = f" by {verdict.decided_by}" if verdict.decided_by else ""
        return f"verdict {verdict_id} was already {verdict.state.value}{by}"
    return None


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
