"""`polydesk redeem [--market CONDITION_ID] [--json]`: redeem resolved positions on chain now.

One redemption pass of the executor's own code (services/executor/redeem.py) with the executor's settings
(POLYDESK_CLOB_URL, POLYDESK_PRIVATE_KEY[_FILE], POLYDESK_RPC_URL, POLYDESK_DATA_API_URL): it first finishes
any redemption an earlier run sent, then redeems every resolved market the wallet holds (or only --market),
waits for each receipt and publishes the PositionRedeemed reports on `fills`, exactly once with the
executor's (same SQLite file, same Redis seen set). Prints one line per market; exit 0 unless a market failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from polydesk.common import settings_or_none
from services.executor import redeem
from services.executor.config import ExecutorSettings
from services.executor.orders import OrderStore
from services.executor.tracking import Reporter
from shared.errors import ConfigurationError, PolydeskError
from shared.lifecycle import find_redis_url
from shared.logging import EventLog, register_secret
from shared.redis_conn import connect
from shared.streams import Bus

FAILED = ("failed", "reverted", "pending", "not_approved")


async def run(settings: ExecutorSettings, market: str | None) -> list[redeem.Outcome]:
    register_secret(settings.private_key)
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    client = connect(find_redis_url(settings), password)
    events = EventLog(settings.log_dir, "cli")
    store = OrderStore(settings.db_path())
    reporter = Reporter(store, Bus(client, prefix=settings.stream_prefix, producer="executor"), events, "")
    redeemer = redeem.from_settings(settings, reporter.publish, events)
    try:
        return await redeemer.run_pass(market)
    finally:
        await redeemer.close()
        store.close()
        events.close()
        await client.aclose()


def _line(outcome: redeem.Outcome) -> str:
    text = f"{outcome.condition_id}: {outcome.result}"
    if outcome.tx_hash:
        text += f" (tx {outcome.tx_hash})"
    if outcome.detail:
        text += f": {outcome.detail}"
    for message in outcome.messages:
        text += f"\n  token {message.token_id}: {message.shares} shares -> {message.payout_usd} pUSD"
    return text


def _json(outcome: redeem.Outcome) -> dict:
    return {
        "market": outcome.condition_id,
        "result": outcome.result,
        "detail": outcome.detail,
        "transaction_hash": outcome.tx_hash,
        "tokens": [
            {"token_id": m.token_id, "shares": str(m.shares), "payout_usd": str(m.payout_usd)}
            for m in outcome.messages
        ],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk redeem", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--market", help="condition id of one market (default: every market the wallet holds)"
    )
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    args = parser.parse_args(argv)
    settings = settings_or_none(ExecutorSettings, "polydesk redeem")
    if settings is None:
        return 1
    try:
        outcomes = asyncio.run(run(settings, args.market))
    except ConfigurationError as error:
        print(f"polydesk redeem: {error}", file=sys.stderr)
        return 1
    except PolydeskError as error:
        print(f"polydesk redeem: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([_json(o) for o in outcomes], indent=2))
    elif not outcomes:
        print("nothing to redeem: the wallet holds no position (Data API)")
    else:
        print("\n".join(_line(o) for o in outcomes))
    return 1 if any(o.result in FAILED for o in outcomes) else 0
