"""Fixtures every test may use: a real Redis (the machine's, else an embedded one), an isolated bus prefix."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from shared.redis_conn import DEFAULT_URL, EmbeddedRedis, connect, is_reachable, start_embedded
from shared.streams import Bus
from tests.helpers import UNAWAITED


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run long chaos and soak tests")


# Fixtures that start polydesk processes: a test using one is marked `processes` (not in make test-fast).
PROCESS_FIXTURES = frozenset({"executor"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.processes)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="long run: use --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def unfrozen_heap() -> Iterator[None]:
    """A service run in the test process freezes its heap (shared/heap.py): thawed after each test, so a later
    test's gc.collect() still finds what this one left."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def unawaited_waits() -> Iterator[None]:
    """Fail a test that called eventually() inside an event loop without awaiting it (it never waited)."""
    yield
    if UNAWAITED:
        made_at = UNAWAITED[:]
        UNAWAITED.clear()
        pytest.fail("eventually() inside an event loop must be awaited; not awaited at:\n"
                    + "\n".join(made_at))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: POLYDESK_TEST_REDIS_URL, else the machine's at 127.0.0.1:6379, else an embedded one."""
    configured = os.environ.get("POLYDESK_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if is_reachable(DEFAULT_URL):
        yield DEFAULT_URL
        return
    server: EmbeddedRedis = start_embedded(tmp_path_factory.mktemp("redis"), port=0)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def quiet_exchange() -> Iterator[object]:
    """A paper exchange with its built-in markets and no background flow, shared by the session."""
    from paperexchange.server import PaperExchangeServer

    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2) as server:
        yield server


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    value = f"test:{uuid.uuid4().hex[:10]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=value + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def bus(redis_url: str, prefix: str) -> AsyncIterator[Bus]:
    client = connect(redis_url)
    yield Bus(client, prefix=prefix, producer="test")
    await client.aclose()
