"""POLYDESK_VERDICT_APPROVAL=manual on a real Redis: a verdict is held until a person approves it (then traded)
or rejects it; held verdicts survive a worker restart; each expires exactly once, and approving an expired
one is refused with the reason."""

from __future__ import annotations

import asyncio
import time

import pytest

from polydesk.control import request_verdict_decision
from shared.approvals import VerdictStore
from shared.logging import read_events
from shared.messages import Envelope, OrderIntent, VerdictDecided, VerdictPending, VerdictState, decode
from shared.streams import SIGNALS, VERDICTS, Bus, Output, events_stream
from tests.helpers import eventually
from tests.strategy.scenario import discovered, info, signal, snapshot
from tests.strategy.test_service import intents, run_worker, settings

pytestmark = pytest.mark.integration

M = info("ha")


def manual(redis_url, prefix, tmp_path, window: float = 600.0):
    return settings(redis_url, prefix, tmp_path).model_copy(
        update={"verdict_approval": "manual", "verdict_approval_window_secs": window})


async def market(bus: Bus) -> None:
    await bus.publish_many([Output(events_stream("a"), discovered(M, at=time.time())),
                            Output(events_stream("a"), snapshot(M, "ha-yes", [], [("0.40", "100")], at=time.time())),
                            Output(events_stream("a"), snapshot(M, "ha-no", [], [("0.62", "100")], at=time.time()))])


async def on_verdicts(bus: Bus) -> list:
    return [decode(f) for _, f in await bus.redis.xrange(bus.key(VERDICTS))]


async def decide(bus: Bus, verdict_id: str, approve: bool, wait: float = 10.0):
    return await request_verdict_decision(bus, VerdictStore(bus.redis, bus.prefix), verdict_id, approve=approve,
                                          actor="test:person", reason="looks right", wait_secs=wait)


async def pending_ids(bus: Bus) -> list[str]:
    return [v.verdict_id for v in await VerdictStore(bus.redis, bus.prefix).pending()]


async def test_a_held_verdict_trades_only_once_approved_and_survives_a_restart(bus, redis_url, prefix, tmp_path):
    s = manual(redis_url, prefix, tmp_path)
    await market(bus)
    verdict = signal(M, "0.60", at=time.time())

    async def held() -> None:
        await eventually(lambda: _acknowledged(bus))  # the worker knows the market before the verdict comes
        await bus.publish(SIGNALS, verdict)
        assert await eventually(lambda: pending_ids(bus)) == [verdict.envelope.message_id]

    await run_worker(bus, s, tmp_path, held)
    assert await intents(bus) == []
    [pending] = await on_verdicts(bus)
    assert isinstance(pending, VerdictPending) and pending.verdict_id == verdict.envelope.message_id
    assert pending.token_id == "ha-yes" and pending.expires_at_ts == pytest.approx(time.time() + 600, abs=30)

    async def approved() -> None:  # a new worker: the pending verdict is in Redis, not in memory
        answer = await decide(bus, verdict.envelope.message_id, approve=True)
        assert answer.state == VerdictState.APPROVED and answer.refused is None
        await eventually(lambda: intents(bus))

    await run_worker(bus, s, tmp_path, approved)
    [intent] = await intents(bus)
    assert isinstance(intent, OrderIntent) and intent.signal_key == f"verdict:{verdict.envelope.message_id}"
    decided = (await on_verdicts(bus))[-1]
    assert isinstance(decided, VerdictDecided) and (decided.state, decided.actor) == ("approved", "test:person")
    assert await pending_ids(bus) == []

    again = await decide(bus, verdict.envelope.message_id, approve=True, wait=0)
    assert again.refused == f"verdict {verdict.envelope.message_id} was already approved by test:person"

    async def rebuilt() -> None:  # the approval replays: memory knows it was acted on, nothing new is sent
        await bus.publish(events_stream("a"), snapshot(M, "ha-yes", [], [("0.30", "100")], at=time.time()))
        await eventually(lambda: _acknowledged(bus))

    await run_worker(bus, s, tmp_path, rebuilt)
    assert len(await intents(bus)) == 1


