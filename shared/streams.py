"""The only code that touches Redis Streams: publishing, consumer groups, crash-safe commit, reclaim, dead letters.

Delivery is at least once; effectively once because a handler's outputs and the acknowledgement of its
input are written by one Lua script that first checks the input is still pending for *this* consumer
(XACK alone does not check ownership, so a paused worker whose entries were reclaimed would duplicate).

Lifecycle of an entry for one group:
  read (`>` for new entries; on start `0` first, to finish this consumer's own pending entries)
  -> decode (failure: dead-lettered at once, with the reason)
  -> handler (exception: left pending, error remembered; retried when the reclaimer claims it again)
  -> commit (outputs XADDed + input XACKed atomically, or nothing).
The reclaimer XAUTOCLAIMs entries idle longer than `claim_min_idle_ms` from any consumer of the group,
which covers both a dead consumer and this consumer's own failed entries. An entry delivered more than
`max_deliveries` times is moved to `<stream>:dead` with its last error, and acknowledged.

Trimming policy: producers never trim (no MAXLEN on XADD). `trim_acknowledged` removes only entries that
every group of the stream has both received and acknowledged, and that are older than the retention,
computed and trimmed atomically in one script. An entry still pending anywhere, or not yet delivered to
some group, is never removed; a stream with no group is left alone, and so are dead-letter streams. A
consumer that stays down therefore makes its stream grow: that is what the lag and length metrics and
their alerts are for, never a reason to drop data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared import metrics
from shared.errors import DecodeError
from shared.messages import DATA_FIELD, TYPE_FIELD, VERSION_FIELD, Message, decode, encode
from shared.retry import backoff_delay

log = logging.getLogger(__name__)

# Logical stream names; keys in Redis get the bus prefix.
EVENTS = "events"
SIGNALS = "signals"
INTENTS = "intents"
APPROVED_ORDERS = "approved_orders"
FILLS = "fills"
CONTROL = "control"
DEAD_SUFFIX = ":dead"


def events_stream(shard: str) -> str:
    """The logical events stream of one market set."""
    return f"{EVENTS}:{shard}"


def dead_letter_stream(stream: str) -> str:
    return stream + DEAD_SUFFIX


class Output(NamedTuple):
    """One message a handler wants written, to a logical stream."""

    stream: str
    message: Message


@dataclass(frozen=True, slots=True)
class Delivery:
    """One decoded entry handed to a handler."""

    stream: str
    entry_id: str
    message: Message
    deliveries: int


Handler = Callable[[Delivery], Awaitable[Sequence[Output]]]


@dataclass(frozen=True)
class GroupStats:
    stream: str
    group: str
    consumers: int
    pending: int
    lag: int | None  # entries not yet delivered to the group; None when it cannot be told
    last_delivered_id: str


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    source_stream: str
    source_id: str
    group: str
    error: str
    deliveries: int
    fields: dict[str, bytes]


# KEYS: 1 input stream, 2 dead-letter stream, 3 error hash, 4.. output streams
# ARGV: group, consumer, now_ms, lowest input id, highest input id, plan, then data arguments.
# The plan is one string of space-separated tokens, one per input: "<id>:a:<n_outputs>" (ack, writing
# n outputs, each taking 4 data arguments: key index, type, v, data) or "<id>:d" (dead-letter, taking 2:
# error, deliveries). Packing the ids into one argument keeps the client's per-argument cost off the
# hot path. Returns one flag per input: 1 committed, 0 no longer ours (reclaimed by another consumer,
# or committed already by an earlier attempt of this same call).
_COMMIT_LUA = """
local group, consumer, now_ms = ARGV[1], ARGV[2], ARGV[3]
local owned_ids = {}
local rows = redis.call('XPENDING', KEYS[1], group, ARGV[4], ARGV[5], 100000, consumer)
for _, row in ipairs(rows) do owned_ids[row[1]] = true end
local i = 7
local done = {}
for token in string.gmatch(ARGV[6], '%S+') do
  local id, action, n_out = string.match(token, '^([^:]+):(%a):?(%d*)$')
  local owned = owned_ids[id] == true
  if action == 'a' then
    n_out = tonumber(n_out)
    if owned then
      for o = 1, n_out do
        redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'type', ARGV[i + 1], 'v', ARGV[i + 2], 'data', ARGV[i + 3])
        i = i + 4
      end
    else
      i = i + 4 * n_out
    end
  else
    local err, deliveries = ARGV[i], ARGV[i + 1]
    i = i + 2
    if owned then
      local entry = redis.call('XRANGE', KEYS[1], id, id)
      local dead = {'source_stream', KEYS[1], 'source_id', id, 'group', group, 'consumer', consumer,
                    'error', err, 'deliveries', deliveries, 'dead_at_ms', now_ms}
      if #entry > 0 then
        local f = entry[1][2]
        for k = 1, #f, 2 do
          if f[k] == 'type' or f[k] == 'v' or f[k] == 'data' then
            dead[#dead + 1] = f[k]; dead[#dead + 1] = f[k + 1]
          else
            dead[#dead + 1] = 'orig_' .. f[k]; dead[#dead + 1] = f[k + 1]
          end
        end
      end
      redis.call('XADD', KEYS[2], '*', unpack(dead))
    end
  end
  if owned then
    redis.call('XACK', KEYS[1], group, id)
    redis.call('HDEL', KEYS[3], id)
  end
  done[#done + 1] = owned and 1 or 0
end
return done
"""

# KEYS: output streams. ARGV: n x (key_index, type, v, data). Returns the new entry ids, in order.
# One script call instead of a pipeline of XADDs: one reply to parse, and the batch lands whole or not at all.
_PUBLISH_LUA = """
local ids = {}
for i = 1, #ARGV, 4 do
  ids[#ids + 1] = redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'type', ARGV[i + 1], 'v', ARGV[i + 2],
                             'data', ARGV[i + 3])
end
return ids
"""

# KEYS: 1 output stream, 2 a sorted set of keys already published. ARGV: member, score, prune-below score
# ('' for none), type, v, data. Publishes only when the member is new, and records it in the same script,
# so "published" and "recorded" cannot disagree whatever crashes. Returns the entry id, or false.
_PUBLISH_ONCE_LUA = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[4], 'v', ARGV[5], 'data', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3]) end
return id
"""

# KEYS: 1 stream. ARGV: cutoff id (retention). Returns the number of entries removed.
_TRIM_LUA = """
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a_ms, a_seq, b_ms, b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local min_ms, min_seq = parse(ARGV[1])
for _, g in ipairs(groups) do
  local info = {}
  for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
  local ms, seq
  local summary = redis.call('XPENDING', KEYS[1], info['name'])
  if tonumber(summary[1]) > 0 then
    ms, seq = parse(summary[2])
  else
    ms, seq = parse(info['last-delivered-id'])
    seq = seq + 1
  end
  if less(ms, seq, min_ms, min_seq) then min_ms, min_seq = ms, seq end
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%.0f', min_ms, min_seq))
"""


# KEYS: 1 stream. ARGV: cutoff id. Trims by age a stream that no group reads (a log such as `decisions`);
# a stream with a group is left to trim_acknowledged, so a reader added later never loses entries.
_TRIM_LOG_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #redis.call('XINFO', 'GROUPS', KEYS[1]) > 0 then return -1 end
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
"""


class Bus:
    """Publishing, group management and inspection of the polydesk streams in one Redis."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str = "polydesk:", producer: str = "polydesk") -> None:
        self.redis = redis
        self.prefix = prefix
        self.producer = producer
        self._commit_script = redis.register_script(_COMMIT_LUA)
        self._trim_script = redis.register_script(_TRIM_LUA)
        self._publish_script = redis.register_script(_PUBLISH_LUA)
        self._trim_log_script = redis.register_script(_TRIM_LOG_LUA)
        self._publish_once_script = redis.register_script(_PUBLISH_ONCE_LUA)

    def key(self, stream: str) -> str:
        """The Redis key of a logical stream name."""
        return self.prefix + stream

    def error_key(self, stream: str, group: str) -> str:
        return f"{self.prefix}errors:{stream}:{group}"

    async def publish(self, stream: str, message: Message) -> str:
        """XADD one message; returns its entry id. Never retried here: XADD is not idempotent."""
        entry_id = await self.redis.xadd(self.key(stream), encode(message))
        metrics.MESSAGES_PUBLISHED.labels(stream=_metric_stream(stream)).inc()
        return entry_id.decode()

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
            metrics.MESSAGES_PUBLISHED.labels(stream=_metric_stream(stream)).inc(n)
        return [i.decode() for i in ids]

    async def publish_once(self, stream: str, message: Message, *, seen_key: str, member: str, score: float,
                           prune_below: float | None = None) -> str | None:
        """XADD `message` unless `member` is already in the sorted set `seen_key` (a logical name), adding it
        in the same script; returns the entry id, or None when it was published before. Members scored
        below `prune_below` are dropped from the set at the same time."""
        fields = encode(message)
        prune = "" if prune_below is None else repr(float(prune_below))
        entry_id = await self._publish_once_script(
            keys=[self.key(stream), self.key(seen_key)],
            args=[member, repr(float(score)), prune, fields[TYPE_FIELD], fields[VERSION_FIELD], fields[DATA_FIELD]],
        )
        if not entry_id:
            return None
        metrics.MESSAGES_PUBLISHED.labels(stream=_metric_stream(stream)).inc()
        return _text(entry_id)

    async def dead_letter(self, stream: str, raw: bytes | str, error: str, **context: str) -> str:
        """XADD a payload that never became a message (e.g. a malformed venue frame) to `<stream>:dead`
        with the reason, for `polydesk dead-letters`; returns the dead letter's entry id."""
        fields: dict[str, bytes | str | int] = {
            "source_stream": self.key(stream), "error": error[:2000], "raw": raw, "deliveries": 0,
            "dead_at_ms": int(time.time() * 1000), **context,
        }
        entry_id = await self.redis.xadd(self.key(dead_letter_stream(stream)), fields)
        return _text(entry_id)

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> bool:
        """Create the group (and the stream) if missing; returns True when it was created."""
        try:
            await self.redis.xgroup_create(self.key(stream), group, id=start_id, mkstream=True)
            return True
        except ResponseError as error:
            if "BUSYGROUP" in str(error):
                return False
            raise

    async def history(
        self, stream: str, *, after: str | None = None, until: str = "+", count: int = 1000
    ) -> list[tuple[str, Message | None]]:
        """Up to `count` entries in id order, after id `after` (exclusive; None: from the start) up to `until`
        (inclusive), each decoded, or None when it cannot be. Read-only: no group is touched."""
        start = "-" if after is None else "(" + after
        entries = await self.redis.xrange(self.key(stream), min=start, max=until, count=count)
        out: list[tuple[str, Message | None]] = []
        for raw_id, fields in entries:
            try:
                out.append((_text(raw_id), decode(fields)))
            except DecodeError:
                out.append((_text(raw_id), None))
        return out

    async def pending_ids(self, stream: str, group: str, *, count: int = 100_000) -> set[str]:
        """Ids of entries delivered to `group` and not yet acknowledged, by any consumer (empty: no group)."""
        try:
            rows = await self.redis.xpending_range(self.key(stream), group, min="-", max="+", count=count)
        except ResponseError:
            return set()
        return {_text(r["message_id"]) for r in rows}

    async def group_stats(self, stream: str) -> list[GroupStats]:
        """Pending and lag of every group of a stream ([] when the stream does not exist)."""
        key = self.key(stream)
        try:
            groups = await self.redis.xinfo_groups(key)
        except ResponseError:
            return []
        stats = []
        for g in groups:
            last = _text(g["last-delivered-id"])
            lag = g.get("lag")
            if lag is None:
                lag = await self._count_after(key, last)
            stats.append(
                GroupStats(
                    stream=stream,
                    group=_text(g["name"]),
                    consumers=int(g["consumers"]),
                    pending=int(g["pending"]),
                    lag=None if lag is None else int(lag),
                    last_delivered_id=last,
                )
            )
        return stats

    async def _count_after(self, key: str, last_id: str, cap: int = 10_000) -> int | None:
        # Redis < 7 has no `lag` field: count what follows the last delivered id, bounded.
        entries = await self.redis.xrange(key, min="(" + last_id, max="+", count=cap)
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
        entries = await self.redis.xrange(self.key(dead_letter_stream(stream)), count=count)
        return [_dead_letter(entry_id, fields) for entry_id, fields in entries]

    async def requeue_dead_letter(self, stream: str, letter: DeadLetter) -> str:
        """Append a dead letter's original entry to its stream again, then delete it; returns the new id."""
        payload = {k: v for k, v in letter.fields.items() if k in ("type", "v", "data")}
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.key(stream), payload)
        pipe.xdel(self.key(dead_letter_stream(stream)), letter.entry_id)
        new_id, _ = await pipe.execute()
        return _text(new_id)

    def consumer(self, stream: str, group: str, name: str, handler: Handler, **options: Any) -> Consumer:
        return Consumer(self, stream, group, name, handler, ConsumerOptions(**options))


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


@dataclass
class _Pending:
    """A delivered entry on its way to commit."""

    entry_id: str
    action: str  # "a" ack with outputs, "d" dead-letter, "k" keep pending (handler failed)
    outputs: Sequence[Output] = ()
    error: str = ""
    deliveries: int = 1


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
        self._metric_stream = _metric_stream(self.stream)
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(stream=self._metric_stream, group=self.group)
        self._hop_latency = metrics.HOP_LATENCY_SECONDS.labels(hop=f"{self._metric_stream}->{self.group}")
        self.handled = 0

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
                    log.warning("%s/%s: Redis unavailable (%s); retrying in %.1fs", self.stream, self.group,
                                error, delay)
                    metrics.CONSUMER_REDIS_ERRORS.labels(stream=self._metric_stream, group=self.group).inc()
                    await _sleep_unless(self._stopping, delay)
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
                self._key, self.group, self.name, self.options.claim_min_idle_ms,
                start_id=start, count=self.options.batch_size,
            )
            start, entries = _text(reply[0]), reply[1]
            entries = [e for e in entries if e is not None]
            if entries:
                total += len(entries)
                metrics.ENTRIES_RECLAIMED.labels(stream=self._metric_stream, group=self.group).inc(len(entries))
                await self._process(entries, redelivered=True)
            if start == "0-0":
                break
        return total

    async def _reclaim_loop(self) -> None:
        while not self.stopping:
            await _sleep_unless(self._stopping, self.options.claim_interval_secs)
            if self.stopping:
                return
            try:
                await self.reclaim_once()
            except Exception:  # the reclaimer must outlive a Redis hiccup
                log.exception("reclaim failed on %s/%s", self.stream, self.group)

    async def _trim_loop(self) -> None:
        assert self.options.trim_interval_secs
        while not self.stopping:
            await _sleep_unless(self._stopping, self.options.trim_interval_secs)
            if self.stopping:
                return
            try:
                await self.bus.trim_acknowledged(self.stream, retain_secs=self.options.retain_secs)
            except Exception:
                log.exception("trim failed on %s", self.stream)

    async def _read(self, after: str, *, block: bool = True) -> list[Any]:
        reply = await self.bus.redis.xreadgroup(
            self.group, self.name, {self._key: after},
            count=self.options.batch_size, block=self.options.block_ms if block else None,
        )
        return reply[0][1] if reply else []

    async def _process(self, entries: list[Any], *, redelivered: bool) -> None:
        counts = await self._delivery_counts(entries) if redelivered else {}
        batch = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode()
            batch.append(await self._handle_one(entry_id, fields, counts.get(entry_id, 1)))
        await self._commit(batch)

    async def _handle_one(self, entry_id: str, fields: dict[bytes, bytes] | None, deliveries: int) -> _Pending:
        if not fields:
            # The entry was deleted while pending (XDEL by hand): nothing to do but acknowledge it.
            return _Pending(entry_id, "a", deliveries=deliveries)
        if deliveries > self.options.max_deliveries:
            last = await self.bus.redis.hget(self._error_key, entry_id)
            reason = f"delivered {deliveries} times (max {self.options.max_deliveries})"
            if last:
                reason += f"; last error: {last.decode(errors='replace')}"
            return _Pending(entry_id, "d", error=reason, deliveries=deliveries)
        try:
            message = decode(fields)
        except DecodeError as error:
            return _Pending(entry_id, "d", error=f"decode: {error}", deliveries=deliveries)
        if deliveries == 1:  # a redelivery's age measures the crash, not the hop
            # Clamped before the division: a producer's absurd created_ts_ns (10**400) must not crash the loop.
            age_ns = min(max(0, time.time_ns() - message.envelope.created_ts_ns), 10**18)
            self._hop_latency.observe(age_ns / 1e9)
        started = time.perf_counter()
        try:
            outputs = await self.handler(Delivery(self.stream, entry_id, message, deliveries))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("handler failed on %s %s (delivery %d): %r", self.stream, entry_id, deliveries, error)
            await self.bus.redis.hset(self._error_key, entry_id, f"{type(error).__name__}: {error}"[:2000])
            return _Pending(entry_id, "k", deliveries=deliveries)
        finally:
            self._handler_seconds.observe(time.perf_counter() - started)
        return _Pending(entry_id, "a", outputs=outputs or (), deliveries=deliveries)

    async def _delivery_counts(self, entries: list[Any]) -> dict[str, int]:
        first, last = entries[0][0], entries[-1][0]
        rows = await self.bus.redis.xpending_range(
            self._key, self.group, min=first, max=last, count=len(entries) + 1000, consumername=self.name
        )
        return {_text(r["message_id"]): int(r["times_delivered"]) for r in rows}

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
                log.error("dead-lettered %s %s: %s", self.stream, pending.entry_id, pending.error)
            else:
                outcome = "ok"
                self.handled += 1
                for stream, _ in pending.outputs:
                    published[stream] = published.get(stream, 0) + 1
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for outcome, n in outcomes.items():
            metrics.MESSAGES_CONSUMED.labels(stream=self._metric_stream, group=self.group, outcome=outcome).inc(n)
        for stream, n in published.items():
            metrics.MESSAGES_PUBLISHED.labels(stream=_metric_stream(stream)).inc(n)


async def _sleep_unless(event: asyncio.Event, secs: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=secs)
    except TimeoutError:
        pass


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _metric_stream(stream: str) -> str:
    # Shards are a bounded, configured set, so `events:<shard>` stays a bounded label.
    return stream


def _dead_letter(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    text = {k.decode(errors="replace"): v for k, v in fields.items()}  # field names may be any bytes
    return DeadLetter(
        entry_id=entry_id.decode(),
        source_stream=text.get("source_stream", b"").decode(),
        source_id=text.get("source_id", b"").decode(),
        group=text.get("group", b"").decode(),
        error=text.get("error", b"").decode(errors="replace"),
        deliveries=int(text.get("deliveries", b"0")),
        fields=text,
    )
