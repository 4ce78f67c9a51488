"""The backtest report: per-strategy and total numbers from our fills, through the same position ledger risk
and strategy use (shared/ledger.py), marked to the tape's books; written as report.json, report.md,
fills.csv, rejections.csv and pnl.png.

Definitions (docs/backtest.md): `realized_pnl` is the ledger's realized PnL, net of fees (average cost;
a resolution realizes at the payout); `unrealized_pnl` marks what is still held at the last mid of the
tape's book; `pnl` is their sum; `max_drawdown` the largest fall of `pnl` from a running peak (sampled at
every fill, mark change and resolution); `exposure` the largest cost basis held at once (the sum of the
positions' cost, USD); `hit_rate` the share of fills that reduced a position and realized a gain (null
when none reduced one). Everything but pnl.png is a pure function of the fills, marks and resolutions,
so the same run gives the same bytes.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from polydesk.backtest.collect import UNATTRIBUTED, Rejection, ts_ms
from shared.ledger import Ledger, MemoryLedgerStore
from shared.messages import Fill, TradeStatus

ZERO = Decimal(0)
TOTAL = "total"
CENT = Decimal("0.000001")


@dataclass(frozen=True)
class Resolution:
    ts_ms: int
    market: str
    token_ids: tuple[str, ...]
    winner: str


@dataclass
class _Book:
    """One strategy's (or the total's) ledger and running numbers."""

    ledger: Ledger = field(default_factory=lambda: Ledger(MemoryLedgerStore()))
    fills: int = 0
    closing_fills: int = 0
    winning_closes: int = 0
    volume_usd: Decimal = ZERO
    maker_fills: int = 0
    peak: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    max_exposure: Decimal = ZERO
    curve: list[tuple[int, Decimal]] = field(default_factory=list)

    def realized(self) -> Decimal:
        return sum((p.realized_usd for p in self.ledger.positions()), ZERO)

    def fees(self) -> Decimal:
        return sum((p.fees_usd for p in self.ledger.positions()), ZERO)

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        return sum((p.unrealized_usd(marks) for p in self.ledger.positions()), ZERO)

    def exposure(self) -> Decimal:
        return sum((abs(p.cost_usd) for p in self.ledger.positions() if p.resolved_price is None), ZERO)

    def sample(self, at_ms: int, marks: dict[str, Decimal]) -> None:
        pnl = self.realized() + self.unrealized(marks)
        self.peak = max(self.peak, pnl)
        self.max_drawdown = max(self.max_drawdown, self.peak - pnl)
        self.max_exposure = max(self.max_exposure, self.exposure())
        if self.curve and self.curve[-1][0] == at_ms:
            self.curve[-1] = (at_ms, pnl)
        else:
            self.curve.append((at_ms, pnl))


def _first_status(fills: Iterable[Fill]) -> list[Fill]:
    """Every status report in time order (stable for one time: the stream's order)."""
    return sorted(fills, key=ts_ms)


@dataclass
class Report:
    stats: dict[str, dict]
    curves: dict[str, list[tuple[int, Decimal]]]
    fill_rows: list[dict]
    rejections: list[Rejection]
    info: dict


def compute(
    fills: list[Fill],
    marks: list[tuple[int, dict[str, Decimal]]],
    resolutions: list[Resolution],
    rejections: list[Rejection],
    info: dict,
) -> Report:
    books: dict[str, _Book] = defaultdict(_Book)
    books[TOTAL]  # the total exists even without a fill
    events: list[tuple[int, int, object]] = [(ts_ms(f), 1, f) for f in _first_status(fills)]
    events += [(at, 0, update) for at, update in marks]
    events += [(r.ts_ms, 2, r) for r in resolutions]
    events.sort(key=lambda e: (e[0], e[1]))
    current: dict[str, Decimal] = {}
    first_seen: dict[tuple[str, str], Fill] = {}
    final_status: dict[tuple[str, str], TradeStatus] = {}
    for at, kind, item in events:
        touched: Iterable[str]
        if isinstance(item, Fill):
            strategy = item.strategy or UNATTRIBUTED
            key = (item.trade_id, item.order_id)
            final_status[key] = item.status
            for name in (strategy, TOTAL):
                _apply_fill(books[name], item, key not in first_seen)
            first_seen.setdefault(key, item)
            touched = (strategy, TOTAL)
        elif isinstance(item, Resolution):
            for book in books.values():
                book.ledger.resolve(item.market, item.token_ids, item.winner)
            touched = list(books)
        else:
            assert isinstance(item, dict)
            current.update(item)
            touched = list(books)
        for name in touched:
            books[name].sample(at, current)
    stats = {name: _stats(book, current) for name, book in sorted(books.items())}
    rows = [_fill_row(fill, final_status[key]) for key, fill in first_seen.items()]
    rows.sort(key=lambda r: (r["ts_ms"], r["trade_id"], r["side"], r["token_id"], r["price"], r["size"]))
    _number_orders(rows)
    return Report(stats, {name: book.curve for name, book in books.items()}, rows, rejections, info)


def _apply_fill(book: _Book, fill: Fill, new: bool) -> None:
    before = book.ledger.position(fill.token_id)
    held_before = before.size if before is not None else ZERO
    realized_before = before.realized_usd if before is not None else ZERO
    book.ledger.apply_fill(fill)
    if not new:
        return
    after = book.ledger.position(fill.token_id)
    book.fills += 1
    book.volume_usd += fill.size * fill.price
    book.maker_fills += int(fill.is_maker)
    signed = fill.size if fill.side.value == "BUY" else -fill.size
    if held_before != 0 and (held_before > 0) != (signed > 0):
        book.closing_fills += 1
        if after.realized_usd - realized_before > 0:
            book.winning_closes += 1


def _number_orders(rows: list[dict]) -> None:
    """Our orders numbered 1, 2, ... in the order they first filled. Client order ids come from message ids,
    which are random per run; the number says the same thing (which fills are one order) every run."""
    numbers: dict[str, int] = {}
    for row in rows:
        row["order"] = numbers.setdefault(row.pop("client_order_id"), len(numbers) + 1)


def _q(value: Decimal) -> str:
    return str(value.quantize(CENT).normalize()) if value else "0"


def _stats(book: _Book, marks: dict[str, Decimal]) -> dict:
    realized, unrealized = book.realized(), book.unrealized(marks)
    return {
        "trades": book.fills,
        "maker_fills": book.maker_fills,
        "volume_usd": _q(book.volume_usd),
        "hit_rate": None
        if book.closing_fills == 0
        else _q(Decimal(book.winning_closes) / Decimal(book.closing_fills)),
        "realized_pnl": _q(realized),
        "unrealized_pnl": _q(unrealized),
        "pnl": _q(realized + unrealized),
        "fees": _q(book.fees()),
        "max_drawdown": _q(book.max_drawdown),
        "exposure": _q(book.max_exposure),
        "final_exposure": _q(book.exposure()),
    }


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _fill_row(fill: Fill, final: TradeStatus) -> dict:
    at = ts_ms(fill)
    return {
        "ts_ms": at,
        "time": _iso(at),
        "strategy": fill.strategy or UNATTRIBUTED,
        "market": fill.market,
        "token_id": fill.token_id,
        "side": fill.side.value,
        "price": str(fill.price),
        "size": str(fill.size),
        "fee_usd": str(fill.fee_usd),
        "liquidity": "maker" if fill.is_maker else "taker",
        "final_status": final.value,
        "trade_id": fill.trade_id,
        "client_order_id": fill.client_order_id or "",
    }


# ---- writing ---------------------------------------------------------------------------------------------


def write(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        _write_json(report, directory / "report.json"),
        _write_csv(directory / "fills.csv", report.fill_rows, FILL_COLUMNS),
        _write_csv(
            directory / "rejections.csv", [_rejection_row(r) for r in report.rejections], REJECTION_COLUMNS
        ),
        _write_markdown(report, directory / "report.md"),
    ]
    paths.append(write_png(report, directory / "pnl.png"))
    return paths


FILL_COLUMNS = [
    "ts_ms", "time", "strategy", "market", "token_id", "side", "price", "size", "fee_usd", "liquidity",
    "final_status", "trade_id", "order",
]  # fmt: skip
REJECTION_COLUMNS = ["ts_ms", "time", "strategy", "source", "reason", "market", "requested_size", "detail"]


def _rejection_row(rejection: Rejection) -> dict:
    return {
        "ts_ms": rejection.ts_ms,
        "time": _iso(rejection.ts_ms),
        "strategy": rejection.strategy,
        "source": rejection.source,
        "reason": rejection.reason,
        "market": rejection.market,
        "requested_size": str(rejection.requested_size),
        "detail": rejection.detail,
    }


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_json(report: Report, path: Path) -> Path:
    strategies = {name: stats for name, stats in report.stats.items() if name != TOTAL}
    rejected: dict[str, int] = defaultdict(int)
    for rejection in report.rejections:
        rejected[rejection.strategy] += 1
    document = {
        **report.info,
        "total": {**report.stats[TOTAL], "rejections": len(report.rejections)},
        "strategies": {
            name: {**stats, "rejections": rejected.get(name, 0)} for name, stats in strategies.items()
        },
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


MD_COLUMNS = [
    ("trades", "trades"), ("hit_rate", "hit rate"), ("realized_pnl", "realized PnL"),
    ("unrealized_pnl", "unrealized PnL"), ("fees", "fees"), ("max_drawdown", "max drawdown"),
    ("exposure", "max exposure"), ("volume_usd", "volume"),
]  # fmt: skip


def _write_markdown(report: Report, path: Path) -> Path:
    info = report.info
    lines = [
        f"# Backtest of {info['tape']['name']}",
        "",
        (
            f"Tape {info['tape']['start']} to {info['tape']['end']} ({info['tape']['batches']} steps), "
            f"seed {info['seed']}, strategies {', '.join(info['strategies']) or '(settings)'}."
        ),
        "",
        "| strategy | " + " | ".join(title for _, title in MD_COLUMNS) + " |",
        "|---|" + "---:|" * len(MD_COLUMNS),
    ]
    for name, stats in report.stats.items():
        values = ["n/a" if stats[key] is None else str(stats[key]) for key, _ in MD_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    lines += [
        "",
        (
            f"{len(report.fill_rows)} fills (fills.csv), {len(report.rejections)} rejections "
            "(rejections.csv); PnL and drawdown over the tape's time in pnl.png. USD; PnL net of fees."
        ),
    ]
    if info.get("late_steps"):
        lines.append(
            f"\n**{info['late_steps']} step(s) did not settle in time**: a rerun may differ (docs/backtest.md)."
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def write_png(report: Report, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (pnl_axes, drawdown_axes) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name, curve in sorted(report.curves.items()):
        if not curve:
            continue
        times = [datetime.fromtimestamp(at / 1000, UTC) for at, _ in curve]
        values = [float(v) for _, v in curve]
        peaks, drawdowns, peak = [], [], float("-inf")
        for value in values:
            peak = max(peak, value, 0.0)
            peaks.append(peak)
            drawdowns.append(value - peak)
        width = 2.0 if name == TOTAL else 1.0
        pnl_axes.step(times, values, where="post", label=name, linewidth=width)
        drawdown_axes.step(times, drawdowns, where="post", label=name, linewidth=width)
    pnl_axes.set_ylabel("PnL (USD, net of fees)")
    pnl_axes.legend(loc="best", fontsize="small")
    pnl_axes.grid(alpha=0.3)
    drawdown_axes.set_ylabel("drawdown (USD)")
    drawdown_axes.set_xlabel("tape time (UTC)")
    drawdown_axes.grid(alpha=0.3)
    figure.suptitle(f"Backtest of {report.info['tape']['name']}")
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
