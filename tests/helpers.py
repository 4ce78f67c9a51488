"""Small test helpers: wait for a condition instead of sleeping a fixed time.

`eventually` is the one way to wait, in sync and async tests alike:

    value = eventually(lambda: admin.orders(), timeout=20)           # a sync test: blocks, returns the value
    value = await eventually(lambda: bus.length("fills"), timeout=20)  # inside a running event loop

Inside a running event loop it never blocks the loop: it returns an awaitable, and `check` may then
return an awaitable too (an async function, `asyncio.to_thread(...)`). Forgetting the `await` there
would silently skip the wait, so the test that does it fails (see `unawaited_waits` in conftest.py).
"""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

# Where an `eventually(...)` made inside an event loop was dropped without being awaited; the autouse
# fixture in tests/conftest.py fails the test that left one here.
UNAWAITED: list[str] = []


def eventually(check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Call `check()` until it returns a truthy value and return that value; an AssertionError raised by
    `check` counts as "not yet". After `timeout` seconds: AssertionError with the last value or error."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_a_loop = False
    else:
        in_a_loop = True
    return _Awaitable(check, timeout, interval) if in_a_loop else _poll(check, timeout, interval)


def _poll(check: Callable[[], Any], timeout: float, interval: float) -> Any:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                _close(value)
                raise TypeError("eventually(): check returned an awaitable outside an event loop")
            if value:
                return value
            last = value
        except AssertionError as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")
        time.sleep(interval)


async def _poll_async(check: Callable[[], Any], timeout: float, interval: float) -> Any:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last = value
        except AssertionError as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")
        await asyncio.sleep(interval)


class _Awaitable:
    """The wait, made inside an event loop: runs when awaited; remembers where it was made if it never is."""

    def __init__(self, check: Callable[[], Any], timeout: float, interval: float) -> None:
        self._args = (check, timeout, interval)
        self._awaited = False
        self._made_at = traceback.format_stack(limit=3)[0].strip()  # the caller of eventually()

    def __await__(self) -> Generator[Any, None, Any]:
        self._awaited = True
        return _poll_async(*self._args).__await__()

    def __bool__(self) -> bool:
        self._awaited = True  # reported right here; no second report when it is collected
        raise TypeError("eventually() inside an event loop must be awaited: `await eventually(...)`")

    def __del__(self) -> None:
        if not self._awaited:
            UNAWAITED.append(self._made_at)


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning on top of the TypeError
