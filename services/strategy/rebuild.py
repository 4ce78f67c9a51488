"""Rebuilding a worker's memory on start by folding the retained history of its streams, emitting nothing.

Events and signals: every entry the worker's group has finished (delivered and acknowledged) is replayed
through the same engine, so books, market rules and each strategy's memory come back as they were; entries
still pending are left to the consumer, which redoes them with their outputs. Fills: the whole retained
stream (inventory and open orders are cumulative); the fills consumer then skips what was replayed.

One entry at a time: an entry the engine cannot fold (one that got onto the bus before its bounds were
checked, or a bug) is skipped, logged and counted, and the rest of the history is folded; it used to stop
the rebuild, so the worker crash-looped on it at every start until the entry was trimmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.messages import Message
from shared.streams import Bus

log = logging.getLogger(__name__)
PAGE = 1000


@dataclass(frozen=True)
class Replayed:
    stream: str
    entries: int
    last_id: str | None  # the last entry id folded in (None: nothing)
    skipped: int = 0  # entries that could not be decoded or folded


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair (milliseconds, sequence)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def finished_upto(bus: Bus, stream: str, group: str) -> tuple[str | None, set[str]]:
    """The group's last delivered id (None: no group yet) and the ids it still has pending."""
    stats = {s.group: s for s in await bus.group_stats(stream)}
    if group not in stats:
        return None, set()
    return stats[group].last_delivered_id, await bus.pending_ids(stream, group)


async def replay(
    bus: Bus,
    stream: str,
    fold: Callable[[Message], None],
    *,
    until: str = "+",
    skip: frozenset[str] = frozenset(),
) -> Replayed:
    """Fold every decodable entry of `stream` up to `until` (inclusive), except the ids in `skip`."""
    after: str | None = None
    count = skipped = 0
    last: str | None = None
    while True:
        page = await bus.history(stream, after=after, until=until, count=PAGE)
        for entry_id, message in page:
            if entry_id in skip:
                continue
            if message is None:
                skipped += 1
                continue
            try:
                fold(message)
            except Exception as error:  # noqa: BLE001 - one poisonous entry must not stop the rebuild
                skipped += 1
                log.warning(
                    "rebuild: %s %s (%s) not folded, skipped: %r", stream, entry_id, message.TYPE, error
                )
                continue
            count += 1
            last = entry_id
        if len(page) < PAGE:
            return Replayed(stream, count, last, skipped)
        after = page[-1][0]


async def replay_finished(bus: Bus, stream: str, group: str, fold: Callable[[Message], None]) -> Replayed:
    """Replay what `group` has already finished of `stream` (nothing when the group does not exist yet)."""
    last_delivered, pending = await finished_upto(bus, stream, group)
    if last_delivered is None or last_delivered == "0-0":
        return Replayed(stream, 0, None)
    return await replay(bus, stream, fold, until=last_delivered, skip=frozenset(pending))
