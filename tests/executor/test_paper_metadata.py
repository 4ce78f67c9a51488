"""A market's first order reads no metadata on its way out (issue 19): the executor hands the SDK the tick,
neg-risk flag and fee schedule it already knows, so neither `/markets-by-token` nor `/clob-markets` is read
between an approval and its POST. Checked on the requests themselves (the recording proxy), against the
paper exchange and the real executor process; and sdk_metadata.prime against the SDK's own cache class."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from polymarket._internal.actions.orders.cache import AsyncOrderMetadataCache

from services.executor import sdk_metadata
from shared.streams import APPROVED_ORDERS, Output
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

METADATA_ROUTES = ("/markets-by-token", "/clob-markets", "/tick-size", "/neg-risk")
CONDITION = "0x" + "ab" * 32


class _NoReads:
    """An SDK context whose every read fails the test: a primed cache must answer without one."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the SDK read metadata over HTTP ({name})")


def _client() -> SimpleNamespace:
    return SimpleNamespace(_ctx=SimpleNamespace(order_metadata=AsyncOrderMetadataCache()))


async def test_a_primed_cache_answers_without_a_read_and_keeps_the_markets_other_token() -> None:
    client = _client()
    cache = client._ctx.order_metadata
    assert sdk_metadata.prime(client, market=CONDITION, token_id="111", tick_size=Decimal("0.01"), neg_risk=True,
                              fee=(Decimal("0.02"), Decimal(1)))
    assert sdk_metadata.prime(client, market=CONDITION, token_id="222", tick_size=Decimal("0.01"), neg_risk=True)
    for token in ("111", "222"):
        info = await cache.resolve_market(_NoReads(), token_id=token)
        assert info.tick_size == Decimal("0.01") and info.neg_risk is True
        assert info.fee_info.rate == Decimal("0.02") and info.fee_info.exponent == Decimal(1)
    # The same facts again write nothing; a new tick (TickSizeChanged) replaces the entry.
    assert not sdk_metadata.prime(client, market=CONDITION, token_id="111", tick_size=Decimal("0.01"),
                                  neg_risk=True)
    assert sdk_metadata.prime(client, market=CONDITION, token_id="111", tick_size=Decimal("0.001"), neg_risk=True)
    assert (await cache.resolve_market(_NoReads(), token_id="222")).tick_size == Decimal("0.001")


@pytest.mark.integration
@pytest.mark.processes
@pytest.mark.timeout(120)
async def test_a_markets_first_order_reads_no_metadata_before_its_post(bus, executor, proxy, admin, wallet) -> None:
    executor.start(POLYDESK_CLOB_URL=proxy.url)
    await executor.wait_started()
    markets = [admin.create_market() for _ in range(3)]  # never seen by the executor or its SDK
    started = len(proxy.seen)
    await bus.publish_many([Output(APPROVED_ORDERS, approval(m, price="0.20", size="5")) for m in markets])
    await eventually(lambda: len(executor.events("order_submitted")) >= 3, timeout=40)

    paths = [path for _, _, path, _ in proxy.seen[started:]]
    assert any(path in ("/order", "/orders") for path in paths), paths
    assert not [p for p in paths if p.startswith(METADATA_ROUTES)], paths
    assert len(own_orders(admin, wallet.address)) == 3
    assert all(e["posted_ns"] > 0 for e in executor.events("order_submitted"))
    assert executor.stop() == 0