async def test_a_rejected_verdict_is_never_traded(bus, redis_url, prefix, tmp_path):
    s = manual(redis_url, prefix, tmp_path)
    await market(bus)
    verdict = signal(M, "0.60", at=time.time())

    async def rejected() -> None:
        await eventually(lambda: _acknowledged(bus))  # the worker knows the market before the verdict comes
        await bus.publish(SIGNALS, verdict)
        await eventually(lambda: pending_ids(bus))
        answer = await decide(bus, verdict.envelope.message_id, approve=False)
        assert answer.state == VerdictState.REJECTED
        await bus.publish(events_stream("a"), snapshot(M, "ha-yes", [], [("0.20", "100")], at=time.time()))
        await eventually(lambda: _acknowledged(bus))

    await run_worker(bus, s, tmp_path, rejected)
    assert await intents(bus) == []
    assert [type(v).__name__ for v in await on_verdicts(bus)] == ["VerdictPending", "VerdictDecided"]


async def test_a_verdict_expires_exactly_once_and_cannot_be_approved_after(bus, redis_url, prefix, tmp_path):
    s = manual(redis_url, prefix, tmp_path, window=1.0)
    await market(bus)
    verdict = signal(M, "0.60", at=time.time())
    vid = verdict.envelope.message_id

    async def expired() -> None:
        await eventually(lambda: _acknowledged(bus))  # the worker knows the market before the verdict comes
        await bus.publish(SIGNALS, verdict)
        await eventually(lambda: _decided(bus), timeout=15)

    await run_worker(bus, s, tmp_path, expired)
    store = VerdictStore(bus.redis, bus.prefix)
    assert (await store.get(vid)).state == VerdictState.EXPIRED
    late = await decide(bus, vid, approve=True, wait=0)
    assert late.refused is not None and late.refused.startswith(f"verdict {vid} expired at ")
    assert late.refused.endswith("it can no longer be approved")
    # More sweeps, from a second worker too, change nothing.
    await run_worker(bus, s, tmp_path, lambda: asyncio.sleep(1.5))
    decided = [v for v in await on_verdicts(bus) if isinstance(v, VerdictDecided)]
    assert [(d.verdict_id, d.state) for d in decided] == [(vid, "expired")]
    events = read_events(sorted(tmp_path.glob("events-*.jsonl")))
    assert [e["verdict_id"] for e in events if e["type"] == "verdict_expired"] == [vid]
    assert await intents(bus) == []


async def test_concurrent_decisions_leave_pending_exactly_once(bus):
    store = VerdictStore(bus.redis, bus.prefix)
    verdict = signal(M, "0.60", at=time.time())
    vid = verdict.envelope.message_id
    await store.hold(verdict, shard="a", question="q", expires_at=time.time() + 0.2, now=time.time())
    await asyncio.sleep(0.3)
    outcomes = await asyncio.gather(
        *[store.decide(vid, VerdictState.EXPIRED, now=time.time(), actor=f"sweeper{i}") for i in range(8)],
        store.decide(vid, VerdictState.APPROVED, now=time.time(), actor="late person"),
    )
    assert sum(o.changed for o in outcomes) == 1
    assert {o.state for o in outcomes} == {VerdictState.EXPIRED}  # the late approval turned into the expiry
    # An approval before the expiry wins over a sweep that comes too early.
    early = signal(M, "0.55", at=time.time())
    await store.hold(early, shard="a", question="q", expires_at=time.time() + 60, now=time.time())
    sweep = await store.decide(early.envelope.message_id, VerdictState.EXPIRED, now=time.time(), actor="sweeper")
    assert not sweep.changed and sweep.state == VerdictState.PENDING
    assert (await store.decide(early.envelope.message_id, VerdictState.APPROVED, now=time.time(),
                               actor="p")).changed


async def test_decisions_are_ignored_by_a_worker_in_auto_mode(bus, redis_url, prefix, tmp_path):
    from shared.messages import VerdictDecision

    s = settings(redis_url, prefix, tmp_path)
    decision = VerdictDecision(envelope=Envelope.new("cli"), verdict_id="x", approve=True, actor="p")

    async def ignored() -> None:
        await bus.publish(SIGNALS, decision)
        await eventually(lambda: _refusals(tmp_path))

    await run_worker(bus, s, tmp_path, ignored)
    assert "auto" in _refusals(tmp_path)[0]["reason"]


def _refusals(tmp_path):
    return [e for e in read_events(sorted(tmp_path.glob("events-*.jsonl")))
            if e["type"] == "verdict_decision_refused"]


async def _decided(bus: Bus) -> bool:
    return any(isinstance(v, VerdictDecided) for v in await on_verdicts(bus))


async def _acknowledged(bus: Bus) -> bool:
    stats = [g for g in await bus.group_stats(events_stream("a")) if g.group == "strategy:a"]
    return bool(stats) and stats[0].pending == 0 and stats[0].lag == 0
