"""The executor against the paper exchange: a shared exchange (thread), a funded wallet per test, and the real
service as a subprocess on a real Redis, talking to the exchange directly (faults come from the exchange's own
/_paper/faults, so the executor sees its faithful responses). A recording proxy (fault_proxy.py) is there for
tests that must see the requests themselves: `executor.start(POLYDESK_CLOB_URL=proxy.url)`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from paperexchange.server import PaperExchangeServer
from shared.logging import read_events
from shared.messages import ApprovedOrder, Envelope, OrderType, Side
from tests.executor.fault_proxy import FaultProxy
from tests.helpers import eventually
from tests.integration.test_services import service_env
from tests.paperexchange.helpers import Admin

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server) -> Admin:
    return Admin(server.url)


@pytest.fixture
def proxy(server):
    with FaultProxy(server.url) as running:
        yield running


@pytest.fixture
def faults(admin):
    """Switch on one of the exchange's own faults: faults("http", {...}); all cleared after the test."""
    yield lambda kind, body: admin.http.post(f"/faults/{kind}", json=body).raise_for_status()
    admin.http.delete("/faults").raise_for_status()


@pytest.fixture
def market(admin) -> dict:
    return admin.create_market()


@pytest.fixture
def wallet(admin):
    account = Account.create()
    admin.fund(account.address, "1000")
    return account


class ExecutorProcess:
    """`python -m services.executor` with its own state dir, logs and stderr file."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self, **extra: str) -> ExecutorProcess:
        self.runs += 1
        self.stderr_path = self.tmp_path / f"executor-{self.runs}.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.executor"], env={**self.env, **extra}, cwd=REPO,
                stderr=stderr, stdout=subprocess.DEVNULL,
            )
        return self

    def wait_started(self, timeout: float = 30) -> Any:
        """eventually() on the executor_started event: `await` it in an async test."""

        def started() -> bool:
            return self._exited_early() or any(e["type"] == "executor_started" for e in self.events())

        return eventually(started, timeout=timeout)

    def _exited_early(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(f"executor exited {self.process.returncode}: {self.stderr()[-3000:]}")
        return False

    def events(self, kind: str | None = None) -> list[dict]:
        found = read_events(sorted((self.tmp_path / "logs").glob("events-*.jsonl")))
        return [e for e in found if kind is None or e["type"] == kind]

    def stderr(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("executor-*.stderr")))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


@pytest.fixture
def executor(redis_url, prefix, tmp_path, server, wallet):
    key_file = tmp_path / "key"
    key_file.write_text(wallet.key.hex())
    key_file.chmod(0o600)
    env = service_env(
        redis_url, prefix, tmp_path, POLYDESK_CLOB_URL=server.url, POLYDESK_USER_WS_URL=server.ws_url,
        POLYDESK_PRIVATE_KEY_FILE=str(key_file), POLYDESK_WALLET_ADDRESS=wallet.address,
        POLYDESK_HEARTBEAT_INTERVAL_SECS="1", POLYDESK_RECONCILE_INTERVAL_SECS="2",
        POLYDESK_UNKNOWN_GRACE_SECS="2", POLYDESK_SUBMIT_TIMEOUT_SECS="3", POLYDESK_PHASE_WAIT_SECS="1",
        POLYDESK_CLAIM_MIN_IDLE_MS="1000",
    )
    running = ExecutorProcess(env, tmp_path)
    yield running
    if running.process and running.process.poll() is None:
        running.process.send_signal(signal.SIGKILL)
        running.process.wait(10)


def approval(market: dict, *, side: Side = Side.BUY, price: str = "0.50", size: str = "10",
             limit: str | None = None, order_type: OrderType = OrderType.GTC, must_fill: bool = False,
             client_order_id: str | None = None) -> ApprovedOrder:
    return ApprovedOrder(
        envelope=Envelope.new("risk"), client_order_id=client_order_id or uuid.uuid4().hex, intent_id="i",
        signal_key=f"test:{uuid.uuid4().hex[:8]}", strategy="test", market=market["condition_id"],
        token_id=market["token_ids"][0], side=side, size=Decimal(size), price=Decimal(price),
        price_limit=Decimal(limit or price), order_type=order_type, must_fill=must_fill,
        tick_size=Decimal("0.01"),
    )


def own_orders(admin: Admin, address: str) -> list[dict]:
    return [o for o in admin.orders() if o.get("maker_address", "").lower() == address.lower()]


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
