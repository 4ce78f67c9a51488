"""Batching and rate limiting of one channel's notes (pure: the caller passes the clock).

Batching: every note seen since the last flush goes out as ONE message (one line each, up to MAX_TEXT
characters; what does not fit waits for the next message). A pending verdict is a message of its own, since
it carries its own approve/reject buttons.
Rate limit: at most `max_per_minute` messages in any 60 s; beyond that notes wait in the queue and merge into
the next allowed message, so a burst becomes a few long messages instead of a flood. A channel that answers
429 is left alone for its retry-after. The queue is bounded (MAX_QUEUED notes): beyond, the oldest ordinary
notes are dropped and the next message says how many.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from services.notifier.notes import Note

MAX_TEXT = 3900  # Telegram's limit is 4096 characters a message
MAX_QUEUED = 1000
WINDOW_SECS = 60.0


@dataclass(frozen=True)
class Batch:
    text: str
    notes: tuple[Note, ...]
    verdict_id: str | None = None


class Outbox:
    def __init__(self, max_per_minute: int) -> None:
        self.max_per_minute = max_per_minute
        self.queue: deque[Note] = deque()
        self.sent_at: deque[float] = deque()
        self.hold_until = 0.0
        self.dropped = 0

    def add(self, note: Note) -> None:
        self.queue.append(note)
        while len(self.queue) > MAX_QUEUED:
            oldest = next((n for n in self.queue if n.verdict_id is None), None)
            if oldest is None:
                break
            self.queue.remove(oldest)
            self.dropped += 1

    def budget(self, now: float) -> int:
        while self.sent_at and now - self.sent_at[0] >= WINDOW_SECS:
            self.sent_at.popleft()
        if now < self.hold_until:
            return 0
        return self.max_per_minute - len(self.sent_at)

    def take(self, now: float) -> list[Batch]:
        """The messages to send now (removed from the queue; give them back with `failed`)."""
        budget = self.budget(now)
        batches: list[Batch] = []
        while budget > 0 and self.queue:
            ordinary = [n for n in self.queue if n.verdict_id is None]
            if ordinary:
                batch = self._merge(ordinary)
            else:
                batch = Batch(self.queue[0].text, (self.queue[0],), self.queue[0].verdict_id)
            for note in batch.notes:
                self.queue.remove(note)
            batches.append(batch)
            budget -= 1
        return batches

    def _merge(self, notes: list[Note]) -> Batch:
        lines: list[str] = []
        taken: list[Note] = []
        size = 0
        for note in notes:
            line = f"• {note.text}"
            if taken and size + len(line) + 1 > MAX_TEXT:
                break
            lines.append(line)
            taken.append(note)
            size += len(line) + 1
        if self.dropped:
            lines.append(f"({self.dropped} older notes dropped: too many queued)")
            self.dropped = 0
        text = taken[0].text if len(lines) == 1 else f"polydesk: {len(taken)} notes\n" + "\n".join(lines)
        return Batch(text[: MAX_TEXT + 100], tuple(taken))

    def sent(self, now: float) -> None:
        self.sent_at.append(now)

    def failed(self, unsent: list[Batch], now: float, retry_after: float | None) -> None:
        """Messages that did not go (the failed one first, then those taken after it): their notes back at
        the front in their order, the channel held for `retry_after`."""
        for batch in reversed(unsent):
            self.queue.extendleft(reversed(batch.notes))
        self.sent_at.append(now)  # a failed attempt spends budget too: a dead channel is not hammered
        if retry_after is not None:
            self.hold_until = max(self.hold_until, now + retry_after)
