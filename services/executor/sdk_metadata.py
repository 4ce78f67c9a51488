"""What the executor already knows about a market, handed to polymarket-client's order-metadata cache.

The SDK signs an order only after it knows the market's tick size, neg-risk flag and fee schedule: on a
token it has not seen it reads `/markets-by-token/{token}` then `/clob-markets/{condition}` (5-11 ms on this
machine), and again once its 10-minute entry expires. The executor knows all of it before signing: the
approval carries the market, its tick (kept current by TickSizeChanged) and neg-risk flag, all from
discovery via risk. So the cache entry is written before each signature and the first order of a market
costs what its tenth does.

The SDK (0.14.0) has no public way to prime this cache, so this module is the one place that reaches into
it (`client._ctx.order_metadata`); tests/executor/test_paper_metadata.py fails when a first order reads
either route again, e.g. after an SDK upgrade renames these internals.

The fee schedule in the entry is used by the SDK only to size a market BUY given `max_spend`, which the
executor never passes; it is the executor's own known schedule when it has one (FeeSchedules), else 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from polymarket._internal.actions.orders.market_data import MarketInfo, PlatformFeeInfo
from polymarket.models.types import ClobAssetId

Schedule = tuple[Decimal, Decimal]  # (rate, exponent), as services.executor.fees


def prime(
    client: Any,
    *,
    market: str,
    token_id: str,
    tick_size: Decimal,
    neg_risk: bool,
    fee: Schedule | None = None,
) -> bool:
    """Write (market, token) into the client's metadata cache unless an unexpired entry already says the
    same; True when it wrote. A market's other tokens already cached stay in the entry."""
    cache = client._ctx.order_metadata
    markets = cache._markets
    held = markets._values.get(market)
    current: MarketInfo | None = None
    if held is not None and (held.expires_at is None or held.expires_at > markets._clock()):
        current = held.value
    if (
        current is not None
        and current.tick_size == tick_size
        and current.neg_risk == neg_risk
        and token_id in current.token_ids
        and (fee is None or current.fee_info == PlatformFeeInfo(*fee))
    ):
        return False
    if fee is not None:
        fee_info = PlatformFeeInfo(rate=fee[0], exponent=fee[1])
    elif current is not None:
        fee_info = current.fee_info
    else:
        fee_info = PlatformFeeInfo(rate=Decimal(0), exponent=Decimal(0))
    asset = cast(ClobAssetId, token_id)
    tokens = (current.token_ids if current is not None else frozenset()) | {asset}
    markets.set(
        market, MarketInfo(fee_info=fee_info, neg_risk=neg_risk, tick_size=tick_size, token_ids=tokens)
    )
    cache._conditions.set(asset, market)
    return True
