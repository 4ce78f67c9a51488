"""Bus: publishing, consumer groups, inspection, safe trimming and dead letters of the polydesk streams."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shared import metrics
from shared.errors import DecodeError
from shared.messages import DATA_FIELD, TYPE_FIELD, VERSION_FIELD, Message, decode, encode
from shared.streams import scripts
from shared.streams.base import (
    DeadLetter,
    GroupStats,
    Handler,
    Output,
    as_text,
    dead_letter_from,
    dead_letter_stream,
    metric_label,
    raw_entries,
    xadd_fields,
)
from shared.streams.consumer import Consumer, ConsumerOptions

log = logging.getLogger(__name__)


class Bus:
    """Publishing, group management and inspection of the polydesk streams in one Redis."""

    def __init__(
        self, redis: aioredis.Redis, *, prefix: str = "polydesk:", producer: str = "polydesk"
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.producer = producer
        self._commit_script = redis.register_script(scripts.COMMIT_LUA)
        self._trim_script = redis.register_script(scripts.TRIM_LUA)
        self._publish_script = redis.register_script(scripts.PUBLISH_LUA)
        self._trim_log_script = redis.register_script(scripts.TRIM_LOG_LUA)
        self._publish_once_script = redis.register_script(scripts.PUBLISH_ONCE_LUA)

    def key(self, stream: str) -> str:
        """The Redis key of a logical stream name."""
        return self.prefix + stream

    def error_key(self, stream: str, group: str) -> str:
        return f"{self.prefix}errors:{stream}:{group}"

    async def publish(self, stream: str, message: Message) -> str:
        """XADD one message; returns its entry id. Never retried here: XADD is not idempotent."""
        entry_id = await self.redis.xadd(self.key(stream), xadd_fields(encode(message)))
        metrics.MESSAGES_PUBLISHED.labels(stream=metric_label(stream)).inc()
        return as_text(entry_id)

    async def publish_many(self, outputs: Iterable[Output]) -> list[str]:
        """XADD several messages in one round trip, all or none; returns their entry ids in order."""
        keys: list[str] = []
        key_index: dict[str, int] = {}
        args: list[bytes | int] = []
        count: dict[str, int] = {}
        for stream, message in outputs:
            if stream not in key_index:
                keys.append(self.key(stream))
                key_index[stream] = len(keys)
            fields = encode(message)
            args += [key_index[stream], fields[TYPE_FIELD], fields[VERSION_FIELD], fields[DATA_FIELD]]
            count[stream] = count.get(stream, 0) + 1
        if not args:
            return []
        ids = await self._publish_script(keys=keys, args=args)
        for stream, n in count.items():
            metrics.MESSAGES_PUBLISHED.labels(stream=metric_label(stream)).inc(n)
        return [i.decode() for i in ids]

    async def publish_once(
        self,
        stream: str,
        message: Message,
        *,
        seen_key: str,
        member: str,
        score: float,
        prune_below: float | None = None,
    ) -> str | None:
        """XADD `message` unless `member` is already in the sorted set `seen_key` (a logical name), adding it
        in the same script; returns the entry id, or None when it was published before. Members scored
        below `prune_below` are dropped from the set at the same time."""
        fields = encode(message)
        prune = "" if prune_below is None else repr(float(prune_below))
        entry_id = await self._publish_once_script(
            keys=[self.key(stream), self.key(seen_key)],
            args=[
                member,
                repr(float(score)),
                prune,
                fields[TYPE_FIELD],
                fields[VERSION_FIELD],
                fields[DATA_FIELD],
            ],
        )
        if not entry_id:
            return None
        metrics.MESSAGES_PUBLISHED.labels(stream=metric_label(stream)).inc()
        return as_text(entry_id)

    async def newest_once_score(self, seen_key: str) -> float | None:
        """The highest score recorded by publish_once in `seen_key`, or None when nothing was published."""
        top = await self.redis.zrevrange(self.key(seen_key), 0, 0, withscores=True)
        return float(top[0][1]) if top else None

    async def dead_letter(self, stream: str, raw: bytes | str, error: str, **context: str) -> str:
        """XADD a payload that never became a message (e.g. a malformed venue frame) to `<stream>:dead`
        with the reason, for `polydesk dead-letters`; returns the dead letter's entry id."""
        fields: dict[str, bytes | str | int] = {
            "source_stream": self.key(stream),
            "error": error[:2000],
            "raw": raw,
            "deliveries": 0,
            "dead_at_ms": int(time.time() * 1000),
            **context,
        }
        entry_id = await self.redis.xadd(self.key(dead_letter_stream(stream)), xadd_fields(fields))
        metrics.DEAD_LETTERS.labels(stream=metric_label(stream), reason="venue_payload").inc()
        return as_text(entry_id)

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> bool:
        """Create the group (and the stream) if missing; returns True when it was created."""
        try:
            await self.redis.xgroup_create(self.key(stream), group, id=start_id, mkstream=True)
            return True
        except ResponseError as error:
            if "BUSYGROUP" in str(error):
                return False
            raise

    async def newest(self, stream: str, count: int) -> list[Message]:
        """The newest `count` decodable messages of a stream, newest first (for dashboards)."""
        entries = raw_entries(await self.redis.xrevrange(self.key(stream), count=count))
        messages = []
        for _, fields in entries:
            try:
                messages.append(decode(fields))
            except DecodeError:
                continue
        return messages

    async def history(
        self, stream: str, *, after: str | None = None, until: str = "+", count: int = 1000
    ) -> list[tuple[str, Message | None]]:
        """Up to `count` entries in id order, after id `after` (exclusive; None: from the start) up to `until`
        (inclusive), each decoded, or None when it cannot be. Read-only: no group is touched."""
        start = "-" if after is None else "(" + after
        entries = raw_entries(await self.redis.xrange(self.key(stream), min=start, max=until, count=count))
        out: list[tuple[str, Message | None]] = []
        for raw_id, fields in entries:
            try:
                out.append((as_text(raw_id), decode(fields)))
            except DecodeError:
                out.append((as_text(raw_id), None))
        return out

    async def pending_ids(self, stream: str, group: str, *, count: int = 100_000) -> set[str]:
        """Ids of entries delivered to `group` and not yet acknowledged, by any consumer (empty: no group)."""
        try:
            rows = await self.redis.xpending_range(self.key(stream), group, min="-", max="+", count=count)
        except ResponseError:
            return set()
        return {as_text(r["message_id"]) for r in rows}

    async def group_stats(self, stream: str) -> list[GroupStats]:
        """Pending and lag of every group of a stream ([] when the stream does not exist)."""
        key = self.key(stream)
        try:
            groups = await self.redis.xinfo_groups(key)
        except ResponseError:
            return []
        stats = []
        for g in groups:
            last = as_text(g["last-delivered-id"])
            lag = g.get("lag")
            if lag is None:
                lag = await self._count_after(key, last)
            stats.append(
                GroupStats(
                    stream=stream,
                    group=as_text(g["name"]),
                    consumers=int(g["consumers"]),
                    pending=int(g["pending"]),
                    lag=None if lag is None else int(lag),
                    last_delivered_id=last,
                )
            )
        return stats

    async def _count_after(self, key: str, last_id: str, cap: int = 10_000) -> int | None:
        # Redis < 7 has no `lag` field: count what follows the last delivered id, bounded.
        entries = raw_entries(await self.redis.xrange(key, min="(" + last_id, max="+", count=cap))
        return len(entries) if len(entries) < cap else None

    async def length(self, stream: str) -> int:
        return int(await self.redis.xlen(self.key(stream)))

    async def trim_acknowledged(self, stream: str, *, retain_secs: float) -> int:
        """Remove entries every group has acknowledged and older than `retain_secs`; returns how many."""
        # MINID keeps ids >= the cutoff; +1 ms so that everything stamped up to now - retain may go.
        cutoff_ms = max(0, int((time.time() - retain_secs) * 1000) + 1)
        removed = await self._trim_script(keys=[self.key(stream)], args=[f"{cutoff_ms}-0"])
        return int(removed)

    async def trim_log(self, stream: str, *, retain_secs: float) -> int:
        """Remove entries older than `retain_secs` from a stream no group reads; returns how many, or -1
        (and removes nothing) when the stream has a group."""
        cutoff_ms = max(0, int((time.time() - retain_secs) * 1000) + 1)
        return int(await self._trim_log_script(keys=[self.key(stream)], args=[f"{cutoff_ms}-0"]))

    async def dead_letters(self, stream: str, *, count: int = 100) -> list[DeadLetter]:
        """The oldest `count` dead letters of a logical stream."""
        entries = raw_entries(await self.redis.xrange(self.key(dead_letter_stream(stream)), count=count))
        return [dead_letter_from(entry_id, fields) for entry_id, fields in entries]

    async def requeue_dead_letter(self, stream: str, letter: DeadLetter) -> str:
        """Append a dead letter's original entry to its stream again, then delete it; returns the new id."""
        payload = {k: v for k, v in letter.fields.items() if k in ("type", "v", "data")}
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.key(stream), xadd_fields(payload))
        pipe.xdel(self.key(dead_letter_stream(stream)), letter.entry_id)
        new_id, _ = await pipe.execute()
        return as_text(new_id)

    def consumer(self, stream: str, group: str, name: str, handler: Handler, **options: Any) -> Consumer:
        return Consumer(self, stream, group, name, handler, ConsumerOptions(**options))
