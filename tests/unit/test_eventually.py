"""The one waiting helper: the same call blocks in a sync test and is awaited in an async one."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.helpers import UNAWAITED, eventually


def test_sync_returns_the_first_truthy_value():
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "done", timeout=5, interval=0) == "done"


def test_an_assertion_error_counts_as_not_yet_and_is_reported_on_timeout():
    def check():
        raise AssertionError("still 2 orders")

    with pytest.raises(AssertionError, match="still 2 orders"):
        eventually(check, timeout=0.05, interval=0.01)


def test_an_awaitable_check_outside_a_loop_is_a_type_error():
    async def check() -> bool:
        return True

    with pytest.raises(TypeError, match="outside an event loop"):
        eventually(check, timeout=1)


async def test_async_awaits_sync_and_async_checks():
    counter = itertools.count()
    assert await eventually(lambda: next(counter) >= 2 and 7, timeout=5, interval=0) == 7

    async def ready() -> str:
        await asyncio.sleep(0)
        return "yes"

    assert await eventually(ready, timeout=5) == "yes"
    assert await eventually(lambda: asyncio.sleep(0, result=[1]), timeout=5) == [1]


async def test_async_timeout_names_the_last_value():
    with pytest.raises(AssertionError, match=r"within 0.05s; last: \[\]"):
        await eventually(lambda: [], timeout=0.05, interval=0.01)


async def test_async_does_not_block_the_loop_while_waiting():
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, done.set)  # runs only if the loop is free
    assert await eventually(done.is_set, timeout=5)


async def test_forgetting_the_await_is_caught():
    with pytest.raises(TypeError, match="must be awaited"):
        assert eventually(lambda: True)
    eventually(lambda: True)  # dropped: recorded for the autouse fixture, which would fail this test
    assert len(UNAWAITED) == 1 and "test_eventually.py" in UNAWAITED[0] and "dropped" in UNAWAITED[0]
    UNAWAITED.clear()
