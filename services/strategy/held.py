"""Manual approval of external verdicts (POLYDESK_VERDICT_APPROVAL=manual): a signal is held in the verdict
store (approvals.py) instead of reaching the engine; a VerdictDecision on `signals` approves it (the engine
then sees the signal, at the decision's time) or rejects it; a periodic sweep expires the ones nobody decided.
Each change of state is published on `verdicts` for the notifier, once.

On restart the engine's memory is rebuilt from the approvals alone: a held signal replays as nothing, an
approval replays as its signal when the store records that decision as the one that approved it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from services.strategy.engine import Engine, SignalDecision, message_time
from shared.approvals import HeldVerdict, VerdictStore, refusal
from shared.lifecycle import ServiceContext
from shared.messages import (
    Envelope,
    ExternalSignal,
    VerdictDecided,
    VerdictDecision,
    VerdictPending,
    VerdictState,
)
from shared.streams import VERDICTS, Output

log = logging.getLogger(__name__)
EXPIRY_ACTOR = "strategy:expiry"
SWEEP_SECS = 1.0


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


class HeldVerdicts:
    """The manual-approval path of one strategy worker."""

    def __init__(self, ctx: ServiceContext, engine: Engine, shard: str, window_secs: float) -> None:
        self.ctx = ctx
        self.engine = engine
        self.shard = shard
        self.window_secs = window_secs
        self.store = VerdictStore(ctx.redis, ctx.settings.stream_prefix)
        self._replayed_decisions: list[VerdictDecision] = []

    # ---- live -------------------------------------------------------------------------------------------

    async def hold(self, signal: ExternalSignal) -> tuple[list[Output], str]:
        """Keep a signal pending; returns (outputs, what was done with it, for `signal_seen`)."""
        market = self.engine.state.markets.get(signal.market)
        if market is None:
            return [], "market not served by this worker's shard (or not discovered yet)"
        token = signal.token_id or (market.token_ids[0] if market.token_ids else "")
        received = message_time(signal)
        expires = received + self.window_secs
        if signal.expires_at_ts is not None:
            expires = min(expires, float(signal.expires_at_ts))
        if expires <= time.time():
            return [], f"expired at {_iso(expires)} before it could be held for approval"
        question = market.info.question if market.info else ""
        await self.store.hold(signal, shard=self.shard, question=question, expires_at=expires, now=received)
        pending = VerdictPending(
            envelope=Envelope.new("strategy", cause=signal),
            verdict_id=signal.envelope.message_id,
            market=signal.market,
            question=question,
            token_id=token,
            probability=signal.probability,
            source=signal.source,
            expires_at_ts=expires,
        )
        return [Output(VERDICTS, pending)], f"held for approval until {_iso(expires)}"

    async def decide(self, decision: VerdictDecision) -> tuple[list[Output], SignalDecision | None]:
        """Apply a person's decision; returns (outputs, the engine's decision on the signal when approved)."""
        target = VerdictState.APPROVED if decision.approve else VerdictState.REJECTED
        decided_at = message_time(decision)
        held_by = await self.store.get(decision.verdict_id)
        if held_by is not None and held_by.shard != self.shard:
            return [], None  # every shard's worker reads `signals`: the one holding the verdict decides
        outcome = await self.store.decide(
            decision.verdict_id,
            target,
            now=decided_at,
            actor=decision.actor,
            reason=decision.reason,
            decision_id=decision.envelope.message_id,
        )
        verdict = await self.store.get(decision.verdict_id)
        # A redelivery after a crash between the store's change and the commit: the change was ours.
        ours = outcome.changed or (
            verdict is not None and verdict.decision_id == decision.envelope.message_id
        )
        if not ours or verdict is None:
            why = refusal(verdict, decision.verdict_id, approve=decision.approve, now=decided_at)
            self.ctx.events.emit(
                "verdict_decision_refused",
                verdict_id=decision.verdict_id,
                actor=decision.actor,
                approve=decision.approve,
                reason=why or "not pending",
            )
            return [], None
        self.ctx.events.emit(
            "verdict_decided",
            verdict_id=verdict.verdict_id,
            state=verdict.state.value,
            actor=decision.actor,
            reason=decision.reason,
        )
        outputs = [Output(VERDICTS, self._decided(verdict, decision.actor, decision.reason, cause=decision))]
        if verdict.state != VerdictState.APPROVED:
            return outputs, None
        signal_decision = self.engine.decide_signal(verdict.signal, now=decided_at)
        return outputs, signal_decision

    async def expire_due(self) -> int:
        """Expire every pending verdict whose time has come (each exactly once, whichever worker sweeps)."""
        expired = 0
        for verdict_id in await self.store.due():
            outcome = await self.store.decide(
                verdict_id, VerdictState.EXPIRED, now=time.time(), actor=EXPIRY_ACTOR
            )
            verdict = await self.store.get(verdict_id)
            if not outcome.changed or verdict is None:
                continue
            expired += 1
            self.ctx.events.emit("verdict_expired", verdict_id=verdict_id, expires_at=verdict.expires_at)
            await self.ctx.bus.publish(VERDICTS, self._decided(verdict, EXPIRY_ACTOR, "not decided in time"))
        return expired

    def _decided(
        self, verdict: HeldVerdict, actor: str, reason: str, cause: VerdictDecision | None = None
    ) -> VerdictDecided:
        return VerdictDecided(
            envelope=Envelope.new("strategy", cause=cause),
            verdict_id=verdict.verdict_id,
            state=verdict.state,
            actor=actor,
            reason=reason,
        )

    # ---- rebuild ----------------------------------------------------------------------------------------

    def remember_replayed(self, decision: VerdictDecision) -> None:
        self._replayed_decisions.append(decision)

    async def replay_approvals(self) -> int:
        """Feed the engine the signals of the approvals replayed from `signals`; returns how many."""
        fed = 0
        for decision in self._replayed_decisions:
            verdict = await self.store.get(decision.verdict_id)
            if (
                verdict is not None
                and verdict.state == VerdictState.APPROVED
                and verdict.decision_id == decision.envelope.message_id
            ):
                self.engine.on_signal(verdict.signal, now=message_time(decision))
                fed += 1
        self._replayed_decisions.clear()
        return fed
