"""`polydesk verdicts`, `polydesk approve ID`, `polydesk reject ID`: the verdicts held for a person's approval
(POLYDESK_VERDICT_APPROVAL=manual), and the decision on one. The decision goes to the strategy worker holding
the verdict (a VerdictDecision on `signals`, the control API's path too); it is refused at once, with the
reason, when the verdict is unknown, already decided or expired.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from polydesk.common import cli_redis, settings_or_none
from polydesk.control import cli_actor, request_verdict_decision
from shared.approvals import VerdictStore
from shared.config import ServiceSettings
from shared.redis_conn import connect
from shared.streams import Bus


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M:%S UTC")


async def _list(settings: ServiceSettings) -> int:
    client = connect(*cli_redis(settings))
    try:
        pending = await VerdictStore(client, settings.stream_prefix).pending()
    finally:
        await client.aclose()
    if not pending:
        print("no verdict is waiting for approval")
    for v in pending:
        print(
            f"{v.verdict_id}  p={v.signal.probability} from {v.signal.source}  "
            f"{v.question or v.signal.market}  expires {_when(v.expires_at)}"
        )
    return 0


async def _decide(settings: ServiceSettings, args: argparse.Namespace, approve: bool) -> int:
    client = connect(*cli_redis(settings))
    try:
        answer = await request_verdict_decision(
            Bus(client, prefix=settings.stream_prefix, producer="cli"),
            VerdictStore(client, settings.stream_prefix),
            args.verdict_id,
            approve=approve,
            actor=cli_actor(),
            reason=args.reason,
            wait_secs=args.wait,
        )
    finally:
        await client.aclose()
    if answer.refused is not None:
        print(f"refused: {answer.refused}", file=sys.stderr)
        return 1
    if answer.state is None:
        print(
            f"{'approval' if approve else 'rejection'} of {args.verdict_id} requested; strategy has not "
            "confirmed it yet (it applies it when it runs)",
            file=sys.stderr,
        )
        return 0
    print(f"verdict {args.verdict_id} {answer.state.value}")
    return 0


def _decision_main(argv: list[str], approve: bool) -> int:
    name = "approve" if approve else "reject"
    parser = argparse.ArgumentParser(prog=f"polydesk {name}", description=__doc__)
    parser.add_argument("verdict_id")
    parser.add_argument("--reason", default="")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for strategy's confirmation")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, f"polydesk {name}")
    if settings is None:
        return 2
    return asyncio.run(_decide(settings, args, approve))


def approve_main(argv: list[str]) -> int:
    return _decision_main(argv, approve=True)


def reject_main(argv: list[str]) -> int:
    return _decision_main(argv, approve=False)


def list_main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="polydesk verdicts", description=__doc__).parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk verdicts")
    if settings is None:
        return 2
    return asyncio.run(_list(settings))
