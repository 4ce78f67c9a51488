"""Cancel all through the control API reaches the running executor: every open order is cancelled at the
paper exchange (the executor's control path, the one risk uses when the kill switch trips)."""

from __future__ import annotations

import httpx
import pytest

from polydesk.api.app import ApiContext, build_app
from polydesk.api.settings import ApiSettings
from shared.logging import EventLog
from shared.streams import APPROVED_ORDERS, Output
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
TOKEN = "cancel-all-api-test-token-0123"


def live(admin, wallet) -> set[str]:
    return {o["id"] for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"}


async def test_cancel_all_through_the_api_cancels_every_open_order(bus, executor, admin, wallet, tmp_path, prefix):
    first, second = admin.create_market(), admin.create_market()
    executor.start()
    await executor.wait_started()
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in (approval(first, price="0.30"),
                                                                  approval(second, price="0.31"))])
    await eventually(lambda: len(live(admin, wallet)) == 2, timeout=30)
    settings = ApiSettings(_env_file=None, stream_prefix=prefix, log_dir=tmp_path / "api-logs",
                           state_dir=tmp_path / "api-state", api_token=TOKEN)
    app = build_app(ApiContext(settings, bus, EventLog(tmp_path / "api-logs", "api"), None), TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = await client.post("/cancel-all", json={"reason": "flat for the night"})
    assert answer.status_code == 202
    await eventually(lambda: not live(admin, wallet), timeout=30)
    assert {o["status"] for o in own_orders(admin, wallet.address)} == {"CANCELED"}
    assert executor.stop() == 0
