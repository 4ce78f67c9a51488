"""`polydesk smoke`: the deploy check. A $1 GTC BUY at 0.01, confirm the venue has it, cancel it.

Uses the executor's settings (POLYDESK_CLOB_URL, POLYDESK_PRIVATE_KEY[_FILE], wallet, signature type) and
its venue code, so it proves exactly what the executor will do. Prints one line; exit 0 or 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal

from polydesk.common import settings_or_none
from services.executor.config import ExecutorSettings
from services.executor.venue import OrderRequest, PolymarketVenue, connect
from shared.errors import PolydeskError
from shared.logging import register_secret
from shared.messages import OrderType, Side

PRICE = Decimal("0.01")
NOTIONAL_USD = Decimal(1)


async def _first_token(venue: PolymarketVenue) -> str:
    async for market in venue.client.list_markets(closed=False).iter_items():
        token = market.outcomes.yes.token_id
        if token and market.state.accepting_orders is not False:
            return str(token)
    raise PolydeskError("no open market found to place the smoke order in")


async def run(settings: ExecutorSettings, token_id: str | None) -> tuple[bool, str]:
    for secret in (settings.private_key, settings.api_secret, settings.api_passphrase):
        register_secret(secret)
    try:
        venue = await connect(settings)
    except PolydeskError as error:
        return False, f"cannot connect: {error}"
    for venue_secret in venue.secrets():
        register_secret(venue_secret)
    try:
        token = token_id or settings.smoke_token_id or await _first_token(venue)
        request = OrderRequest(
            token, Side.BUY, PRICE, (NOTIONAL_USD / PRICE).quantize(Decimal(1)), OrderType.GTC
        )
        signed = await venue.sign(request)
        (result,) = await venue.post_orders([signed])
        if not result.accepted:
            return False, f"order refused: {result.code}: {result.message}"
        seen = await venue.order(result.order_hash)
        if seen is None or seen.status.upper() != "LIVE":
            return (
                False,
                f"order {result.order_hash} not live on the venue ({seen.status if seen else 'absent'})",
            )
        cancel = await venue.cancel([result.order_hash])
        if result.order_hash not in cancel.canceled:
            return False, f"order {result.order_hash} not canceled: {cancel.not_canceled}"
        return True, f"ok: order {result.order_hash} placed, confirmed live and canceled"
    except PolydeskError as error:
        return False, f"{type(error).__name__}: {error}"
    finally:
        await venue.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk smoke", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--token-id", help="token to buy (default: POLYDESK_SMOKE_TOKEN_ID, else the first market)"
    )
    args = parser.parse_args(argv)
    settings = settings_or_none(ExecutorSettings, "polydesk smoke")
    if settings is None:
        return 1
    ok, line = asyncio.run(run(settings, args.token_id))
    print(f"smoke: {line}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
