"""`polydesk book-replay FILE`: feed recorded market-channel frames through the ingest book code and
print the final books as JSON, to debug a desync offline.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

from services.ingest.book import BookSet, Malformed, OrderBook
from shared.polymarket.schemas import MarketFrameError, decode_market_value, decode_rest_book

USAGE = "usage: polydesk book-replay FILE   (JSONL: one market-channel frame per line, or one JSON array)"


def _frames(data: bytes) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON or the raw line when it is not JSON) for each non-blank line.

    Lines may be plain frames or paper-exchange tape records (`{"t": ..., "frame": ...}`).

    A whole-file JSON document (an array of frames, or one pretty-printed frame) is accepted too;
    its frames are numbered from 1 in document order.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = None
    else:
        if isinstance(document, list) and any(isinstance(item, list) for item in document):
            yield from enumerate(document, start=1)
            return
        if document is not None and data.strip().count(b"\n") > 0:
            yield 1, document
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield number, line
            continue
        # A paper-exchange tape line is {"t": receive time ms, "frame": the frame as sent}.
        if isinstance(value, dict) and value.keys() == {"t", "frame"}:
            value = value["frame"]
        elif isinstance(value, dict) and value.keys() == {"t", "meta"}:
            continue  # `polydesk record`'s metadata line (the tape's markets), not a frame
        yield number, value


def _apply(books: BookSet, value: object) -> str | None:
    """Apply one frame; returns the reason when it is malformed."""
    books.counters["frames"] += 1
    try:
        if isinstance(value, dict) and "event_type" not in value and "bids" in value:
            # A REST /book response pasted into the tape: the resync path.
            outcomes = books.apply_snapshot(decode_rest_book(value))
        elif isinstance(value, (dict, list)):
            outcomes = [o for message in decode_market_value(value) for o in books.apply(message)]
        else:
            raise MarketFrameError("not a JSON object or array", value)
    except MarketFrameError as error:
        books.counters["malformed"] += 1
        return error.reason
    bad = [o.reason for o in outcomes if isinstance(o, Malformed)]
    return "; ".join(bad) or None


def _book_json(book: OrderBook) -> dict[str, object]:
    return {
        "bids": [list(level) for level in book.best_bids()],
        "asks": [list(level) for level in book.best_asks()],
        "tick_size": book.tick_size,
        "hash_ok": book.hash_ok,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr if len(argv) != 1 else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    path = Path(argv[0])
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # a gzipped tape
            data = gzip.decompress(data)
    except OSError as error:
        print(f"polydesk book-replay: cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    books = BookSet(hash_check_every=1)
    for number, value in _frames(data):
        if isinstance(value, bytes):
            reason: str | None = "invalid JSON"
            books.counters["frames"] += 1
            books.counters["malformed"] += 1
        else:
            reason = _apply(books, value)
        if reason:
            print(f"line {number}: malformed frame: {reason}", file=sys.stderr)
    print(json.dumps({asset: _book_json(book) for asset, book in books.books.items()}, indent=2))
    c = books.counters
    print(
        f"book-replay: {c['frames']} frames, {c['malformed']} malformed, {c['snapshots']} snapshots, "
        f"{c['diffs']} diffs, {c['hash_checked']} hashes checked ({c['hash_mismatch']} mismatched), "
        f"{c['best_checked']} best bid/ask checked ({c['best_mismatch']} mismatched), "
        f"{c['unknown_asset']} for unknown assets",
        file=sys.stderr,
    )
    return 0
