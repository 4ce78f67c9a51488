"""Consumer: one consumer of one group: own pending first, then new entries; reclaim, dead letters, and
the atomic commit of a handler's outputs with the acknowledgement of its input."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from shared import crashpoints, metrics
from shared.errors import DecodeError
from shared.messages import DATA_FIELD, TYPE_FIELD, VERSION_FIELD, decode, encode
from shared.retry import backoff_delay
from shared.streams.base import (
    MAX_MESSAGE_BYTES,
    Delivery,
    Handler,
    Output,
    accepted_types,
    as_text,
    dead_letter_stream,
    metric_label,
    raw_entries,
    sleep_unless,
)

if TYPE_CHECKING:
    from shared.streams.bus import Bus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerOptions:
    batch_size: int = 100
    block_ms: int = 1000  # must stay well under the client's socket timeout
    max_deliveries: int = 5
    claim_min_idle_ms: int = 30_000
    claim_interval_secs: float = 5.0
    trim_interval_secs: float | None = 60.0  # None: this consumer never trims
    retain_secs: float = 3600.0
    start_id: str = "0"  # where a newly created group starts
    # Awaited after a batch's handlers, before its acknowledgement: a handler that buffers its durable writes
    # (the executor records a batch of approvals in one transaction) makes them here. Raising: no ack.
    before_ack: Callable[[], Awaitable[None]] | None = None


@dataclass
class _Pending:
    """A delivered entry on its way to commit."""

    entry_id: str
    action: str  # "a" ack with outputs, "d" dead-letter, "k" keep pending (handler failed)
    outputs: Sequence[Output] = ()
    error: str = ""
    deliveries: int = 1
    reason: str = ""  # why it is dead-lettered, as a bounded metric label


@dataclass
class Consumer:
    """One consumer of one group on one stream; `run()` until `stop()`."""

    bus: Bus
    stream: str
    group: str
    name: str
    handler: Handler
    options: ConsumerOptions = field(default_factory=ConsumerOptions)

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._key = self.bus.key(self.stream)
        self._dead_key = self.bus.key(dead_letter_stream(self.stream))
        self._error_key = self.bus.error_key(self.stream, self.group)
        self._label = metric_label(self.stream)
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(stream=self._label, group=self.group)
        self._hop_latency = metrics.HOP_LATENCY_SECONDS.labels(hop=f"{self._label}->{self.group}")
        self._accepts = accepted_types(self.stream)
        self.handled = 0
        # Latencies of the batch in hand, observed together after its commit (metrics.observe_many).
        self._hops: list[float] = []
        self._handler_times: list[float] = []

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Own pending entries first, then new ones, with the reclaimer and trimmer alongside.

        A lost connection to Redis (a restart, a network blip) does not end the consumer: it waits with
        backoff, then starts over from its own pending entries, since a batch whose commit did not land
        is still pending and must be redone before anything newer.
        """
        side_tasks = [asyncio.create_task(self._reclaim_loop(), name=f"reclaim:{self.stream}")]
        if self.options.trim_interval_secs:
            side_tasks.append(asyncio.create_task(self._trim_loop(), name=f"trim:{self.stream}"))
        failures = 0
        try:
            while not self.stopping:
                try:
                    await self._run_connected()
                    return
                except (RedisError, OSError) as error:
                    failures += 1
                    delay = backoff_delay(failures, base_secs=0.2, max_secs=5.0)
                    log.warning(
                        "%s/%s: Redis unavailable (%s); retrying in %.1fs",
                        self.stream,
                        self.group,
                        error,
                        delay,
                    )
                    metrics.CONSUMER_REDIS_ERRORS.labels(stream=self._label, group=self.group).inc()
                    await sleep_unless(self._stopping, delay)
        finally:
            for task in side_tasks:
                task.cancel()
            await asyncio.gather(*side_tasks, return_exceptions=True)

    async def _run_connected(self) -> None:
        await self.bus.ensure_group(self.stream, self.group, start_id=self.options.start_id)
        await self.finish_own_pending()
        while not self.stopping:
            entries = await self._read(">")
            if entries:
                await self._process(entries, redelivered=False)

    async def finish_own_pending(self) -> int:
        """Re-read and process this consumer's own pending entries (left by a crash); returns how many."""
        after, total = "0", 0
        while not self.stopping:
            entries = await self._read(after, block=False)
            if not entries:
                return total
            total += len(entries)
            after = entries[-1][0].decode()
            await self._process(entries, redelivered=True)
        return total

    async def reclaim_once(self) -> int:
        """Claim entries idle past `claim_min_idle_ms` from any consumer of the group and process them."""
        start, total = "0-0", 0
        while not self.stopping:
            reply = await self.bus.redis.xautoclaim(
                self._key,
                self.group,
                self.name,
                self.options.claim_min_idle_ms,
                start_id=start,
                count=self.options.batch_size,
            )
            start, entries = as_text(reply[0]), reply[1]
            entries = [e for e in entries if e is not None]
            if entries:
                total += len(entries)
                metrics.ENTRIES_RECLAIMED.labels(stream=self._label, group=self.group).inc(len(entries))
                await self._process(entries, redelivered=True)
            if start == "0-0":
                break
        return total

    async def _reclaim_loop(self) -> None:
        while not self.stopping:
            await sleep_unless(self._stopping, self.options.claim_interval_secs)
            if self.stopping:
                return
            try:
                await self.reclaim_once()
            except Exception:  # the reclaimer must outlive a Redis hiccup
                log.exception("reclaim failed on %s/%s", self.stream, self.group)

    async def _trim_loop(self) -> None:
        assert self.options.trim_interval_secs
        while not self.stopping:
            await sleep_unless(self._stopping, self.options.trim_interval_secs)
            if self.stopping:
                return
            try:
                await self.bus.trim_acknowledged(self.stream, retain_secs=self.options.retain_secs)
            except Exception:
                log.exception("trim failed on %s", self.stream)

    async def _read(self, after: str, *, block: bool = True) -> list[Any]:
        reply: Any = await self.bus.redis.xreadgroup(
            self.group,
            self.name,
            {self._key: after},
            count=self.options.batch_size,
            block=self.options.block_ms if block else None,
        )
        return raw_entries(reply[0][1]) if reply else []

    async def _process(self, entries: list[Any], *, redelivered: bool) -> None:
        counts = await self._delivery_counts(entries) if redelivered else {}
        batch = []
        try:
            for raw_id, fields in entries:
                entry_id = raw_id.decode()
                batch.append(await self._handle_one(entry_id, fields, counts.get(entry_id, 1)))
            if self.options.before_ack is not None:
                await self.options.before_ack()
            await self._commit(batch)
        finally:
            metrics.observe_many(self._hop_latency, self._hops)
            metrics.observe_many(self._handler_seconds, self._handler_times)
            self._hops, self._handler_times = [], []

    async def _handle_one(
        self, entry_id: str, fields: dict[bytes, bytes] | None, deliveries: int
    ) -> _Pending:
        if not fields:
            # The entry was deleted while pending (XDEL by hand): nothing to do but acknowledge it.
            return _Pending(entry_id, "a", deliveries=deliveries)
        if deliveries > self.options.max_deliveries:
            last = await self.bus.redis.hget(self._error_key, entry_id)
            reason = f"delivered {deliveries} times (max {self.options.max_deliveries})"
            if last:
                text = last.decode(errors="replace") if isinstance(last, bytes) else str(last)
                reason += f"; last error: {text}"
            return _Pending(entry_id, "d", error=reason, deliveries=deliveries, reason="max_deliveries")
        size = len(fields.get(DATA_FIELD) or b"")
        if size > MAX_MESSAGE_BYTES:  # refused unread: decoding it is what swamps the consumer
            return _Pending(
                entry_id,
                "d",
                error=f"too large: {size} bytes (max {MAX_MESSAGE_BYTES})",
                deliveries=deliveries,
                reason="too_large",
            )
        try:
            message = decode(fields)
        except DecodeError as error:
            return _Pending(entry_id, "d", error=f"decode: {error}", deliveries=deliveries, reason="invalid")
        if self._accepts is not None and type(message) not in self._accepts:
            return _Pending(
                entry_id,
                "d",
                error=f"wrong type for {self.stream}: {message.TYPE} v{message.VERSION}",
                deliveries=deliveries,
                reason="wrong_type",
            )
        if deliveries == 1:  # a redelivery's age measures the crash, not the hop
            # Clamped before the division: a producer's absurd created_ts_ns (10**400) must not crash the loop.
            age_ns = min(max(0, time.time_ns() - message.envelope.created_ts_ns), 10**18)
            self._hops.append(age_ns / 1e9)
        started = time.perf_counter()
        try:
            outputs = await self.handler(Delivery(self.stream, entry_id, message, deliveries))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001  (a handler's fault: the entry stays pending, retried)
            log.warning("handler failed on %s %s (delivery %d): %r", self.stream, entry_id, deliveries, error)
            await self.bus.redis.hset(self._error_key, entry_id, f"{type(error).__name__}: {error}"[:2000])
            return _Pending(entry_id, "k", deliveries=deliveries)
        finally:
            self._handler_times.append(time.perf_counter() - started)
        return _Pending(entry_id, "a", outputs=outputs or (), deliveries=deliveries)

    async def _delivery_counts(self, entries: list[Any]) -> dict[str, int]:
        first, last = entries[0][0], entries[-1][0]
        rows = await self.bus.redis.xpending_range(
            self._key, self.group, min=first, max=last, count=len(entries) + 1000, consumername=self.name
        )
        return {as_text(r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def _commit(self, batch: list[_Pending]) -> None:
        to_commit = [p for p in batch if p.action != "k"]
        if not to_commit:
            return
        keys = [self._key, self._dead_key, self._error_key]
        key_index: dict[str, int] = {}
        plan: list[str] = []
        data: list[Any] = []
        for pending in to_commit:
            if pending.action == "d":
                plan.append(f"{pending.entry_id}:d")
                data += [pending.error, pending.deliveries]
                continue
            plan.append(f"{pending.entry_id}:a:{len(pending.outputs)}")
            for stream, message in pending.outputs:
                out_key = self.bus.key(stream)
                if out_key not in key_index:
                    keys.append(out_key)
                    key_index[out_key] = len(keys)
                fields = encode(message)
                data += [key_index[out_key], fields[TYPE_FIELD], fields[VERSION_FIELD], fields[DATA_FIELD]]
        # Entries come from one XREADGROUP or XAUTOCLAIM reply, which are in id order.
        first, last = to_commit[0].entry_id, to_commit[-1].entry_id
        args = [self.group, self.name, int(time.time() * 1000), first, last, " ".join(plan), *data]
        crashpoints.hit("before_ack")
        flags = await self.bus._commit_script(keys=keys, args=args)
        self._count(to_commit, flags)

    def _count(self, committed: list[_Pending], flags: list[int]) -> None:
        outcomes: dict[str, int] = {}
        published: dict[str, int] = {}
        for pending, flag in zip(committed, flags, strict=True):
            if not flag:
                outcome = "lost_ownership"
            elif pending.action == "d":
                outcome = "dead_lettered"
                metrics.DEAD_LETTERS.labels(stream=self._label, reason=pending.reason or "invalid").inc()
                log.error("dead-lettered %s %s: %s", self.stream, pending.entry_id, pending.error)
            else:
                outcome = "ok"
                self.handled += 1
                for stream, _ in pending.outputs:
                    published[stream] = published.get(stream, 0) + 1
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for outcome, n in outcomes.items():
            metrics.MESSAGES_CONSUMED.labels(stream=self._label, group=self.group, outcome=outcome).inc(n)
        for stream, n in published.items():
            metrics.MESSAGES_PUBLISHED.labels(stream=metric_label(stream)).inc(n)
