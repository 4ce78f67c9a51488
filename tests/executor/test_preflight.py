"""`polydesk preflight` and the executor's start in live mode, against the paper exchange with each failure
injected: one line per failed check, exit 0 / 1, and no trading when a check fails."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from eth_account import Account
from pydantic import SecretStr

from paperexchange import ManualClock
from paperexchange.server import PaperExchangeServer
from services.executor.config import ExecutorSettings
from services.executor.preflight import run_preflight
from tests.executor.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def settings_for(url: str, account, **fields) -> ExecutorSettings:
    return ExecutorSettings(_env_file=None, clob_url=url, private_key=SecretStr(account.key.hex()),
                            **fields)


def statuses(results) -> dict[str, str]:
    return {c.name: c.status for c in results}


def detail(results, name: str) -> str:
    return next(c.detail for c in results if c.name == name)


@pytest.fixture
def geoblock(admin):
    yield lambda mode: admin.http.post("/geoblock", json={"mode": mode}).raise_for_status()
    admin.http.post("/geoblock", json={"mode": "ok"}).raise_for_status()


async def test_a_funded_wallet_passes_every_check(server, wallet):
    results = await run_preflight(settings_for(server.url, wallet))
    assert set(statuses(results).values()) == {"OK"}, results
    assert list(statuses(results)) == ["venue reachable", "region (geoblock)", "clock skew",
                                       "signature type and funder", "API credentials",
                                       "pUSD balance and allowances", "CTF approvals", "heartbeat"]


async def test_an_unreachable_venue_fails_and_what_depends_on_it_is_skipped(server, wallet):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = await run_preflight(settings_for(f"http://127.0.0.1:{port}", wallet,
                                               geoblock_url=server.url + "/api/geoblock"))
    got = statuses(results)
    assert got["venue reachable"] == "FAIL" and got["region (geoblock)"] == "OK"
    assert got["clock skew"] == got["heartbeat"] == got["CTF approvals"] == "SKIP"
    assert "ConnectError" in detail(results, "venue reachable")


async def test_geoblocked_fails_and_close_only_warns(server, wallet, geoblock):
    geoblock("blocked")
    results = await run_preflight(settings_for(server.url, wallet))
    assert statuses(results)["region (geoblock)"] == "FAIL"
    assert detail(results, "region (geoblock)").startswith("blocked: orders from US-NY")
    geoblock("close_only")
    results = await run_preflight(settings_for(server.url, wallet))
    assert statuses(results)["region (geoblock)"] == "WARN" and "close-only" in detail(results, "region (geoblock)")
    assert [c for c in results if c.status in ("FAIL", "SKIP")] == []


async def test_an_unreadable_geoblock_answer_is_unknown_and_fails(server, wallet):
    results = await run_preflight(settings_for(server.url, wallet, geoblock_url=server.url + "/nothing-here"))
    assert statuses(results)["region (geoblock)"] == "FAIL"
    assert detail(results, "region (geoblock)").startswith("unknown:")


async def test_a_venue_clock_far_from_ours_fails_the_skew_check():
    account = Account.create()
    with PaperExchangeServer(admin=True, clock=ManualClock(time.time() + 90)) as skewed:
        results = await run_preflight(settings_for(skewed.url, account))
    assert statuses(results)["clock skew"] == "FAIL"
    skew = float(detail(results, "clock skew").split("s ", 1)[0])
    assert 80 < skew <= 91  # the manual clock stands still while the server starts


async def test_a_signature_type_that_does_not_fit_the_funder_fails(server, wallet):
    stranger = Account.create().address
    results = await run_preflight(settings_for(server.url, wallet, signature_type=2, wallet_address=stranger))
    got = statuses(results)
    assert got["signature type and funder"] == "FAIL" and got["API credentials"] == "SKIP"
    assert "POLYDESK_SIGNATURE_TYPE=2 (GNOSIS_SAFE)" in detail(results, "signature type and funder")


async def test_credentials_that_do_not_derive_fail(server, wallet, faults):
    faults("http", {"status": 500, "paths": ["/auth/derive-api-key", "/auth/api-key"]})
    results = await run_preflight(settings_for(server.url, wallet))
    assert statuses(results)["API credentials"] == "FAIL"
    assert statuses(results)["heartbeat"] == "SKIP"


async def test_no_funds_no_allowances_no_approvals_each_fail_with_their_own_line(server, admin):
    poor = Account.create()
    admin.fund(poor.address, "0", approve=False)
    results = await run_preflight(settings_for(server.url, poor))
    money = detail(results, "pUSD balance and allowances")
    assert statuses(results)["pUSD balance and allowances"] == "FAIL"
    assert "balance 0 pUSD" in money and "no allowance to neg_risk_exchange" in money
    assert statuses(results)["CTF approvals"] == "FAIL" and "ctf_exchange" in detail(results, "CTF approvals")
    admin.fund(poor.address, "50", approve=True)
    assert set(statuses(await run_preflight(settings_for(server.url, poor))).values()) == {"OK"}


async def test_a_refused_heartbeat_fails(server, wallet, faults):
    faults("http", {"status": 500, "paths": ["/v1/heartbeats"]})
    results = await run_preflight(settings_for(server.url, wallet))
    assert statuses(results)["heartbeat"] == "FAIL" and "not accepted" in detail(results, "heartbeat")


def test_the_command_prints_a_table_and_exits_0_or_1(executor, geoblock):
    def preflight():
        return subprocess.run([sys.executable, "-m", "polydesk", "preflight"], env=executor.env, cwd=REPO,
                              capture_output=True, text=True, timeout=120, check=False)

    ok = preflight()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(ok.stdout.strip().splitlines()) == 9 and ok.stdout.strip().endswith("preflight: ready to trade")
    geoblock("blocked")
    blocked = preflight()
    assert blocked.returncode == 1
    failing = [line for line in blocked.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "region (geoblock)" in failing[0] and "blocked" in failing[0]
    assert "1 check(s) failed" in blocked.stderr and "Traceback" not in blocked.stderr


def test_the_executor_does_not_start_trading_when_preflight_fails(executor, geoblock):
    geoblock("blocked")
    executor.start(POLYDESK_PREFLIGHT_ON_START="always")
    assert executor.process.wait(90) != 0
    err = executor.stderr()
    assert "preflight failed, not trading: region (geoblock): blocked" in err and "Traceback" not in err
    assert not executor.events("executor_started")
    checks = executor.events("preflight")[-1]["checks"]
    assert [c["status"] for c in checks if c["name"] == "region (geoblock)"] == ["FAIL"]


def test_the_executor_starts_after_a_passing_preflight(executor):
    executor.start(POLYDESK_PREFLIGHT_ON_START="always")
    executor.wait_started(timeout=60)
    assert {c["status"] for c in executor.events("preflight")[-1]["checks"]} == {"OK"}
    assert executor.stop() == 0
