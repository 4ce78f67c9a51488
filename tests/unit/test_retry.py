import pytest

from shared.errors import RateLimited, TransientVenueError, VenueRejected
from shared.retry import backoff_delay, retry_async


def test_backoff_grows_exponentially_and_caps():
    delays = [backoff_delay(a, base_secs=1, max_secs=10, jitter=lambda: 1.0) for a in range(1, 7)]
    assert delays[:4] == [1, 2, 4, 8]
    assert delays[4:] == [10, 10]


def test_backoff_jitter_keeps_at_least_half():
    assert backoff_delay(3, base_secs=1, max_secs=100, jitter=lambda: 0.0) == 2.0


async def test_retry_returns_after_transient_errors_and_honours_retry_after():
    calls, slept = [], []

    async def operation():
        calls.append(1)
        if len(calls) == 1:
            raise RateLimited("slow down", retry_after_secs=7)
        if len(calls) == 2:
            raise TransientVenueError("502")
        return "ok"

    async def sleep(secs):
        slept.append(secs)

    assert await retry_async(operation, sleep=sleep, jitter=lambda: 0.0, base_secs=1) == "ok"
    assert slept == [7, 1.0]


async def test_retry_does_not_retry_definitive_rejections():
    calls = []

    async def operation():
        calls.append(1)
        raise VenueRejected("not enough balance")

    with pytest.raises(VenueRejected):
        await retry_async(operation, sleep=lambda s: None)
    assert len(calls) == 1


async def test_retry_gives_up_after_attempts():
    async def operation():
        raise TransientVenueError("down")

    async def sleep(secs):
        pass

    with pytest.raises(TransientVenueError):
        await retry_async(operation, attempts=3, sleep=sleep)
