"""clock.after: a business wait follows the tape's clock in a backtest and is due until its action ends."""

import asyncio

import pytest

from shared import clock


@pytest.fixture
def sim_clock(tmp_path):
    writer = clock.SimClockWriter(tmp_path / "clock", start_ns=1_000 * 10**9)
    clock.follow_file(writer.path)
    yield writer
    clock.follow_file(None)


async def test_a_wait_follows_tape_time_and_counts_as_due_until_its_block_ends(sim_clock):
    entered, release = asyncio.Event(), asyncio.Event()

    async def phase() -> None:
        async with clock.after(2.0):
            entered.set()
            await release.wait()  # the action (a cancel, a requeue) takes its time

    task = asyncio.create_task(phase())
    await asyncio.sleep(0.05)  # wall time passes, tape time does not
    assert not entered.is_set() and clock.timers_due() == 0
    sim_clock.set_ns(sim_clock.now_ns() + 1_999_999_999)
    await asyncio.sleep(0.05)
    assert not entered.is_set() and clock.timers_due() == 0
    sim_clock.set_ns(sim_clock.now_ns() + 1)
    assert clock.timers_due() == 1  # due the instant its time comes, before the waiter wakes
    await asyncio.wait_for(entered.wait(), 2)
    assert clock.timers_due() == 1
    release.set()
    await task
    assert clock.timers_due() == 0


async def test_live_it_is_a_plain_sleep_and_never_due():
    clock.follow_file(None)
    async with clock.after(0.01):
        assert clock.timers_due() == 0
