"""`polydesk kill-switch on --reason TEXT | off | status`: trip or release the kill switch, or show it.

The command is a KillSwitchCommand on `control`; risk owns the state and applies it, also when it starts
later (the entry waits in the stream). `status` reads the state risk last published to Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from polydesk.common import cli_redis
from polydesk.control import cli_actor, kill_switch_status, request_kill_switch
from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError
from shared.redis_conn import connect
from shared.streams import Bus


async def _send(bus: Bus, active: bool, reason: str, wait_secs: float) -> int:
    _, status = await request_kill_switch(
        bus, active=active, reason=reason, actor=cli_actor(), wait_secs=wait_secs
    )
    if status is not None:
        print(f"kill switch {'ON' if active else 'OFF'}: {status['reason']} ({status['actor']})")
        return 0
    print(
        f"kill switch {'on' if active else 'off'} requested; risk has not confirmed it yet "
        "(it applies the command when it runs)",
        file=sys.stderr,
    )
    return 0


async def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    client = connect(*cli_redis(settings))
    prefix = settings.stream_prefix
    try:
        if args.action == "status":
            status = await kill_switch_status(client, prefix)
            if status is None:
                print("kill switch state unknown: risk has not published it yet", file=sys.stderr)
                return 1
            print(json.dumps(status))
            return 0
        bus = Bus(client, prefix=prefix, producer="cli")
        if args.action == "on":
            return await _send(bus, True, args.reason, args.wait)
        return await _send(bus, False, args.reason or "released by hand", args.wait)
    finally:
        await client.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk kill-switch", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    on = sub.add_parser("on", help="trip the kill switch: risk rejects everything, the executor cancels all")
    on.add_argument("--reason", required=True)
    off = sub.add_parser("off", help="release the kill switch")
    off.add_argument("--reason", default=None)
    sub.add_parser("status", help="print the state risk last published (exit 1 when unknown)")
    for command in (on, off):
        command.add_argument(
            "--wait", type=float, default=5.0, help="seconds to wait for risk's confirmation"
        )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ServiceSettings)
    except ConfigurationError as error:
        print(f"polydesk kill-switch: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings))
