"""When one backtest step is over everywhere, so the next tape instant comes only after every consequence of
this one (the determinism of docs/backtest.md rests on this).

A step is settled when, at once:
- the exchange has written every queued frame on every socket and answers no HTTP request;
- ingest has handled (applied and published) every market frame the exchange sent and has no book resync
  or probe under way, and the executor has handled every user-channel event (their metrics on /metrics);
- every consumer group of every stream has read and acknowledged everything (lag 0, pending 0): the
  services write their outputs and acknowledge their input in one script, so nothing is between two streams;
- the executor holds no approval it has not posted and no order whose outcome it does not know (its SQLite);
and all of that, with every counter, stays unchanged over `quiet_polls` polls `poll_secs` apart (a REST
book resync of ingest, say, is between its answer and its publish for a moment).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.exceptions import RedisError

from paperexchange.replay import ReplayVenue
from shared.streams import Bus
from shared.streams.base import as_text

EXECUTOR_BUSY_SQL = """
SELECT
  (SELECT count(*) FROM approvals WHERE state = 'QUEUED')
  + (SELECT count(*) FROM orders WHERE status IN ('PENDING', 'UNKNOWN'))
  + (SELECT count(*) FROM approvals a WHERE a.state = 'ACTIVE' AND NOT EXISTS (
       SELECT 1 FROM orders o WHERE o.client_order_id = a.client_order_id AND o.status IN ('LIVE', 'DELAYED')))
"""


@dataclass
class Settler:
    venue: ReplayVenue
    bus: Bus
    ingest_metrics_url: str
    executor_metrics_url: str
    executor_db: Path
    poll_secs: float = 0.005
    quiet_polls: int = 2
    step_timeout_secs: float = 30.0
    late_steps: int = 0  # steps that did not settle within the timeout (the report says so)
    unsettled: str = ""  # what kept the last step from settling

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(timeout=5.0)
        self._streams: list[str] = []
        self._db: sqlite3.Connection | None = None

    async def close(self) -> None:
        await self._http.aclose()
        if self._db is not None:
            self._db.close()

    async def refresh_streams(self) -> None:
        """The streams to watch: every stream key under the prefix but the dead letters."""
        keys = [
            key.decode() if isinstance(key, bytes) else key
            async for key in self.bus.redis.scan_iter(match=f"{self.bus.prefix}*", _type="STREAM")
        ]
        self._streams = sorted(key.removeprefix(self.bus.prefix) for key in keys if not key.endswith(":dead"))

    async def _scrape(self, url: str, names: tuple[str, ...]) -> tuple[int | None, ...]:
        """Some samples of a service's /metrics (None while it does not answer; 0 before a first sample)."""
        try:
            text = (await self._http.get(url)).text
        except httpx.HTTPError:
            return (None,) * len(names)
        found = dict.fromkeys(names, 0)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in found:
                found[name] = int(float(value))
        return tuple(found[name] for name in names)

    def _executor_busy(self) -> int:
        if self._db is None:
            if not self.executor_db.exists():
                return 0
            self._db = sqlite3.connect(f"file:{self.executor_db}?mode=ro", uri=True, timeout=5.0)
        try:
            return int(self._db.execute(EXECUTOR_BUSY_SQL).fetchone()[0])
        except sqlite3.OperationalError:
            return 1  # a table not created yet: the executor is still starting

    async def _observe(self) -> tuple[list[str], tuple]:
        """(what is not quiet yet, the signature of everything observed)."""
        activity = self.venue.activity()
        ingest_frames, ingest_reads = await self._scrape(
            self.ingest_metrics_url,
            ("polydesk_ingest_frames_handled_total", "polydesk_ingest_venue_reads_in_flight"),
        )
        user_events, timers_due = await self._scrape(
            self.executor_metrics_url, ("polydesk_executor_user_events_total", "polydesk_executor_timers_due")
        )
        streams = []
        waiting = []
        if not activity.drained:
            waiting.append("exchange sockets writing")
        if activity.requests_in_flight:
            waiting.append(f"{activity.requests_in_flight} HTTP request(s) in progress")
        if ingest_frames != activity.market_frames:
            waiting.append(f"ingest handled {ingest_frames} of {activity.market_frames} market frames")
        if ingest_reads:
            waiting.append(f"ingest: {ingest_reads} book resync(s) or probe(s) under way")
        if user_events != activity.user_events:
            waiting.append(f"executor handled {user_events} of {activity.user_events} user-channel events")
        if timers_due:
            waiting.append(f"executor: {timers_due} must-fill phase(s) due")
        for stream, last_id, groups in await self._stream_states():
            streams.append(last_id)
            for name, pending, delivered in groups:
                if pending or delivered != last_id:
                    waiting.append(f"{stream}/{name}: pending {pending}, read up to {delivered} of {last_id}")
        busy = self._executor_busy()
        if busy:
            waiting.append(f"executor: {busy} approval(s)/order(s) in progress")
        return waiting, (activity, ingest_frames, ingest_reads, user_events, timers_due, tuple(streams), busy)

    async def _stream_states(self) -> list[tuple[str, str, list[tuple[str, int, str]]]]:
        """(stream, last entry id, [(group, pending, last delivered id)]) of every watched stream, in one
        round trip (Redis 6.2's XINFO GROUPS has no lag: delivered up to the last id means no lag)."""
        pipe = self.bus.redis.pipeline(transaction=False)
        for stream in self._streams:
            pipe.xinfo_stream(self.bus.key(stream))
            pipe.xinfo_groups(self.bus.key(stream))
        replies = await pipe.execute(raise_on_error=False)
        states = []
        for index, stream in enumerate(self._streams):
            info, groups = replies[2 * index], replies[2 * index + 1]
            if isinstance(info, Exception) or isinstance(groups, Exception):
                continue  # trimmed away or not there yet: nothing to wait for
            states.append(
                (
                    stream,
                    as_text(info["last-generated-id"]),
                    [
                        (as_text(g["name"]), int(g["pending"]), as_text(g["last-delivered-id"]))
                        for g in groups
                    ],
                )
            )
        return states

    async def settle(self, timeout_secs: float | None = None) -> bool:
        """Wait until the step is settled; False (and counted) when it is not within the timeout."""
        deadline = time.monotonic() + (timeout_secs or self.step_timeout_secs)
        quiet_in_a_row, last = 0, None
        while time.monotonic() < deadline:
            try:
                waiting, signature = await self._observe()
            except (RedisError, OSError) as error:
                waiting, signature = [f"{type(error).__name__}: {error}"], None
            self.unsettled = "; ".join(waiting)
            quiet = not waiting
            quiet_in_a_row = quiet_in_a_row + 1 if quiet and signature == last else (1 if quiet else 0)
            if quiet_in_a_row >= self.quiet_polls:
                return True
            last = signature
            await asyncio.sleep(self.poll_secs)
        if timeout_secs is None:
            self.late_steps += 1
        return False
