"""A scripted paper run: risk and the executor as real processes on a real Redis against the paper exchange.

Our own orders cross (a self trade, allowed by the setting), a trade is forced FAILED after MATCHED, a taker
fee is paid, one market resolves for us and one against us, both are redeemed on the paper chain, and at
the end risk's ledger holds exactly the venue's shares of every token and its pUSD to the cent; shares moved
in from outside are then reported by risk's reconcile timer.

Ingest is not run: the market events it would publish (discovery, resolution) are published by the test.
The executor redeems the resolved positions by itself (auto-redeem) and reports each as PositionRedeemed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
from eth_account import Account

from paperexchange.server import PaperExchangeServer
from polydesk.positions import read_ledger, report
from services.risk.reconcile import read_venue
from shared.logging import read_events
from shared.messages import (
    Envelope,
    Fill,
    MarketDiscovered,
    MarketInfo,
    MarketResolved,
    OrderIntent,
    OrderType,
    Side,
    TokenInfo,
    TradeStatus,
)
from shared.streams import FILLS, INTENTS, events_stream
from tests.helpers import eventually
from tests.integration.test_services import service_env
from tests.paperexchange.helpers import Admin

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.3) as running:
        yield running


def info(market: dict, question: str) -> MarketInfo:
    yes, no = market["token_ids"]
    return MarketInfo(condition_id=market["condition_id"], question=question, slug=question.lower().replace(" ", "-"),
                      tokens=(TokenInfo(token_id=yes, outcome="Yes"), TokenInfo(token_id=no, outcome="No")),
                      tick_size=D("0.01"), min_order_size=D(5), end_date_ts=int(time.time()) + 10 * 86_400,
                      volume_24h_usd=D(50_000))


def intent(market: dict, token: str, side: Side, size: str, price: str, key: str) -> OrderIntent:
    return OrderIntent(envelope=Envelope.new("strategy"), token_id=token, side=side, size=D(size), price=D(price),
                       order_type=OrderType.GTC, reason="scripted", strategy="copy", signal_key=key,
                       market=market["condition_id"])


class Services:
    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.tmp_path = env, tmp_path
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        stderr = open(self.tmp_path / f"{name}.stderr", "wb")  # noqa: SIM115 - the child owns it
        self.processes[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=self.env, cwd=REPO,
                                                stdout=subprocess.DEVNULL, stderr=stderr)

    def events(self, kind: str) -> list[dict]:
        found = read_events(sorted((self.tmp_path / "logs").glob("events-*.jsonl")))
        return [e for e in found if e["type"] == kind]

    def alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                text = (self.tmp_path / f"{name}.stderr").read_text(errors="replace")
                raise AssertionError(f"{name} exited {process.returncode}: {text[-3000:]}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def test_the_ledger_equals_the_venue_after_self_trades_failures_fees_resolutions_and_redemption(
        bus, redis_url, prefix, tmp_path, server):
    admin = Admin(server.url)
    a = admin.create_market(question="Will A happen?")
    b = admin.create_market(question="Will B happen?", fee_rate="0.02", fee_exponent="1")
    a_yes = a["token_ids"][0]
    b_yes, b_no = b["token_ids"]
    wallet = Account.create()
    admin.fund(wallet.address, "1000", tokens={a_yes: "30"})  # held before the run: risk adopts it on start
    key_file = tmp_path / "key"
    key_file.write_text(wallet.key.hex())
    key_file.chmod(0o600)
    env = service_env(
        redis_url, prefix, tmp_path, POLYDESK_CLOB_URL=server.url, POLYDESK_USER_WS_URL=server.ws_url,
        POLYDESK_PRIVATE_KEY_FILE=str(key_file), POLYDESK_WALLET_ADDRESS=wallet.address,
        POLYDESK_DATA_API_URL=f"{server.url}/data-api", POLYDESK_RPC_URL=f"{server.url}/rpc",
        POLYDESK_RECONCILE_WALLET_ADDRESS=wallet.address, POLYDESK_DRY_RUN="false",
        POLYDESK_ALLOW_SELF_TRADE="true", POLYDESK_RISK_RECONCILE_INTERVAL_SECS="1",
        POLYDESK_HEARTBEAT_INTERVAL_SECS="1", POLYDESK_RECONCILE_INTERVAL_SECS="2",
        POLYDESK_AUTO_REDEEM="true", POLYDESK_REDEEM_INTERVAL_SECS="1", POLYDESK_ENV_FILE=str(tmp_path / "none.env"),
    )
    services = Services(env, tmp_path)
    db_path = tmp_path / "state" / "risk.sqlite"
    shard = events_stream("main")
    try:
        services.start("risk")
        services.start("executor")

        async def started() -> bool:
            services.alive()
            return bool(services.events("reconcile_done")) and bool(services.events("executor_started"))

        await eventually(started, timeout=60, interval=0.2)
        assert read_ledger(db_path).positions[0].settled == D(30)  # the venue's position, adopted
        await bus.publish(shard, MarketDiscovered(envelope=Envelope.new("ingest"), market=info(a, "Will A happen?")))
        await bus.publish(shard, MarketDiscovered(envelope=Envelope.new("ingest"), market=info(b, "Will B happen?")))

        # 1. A self trade: our BUY crosses our own resting SELL (allowed by the setting): two parts, one trade.
        await bus.publish(INTENTS, intent(a, a_yes, Side.SELL, "10", "0.50", "s:sell"))
        await eventually(lambda: _own_live(admin, wallet.address, 1), timeout=30, interval=0.2)
        await bus.publish(INTENTS, intent(a, a_yes, Side.BUY, "10", "0.50", "s:buy"))
        await eventually(lambda: _trade_statuses(admin, {"CONFIRMED"}), timeout=30, interval=0.2)

        # 2. A trade forced to FAILED after MATCHED, then one that settles and pays the taker fee.
        admin.house(b_yes, "SELL", "0.30", "40")
        admin.faults(fail_next_trades=1)
        await bus.publish(INTENTS, intent(b, b_yes, Side.BUY, "10", "0.30", "f:1"))
        await eventually(lambda: _trade_statuses(admin, {"FAILED"}), timeout=30, interval=0.2)
        await bus.publish(INTENTS, intent(b, b_yes, Side.BUY, "20", "0.30", "f:2"))

        async def settled() -> bool:
            services.alive()
            statuses = {t["status"] for t in admin.trades()}
            ledger = read_ledger(db_path)
            return (len(admin.trades()) == 3 and statuses <= {"CONFIRMED", "FAILED"}
                    and all(p.provisional == 0 for p in ledger.positions)
                    and ledger.positions and {p.token_id for p in ledger.positions} >= {a_yes, b_yes})

        await eventually(settled, timeout=60, interval=0.3)
        self_trade = [e for e in services.events("fill") if e["service"] == "risk" and e["token_id"] == a_yes]
        assert len({e["order_id"] for e in self_trade}) == 2 and len({e["trade_id"] for e in self_trade}) == 1
        ledger = read_ledger(db_path)
        by_token = {p.token_id: p for p in ledger.positions}
        assert by_token[a_yes].settled == D(30)  # sold 10 to ourselves and bought them back
        assert by_token[b_yes].settled == D(20)  # the FAILED 10 reversed, shares and cash
        assert by_token[b_yes].fees_usd > 0

        # 3. Resolutions both ways: A for us (YES), B against us (NO), at once in realized PnL.
        for market, winner in ((a, a_yes), (b, b_no)):
            admin.http.post(f"/markets/{market['condition_id']}/resolve",
                            json={"winning_asset_id": winner}).raise_for_status()
            await bus.publish(shard, MarketResolved(envelope=Envelope.new("ingest"),
                                                    condition_id=market["condition_id"], winning_token_id=winner))

        async def resolved() -> bool:
            positions = {p.token_id: p for p in read_ledger(db_path).positions}
            return positions[a_yes].resolved_price == 1 and positions[b_yes].resolved_price == 0

        await eventually(resolved, timeout=30, interval=0.2)
        positions = {p.token_id: p for p in read_ledger(db_path).positions}
        assert positions[b_yes].realized_usd == -(D(20) * D("0.30")) - positions[b_yes].fees_usd

        # 4. The executor redeems resolved positions by itself (auto-redeem) and reports PositionRedeemed.
        async def redeemed() -> bool:
            services.alive()
            positions = {p.token_id: p for p in read_ledger(db_path).positions}
            return positions[a_yes].settled == 0 and positions[b_yes].settled == 0

        await eventually(redeemed, timeout=60, interval=0.3)
        redemptions = [e for e in services.events("position_redeemed") if e["service"] == "risk"]
        assert {(e["token_id"], e["payout_usd"]) for e in redemptions} >= {(a_yes, "30"), (b_yes, "0")}

        # 5. The ledger equals the venue: every token's shares, and the cash to the cent.
        ledger = read_ledger(db_path)
        venue = await read_venue(f"{server.url}/data-api", f"{server.url}/rpc", wallet.address,
                                 [p.token_id for p in ledger.positions])
        assert venue.errors == []
        result = report(ledger, venue)
        assert result["position_differences"] == [] and result["cash_difference"] is None
        assert ledger.pending_cash_usd == 0
        assert abs(ledger.cash_usd - venue.chain_cash) < D("0.005"), (ledger.cash_usd, venue.chain_cash)
        for position in ledger.positions:
            assert position.size == venue.chain_tokens.get(position.token_id, D(0)), position.token_id
        assert venue.chain_tokens[a_yes] == 0 and venue.chain_tokens[b_yes] == 0

        # Risk's reconcile timer sees the same on its next check.
        checks_so_far = len(services.events("reconcile_checked"))

        async def next_check() -> list[dict]:
            return services.events("reconcile_checked")[checks_so_far:]

        check = (await eventually(next_check, timeout=15, interval=0.3))[0]
        assert check["differences"] == 0 and check["venue_errors"] == []

        # Shares the ledger never saw (moved in outside the pipeline): the timer reports the difference.
        c_yes = admin.create_market(question="Will C happen?")["token_ids"][0]  # open: nothing redeems it
        admin.http.post("/fund", json={"address": wallet.address, "tokens": {c_yes: "5"}, "approve": False}
                        ).raise_for_status()

        async def reported() -> list[dict]:
            return [e for e in services.events("reconcile_difference") if e["token_id"] == c_yes
                    and e["source"] == "chain"]

        difference = (await eventually(reported, timeout=15, interval=0.3))[0]
        assert (difference["source"], difference["ledger"], difference["venue"]) == ("chain", "0", "5")
    finally:
        services.stop()


async def _own_live(admin: Admin, address: str, count: int) -> bool:
    live = [o for o in admin.orders() if o.get("maker_address", "").lower() == address.lower()
            and str(o.get("status", "")).upper() == "LIVE"]
    return len(live) >= count


async def _trade_statuses(admin: Admin, wanted: set[str]) -> bool:
    return wanted <= {t["status"] for t in admin.trades()}



async def test_fills_waiting_in_the_stream_are_applied_before_the_venue_is_adopted(bus, redis_url, prefix, tmp_path,
                                                                                     server):
    """Risk was down while a trade happened: the venue holds its shares, and its fill waits on `fills`.
    Adopting the venue first and then applying the fill would count the shares twice."""
    admin = Admin(server.url)
    market = admin.create_market(question="Will D happen?")
    yes = market["token_ids"][0]
    wallet = Account.create()
    admin.fund(wallet.address, "995", tokens={yes: "10"})  # after buying 10 @ 0.50 with 1000
    await bus.publish(FILLS, Fill(envelope=Envelope.new("executor"), trade_id="t-while-down", status=TradeStatus.MINED,
                                  order_id="0xabc", client_order_id="c1", market=market["condition_id"],
                                  token_id=yes, side=Side.BUY, size=D(10), price=D("0.50")))
    env = service_env(redis_url, prefix, tmp_path, POLYDESK_DATA_API_URL=f"{server.url}/data-api",
                      POLYDESK_RPC_URL=f"{server.url}/rpc", POLYDESK_RECONCILE_WALLET_ADDRESS=wallet.address,
                      POLYDESK_RISK_RECONCILE_INTERVAL_SECS="1", POLYDESK_ENV_FILE=str(tmp_path / "none.env"))
    services = Services(env, tmp_path)
    try:
        services.start("risk")

        async def reconciled() -> list[dict]:
            services.alive()
            return services.events("reconcile_done")

        done = (await eventually(reconciled, timeout=60, interval=0.2))[0]
        position = {p.token_id: p for p in read_ledger(tmp_path / "state" / "risk.sqlite").positions}[yes]
        assert position.settled == D(10) and done["differences"] == 0  # the fill, not a venue adjustment on top
        assert read_ledger(tmp_path / "state" / "risk.sqlite").cash_usd == D(995)
    finally:
        services.stop()


async def test_a_restart_keeps_the_ledger_while_a_fill_is_still_on_its_way(bus, redis_url, prefix, tmp_path, server):
    """Risk restarts while a trade it has not seen is settled on the venue and its fill is not published yet
    (the executor restarting too). Adopting the venue then and applying the fill after counted it twice."""
    admin = Admin(server.url)
    market = admin.create_market(question="Will E happen?")
    yes = market["token_ids"][0]
    wallet = Account.create()

    def fill(trade_id: str, size: str) -> Fill:
        return Fill(envelope=Envelope.new("executor"), trade_id=trade_id, status=TradeStatus.MINED,
                    order_id=f"0x{trade_id}", client_order_id=trade_id, market=market["condition_id"], token_id=yes,
                    side=Side.BUY, size=D(size), price=D("0.50"))

    admin.fund(wallet.address, "998", tokens={yes: "4"})  # 1000 pUSD, then 4 bought @ 0.50
    await bus.publish(FILLS, fill("t1", "4"))
    env = service_env(redis_url, prefix, tmp_path, POLYDESK_DATA_API_URL=f"{server.url}/data-api",
                      POLYDESK_RPC_URL=f"{server.url}/rpc", POLYDESK_RECONCILE_WALLET_ADDRESS=wallet.address,
                      POLYDESK_RISK_RECONCILE_INTERVAL_SECS="1", POLYDESK_ENV_FILE=str(tmp_path / "none.env"))
    services = Services(env, tmp_path)

    def ledger() -> tuple[D, D | None]:
        view = read_ledger(tmp_path / "state" / "risk.sqlite")
        return {p.token_id: p for p in view.positions}[yes].settled, view.cash_usd

    try:
        services.start("risk")
        await eventually(lambda: services.alive() or services.events("reconcile_done"), timeout=60, interval=0.2)
        assert ledger() == (D(4), D(998))
        services.stop()

        admin.fund(wallet.address, "993", tokens={yes: "14"})  # 10 more @ 0.50 while risk was down
        services.start("risk")
        done = await eventually(lambda: services.alive() or services.events("reconcile_done")[1:], timeout=60,
                                interval=0.2)
        kept = [e for e in services.events("reconcile_diff") if not e["adopted"]]
        assert done[0]["differences"] > 0 and kept, "the restart saw the venue ahead and kept the ledger"
        assert ledger() == (D(4), D(998))

        await bus.publish(FILLS, fill("t2", "10"))  # the executor, back, publishes the trade's fill
        await eventually(lambda: services.alive() or ledger() == (D(14), D(993)), timeout=30, interval=0.2)
        assert [e for e in services.events("reconcile_diff") if e["adopted"]] == []
    finally:
        services.stop()
