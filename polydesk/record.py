"""`polydesk record [--markets ...] [--duration S] --out TAPE`: record the configured venue's market channel
into a tape that `polydesk backtest` replays.

The venue is the one ingest reads (`POLYDESK_GAMMA_URL`, `POLYDESK_MARKET_WS_URL`); with none configured,
the paper exchange of a `polydesk up` running from this state folder, else Polymarket's public endpoints. The markets are
`--markets` (condition ids or slugs), else the discovery settings' condition ids and slugs, else Gamma's
`--top` open markets by 24h volume. The tape (format: paperexchange/tapes.py) starts with a metadata line
holding those markets' Gamma objects, then one line per market-channel frame with its receive time (gzipped
when TAPE ends in .gz); the first frame is the venue's book snapshot of every token. A progress line shows time, frames and events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import sys
import time
from pathlib import Path

import httpx
import orjson
import websockets
from rich.console import Console

from paperexchange.replay import frame_line, meta_line
from polydesk.paper_mode import venue_is_configured
from polydesk.preflight import effective_environ
from polydesk.runs import live_run
from services.ingest.config import IngestSettings
from shared.config import load_settings
from shared.errors import ConfigurationError

TAPE_VERSION = 1
PING_SECS = 10.0


class RecordError(RuntimeError):
    """The recording cannot start; the message says why."""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="polydesk record", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--markets", default="", help="comma list of condition ids or slugs")
    parser.add_argument(
        "--top", type=int, default=10, help="without --markets: Gamma's N biggest open markets"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds to record (default: until Ctrl-C)"
    )
    parser.add_argument("--out", required=True, type=Path, help="the tape file to write")
    return parser.parse_args(argv)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def gamma_markets(client: httpx.AsyncClient, gamma_url: str, wanted: list[str], top: int) -> list[dict]:
    """The Gamma objects of the wanted markets (condition ids start with 0x, anything else is a slug)."""
    base = gamma_url.rstrip("/") + "/markets"
    if not wanted:
        params = {"active": "true", "closed": "false", "order": "volume24hr", "ascending": "false"}
        response = await client.get(base, params={**params, "limit": str(top), "include_tag": "true"})
        response.raise_for_status()
        return list(response.json())[:top]
    found: dict[str, dict] = {}
    for key in wanted:
        name = "condition_ids" if key.startswith("0x") else "slug"
        response = await client.get(base, params={name: key, "include_tag": "true"})
        response.raise_for_status()
        markets = list(response.json())
        if not markets:
            raise RecordError(f"no market {key!r} on {gamma_url}")
        for market in markets:
            found[str(market["conditionId"])] = market
    return list(found.values())


def _tokens(markets: list[dict]) -> list[str]:
    tokens: list[str] = []
    for market in markets:
        ids = market.get("clobTokenIds") or "[]"
        tokens += [str(token) for token in (orjson.loads(ids) if isinstance(ids, str) else ids)]
    return tokens


def _events_in(frame: object) -> int:
    return len(frame) if isinstance(frame, list) else 1


class Progress:
    """One line, rewritten in place: elapsed time, frames and events recorded."""

    def __init__(self, console: Console, duration: float | None) -> None:
        self.console, self.duration = console, duration
        self.started = time.monotonic()
        self.frames = self.events = 0
        self._shown = 0.0

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.5:
            return
        self._shown = now
        elapsed = now - self.started
        of = f" / {self.duration:.0f}s" if self.duration else ""
        self.console.print(
            f"recording {elapsed:6.1f}s{of}  frames {self.frames}  events {self.events}",
            end="\r",
            highlight=False,
        )


async def record(
    settings: IngestSettings, wanted: list[str], top: int, duration: float | None, out: Path
) -> int:
    console = Console(stderr=True)
    async with httpx.AsyncClient(timeout=settings.http_timeout_secs) as client:
        markets = await gamma_markets(client, settings.gamma_url, wanted, top)
    if not markets:
        raise RecordError(f"Gamma at {settings.gamma_url} lists no open market")
    tokens = _tokens(markets)
    meta = {
        "version": TAPE_VERSION,
        "recorded_from": {"gamma_url": settings.gamma_url, "market_ws_url": settings.market_ws_url},
        "markets": markets,
        "assets_ids": tokens,
    }
    progress = Progress(console, duration)
    console.print(
        f"recording {len(markets)} market(s), {len(tokens)} token(s) from {settings.market_ws_url} into {out}",
        highlight=False,
    )
    deadline = None if duration is None else time.monotonic() + duration
    with gzip.open(out, "wb") if out.suffix == ".gz" else out.open("wb") as tape:
        tape.write(meta_line(int(time.time() * 1000), meta))
        async with websockets.connect(settings.market_ws_url, max_size=None, ping_interval=None) as socket:
            subscribe = {"type": "market", "assets_ids": tokens, "custom_feature_enabled": True}
            await socket.send(orjson.dumps(subscribe).decode())
            last_ping = time.monotonic()
            while deadline is None or time.monotonic() < deadline:
                wait = (
                    PING_SECS if deadline is None else min(PING_SECS, max(0.0, deadline - time.monotonic()))
                )
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=min(wait, 0.5))
                except TimeoutError:
                    raw = None
                if time.monotonic() - last_ping >= PING_SECS:
                    await socket.send("PING")
                    last_ping = time.monotonic()
                if raw is not None and raw not in ("PONG", b"PONG"):
                    data = raw.encode() if isinstance(raw, str) else raw
                    try:
                        frame = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        continue  # not a market frame; the venue's text replies
                    tape.write(frame_line(int(time.time() * 1000), orjson.dumps(frame)))
                    progress.frames += 1
                    progress.events += _events_in(frame)
                progress.show()
    progress.show(force=True)
    console.print(
        f"\nrecorded {progress.frames} frames ({progress.events} events) into {out}", highlight=False
    )
    return 0


def venue_settings(settings: IngestSettings) -> IngestSettings:
    """The venue to record: the configured one; else the paper exchange of a `polydesk up` still running
    from this state folder; else the settings' defaults (Polymarket's public endpoints)."""
    if venue_is_configured(effective_environ()):
        return settings
    run = live_run(settings.state_dir)
    url = str(run.info().get("paper_exchange_url") or "") if run is not None else ""
    if not url:
        return settings
    ws = url.replace("http://", "ws://", 1)
    return settings.model_copy(update={"gamma_url": f"{url}/gamma", "market_ws_url": f"{ws}/ws/market"})


def main(argv: list[str]) -> int:
    args = _parse(argv)
    try:
        settings = venue_settings(load_settings(IngestSettings))
    except ConfigurationError as error:
        print(f"polydesk record: {error}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(record(settings, _split(args.markets), args.top, args.duration, args.out))
        return 0
    except RecordError as error:
        print(f"polydesk record: {error}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError, websockets.WebSocketException) as error:
        print(f"polydesk record: cannot read the venue: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
