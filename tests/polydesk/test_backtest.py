"""`polydesk backtest` on a tape recorded from the default paper scenario (tests/fixtures/tapes/): the real
services fill orders against the tape's books, the report says what the paper exchange's own trade records
say, and two runs of the same tape and seed write the same bytes. Plus the report's numbers on fills made
by hand."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from paperexchange.sim.tape_source import TapeBookSource
from polydesk.backtest import report as reporting
from polydesk.backtest.collect import Rejection
from shared.messages import Envelope, Fill, Side, TradeStatus
from tests.fixtures import fixture_path

TAPE = fixture_path("paperexchange/default-scenario-tape.jsonl.gz")
ROOT = Path(__file__).parents[2]
T0 = 1_800_000_000_000


# ---- the report's numbers, on fills made by hand -----------------------------------------------------------


def fill(
    at_ms: int, side: str, price: str, size: str, *, fee: str = "0", strategy: str = "mm", trade: str = ""
) -> Fill:
    return Fill(
        envelope=Envelope(
            message_id=f"m{at_ms}{trade}", correlation_id="c", source_ts_ns=at_ms * 10**6,
            created_ts_ns=at_ms * 10**6, producer="executor",
        ),
        trade_id=trade or f"t{at_ms}", status=TradeStatus.MATCHED, order_id=f"o{at_ms}{trade}",
        client_order_id=f"c{at_ms}", strategy=strategy, market="m1", token_id="yes", side=Side(side),
        size=Decimal(size), price=Decimal(price), fee_usd=Decimal(fee), is_maker=fee == "0",
    )  # fmt: skip


INFO = {"tape": {"name": "t", "start": "s", "end": "e", "batches": 1}, "seed": 0, "strategies": []}


def test_realized_pnl_fees_hit_rate_drawdown_and_exposure():
    fills = [
        fill(T0, "BUY", "0.40", "10"),
        fill(T0 + 1000, "SELL", "0.50", "5", fee="0.01"),  # closes 5 at +0.10: +0.50 - 0.01 fee
        fill(T0 + 2000, "SELL", "0.30", "5"),  # closes 5 at -0.10: -0.50
        fill(T0 + 3000, "BUY", "0.20", "1", strategy="arb"),
    ]
    marks = [(T0, {"yes": Decimal("0.40")}), (T0 + 3000, {"yes": Decimal("0.10")})]
    result = reporting.compute(fills, marks, [], [], INFO)
    mm, arb, total = result.stats["mm"], result.stats["arb"], result.stats[reporting.TOTAL]
    assert (mm["trades"], mm["realized_pnl"], mm["fees"], mm["hit_rate"]) == (3, "-0.01", "0.01", "0.5")
    assert mm["max_drawdown"] == "0.5"  # from +0.49 after the winning close down to -0.01
    assert mm["exposure"] == "4"  # 10 shares at 0.40
    assert arb["unrealized_pnl"] == "-0.1" and arb["hit_rate"] is None  # 1 share bought at 0.20, marked 0.10
    assert total["trades"] == 4 and total["realized_pnl"] == "-0.01" and total["pnl"] == "-0.11"


def test_a_resolution_realizes_at_the_payout():
    fills = [fill(T0, "BUY", "0.40", "10")]
    resolution = reporting.Resolution(T0 + 500, "m1", ("yes", "no"), "yes")
    result = reporting.compute(fills, [(T0, {"yes": Decimal("0.4")})], [resolution], [], INFO)
    assert result.stats["mm"]["realized_pnl"] == "6" and result.stats["mm"]["unrealized_pnl"] == "0"


def test_the_report_files(tmp_path):
    fills = [fill(T0, "BUY", "0.40", "10"), fill(T0 + 10, "SELL", "0.45", "4", trade="x")]
    rejection = Rejection(T0 + 5, "mm", "risk", "MAX_POSITION", "", "over the cap", Decimal(3))
    result = reporting.compute(fills, [], [], [rejection], INFO)
    paths = reporting.write(result, tmp_path)
    assert {p.name for p in paths} == {"report.json", "report.md", "fills.csv", "rejections.csv", "pnl.png"}
    document = json.loads((tmp_path / "report.json").read_text())
    for scope in (document["total"], document["strategies"]["mm"]):
        assert {"realized_pnl", "fees", "trades", "max_drawdown", "hit_rate", "exposure"} <= set(scope)
    assert document["total"]["rejections"] == 1
    rows = list(csv.DictReader((tmp_path / "fills.csv").open()))
    assert [(r["side"], r["size"], r["order"]) for r in rows] == [("BUY", "10", "1"), ("SELL", "4", "2")]
    [rejected] = csv.DictReader((tmp_path / "rejections.csv").open())
    assert rejected["reason"] == "MAX_POSITION"
    assert (tmp_path / "pnl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| mm |" in (tmp_path / "report.md").read_text()


# ---- the whole run ----------------------------------------------------------------------------------------


def _backtest(report_dir: Path, seed: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "polydesk", "backtest", str(TAPE), "--strategies", "market_making"]
    return subprocess.Popen(
        [*args, "--report", str(report_dir), "--seed", str(seed)],
        cwd=report_dir.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _our_parts_on_the_venue(trades: list[dict], wallet: str) -> tuple[dict, Decimal]:
    """(trade id, token, side, price) -> shares, and the taker fees we paid, from the venue's records."""
    parts: dict[tuple, Decimal] = defaultdict(Decimal)
    fees = Decimal(0)
    for trade in trades:
        if trade["maker_address"].lower() == wallet.lower():
            key = (trade["id"], trade["asset_id"], trade["side"], Decimal(trade["price"]))
            parts[key] += Decimal(trade["size"])
            fees += Decimal(trade["fee"])
        for maker in trade["maker_orders"]:
            if maker["maker_address"].lower() == wallet.lower():
                key = (trade["id"], maker["asset_id"], maker["side"], Decimal(maker["price"]))
                parts[key] += Decimal(maker["matched_amount"])
    return dict(parts), fees


