"""`polydesk backtest TAPE [--strategies ...] [--speed max|X] [--report DIR] [--seed N]`: replay a tape
recorded by `polydesk record` through the real ingest, strategy, risk and executor processes against the
paper exchange, in the tape's time, and write a report (docs/backtest.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperexchange.replay import TapeBookSource, TapeError
from polydesk.backtest import report as reporting
from polydesk.backtest.driver import BacktestError, Options, run


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be 'max' or a positive number")
    return value


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="polydesk backtest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tape", type=Path, help="a tape written by `polydesk record`")
    parser.add_argument("--strategies", default=None, help="comma list (default: POLYDESK_STRATEGIES)")
    parser.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help="'max' (default): each tape instant as soon as the pipeline has settled; X: at most X tape "
        "seconds per second",
    )
    parser.add_argument("--report", type=Path, default=Path("backtest-report"), help="report folder")
    parser.add_argument("--seed", type=int, default=0, help="trade ids and the wallet come from it")
    parser.add_argument("--keep-run", action="store_true", help="keep the run's Redis data in REPORT/run")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    console = Console(stderr=True)
    options = Options(
        tape=args.tape,
        report_dir=args.report,
        strategies=args.strategies,
        seed=args.seed,
        speed=args.speed,
        keep_run_dir=args.keep_run,
    )
    try:
        source = TapeBookSource.open(args.tape)
    except TapeError as error:
        print(f"polydesk backtest: {error}", file=sys.stderr)
        return 1
    columns = (
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("steps", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = asyncio.run(run(options, advance, source))
    except (TapeError, BacktestError) as error:
        print(f"polydesk backtest: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("polydesk backtest: interrupted", file=sys.stderr)
        return 130
    paths = reporting.write(report, args.report)
    total = report.stats[reporting.TOTAL]
    print(
        f"{total['trades']} fills, realized PnL {total['realized_pnl']}, fees {total['fees']}, "
        f"max drawdown {total['max_drawdown']}; report: {', '.join(str(p) for p in paths)}",
        file=sys.stderr,
    )
    if report.info.get("late_steps"):
        print(
            f"polydesk backtest: warning: {report.info['late_steps']} step(s) did not settle in time; "
            "a rerun may differ",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
