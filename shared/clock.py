"""What time it is for business rules: the wall clock, or in a backtest the tape's clock.

Messages' envelopes (the strategy's deterministic "now"), risk's trading day and the executor's view of an
order's expiration read `now()` / `now_ns()`. Live, that is `time.time()`. In a backtest
(`polydesk backtest`) the driver owns the time: it writes the tape's current instant (int64 unix ns,
little endian) into a small file and each service maps it (`POLYDESK_SIM_CLOCK_PATH`), so every process
reads the same instant with no I/O. Timeouts and retry pacing (how long to wait for an answer) keep using
`time.monotonic()`: they are about the machine, not the market. A business wait (a must-fill phase's
patience) is `after(secs)`: tape time in a backtest, and counted as due (`timers_due`) from the moment its
time has come until its action is done, so the driver never calls a step settled while an action is owed.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

_FORMAT = "<q"
SIZE = struct.calcsize(_FORMAT)
_mapped: mmap.mmap | None = None
_timers: dict[object, int] = {}  # a running after() -> its deadline (ns), in a backtest only
SIM_POLL_SECS = 0.005


def now_ns() -> int:
    if _mapped is None:
        return time.time_ns()
    return int(struct.unpack_from(_FORMAT, _mapped)[0])


def now() -> float:
    return now_ns() / 1e9


def follow_file(path: Path | None) -> None:
    """Read the time from `path` (written by `SimClockWriter`) from now on; None: the wall clock again."""
    global _mapped
    if path is None:
        _mapped = None
        return
    with open(path, "rb") as file:
        _mapped = mmap.mmap(file.fileno(), SIZE, access=mmap.ACCESS_READ)


@contextlib.asynccontextmanager
async def after(secs: float) -> AsyncIterator[None]:
    """Wait `secs` of business time, then run the with-block: the wall clock live, the tape's in a backtest
    (where the block counts as due in `timers_due()` until it ends)."""
    if _mapped is None:
        await asyncio.sleep(secs)
        yield
        return
    token = object()
    deadline = now_ns() + int(secs * 1e9)
    _timers[token] = deadline
    try:
        while now_ns() < deadline:
            await asyncio.sleep(SIM_POLL_SECS)
        yield
    finally:
        del _timers[token]


def timers_due() -> int:
    """How many after() waits have reached their time and not finished their action (0 live)."""
    instant = now_ns()
    return sum(1 for deadline in _timers.values() if deadline <= instant)


class SimClockWriter:
    """The backtest driver's end: creates the file and moves the time every follower reads."""

    def __init__(self, path: Path, start_ns: int) -> None:
        self.path = path
        path.write_bytes(struct.pack(_FORMAT, start_ns))
        self._file = open(path, "r+b")  # noqa: SIM115 - mapped for the whole run, closed by close()
        self._map = mmap.mmap(self._file.fileno(), SIZE)

    def set_ns(self, value: int) -> None:
        struct.pack_into(_FORMAT, self._map, 0, value)

    def now_ns(self) -> int:
        return int(struct.unpack_from(_FORMAT, self._map)[0])

    def now(self) -> float:
        return self.now_ns() / 1e9

    def close(self) -> None:
        self._map.close()
        self._file.close()
