"""The `polydesk` command: one entry point that dispatches to each subcommand's own module.

Subcommands are imported lazily so that `polydesk health` stays fast and a missing optional piece
cannot break the others.
"""

from __future__ import annotations

import importlib
import os
import sys

# name -> (module, function, one-line help). Each function takes argv (list[str]) and returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("polydesk.up", "main", "run Redis and the four services (paper mode by default); Ctrl-C stops"),
    "run": ("polydesk.up", "run_service_main", "run one service in the foreground: polydesk run <service>"),
    "config": ("polydesk.config_cmd", "main", "print the effective settings, secrets redacted"),
    "health": ("polydesk.health", "main", "exit 0 when the named service is healthy, 1 otherwise"),
    "reset": ("polydesk.runs", "reset_main", "remove the state of every paper run (not of one still going)"),
    "redis-users": (
        "polydesk.redis_users",
        "main",
        "create the Redis ACL users (one per service, cli); passwords to --out",
    ),
    "redis": ("polydesk.redis_cmd", "main", "start the embedded Redis in the foreground"),
    "dashboard": ("polydesk.dashboard", "main", "the live terminal dashboard of a running pipeline"),
    "dash": ("polydesk.dashboard", "main", "same as dashboard"),
    "dead-letters": ("polydesk.dead_letters", "main", "list or replay dead-lettered entries"),
    "paper-exchange": (
        "paperexchange.__main__",
        "main",
        "run the local Polymarket-compatible paper exchange",
    ),
    "book-replay": (
        "services.ingest.replay",
        "main",
        "rebuild books from a JSONL file of market-channel frames",
    ),
    "record": (
        "polydesk.record",
        "main",
        "record the venue's market channel (and its markets) into a tape: polydesk record --out TAPE",
    ),
    "backtest": (
        "polydesk.backtest.cli",
        "main",
        "replay a tape through strategy, risk and executor on the paper exchange; writes a report",
    ),
    "signal": ("polydesk.signal_cmd", "main", "post a fair probability for a market to the signals stream"),
    "positions": (
        "polydesk.positions",
        "main",
        "the ledger's positions and cash beside the venue's, every difference",
    ),
    "kill-switch": ("polydesk.kill_switch", "main", "trip or release the kill switch, or show it"),
    "api": ("polydesk.api.server", "main", "serve the control API (bearer token) on 127.0.0.1:8910"),
    "verdicts": ("polydesk.verdicts_cmd", "list_main", "list the verdicts held for approval"),
    "approve": ("polydesk.verdicts_cmd", "approve_main", "approve a held verdict: polydesk approve ID"),
    "reject": ("polydesk.verdicts_cmd", "reject_main", "reject a held verdict: polydesk reject ID"),
    "smoke": ("polydesk.smoke", "main", "deploy check: a $1 GTC BUY at 0.01, confirm, cancel"),
    "redeem": (
        "polydesk.redeem_cmd",
        "main",
        "redeem resolved positions on chain now: polydesk redeem [--market M]",
    ),
    "preflight": (
        "polydesk.preflight_cmd",
        "main",
        "venue, region, clock, wallet, funds, approvals, heartbeat",
    ),
    "bench": ("bench.__main__", "main", "measure the pipeline; writes bench/results.md"),
}


def _usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = ["usage: polydesk <command> [args]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # State, logs, keys and the embedded Redis's files are ours alone (children inherit this).
    os.umask(0o077)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"polydesk: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, function_name, _ = SUBCOMMANDS[name]
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        return int(function(rest) or 0)
    except Exception as error:
        from redis.exceptions import RedisError  # here: the dispatcher itself stays light

        if not isinstance(error, RedisError):
            raise
        # A command run beside a pipeline that stopped, or pointed at the wrong Redis: one line, no traceback.
        # redis-py's messages name host and port, never the password.
        print(f"polydesk {name}: Redis is not reachable: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
