"""Market-channel tapes: record every event as a JSONL line `{"t": ms, "frame": ...}`, and replay a tape
through /ws/market at recorded or accelerated speed.

A tape made by `polydesk record` starts with a metadata line `{"t": ms, "meta": {...}}`: the format
version, where it was recorded, and the Gamma market objects of its markets (what a backtest needs to
create them again); `load_meta` reads it and every frame reader skips it. A tape may be gzipped (`.gz`).
A recording then has one `book` array (a snapshot of every known token, as a subscriber's first frame)
and then holds one event per line, with the venue-clock time it was sent. Replay also accepts
plain JSONL of frames (the captured fixtures), a whole-file JSON frame or array of frames, and polypy's
message files (Python-repr lines, header lines skipped). `python -m paperexchange.sim.tapes frames TAPE`
prints a tape as plain frames, the form `polydesk book-replay` reads.
"""

from __future__ import annotations

import ast
import asyncio
import gzip
import sys
from pathlib import Path

import orjson

from paperexchange.api.ws_hub import Subscriber
from paperexchange.api.ws_market import MarketHub, snapshot
from paperexchange.core.clock import Clock
from paperexchange.core.exchange import Exchange

GZIP_MAGIC = b"\x1f\x8b"
Frame = tuple[int | None, bytes]  # (receive time in ms if known, the frame's JSON text)


class TapeRecorder:
    def __init__(self, path: str | Path, clock: Clock) -> None:
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the server; unbuffered so a tape is readable while recorded
        self._clock = clock

    def attach(self, hub: MarketHub, exchange: Exchange) -> TapeRecorder:
        tokens = [token for market in exchange.markets.all() for token in market.token_ids]
        books = snapshot(exchange, tokens)
        if books is not None:
            self.write(books)
        hub.taps.append(self.write)
        return self

    def write(self, data: bytes) -> None:
        self._file.write(frame_line(int(self._clock.now() * 1000), data))

    def close(self) -> None:
        self._file.close()


def _frame_time(frame: object) -> int | None:
    first = frame[0] if isinstance(frame, list) and frame else frame
    try:
        return int(first["timestamp"]) if isinstance(first, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _parse_line(line: str) -> object | None:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        value = ast.literal_eval(line)  # polypy stores Python reprs of the frames
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None  # a header or comment line
    return value if isinstance(value, (dict, list)) else None


def _is_meta(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"t", "meta"}


def _as_frame(value: object) -> Frame | None:
    if _is_meta(value):
        return None
    if isinstance(value, dict) and set(value) == {"t", "frame"}:
        return int(value["t"]), orjson.dumps(value["frame"])
    if isinstance(value, (dict, list)):
        return _frame_time(value), orjson.dumps(value)
    return None


def _whole_document(text: str) -> list | None:
    """Frames of a file that is one JSON document: an array of frames, or a single frame."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, list) and any(isinstance(value, list) for value in document):
        return document
    return [document]


def read_bytes(path: str | Path) -> bytes:
    """A tape's bytes, gunzipped when the file is gzip (tapes compress about tenfold)."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def load(path: str | Path) -> list[Frame]:
    text = read_bytes(path).decode()
    values = _whole_document(text)
    if values is None:
        values = [_parse_line(line) for line in text.splitlines() if line.strip()]
    return [frame for frame in map(_as_frame, values) if frame is not None]


def load_meta(path: str | Path) -> dict | None:
    """The metadata of a tape made by `polydesk record` (its first line), or None for other tapes."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as file:
        first = file.readline()
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        return None
    return value["meta"] if _is_meta(value) else None


def meta_line(recorded_ms: int, meta: dict) -> bytes:
    return orjson.dumps({"t": recorded_ms, "meta": meta}) + b"\n"


def frame_line(received_ms: int, frame_json: bytes) -> bytes:
    return b'{"t":%d,"frame":%s}\n' % (received_ms, frame_json)


class TapePlayer:
    """Serves a tape to each market-channel subscriber from the start, when it first subscribes."""

    def __init__(self, frames: list[Frame], speed: float = 1.0) -> None:
        self.frames, self.speed = frames, speed
        self._tasks: dict[Subscriber, asyncio.Task] = {}

    def start(self, sub: Subscriber) -> None:
        if sub not in self._tasks:
            self._tasks[sub] = asyncio.create_task(self._play(sub))

    def stop(self, sub: Subscriber) -> None:
        task = self._tasks.pop(sub, None)
        if task is not None:
            task.cancel()

    async def _play(self, sub: Subscriber) -> None:
        loop = asyncio.get_running_loop()
        started, first = loop.time(), None
        for when, data in self.frames:
            if when is not None and self.speed > 0:
                first = when if first is None else first
                delay = started + (when - first) / 1000 / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if sub.closed:
                return
            sub.push(data)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "frames":
        print(
            "usage: python -m paperexchange.sim.tapes frames TAPE   (prints plain JSONL frames)",
            file=sys.stderr,
        )
        return 2
    out = sys.stdout.buffer
    for _, data in load(argv[1]):
        out.write(data + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
