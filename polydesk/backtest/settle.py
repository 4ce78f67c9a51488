"""When one backtest step is over everywhere, so the next tape instant comes only after every consequence of
this one (the determinism of docs/backtest.md rests on this).

A step is settled when, at once:
- the exchange has written every queued frame on every socket and answers no HTTP request;
- ingest has received every market frame the exchange sent (its frames counter, /metrics);
- every consumer group of every stream has read and acknowledged everything (lag 0, pending 0): the
  services write their outputs and acknowledge their input in one script, so nothing is between two streams;
- the executor holds no approval it has not posted and no order whose outcome it does not know (its SQLite);
and all of that, with every counter, stays unchanged over `quiet_polls` polls `poll_secs` apart (what a
user-channel frame in flight to the executor would change).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.exceptions import RedisError

from polydesk.backtest.venue import BacktestVenue
from shared.streams import Bus

EXECUTOR_BUSY_SQL = """
SELECT
  (SELECT count(*) FROM approvals WHERE state = 'QUEUED')
  + (SELECT count(*) FROM orders WHERE status IN ('PENDING', 'UNKNOWN'))
  + (SELECT count(*) FROM approvals a WHERE a.state = 'ACTIVE' AND NOT EXISTS (
       SELECT 1 FROM orders o WHERE o.client_order_id = a.client_order_id AND o.status IN ('LIVE', 'DELAYED')))
"""


@dataclass
class Settler:
    venue: BacktestVenue
    bus: Bus
    ingest_metrics_url: str
    executor_db: Path
    poll_secs: float = 0.01
    quiet_polls: int = 3
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

    async def _ingest_frames(self) -> float | None:
        try:
            text = (await self._http.get(self.ingest_metrics_url)).text
        except httpx.HTTPError:
            return None
        for line in text.splitlines():
            if line.startswith("polydesk_ingest_frames_total "):
                return float(line.split()[1])
        return None

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
        ingest_frames = await self._ingest_frames()
        streams = []
        waiting = []
        if not activity.drained:
            waiting.append("exchange sockets writing")
        if activity.requests_in_flight:
            waiting.append(f"{activity.requests_in_flight} HTTP request(s) in progress")
        if ingest_frames is None or int(ingest_frames) != activity.market_frames:
            waiting.append(f"ingest received {ingest_frames} of {activity.market_frames} market frames")
        for stream in self._streams:
            for group in await self.bus.group_stats(stream):
                if group.pending or group.lag:
                    waiting.append(f"{stream}/{group.group}: pending {group.pending}, lag {group.lag}")
            streams.append(await self.bus.redis.xlen(self.bus.key(stream)))
        busy = self._executor_busy()
        if busy:
            waiting.append(f"executor: {busy} approval(s)/order(s) in progress")
        return waiting, (activity, ingest_frames, tuple(streams), busy)

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
