"""The risk process on real Redis: a basket becomes one decision and one ApprovedBasket; a close-only region
(the paper exchange's /api/geoblock) lets only reducing orders through."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from shared import messages as m
from shared.streams import APPROVED_ORDERS, INTENTS
from tests.risk.helpers import CID, NO, YES, intent
from tests.risk.test_service import decision_for, publish_market, read, risk_process  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


async def test_a_basket_is_one_decision_and_one_approval(bus, risk_process):  # noqa: F811
    risk = risk_process(dry_run="false", max_trade_size_usd="20")
    await risk.start(bus)
    await publish_market(bus)
    legs = tuple(m.BasketLeg(market=CID, token_id=token, side=m.Side.BUY, price=D(price), size=D(40))
                 for token, price in ((YES, "0.30"), (NO, "0.20")))
    basket = m.BasketIntent(envelope=m.Envelope.new("strategy"), strategy="arbitrage", signal_key="arb:t:1",
                            reason="arb_binary: test", market=CID, legs=legs)
    await bus.publish(INTENTS, basket)
    decision = await decision_for(bus, basket.envelope.message_id)
    # 40 x (0.30 + 0.20) = 20 USD: within 20; both legs whole, one decision.
    assert decision.approved and decision.approved_size == D(40)
    approved = [a for a in await read(bus, APPROVED_ORDERS) if isinstance(a, m.ApprovedBasket)]
    assert len(approved) == 1 and [leg.size for leg in approved[0].legs] == [D(40), D(40)]
    assert [d for d in await read(bus, "decisions") if d.intent_id == basket.envelope.message_id] == [decision]
    risk.stop()


async def test_a_close_only_region_rejects_buys(bus, risk_process):  # noqa: F811
    with PaperExchangeServer(admin=True, default_markets=False) as exchange:
        async with httpx.AsyncClient() as client:
            (await client.post(exchange.url + "/_paper/geoblock", json={"mode": "close_only"})).raise_for_status()
        risk = risk_process(dry_run="false", geoblock_url=exchange.url + "/api/geoblock")
        await risk.start(bus)
        await publish_market(bus)
        buy = intent(key="geo:buy")
        await bus.publish(INTENTS, buy)
        rejected = await decision_for(bus, buy.envelope.message_id)
        assert not rejected.approved and rejected.rule == "GEO_RESTRICTION" and "close-only" in rejected.detail
        risk.stop()
    assert risk.events("trading_region")[0]["status"] == "close_only"
