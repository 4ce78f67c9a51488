"""`polydesk signal <market> <probability>`: post a fair probability for a market to the `signals` stream."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal, InvalidOperation

from polydesk.common import cli_redis, settings_or_none
from shared.config import ServiceSettings
from shared.messages import Envelope, ExternalSignal
from shared.redis_conn import connect
from shared.streams import SIGNALS, Bus


def _probability(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite():  # NaN cannot even be compared with 0 and 1 (InvalidOperation: a traceback)
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}")
    if not Decimal(0) <= value <= Decimal(1):
        raise argparse.ArgumentTypeError(f"a probability lies in [0, 1], not {text}")
    return value


def build_signal(args: argparse.Namespace, now: float) -> ExternalSignal:
    expires = None if args.ttl_secs is None else int(now + args.ttl_secs)
    return ExternalSignal(
        envelope=Envelope.new("cli"),
        market=args.market,
        token_id=args.token,
        probability=args.probability,
        source=args.source,
        expires_at_ts=expires,
    )


async def _publish(settings: ServiceSettings, signal: ExternalSignal) -> str:
    client = connect(*cli_redis(settings))
    try:
        return await Bus(client, prefix=settings.stream_prefix, producer="cli").publish(SIGNALS, signal)
    finally:
        await client.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk signal", description=__doc__)
    parser.add_argument("market", help="condition id")
    parser.add_argument("probability", type=_probability, help="fair probability of the token, in [0, 1]")
    parser.add_argument(
        "--token", default=None, help="token id the probability is for (default: the first, YES)"
    )
    parser.add_argument("--source", default="cli", help="who says so (shown in the intent's reason)")
    parser.add_argument("--ttl-secs", type=float, default=None, help="the verdict expires after this long")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk signal")
    if settings is None:
        return 2
    signal = build_signal(args, time.time())
    entry_id = asyncio.run(_publish(settings, signal))
    print(
        f"posted {signal.envelope.message_id} ({entry_id}): {args.market} p={args.probability}",
        file=sys.stderr,
    )
    return 0
