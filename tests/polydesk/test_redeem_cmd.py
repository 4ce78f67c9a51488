"""`polydesk redeem` against the paper exchange and real Redis: it reports an unresolved market and sends
nothing, redeems a resolved one (PositionRedeemed on `fills`, balances paid on chain), and a second run finds
nothing left; settings that cannot redeem are refused with the setting named."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from pydantic import SecretStr

from paperexchange.server import PaperExchangeServer
from polydesk import redeem_cmd
from services.executor import redeem
from services.executor.config import ExecutorSettings
from shared.messages import PositionRedeemed
from shared.redis_conn import connect
from shared.streams import FILLS, Bus
from tests.paperexchange.helpers import Admin


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2) as running:
        yield running


@pytest.fixture
def wallet(server, tmp_path, monkeypatch, redis_url, prefix):
    account = Account.create()
    key = tmp_path / "key"
    key.write_text(account.key.hex())
    key.chmod(0o600)
    for name, value in {"CLOB_URL": server.url, "PRIVATE_KEY_FILE": str(key), "REDIS_URL": redis_url,
                        "STREAM_PREFIX": prefix, "STATE_DIR": str(tmp_path / "state"),
                        "LOG_DIR": str(tmp_path / "logs")}.items():
        monkeypatch.setenv(f"POLYDESK_{name}", value)
    return account


def redeemed(redis_url: str, prefix: str) -> list[PositionRedeemed]:
    async def read() -> list[PositionRedeemed]:
        client = connect(redis_url, None)
        try:
            return [m for _, m in await Bus(client, prefix=prefix).history(FILLS) if isinstance(m, PositionRedeemed)]
        finally:
            await client.aclose()
    return asyncio.run(read())


def test_redeem_one_market_as_a_user_would(server, wallet, redis_url, prefix, capsys):
    admin = Admin(server.url)
    market = admin.create_market()
    yes, no = market["token_ids"]
    admin.fund(wallet.address, "50", tokens={yes: "8", no: "2"})
    assert redeem_cmd.main(["--market", market["condition_id"]]) == 0
    assert "not_resolved" in capsys.readouterr().out
    assert redeemed(redis_url, prefix) == []

    admin.http.post(f"/markets/{market['condition_id']}/resolve", json={"winning_asset_id": no}).raise_for_status()
    assert redeem_cmd.main(["--market", market["condition_id"]]) == 0
    out = capsys.readouterr().out
    assert "redeemed" in out and "paid 2 pUSD" in out
    messages = {m.token_id: (m.shares, m.payout_usd) for m in redeemed(redis_url, prefix)}
    assert messages == {yes: (8, 0), no: (2, 2)}
    assert admin.balances(wallet.address)["balances"] == {"COLLATERAL": "52"}

    assert redeem_cmd.main([]) == 0  # every market: the Data API shows no position left
    assert "nothing to redeem" in capsys.readouterr().out
    assert len(redeemed(redis_url, prefix)) == 2


def test_settings_that_cannot_redeem_are_named(monkeypatch, capsys, wallet):
    monkeypatch.setenv("POLYDESK_CLOB_URL", "https://clob.polymarket.com")
    assert redeem_cmd.main([]) == 1
    assert "POLYDESK_RPC_URL" in capsys.readouterr().err
    key = SecretStr(wallet.key.hex())
    assert "POLYDESK_SIGNATURE_TYPE" in redeem.unavailable(ExecutorSettings(
        private_key=key, signature_type=1, wallet_address="0x" + "11" * 20))
    monkeypatch.delenv("POLYDESK_PRIVATE_KEY_FILE")
    assert "POLYDESK_PRIVATE_KEY" in redeem.unavailable(ExecutorSettings(clob_url="http://paper"))
    assert redeem.unavailable(ExecutorSettings(private_key=key, clob_url="http://paper")) is None
