"""Bus entries: messages.decode raises only DecodeError, and a real Consumer dead-letters every entry it cannot
decode (with a non-empty error), hands every good entry to its handler in order, and leaves nothing pending."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.errors import DecodeError
from shared.messages import REGISTRY, decode
from shared.redis_conn import connect
from shared.streams import Bus, ConsumerOptions, Delivery, dead_letter_stream
from tests.fuzz.conftest import FAST, FAST_IO, SLOW, SLOW_IO
from tests.fuzz.strategies import dumps, mutated

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
# (type, version, payload) of every golden message: the seeds.
SEEDS = [(path.name.split(".")[0], int(path.name.split(".")[1][1:]), json.loads(path.read_text()))
         for path in sorted(GOLDEN.glob("*.v*.json"))]
TYPES = sorted({t for t, _ in REGISTRY})


def entry(type_name: str, version: int, payload: object) -> dict[bytes, bytes]:
    return {b"type": type_name.encode(), b"v": str(version).encode(), b"data": dumps(payload).encode()}


GOOD = st.sampled_from(SEEDS).map(lambda s: entry(*s))
FIELD_NAMES = st.one_of(st.sampled_from([b"type", b"v", b"data", b"extra", b""]), st.binary(max_size=8))
FIELD_VALUES = st.one_of(st.binary(max_size=40), st.sampled_from(TYPES).map(str.encode),
                         st.sampled_from([b"1", b"0", b"-1", b"2", b"9" * 5000, b"\xff", b" 1 ", b"1.0", b""]))
BAD = st.one_of(
    st.sampled_from(SEEDS).flatmap(lambda s: mutated(s[2]).map(lambda p: entry(s[0], s[1], p))),  # payload damaged
    st.builds(lambda e, k, v: {**e, k: v}, GOOD, st.sampled_from([b"type", b"v", b"data"]), FIELD_VALUES),
    st.builds(lambda e, k: {n: v for n, v in e.items() if n != k}, GOOD, st.sampled_from([b"type", b"v", b"data"])),
    st.dictionaries(FIELD_NAMES, FIELD_VALUES, min_size=1, max_size=4),
)
ENTRIES = st.one_of(GOOD, BAD)
LAST_TRADE = next(payload for type_name, _, payload in SEEDS if type_name == "last_trade")
# Valid JSON and a valid model, but a creation time no float can hold.
HUGE_CREATED = entry("last_trade", 1, {**LAST_TRADE, "envelope": {**LAST_TRADE["envelope"], "created_ts_ns": 10**400}})


def decodes(fields: dict) -> bool:
    try:
        decode(fields)
    except DecodeError as error:
        assert str(error)
        return False
    return True


def test_every_golden_seed_decodes():
    assert SEEDS and all(decodes(entry(*seed)) for seed in SEEDS)


@FAST
@given(ENTRIES)
@example({b"type": b"last_trade", b"v": b"9" * 5000, b"data": b"{}"})
@example({"type": "last_trade", "v": None, "data": "{}"})
@example({"type": 1, "v": 1.5, "data": 3})
def test_decode_raises_only_decode_error(fields):
    decodes(fields)


@pytest.mark.slow
@SLOW
@given(ENTRIES)
def test_decode_raises_only_decode_error_long(fields):
    decodes(fields)


# ---- end to end: a real Consumer on a real Redis --------------------------------------------------------

async def _run_consumer(redis_url: str, prefix: str, entries: list[dict[bytes, bytes]]) -> None:
    client = connect(redis_url)
    bus = Bus(client, prefix=prefix, producer="fuzz")
    key = bus.key("in")
    try:
        await bus.ensure_group("in", "g")
        ids = [(await client.xadd(key, fields)).decode() for fields in entries]
        good = [i for i, fields in zip(ids, entries) if decodes(fields)]
        seen: list[str] = []

        async def handler(delivery: Delivery) -> tuple:
            seen.append(delivery.entry_id)
            return ()

        consumer = bus.consumer("in", "g", "c1", handler, block_ms=20, trim_interval_secs=None)
        assert isinstance(consumer.options, ConsumerOptions)
        task = asyncio.create_task(consumer.run())
        for _ in range(500):
            stats = {s.group: s for s in await bus.group_stats("in")}
            if stats["g"].pending == 0 and stats["g"].last_delivered_id == ids[-1]:
                break
            assert not task.done(), task.exception()  # the consumer must not die on any entry
            await asyncio.sleep(0.01)
        consumer.stop()
        await asyncio.wait_for(task, 5)
        # Good entries reach the handler in order; bad ones are dead-lettered with a reason; none pending.
        assert seen == good
        dead = await client.xrange(bus.key(dead_letter_stream("in")))
        assert [f[b"source_id"].decode() for _, f in dead] == [i for i in ids if i not in good]
        assert all(f[b"error"] for _, f in dead)
        assert {s.group: s.pending for s in await bus.group_stats("in")} == {"g": 0}
        letters = await bus.dead_letters("in", count=len(dead) + 1)  # the inspection path reads them too
        assert [d.source_id for d in letters] == [i for i in ids if i not in good] and all(d.error for d in letters)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def check_consumer(redis_url: str, entries: list[dict[bytes, bytes]]) -> None:
    asyncio.run(_run_consumer(redis_url, f"test:fuzz:{uuid.uuid4().hex[:10]}:", entries))


@FAST_IO
@given(entries=st.lists(ENTRIES, min_size=1, max_size=8).map(lambda e: [*e, entry(*SEEDS[0])]))
@example(entries=[HUGE_CREATED, entry(*SEEDS[0])])
@example(entries=[{b"\xff": b"x"}, entry(*SEEDS[0])])
def test_consumer_dead_letters_every_bad_entry_and_keeps_flowing(redis_url, entries):
    check_consumer(redis_url, entries)


@pytest.mark.slow
@SLOW_IO
@given(entries=st.lists(ENTRIES, min_size=1, max_size=20).map(lambda e: [*e, entry(*SEEDS[0])]))
def test_consumer_dead_letters_every_bad_entry_and_keeps_flowing_long(redis_url, entries):
    check_consumer(redis_url, entries)