@pytest.mark.integration
@pytest.mark.processes
@pytest.mark.serial
@pytest.mark.timeout(240)
def test_backtest_fills_on_the_tape_agrees_with_the_venue_and_repeats(tmp_path):
    runs = [_backtest(tmp_path / name, seed=5) for name in ("first", "second")]  # side by side: half the time
    outputs = []
    for process in runs:
        output, _ = process.communicate(timeout=220)
        assert process.returncode == 0, output
        outputs.append(output)
    output = outputs[0]
    first, second = tmp_path / "first", tmp_path / "second"
    for name in ("report.json", "fills.csv", "rejections.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs between runs"
    document = json.loads((first / "report.json").read_text())
    assert document["late_steps"] == 0
    rows = list(csv.DictReader((first / "fills.csv").open()))
    assert rows, "the backtest made no fill"
    assert (first / "pnl.png").read_bytes()[:4] == b"\x89PNG"

    trades = json.loads((first / "run" / "paper-trades.json").read_text())
    venue_parts, venue_fees = _our_parts_on_the_venue(trades, document["wallet"])
    report_parts: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        report_parts[(row["trade_id"], row["token_id"], row["side"], Decimal(row["price"]))] += Decimal(
            row["size"]
        )
    assert dict(report_parts) == venue_parts
    total = document["total"]
    assert total["trades"] == len(rows) == document["strategies"]["market_making"]["trades"]
    assert Decimal(total["fees"]) == venue_fees == sum(Decimal(r["fee_usd"]) for r in rows)
    assert {r["final_status"] for r in rows} == {"CONFIRMED"}  # the tail lets every trade settle
    assert Decimal(total["realized_pnl"]) == _realized_from_venue(trades, document["wallet"])
    _no_secret_written(first, output)


def _no_secret_written(report_dir: Path, output: str) -> None:
    """The run's Redis password and wallet key are only in their own 0600 files: not in the report, the
    services' logs, the event log or the command's output."""
    secrets = {
        name: (report_dir / "run" / name).read_text().strip() for name in ("redis.password", "executor.key")
    }
    for name, secret in secrets.items():
        assert (report_dir / "run" / name).stat().st_mode & 0o077 == 0, f"{name} readable by others"
        assert secret not in output
        key_hex = secret.removeprefix("0x")
        for path in report_dir.rglob("*"):
            if path.is_file() and path.name not in secrets and "redis" not in path.parts:
                data = path.read_bytes()
                assert secret.encode() not in data and key_hex.encode() not in data, f"{name} in {path}"


def _realized_from_venue(trades: list[dict], wallet: str) -> Decimal:
    """Average-cost realized PnL of our parts in the venue's records (net of taker fees), with a resolved
    market's held shares realized at its payout: an independent count of what the report says."""
    held: dict[str, Decimal] = defaultdict(Decimal)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    realized = Decimal(0)
    for trade in sorted(trades, key=lambda t: int(t["match_time"])):
        ours = []
        if trade["maker_address"].lower() == wallet.lower():
            ours.append((trade["asset_id"], trade["side"], Decimal(trade["price"]), Decimal(trade["size"])))
            realized -= Decimal(trade["fee"])
        ours += [
            (m["asset_id"], m["side"], Decimal(m["price"]), Decimal(m["matched_amount"]))
            for m in trade["maker_orders"]
            if m["maker_address"].lower() == wallet.lower()
        ]
        for token, side, price, size in ours:
            if side == "BUY":
                held[token] += size
                cost[token] += size * price
            else:
                average = cost[token] / held[token]
                realized += size * (price - average)
                cost[token] -= size * average
                held[token] -= size
    for line in _resolutions():
        for token, payout in line.items():
            realized += held[token] * payout - cost[token]
    return realized.quantize(Decimal("0.000001")).normalize()


def _resolutions() -> list[dict[str, Decimal]]:
    """Each resolved market of the tape: token -> payout (1 for the winner, 0 for the other)."""
    source = TapeBookSource.open(TAPE)
    out = []
    for batch in source:
        for condition_id, winner in batch.resolutions.items():
            market = next(m for m in source.markets() if m.condition_id == condition_id)
            out.append({token: Decimal(1 if token == winner else 0) for token in market.token_ids})
    return out


def test_speed_is_max_or_a_positive_factor():
    from argparse import ArgumentTypeError

    from polydesk.backtest.cli import _speed

    assert _speed("max") is None and _speed("2.5") == 2.5
    with pytest.raises(ArgumentTypeError, match="positive"):
        _speed("0")


def test_a_bad_tape_is_refused_in_one_line_before_anything_starts(tmp_path, capsys):
    from polydesk.backtest.cli import main

    assert main([str(tmp_path / "missing.jsonl"), "--report", str(tmp_path / "r")]) == 1
    assert "no such tape" in capsys.readouterr().err and not (tmp_path / "r").exists()
