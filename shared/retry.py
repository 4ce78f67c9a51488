"""Retry policy: one pure backoff function and one async helper. Nobody writes their own retry loop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.errors import RateLimited, TransientVenueError

T = TypeVar("T")


def backoff_delay(
    attempt: int,
    *,
    base_secs: float = 0.5,
    max_secs: float = 30.0,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Return the delay before retry number `attempt` (1-based): full-jitter exponential, capped at max_secs.

    `jitter` returns a float in [0, 1); inject a constant in tests.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    ceiling = min(max_secs, base_secs * (2 ** (attempt - 1)))
    return ceiling * (0.5 + 0.5 * jitter())


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    retry_on: tuple[type[BaseException], ...] = (TransientVenueError,),
    base_secs: float = 0.5,
    max_secs: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run `operation` until it returns, retrying `retry_on` errors up to `attempts` times in all.

    A `RateLimited` error waits at least its `retry_after_secs`. Returns the operation's value; raises the
    last error when attempts run out, and anything not in `retry_on` at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except retry_on as error:
            if attempt == attempts:
                raise
            delay = backoff_delay(attempt, base_secs=base_secs, max_secs=max_secs, jitter=jitter)
            if isinstance(error, RateLimited):
                delay = max(delay, error.retry_after_secs)
            await sleep(delay)
    raise AssertionError("unreachable")
