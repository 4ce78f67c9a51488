"""`polydesk dead-letters <stream>`: list dead-lettered entries with their errors, or put them back."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from polydesk.common import cli_redis, settings_or_none
from shared.config import ServiceSettings
from shared.redis_conn import connect
from shared.streams import Bus


async def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    client = connect(*cli_redis(settings))
    bus = Bus(client, prefix=settings.stream_prefix)
    try:
        letters = await bus.dead_letters(args.stream, count=args.count)
        for letter in letters:
            print(
                json.dumps(
                    {
                        "id": letter.entry_id,
                        "source_id": letter.source_id,
                        "group": letter.group,
                        "deliveries": letter.deliveries,
                        "error": letter.error,
                        "type": letter.fields.get("type", b"").decode(errors="replace"),
                    }
                )
            )
            if args.requeue:
                await bus.requeue_dead_letter(args.stream, letter)
        if args.requeue:
            print(f"requeued {len(letters)} entries onto {args.stream}", file=sys.stderr)
    finally:
        await client.aclose()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk dead-letters", description=__doc__)
    parser.add_argument("stream", help="logical stream, e.g. intents or events:main")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--requeue", action="store_true", help="append them to the stream again, then delete")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk dead-letters")
    return 2 if settings is None else asyncio.run(_run(args, settings))
