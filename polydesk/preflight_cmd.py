"""`polydesk preflight`: is this machine and wallet ready to trade? One line per check, exit 0 or 1.

Runs the executor's venue preflight (services/executor/preflight.py) with the executor's settings: venue
reachable, region not geoblocked, clock skew, signature type and funder, API credentials, pUSD balance and
allowances, CTF approvals, heartbeat. Every failed check prints its own line; nothing is traded.
Note: the heartbeat it sends arms the venue's dead-man switch for the key (orders are cancelled 10 s
later unless heartbeats follow): run it before starting the executor, which then keeps it alive.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from polydesk.common import settings_or_none
from services.executor.config import ExecutorSettings
from services.executor.preflight import failed, run_preflight, table
from shared.logging import register_secret


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk preflight", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = settings_or_none(ExecutorSettings, "polydesk preflight")
    if settings is None:
        return 1
    for secret in (settings.private_key, settings.api_key, settings.api_secret, settings.api_passphrase):
        register_secret(secret)
    results = asyncio.run(run_preflight(settings))
    print(table(results))
    bad = failed(results)
    if bad:
        skipped = sum(1 for c in bad if c.status == "SKIP")
        print(
            f"preflight: {len(bad) - skipped} check(s) failed"
            + (f", {skipped} not run" if skipped else "")
            + ": not ready to trade",
            file=sys.stderr,
        )
        return 1
    print("preflight: ready to trade")
    return 0
