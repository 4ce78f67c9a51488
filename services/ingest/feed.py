"""Market-channel frames -> BookSet -> bus messages -> events:<shard>, one atomic publish per frame.

Emits a BookSnapshot on every (re)sync (a new epoch), then one BookDelta per market per frame with the
best bid/ask after it, LastTrade and TickSizeChanged; hands new_market / market_resolved to a hook.
A malformed frame is counted and dead-lettered with its raw text; the feed goes on.

Resync: a book that fails a check (hash, best bid/ask, crossed), changes tick, or times out waiting for
its snapshot after a (re)connect is fetched from REST `GET /book` (at most once per
`resync_min_interval_secs` per token). Deltas for that token that arrive while the request is in flight
are kept and replayed on top of the snapshot when they are newer than it, so the book does not miss them.

Freshness (freshness.py): a token silent past its own cadence is probed over REST; a book that moved
while we heard nothing means a frozen feed: the token is resynced, its connection's tokens are reported
stale and the connection replaced. Every change of a token's state goes out as a BookStatus (valid /
stale / resyncing / gap) in the same publish as the frame or snapshot that caused it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx
import msgspec
from prometheus_client import Histogram
from redis.exceptions import RedisError

from services.ingest import book_messages
from services.ingest.book import BookSet, DeltasApplied, Malformed, NeedsResync, Outcome, SnapshotApplied
from services.ingest.config import IngestSettings
from services.ingest.freshness import BookStates, Freshness
from services.ingest.shards import ShardMap
from shared import metrics
from shared.messages import (
    BookState,
    BookStatus,
    Envelope,
    MarketInfo,
    TickSizeChanged,
)
from shared.polymarket import parse
from shared.polymarket.clob_public import fetch_book
from shared.polymarket.schemas import (
    BookSummary,
    LastTradePriceMessage,
    MarketFrameError,
    MarketMessage,
    MarketResolvedMessage,
    NewMarketMessage,
    PriceChangeMessage,
    TickSizeChangeMessage,
    decode_market_frame_tolerant,
    market_parts,
)
from shared.polymarket.venue_changes import CHANGES
from shared.streams import CONTROL, Bus, Output, events_stream

log = logging.getLogger(__name__)

MarketHook = Callable[[NewMarketMessage | MarketResolvedMessage], Awaitable[list[Output]]]
RAW_DEAD_LETTER_MAX = 256 * 1024
# REST /book probes of silent tokens at once: many quiet markets fall due together (after a start, say),
# and the venue rate-limits /book; the others wait for the next maintenance pass.
PROBES_IN_FLIGHT_MAX = 8
# Checks whose failure means updates were missed (a gap); any other resync reason is a new epoch.
GAP_REASONS = frozenset({"hash_mismatch", "best_bid_ask_mismatch", "crossed"})


class Feed:
    """The books of every subscribed token and the translation of their outcomes into bus messages."""

    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        shards: ShardMap,
        *,
        http: httpx.AsyncClient,
        producer: str = "ingest",
        market_hook: MarketHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.bus, self.shards, self.http = settings, bus, shards, http
        self.producer, self.market_hook, self._clock = producer, market_hook, clock
        self.books = BookSet(clock=clock, auto_track=False, hash_check_every=settings.hash_check_every)
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "frames",
                "malformed",
                "published",
                "publish_failures",
                "resyncs",
                "resync_failures",
                "snapshot_timeouts",
                "probe_quiet",
                "probe_frozen",
            ),
            0,
        )
        self._resyncing: dict[str, list[PriceChangeMessage]] = {}  # token -> deltas held during the request
        self._last_resync: dict[str, float] = {}
        self._awaiting: dict[str, float] = {}  # token -> deadline for its WS snapshot after (re)subscribe
        self._tasks: set[asyncio.Task[object]] = set()
        self.fresh = Freshness(
            floor_secs=settings.freshness_floor_secs,
            cadence_factor=settings.freshness_cadence_factor,
            cap_secs=settings.book_stale_after_secs,
        )
        self.states = BookStates()
        self._publish_lock = asyncio.Lock()
        self._lag_metrics: dict[str, Histogram] = {}  # message type -> INGEST_PUBLISH_LAG_SECONDS child
        # Set by the service: the tokens sharing a token's connection, and replacing that connection.
        self.connection_peers: Callable[[str], tuple[str, ...]] = lambda asset: (asset,)
        self.on_frozen: Callable[[str], Awaitable[None]] | None = None

    # ---- which tokens ------------------------------------------------------------------------------
    def track_market(self, info: MarketInfo) -> list[str]:
        for token in info.tokens:
            book = self.books.track(
                token.token_id, info.condition_id, tick_size=str(info.tick_size), neg_risk=info.neg_risk
            )
            book.min_order_size = str(info.min_order_size)
            self.fresh.track(token.token_id, self._clock())
        return [t.token_id for t in info.tokens]

    def untrack_market(self, condition_id: str) -> list[str]:
        assets = self.books.markets.pop(condition_id, [])
        for asset in assets:
            self.books.books.pop(asset, None)
            self._awaiting.pop(asset, None)
            self.fresh.forget(asset)
            self.states.forget(asset)
        return assets

    # ---- the socket's callbacks --------------------------------------------------------------------
    async def on_connect(self, assets: tuple[str, ...]) -> None:
        """(Re)subscribed: every book starts a new epoch and waits for the snapshot the venue sends."""
        deadline = self._clock() + self.settings.book_snapshot_timeout_secs
        statuses: list[Output] = []
        for asset in assets:
            book = self.books.books.get(asset)
            if book is not None:
                book.drop(None)
                self._awaiting[asset] = deadline
                statuses += self.status_output(asset, BookState.RESYNCING, "reconnect")
        await self._publish(statuses)

    async def on_disconnect(self, reason: str) -> None:
        kind = (
            reason
            if reason in ("stale", "frozen_feed")
            else "closed"
            if reason.startswith("closed")
            else "error"
        )
        metrics.INGEST_RECONNECTS.labels(kind=kind).inc()

    async def on_frame(self, raw: str | bytes) -> None:
        """Decode, apply and publish one frame (all its messages in one atomic publish)."""
        metrics.INGEST_FRAMES.inc()
        try:
            outputs, resyncs = await self._apply_frame(raw)
            await self._publish(outputs)
            for need in resyncs:
                self.request_resync(need.asset_id, need.reason)
        finally:
            metrics.INGEST_FRAMES_HANDLED.inc()

    async def on_frames(self, raws: list[str | bytes]) -> None:
        """Frames read while the previous ones were published: each applied in order, then all their messages
        in one atomic publish (one Redis round trip for the batch, not one per frame)."""
        metrics.INGEST_FRAMES.inc(len(raws))
        try:
            outputs: list[Output] = []
            for raw in raws:
                made, needs = await self._apply_frame(raw)
                outputs += made
                for need in needs:  # at once: the next frames' deltas of that token are held for its snapshot
                    self.request_resync(need.asset_id, need.reason)
            await self._publish(outputs)
        finally:
            metrics.INGEST_FRAMES_HANDLED.inc(len(raws))

    async def _apply_frame(self, raw: str | bytes) -> tuple[list[Output], list[NeedsResync]]:
        """Decode and apply one frame; the bus messages it makes (book states included) and its resyncs."""
        self.counts["frames"] += 1
        self.books.counters["frames"] += 1
        try:
            decoded = decode_market_frame_tolerant(raw)
        except MarketFrameError as error:
            await self._malformed(error.reason, raw)
            return [], []
        for item in decoded.unknown:  # a new event type: counted and logged once, the rest goes on
            CHANGES.unknown_event("market", item)
        for item, reason in decoded.invalid:  # out of the venue's domain (a tick of 0...): refused alone
            await self._malformed(reason, json.dumps(item))
        outputs: list[Output] = []
        resyncs: list[NeedsResync] = []
        changed: list[Outcome] = []
        now = self._clock()
        for message in decoded.messages:
            try:  # one message that cannot become bus messages is dead-lettered; the frame's others go on
                outcomes, made = await self._one(message, raw, now)
            except ValueError as error:  # a bus bound refused it (shared.message_checks.MessageError)
                await self._malformed(f"{message.event_type}: {error}"[:2000], raw)
                continue
            resyncs += [o for o in outcomes if isinstance(o, NeedsResync)]
            outputs += made
            changed += outcomes
        return outputs + self.status_outputs(changed), resyncs

    async def _one(
        self, message: MarketMessage, raw: str | bytes, now: float
    ) -> tuple[list[Outcome], list[Output]]:
        """Apply one decoded message to the books; returns its outcomes and the bus messages it makes."""
        outputs: list[Output] = []
        self._heard(message, now)
        CHANGES.check("market", message.event_type, market_parts(message))
        if isinstance(message, PriceChangeMessage):
            self._hold_for_resync(message)
        elif isinstance(message, TickSizeChangeMessage):
            book = self.books.books.get(message.asset_id)
            tick_msg = parse.tick_size_changed(message, self.producer, book.tick_size if book else None)
            outputs += self.tick_outputs(tick_msg)
        elif isinstance(message, LastTradePriceMessage) and message.asset_id in self.books.books:
            outputs.append(Output(self._stream(message.market), parse.last_trade(message, self.producer)))
        elif isinstance(message, NewMarketMessage | MarketResolvedMessage) and self.market_hook:
            outputs += await self.market_hook(message)
        outcomes = self.books.apply(message)
        for outcome in outcomes:
            if isinstance(outcome, Malformed):
                await self._malformed(outcome.reason, raw)
        return outcomes, outputs + self.outcome_outputs(outcomes)

    # ---- outcomes -> messages ------------------------------------------------------------------------
    def snapshot_message(self, outcome: SnapshotApplied) -> Output:
        book = self.books.books[outcome.asset_id]
        self._awaiting.pop(outcome.asset_id, None)
        return Output(self._stream(outcome.market), book_messages.snapshot(outcome, book, self.producer))

    def delta_messages(self, deltas: list[DeltasApplied]) -> list[Output]:
        return [Output(self._stream(msg.market), msg) for msg in book_messages.deltas(deltas, self.producer)]

    def outcome_outputs(self, outcomes: list[Outcome]) -> list[Output]:
        """A BookSnapshot per new snapshot, then the BookDeltas of the applied changes."""
        outputs: list[Output] = []
        applied: list[DeltasApplied] = []
        for outcome in outcomes:
            if isinstance(outcome, DeltasApplied):
                applied.append(outcome)
            elif isinstance(outcome, SnapshotApplied) and not outcome.repeated:
                outputs.append(self.snapshot_message(outcome))
        if applied:
            outputs += self.delta_messages(applied)
        return outputs

    def tick_outputs(self, message: TickSizeChanged) -> list[Output]:
        """A tick size change goes to the market's events stream (strategy, risk) and to `control`, which
        the executor reads, so its queued approvals follow the new tick at once."""
        return [Output(self._stream(message.market), message), Output(CONTROL, message)]

    def gamma_tick_change(self, info: MarketInfo) -> list[Output]:
        """Gamma shows a market's tick changed: handled like the market channel's tick_size_change (books
        dropped and resynced, TickSizeChanged out) unless the books already have that tick."""
        outputs: list[Output] = []
        new_tick = format(info.tick_size, "f")
        for token in info.tokens:
            book = self.books.books.get(token.token_id)
            if book is None or book.tick_size is None or Decimal(book.tick_size) == info.tick_size:
                continue
            wire = TickSizeChangeMessage(
                event_type="tick_size_change",
                asset_id=token.token_id,
                market=info.condition_id,
                old_tick_size=book.tick_size,
                new_tick_size=new_tick,
                timestamp=str(int(time.time() * 1000)),
            )
            outputs += self.tick_outputs(parse.tick_size_changed(wire, self.producer, book.tick_size))
            outcomes = self.books.apply(wire)
            outputs += self.status_outputs(outcomes)
            for need in outcomes:
                if isinstance(need, NeedsResync):
                    self.request_resync(need.asset_id, need.reason)
        return outputs

    # ---- freshness and book states -------------------------------------------------------------------
    def _heard(self, message: object, now: float) -> None:
        venue_ms = _ms(getattr(message, "timestamp", None))
        if isinstance(message, PriceChangeMessage):
            for entry in message.price_changes:
                self.fresh.heard(entry.asset_id, now, venue_ms)
        else:
            asset = getattr(message, "asset_id", None)
            if asset is not None:
                self.fresh.heard(asset, now, venue_ms)

    def status_output(self, asset: str, state: BookState, reason: str) -> list[Output]:
        """The BookStatus to publish when `asset` changes state (none when it is already in it)."""
        book = self.books.books.get(asset)
        if book is None:
            return []
        change = self.states.set(asset, book.market, state, reason, book.epoch, self._clock())
        if change is None:
            return []
        if state is not BookState.VALID:
            log.info("ingest: book %s %s (%s)", asset[:12], state.value, reason)
        msg = BookStatus(
            envelope=Envelope.new(self.producer),
            market=change.market,
            token_id=asset,
            state=change.state,
            reason=change.reason,
            epoch=change.epoch,
        )
        return [Output(self._stream(change.market), msg)]

    def status_outputs(self, outcomes: list[Outcome]) -> list[Output]:
        """The state changes a list of book outcomes makes: a synced snapshot is VALID, a failed check a
        GAP, any other resync (tick size change, ...) RESYNCING."""
        out: list[Output] = []
        for outcome in outcomes:
            if isinstance(outcome, SnapshotApplied):
                book = self.books.books.get(outcome.asset_id)
                if book is not None and book.synced:
                    out += self.status_output(outcome.asset_id, BookState.VALID, "snapshot")
            elif isinstance(outcome, NeedsResync):
                state = BookState.GAP if outcome.reason in GAP_REASONS else BookState.RESYNCING
                out += self.status_output(outcome.asset_id, state, outcome.reason)
        return out

    def _stream(self, market: str) -> str:
        return events_stream(self.shards.shard_of(market))

    # ---- publishing ----------------------------------------------------------------------------------
    async def _publish(self, outputs: list[Output]) -> None:
        if not outputs:
            return
        try:
            # One publish at a time, in call order: a frame's handler and a resync task both publish, and the
            # book states they carry must reach the bus in the order the states changed (the lock is FIFO and
            # taken with no await between a state change and its publish call).
            async with self._publish_lock:
                await self.bus.publish_many(outputs)
        except (RedisError, OSError) as error:
            # Downstream missed these: rebuild the books concerned so it gets fresh snapshots.
            self.counts["publish_failures"] += 1
            log.warning("ingest: publish of %d events failed: %s; resyncing their books", len(outputs), error)
            for _, message in outputs:
                market = getattr(message, "market", None)
                for asset in self.books.markets.get(market if isinstance(market, str) else "", []):
                    self.request_resync(asset, "publish_failed")
            return
        self.counts["published"] += len(outputs)
        now = time.time_ns()
        lags = self._lag_metrics
        for _, message in outputs:
            lag = lags.get(message.TYPE)
            if lag is None:  # labels() costs more than the observation: one child per kind, kept
                lag = lags[message.TYPE] = metrics.INGEST_PUBLISH_LAG_SECONDS.labels(kind=message.TYPE)
            lag.observe(max(0, now - message.envelope.source_ts_ns) / 1e9)

    async def _malformed(self, reason: str, raw: object) -> None:
        self.counts["malformed"] += 1
        metrics.INGEST_PARSE_ERRORS.labels(source="market_ws").inc()
        text = raw if isinstance(raw, str | bytes) else repr(raw)
        if isinstance(text, str):  # a str frame may hold lone surrogates, which Redis cannot take as UTF-8
            text = text.encode("utf-8", "backslashreplace")
        log.warning("ingest: malformed market frame (%s)", reason)
        try:
            await self.bus.dead_letter(
                events_stream(self.shards.shards[0]), text[:RAW_DEAD_LETTER_MAX], reason, source="market_ws"
            )
        except (RedisError, OSError) as error:
            log.warning("ingest: dead letter not written: %s", error)

    # ---- resync from REST ----------------------------------------------------------------------------
    def _hold_for_resync(self, message: PriceChangeMessage) -> None:
        if not self._resyncing:
            return
        for entry in message.price_changes:
            held = self._resyncing.get(entry.asset_id)
            if held is not None:
                held.append(message)

    def request_resync(self, asset: str, reason: str) -> bool:
        """Start a REST resync of one token unless one is in flight or ran too recently; True if started."""
        if asset not in self.books.books or asset in self._resyncing:
            return False
        now = self._clock()
        if now - self._last_resync.get(asset, -1e9) < self.settings.resync_min_interval_secs:
            # Throttled: try again when the interval is over (the maintenance loop would too, later).
            delay = self.settings.resync_min_interval_secs - (now - self._last_resync[asset])
            self.spawn(self._resync_later(asset, reason, delay))
            return False
        self._last_resync[asset] = now
        self._resyncing[asset] = []
        self.spawn(self._resync(asset, reason))
        return True

    def spawn(self, coro: Awaitable[object]) -> None:
        """Run `coro` in the background; cancelled by close()."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        metrics.INGEST_VENUE_READS_IN_FLIGHT.set(len(self._tasks))
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        metrics.INGEST_VENUE_READS_IN_FLIGHT.set(len(self._tasks))

    async def _resync_later(self, asset: str, reason: str, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        book = self.books.books.get(asset)
        if book is not None and not book.synced:
            self.request_resync(asset, reason)

    async def fetch_book(self, asset: str) -> BookSummary:
        return await fetch_book(self.http, self.settings.clob_url, asset)

    async def _resync(self, asset: str, reason: str, snap: BookSummary | None = None) -> None:
        """Rebuild one book from REST (or from `snap`, a /book response already in hand)."""
        again: list[NeedsResync] = []
        try:
            if snap is None:
                try:
                    snap = await self.fetch_book(asset)
                except (httpx.HTTPError, MarketFrameError) as error:
                    self.counts["resync_failures"] += 1
                    metrics.INGEST_POLL_ERRORS.labels(source="clob_book").inc()
                    log.warning("ingest: resync of %s (%s) failed: %s", asset[:12], reason, error)
                    return
            book = self.books.books.get(asset)
            if book is None:
                return
            held = self._resyncing.get(asset, [])
            self.counts["resyncs"] += 1
            metrics.INGEST_RESYNCS.labels(reason=reason).inc()
            book.drop(None)
            outcomes: list[Outcome] = list(self.books.apply_snapshot(snap))
            for message in held:  # deltas newer than the snapshot, for this token only
                if int(message.timestamp) >= int(snap.timestamp):
                    entries = tuple(e for e in message.price_changes if e.asset_id == asset)
                    outcomes += self.books.apply(msgspec.structs.replace(message, price_changes=entries))
            await self._publish(self.outcome_outputs(outcomes) + self.status_outputs(outcomes))
            again = [o for o in outcomes if isinstance(o, NeedsResync)]
        finally:
            self._resyncing.pop(asset, None)
        for need in again:
            self.request_resync(need.asset_id, need.reason)

    # ---- probes: quiet market or frozen feed -----------------------------------------------------------
    async def probe(self, asset: str) -> str:
        """Compare a silent token's book with REST /book: quiet, frozen, inconclusive or failed."""
        started = self._clock()
        self.fresh.probe_started(asset)
        outcome = "failed"
        try:
            try:
                snap = await self.fetch_book(asset)
            except (httpx.HTTPError, MarketFrameError) as error:
                metrics.INGEST_POLL_ERRORS.labels(source="clob_book").inc()
                log.warning("ingest: freshness probe of %s failed: %s", asset[:12], error)
                await self._publish(self.status_output(asset, BookState.STALE, "probe_failed"))
                return outcome
            book = self.books.books.get(asset)
            token = self.fresh.tokens.get(asset)
            if book is None or token is None or not book.synced or asset in self._resyncing:
                outcome = "inconclusive"
            elif book_messages.same_levels(book, snap):
                outcome = "quiet"
                if self.states.reason(asset) == "probe_failed":  # an earlier probe failed: known good again
                    await self._publish(self.status_output(asset, BookState.VALID, "probe"))
            elif token.last_data > started or (_ms(snap.timestamp) or 0) <= token.last_venue_ms:
                # Data arrived meanwhile (REST may be ahead of it), or REST is not newer than the last event we
                # had (a cached answer): neither proves the feed froze.
                outcome = "inconclusive"
            else:
                outcome = "frozen"
                await self._frozen(asset, snap)
            return outcome
        finally:
            self.counts[f"probe_{outcome}"] = self.counts.get(f"probe_{outcome}", 0) + 1
            metrics.INGEST_FRESHNESS_PROBES.labels(outcome=outcome).inc()
            self.fresh.probe_done(asset, self._clock(), quiet=outcome == "quiet")

    async def _frozen(self, asset: str, snap: BookSummary) -> None:
        """The venue's book moved while this token's feed said nothing: halt every token of the connection,
        rebuild this book from the probe's snapshot, and have the connection replaced (new snapshots)."""
        peers = self.connection_peers(asset)
        log.warning(
            "ingest: feed frozen: %s silent %.1fs while its book moved; replacing its connection (%d tokens)",
            asset[:12],
            self.fresh.silence(asset, self._clock()),
            len(peers),
        )
        metrics.INGEST_FEED_FROZEN.inc()
        statuses: list[Output] = []
        for peer in peers:
            statuses += self.status_output(peer, BookState.STALE, "frozen_feed")
        await self._publish(statuses)
        if asset not in self._resyncing:
            self._resyncing[asset] = []
            self._last_resync[asset] = self._clock()
            await self._resync(asset, "frozen_feed", snap)
        if self.on_frozen is not None:
            await self.on_frozen(asset)

    # ---- maintenance: snapshot timeouts, stale books, metrics ----------------------------------------
    def maintain(self) -> None:
        """One pass: tokens still without a snapshot after (re)subscribe, and stale books, go to REST."""
        now = self._clock()
        for asset, deadline in list(self._awaiting.items()):
            book = self.books.books.get(asset)
            if book is None or book.live:
                self._awaiting.pop(asset, None)
            elif now > deadline:
                self._awaiting.pop(asset, None)
                self.counts["snapshot_timeouts"] += 1
                self.request_resync(asset, "snapshot_timeout")
        for asset, book in self.books.books.items():
            # A book dropped after it had lived (tick change, failed resync) keeps asking, every 5 s.
            if (
                book.epoch > 0
                and not book.live
                and asset not in self._awaiting
                and now - self._last_resync.get(asset, -1e9) > 5
            ):
                self.request_resync(asset, "not_live")
        in_flight = sum(t.probing for t in self.fresh.tokens.values())
        for asset in self.fresh.due(now):
            book = self.books.books.get(asset)
            if in_flight >= PROBES_IN_FLIGHT_MAX:
                break
            if book is not None and book.synced and asset not in self._resyncing:
                self.fresh.probe_started(asset)  # now, so the next pass neither repeats nor over-counts it
                in_flight += 1
                self.spawn(self.probe(asset))
        self._state_metrics(now)

    def _state_metrics(self, now: float) -> None:
        not_valid: dict[tuple[str, str], int] = {}
        for asset in self.states.not_valid():
            book, state = self.books.books.get(asset), self.states.state(asset)
            if book is not None and state is not None:
                key = (self.shards.shard_of(book.market), state.value)
                not_valid[key] = not_valid.get(key, 0) + 1
        for shard in self.shards.shards:
            for state in (BookState.STALE, BookState.RESYNCING, BookState.GAP):
                metrics.INGEST_BOOKS_NOT_VALID.labels(shard=shard, state=state.value).set(
                    not_valid.get((shard, state.value), 0)
                )
        metrics.INGEST_STALE_BOOKS.set(sum(n for (_, state), n in not_valid.items() if state == "stale"))
        ages = [now - t.last_data for t in self.fresh.tokens.values()]
        metrics.INGEST_BOOK_MAX_AGE_SECONDS.set(max(ages) if ages else 0)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> dict[str, object]:
        books = self.books.books.values()
        return {
            **self.counts,
            "books": len(self.books.books),
            "books_live": sum(b.synced for b in books),
            "books_not_valid": len(self.states.not_valid()),
            "hash_mismatch": self.books.counters["hash_mismatch"],
        }


def _ms(timestamp: object) -> int | None:
    try:
        return int(timestamp)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
