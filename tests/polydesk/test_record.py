"""`polydesk record` against a running paper exchange (the default scenario): the tape holds the markets'
Gamma objects and the market channel, and replaying it through the paper exchange's external books gives
exactly the books ingest's own book code builds from it (`polydesk book-replay`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from paperexchange import ManualClock, Settings
from paperexchange.server import PaperExchangeServer
from paperexchange.sim.external_book import ExternalBooks
from paperexchange.sim.tape_source import TapeBookSource, TapeError
from paperexchange.venue import Venue
from polydesk.record import RecordError, record
from services.ingest.config import IngestSettings

ROOT = Path(__file__).parents[2]


def _settings(url: str) -> IngestSettings:
    return IngestSettings(
        _env_file=None,  # type: ignore[call-arg]
        gamma_url=f"{url}/gamma",
        market_ws_url=url.replace("http://", "ws://") + "/ws/market",
    )


def _replayed_books(tape: Path) -> dict[str, tuple[list, list]]:
    """YES token -> (bids, asks) after every batch of the tape went through the external books."""
    source = TapeBookSource.open(tape)
    clock = ManualClock(source.start_ms / 1000)
    venue = Venue(Settings(default_markets=False), clock)
    markets = source.create_markets(venue)
    books = ExternalBooks(venue)
    for batch in source:
        clock.set(max(clock.now(), batch.ts_ms / 1000))
        books.apply(batch)
    out = {}
    for market in markets:
        book = venue.exchange.book(market.condition_id)
        out[market.token_ids[0]] = (
            sorted((p / 10_000, s / 1e6) for p, s in book.levels("BUY")),
            sorted((p / 10_000, s / 1e6) for p, s in book.levels("SELL")),
        )
    return out


@pytest.mark.integration
def test_record_then_the_replayed_books_are_ingests_books(tmp_path):
    tape = tmp_path / "tape.jsonl.gz"
    with PaperExchangeServer(Settings(port=0, scenario="default", speed=20.0)) as server:
        markets = {m.condition_id: m for m in server.venue.exchange.markets.all() if not m.closed}
        asyncio.run(record(_settings(server.url), [], top=20, duration=2.0, out=tape))
    source = TapeBookSource.open(tape)
    assert {m.condition_id: m.token_ids for m in source.markets()} == {
        cid: m.token_ids for cid, m in markets.items()
    }
    assert len(source.batches) > 3  # the snapshot, then the scenario's flow
    replay = subprocess.run(
        [sys.executable, "-m", "polydesk", "book-replay", str(tape)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "0 malformed" in replay.stderr and "0 mismatched" in replay.stderr
    ingest_books = json.loads(replay.stdout)
    for token, (bids, asks) in _replayed_books(tape).items():
        assert bids == sorted((float(p), float(s)) for p, s in ingest_books[token]["bids"])
        assert asks == sorted((float(p), float(s)) for p, s in ingest_books[token]["asks"])


@pytest.mark.integration
def test_record_named_markets_only_and_unknown_ones_refused(tmp_path):
    tape = tmp_path / "tape.jsonl"
    with PaperExchangeServer(Settings(port=0)) as server:
        market = server.venue.exchange.markets.all()[0]
        asyncio.run(record(_settings(server.url), [market.condition_id], top=1, duration=0.5, out=tape))
        meta = orjson.loads(tape.read_bytes().splitlines()[0])["meta"]
        assert [m["conditionId"] for m in meta["markets"]] == [market.condition_id]
        assert meta["assets_ids"] == list(market.token_ids)
        with pytest.raises(RecordError, match="no market 'no-such-slug'"):
            asyncio.run(
                record(_settings(server.url), ["no-such-slug"], top=1, duration=0.5, out=tmp_path / "x")
            )


def test_a_tape_without_metadata_is_refused_with_the_reason(tmp_path):
    tape = tmp_path / "plain.jsonl"
    tape.write_text('{"event_type": "book", "asset_id": "1", "bids": [], "asks": [], "timestamp": "1"}\n')
    with pytest.raises(TapeError, match="polydesk record"):
        TapeBookSource.open(tape)
    with pytest.raises(TapeError, match="no such tape"):
        TapeBookSource.open(tmp_path / "missing.jsonl")


def test_without_a_configured_venue_the_running_paper_exchange_is_recorded(tmp_path, monkeypatch):
    from polydesk.paper_mode import VENUE_URL_NAMES
    from polydesk.record import venue_settings
    from polydesk.runs import new_run

    monkeypatch.setenv("POLYDESK_ENV_FILE", str(tmp_path / "none.env"))
    for name in VENUE_URL_NAMES:
        monkeypatch.delenv(name, raising=False)
    settings = IngestSettings(_env_file=None, state_dir=tmp_path)  # type: ignore[call-arg]
    assert venue_settings(settings).gamma_url == "https://gamma-api.polymarket.com"  # no paper run
    run = new_run(tmp_path)  # held by this process, as `polydesk up` holds its run
    run.describe(redis_url="redis://127.0.0.1:1", paper_exchange_url="http://127.0.0.1:9999")
    chosen = venue_settings(settings)
    assert (chosen.gamma_url, chosen.market_ws_url) == (
        "http://127.0.0.1:9999/gamma",
        "ws://127.0.0.1:9999/ws/market",
    )
    monkeypatch.setenv("POLYDESK_GAMMA_URL", "http://venue.example")
    assert venue_settings(settings) is settings  # a configured venue wins
