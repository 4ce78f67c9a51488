"""Batching and rate limiting of one channel (pure), and what becomes a note."""

from __future__ import annotations

from decimal import Decimal as D

from services.notifier import notes
from services.notifier.outbox import MAX_TEXT, Outbox
from shared import messages as m
from tests.risk.helpers import fill


def note(i: int) -> notes.Note:
    return notes.Note("fill", f"fill number {i}")


def test_notes_of_one_flush_go_out_as_one_message_and_a_verdict_alone():
    box = Outbox(max_per_minute=20)
    for i in range(5):
        box.add(note(i))
    box.add(notes.Note("verdict_pending", "approve me", verdict_id="v1"))
    merged, verdict = box.take(now=0.0)
    assert len(merged.notes) == 5 and merged.text.startswith("polydesk: 5 notes\n")
    assert [line for line in merged.text.splitlines()[1:]] == [f"• fill number {i}" for i in range(5)]
    assert (verdict.verdict_id, verdict.text) == ("v1", "approve me")
    assert box.take(now=0.1) == []


def test_beyond_the_rate_notes_wait_and_merge_into_the_next_allowed_message():
    box = Outbox(max_per_minute=3)
    sent = []
    for second in range(10):  # one note a second, a flush each second
        box.add(note(second))
        for batch in box.take(now=float(second)):
            box.sent(float(second))
            sent.append(batch)
    assert len(sent) == 3 and sum(len(b.notes) for b in sent) == 3
    assert len(box.queue) == 7  # waiting, not lost
    later = box.take(now=60.0)
    assert len(later) == 1 and [n.text for n in later[0].notes] == [f"fill number {i}" for i in range(3, 10)]


def test_a_failed_message_keeps_its_notes_and_holds_the_channel_for_retry_after():
    box = Outbox(max_per_minute=20)
    box.add(note(1))
    [batch] = box.take(now=0.0)
    box.failed([batch], now=0.0, retry_after=30.0)
    assert box.take(now=10.0) == []
    [again] = box.take(now=30.0)
    assert again.notes == batch.notes


def test_a_long_burst_is_split_to_fit_a_message():
    box = Outbox(max_per_minute=20)
    for i in range(400):
        box.add(notes.Note("fill", f"fill {i:03d} " + "x" * 40))
    batches = box.take(now=0.0)
    assert all(len(b.text) <= MAX_TEXT + 100 for b in batches)
    assert [n.text for b in batches for n in b.notes] == [f"fill {i:03d} " + "x" * 40 for i in range(400)]


def test_what_becomes_a_note():
    assert notes.from_message(fill("t1", m.TradeStatus.MATCHED)).kind == "fill"
    assert notes.from_message(fill("t1", m.TradeStatus.CONFIRMED)) is None  # one note per trade
    assert "FAILED" in notes.from_message(fill("t1", m.TradeStatus.FAILED)).text
    trip = m.KillSwitchChanged(envelope=m.Envelope.new("risk"), active=True, reason="loss", actor="risk:auto")
    assert notes.from_message(trip).text == "kill switch TRIPPED: loss (risk:auto)"
    assert notes.from_event({"type": "preflight", "checks": [{"name": "clock", "status": "PASS"}]}) is None
    failed = notes.from_event({"type": "preflight", "checks": [{"name": "funds", "status": "FAIL", "detail": "0"}]})
    assert failed.kind == "preflight_failed" and "funds: 0" in failed.text
    status = {"pnl_realized_usd": "-30", "pnl_unrealized_usd": "-15", "max_daily_loss_usd": "50"}
    assert notes.loss_levels_reached(status, (50, 80)) == (D(45), [50, 80])
    assert notes.loss_levels_reached({**status, "pnl_unrealized_usd": "0"}, (50, 80)) == (D(30), [50])
    assert notes.loss_levels_reached({}, (50, 80)) == (D(0), [])  # risk silent: nothing claimed


def test_messages_taken_after_a_failed_one_are_kept_too_in_order():
    box = Outbox(max_per_minute=20)
    box.add(note(1))
    box.add(notes.Note("verdict_pending", "approve me", verdict_id="v1"))
    box.add(notes.Note("verdict_pending", "and me", verdict_id="v2"))
    taken = box.take(now=0.0)
    assert len(taken) == 3
    box.failed(taken, now=0.0, retry_after=None)  # the first failed: none of the three went
    assert [n.text for n in box.queue] == ["fill number 1", "approve me", "and me"]
