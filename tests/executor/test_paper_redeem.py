"""Auto-redeem end to end: the real executor (subprocess, real Redis) against the paper exchange. A held
position's market resolves; the executor redeems it on the paper chain with a transaction it signs itself;
one PositionRedeemed per token lands on `fills` exactly once, also when the executor is killed between
sending the transaction and its receipt and when it restarts afterwards; the chain balances (read with web3
over the exchange's JSON-RPC) are the payout."""

from __future__ import annotations

import signal
import threading
import time
from decimal import Decimal

import pytest
from web3 import Web3

from paperexchange import config
from paperexchange.server import PaperExchangeServer
from shared.messages import PositionRedeemed
from shared.streams import FILLS, dead_letter_stream
from tests.executor.conftest import kill
from tests.helpers import eventually

BALANCE_ABI = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}, {"name": "id", "type": "uint256"}],
     "outputs": [{"name": "", "type": "uint256"}]},
]


class FreezableClock:
    """Wall time that a test can hold still (the paper chain mines no block while it is held)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        with self._lock:
            return self._frozen_at if self._frozen_at is not None else time.time() - self._offset

    def freeze(self) -> None:
        with self._lock:
            self._frozen_at = time.time() - self._offset

    def thaw(self) -> None:
        with self._lock:
            assert self._frozen_at is not None
            self._offset = time.time() - self._frozen_at
            self._frozen_at = None


@pytest.fixture(scope="module")
def clock() -> FreezableClock:
    return FreezableClock()


@pytest.fixture(scope="module")
def server(clock):
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2, clock=clock) as running:
        yield running


def chain_balances(server, address: str, token_ids: list[str]) -> tuple[int, list[int]]:
    w3 = Web3(Web3.HTTPProvider(server.url + "/rpc"))
    pusd = w3.eth.contract(address=Web3.to_checksum_address(config.COLLATERAL_TOKEN), abi=BALANCE_ABI[:1])
    ctf = w3.eth.contract(address=Web3.to_checksum_address(config.CONDITIONAL_TOKENS), abi=BALANCE_ABI[1:])
    owner = Web3.to_checksum_address(address)
    return (pusd.functions.balanceOf(owner).call(),
            [ctf.functions.balanceOf(owner, int(token_id)).call() for token_id in token_ids])


async def redeemed(bus) -> list[PositionRedeemed]:
    return [m for _, m in await bus.history(FILLS) if isinstance(m, PositionRedeemed)]


async def test_a_resolved_position_is_redeemed_once_across_a_crash_and_a_restart(
        executor, admin, server, clock, wallet, bus):
    market = admin.create_market()
    yes, no = market["token_ids"]
    admin.fund(wallet.address, "1000", tokens={yes: "20", no: "5.5"})
    executor.start(POLYDESK_REDEEM_INTERVAL_SECS="0.5")
    await executor.wait_started()
    assert executor.events("executor_started")[-1]["auto_redeem"] is True  # on by default against paper
    await eventually(lambda: executor.events("redeem_pass"), timeout=20)  # a pass before resolution: nothing sent
    assert not executor.events("redeem_sent")

    clock.freeze()  # no block is mined: the redemption stays pending while the executor is killed
    try:
        admin.http.post(f"/markets/{market['condition_id']}/resolve",
                        json={"winning_asset_id": yes}).raise_for_status()
        sent = await eventually(lambda: executor.events("redeem_sent"), timeout=20)
        kill(executor.process)
        assert chain_balances(server, wallet.address, [yes, no]) == (1000 * 10**6, [20 * 10**6, 5_500_000])
        assert await redeemed(bus) == []
    finally:
        clock.thaw()

    executor.start(POLYDESK_REDEEM_INTERVAL_SECS="0.5")  # finishes the SENT redemption from its receipt
    messages = await eventually(lambda: _at_least(bus, 2), timeout=30)
    by_token = {m.token_id: m for m in messages}
    assert set(by_token) == {yes, no}
    assert (by_token[yes].shares, by_token[yes].payout_usd) == (Decimal(20), Decimal(20))
    assert (by_token[no].shares, by_token[no].payout_usd) == (Decimal("5.5"), Decimal(0))
    assert {m.transaction_hash for m in messages} == {sent[0]["tx_hash"]}
    assert all(m.market == market["condition_id"] for m in messages)
    assert chain_balances(server, wallet.address, [yes, no]) == (1020 * 10**6, [0, 0])
    assert len(executor.events("redeem_sent")) == 1  # the restart sent nothing new

    assert executor.stop(signal.SIGTERM) == 0
    passes = len(executor.events("redeem_pass"))
    executor.start(POLYDESK_REDEEM_INTERVAL_SECS="0.5")
    await eventually(lambda: len(executor.events("redeem_pass")) > passes, timeout=30)
    assert len(await redeemed(bus)) == 2
    assert len(executor.events("redeem_sent")) == 1
    assert chain_balances(server, wallet.address, [yes, no]) == (1020 * 10**6, [0, 0])
    assert await bus.history(dead_letter_stream(FILLS)) == []


async def _at_least(bus, count: int) -> list[PositionRedeemed] | None:
    found = await redeemed(bus)
    return found if len(found) >= count else None
