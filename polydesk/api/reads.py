"""The control API's reads: what the services report (health keys, streams, risk's ledger), never a guess;
what nobody reports is "unknown". Each docstring ends in its OpenAPI description (YAML after `---`)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from polydesk import control
from polydesk.api import schema
from polydesk.api.context import UNKNOWN, context
from polydesk.dashboard import DashboardState, collect
from shared.messages import Fill
from shared.streams import FILLS, SIGNALS, VERDICTS


async def health(request: Request) -> JSONResponse:
    """The API process answers (no token needed).
    ---
    summary: liveness of the API itself
    security: []
    responses:
      200: {description: "{ok: true}"}
    """
    return JSONResponse({"ok": True})


async def openapi(request: Request) -> JSONResponse:
    """This document.
    ---
    summary: the OpenAPI schema of every route
    responses:
      200: {description: OpenAPI 3 document}
    """
    return JSONResponse(schema.document(request.app.routes))


def _kill_switch(state: DashboardState) -> dict[str, Any]:
    active = state.kill_switch_active
    return {
        "state": UNKNOWN if active is None else ("on" if active else "off"),
        "reason": state.kill_switch_reason or None,
    }


def _services(state: DashboardState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for service, instances in sorted(state.health.items()):
        supervised = state.supervised.get(service, {})
        out[service] = {
            "state": "up" if instances else str(supervised.get("state") or "down"),
            "instances": [str(i.get("instance")) for i in instances],
            "restarts": supervised.get("restarts"),
            "last_error": supervised.get("last_error"),
        }
    return out


def _pnl(state: DashboardState) -> dict[str, Any]:
    risk = state.risk_status
    return {
        key: risk.get(field, UNKNOWN)
        for key, field in (
            ("realized_usd", "pnl_realized_usd"),
            ("unrealized_usd", "pnl_unrealized_usd"),
            ("exposure_usd", "exposure_usd"),
        )
    }


async def status(request: Request) -> JSONResponse:
    """Mode, venue, services, kill switch, lag, today's PnL: as the services report them.
    ---
    summary: the pipeline's state as the services report it (unknown when one is silent)
    responses:
      200: {description: "mode (PAPER, LIVE, DRY RUN or UNKNOWN), venue, kill_switch, verdict_approval, services,
        lag, pnl_today"}
    """
    bus = context(request).bus
    state = await collect(bus)
    for stream in (SIGNALS, VERDICTS):  # the dashboard's streams, and the two a person's decisions use
        state.groups += await bus.group_stats(stream)
    strategies = state.health.get("strategy", [])
    approval = str(strategies[0].get("verdict_approval", UNKNOWN)) if strategies else UNKNOWN
    return JSONResponse(
        {
            "mode": state.mode,
            "venue": state.venue,
            "kill_switch": _kill_switch(state),
            "verdict_approval": approval,
            "services": _services(state),
            "lag": [
                {
                    "stream": g.stream,
                    "group": g.group,
                    "lag": UNKNOWN if g.lag is None else g.lag,
                    "pending": g.pending,
                }
                for g in state.groups
            ],
            "pnl_today": _pnl(state),
        }
    )


async def positions(request: Request) -> JSONResponse:
    """Risk's ledger beside the venue's view, as `polydesk positions --json` prints it.
    ---
    summary: positions and cash, ledger against venue, with every difference
    responses:
      200: {description: the report of `polydesk positions --json`}
      503: {description: risk's ledger cannot be read}
    """
    from polydesk.positions import gather, locate

    ctx = context(request)
    if ctx.risk is None:
        return JSONResponse({"error": f"risk settings: {ctx.risk_error}"}, status_code=503)
    try:
        return JSONResponse(await gather(*locate(ctx.risk)))
    except (FileNotFoundError, sqlite3.Error) as error:
        return JSONResponse({"error": str(error)}, status_code=503)


async def orders(request: Request) -> JSONResponse:
    """Open orders, from the executor's reports on `fills`.
    ---
    summary: open orders (live, delayed, pending or unknown at the venue)
    responses:
      200: {description: "{orders: [...]}"}
    """
    state = await collect(context(request).bus)
    return JSONResponse(
        {
            "orders": [
                {**vars(o), "price": str(o.price), "size": str(o.size), "matched": str(o.matched)}
                for o in state.open_orders
            ]
        }
    )


def _today_start_id() -> str:
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{int(midnight.timestamp() * 1000) - 1}-0"


async def fills(request: Request) -> JSONResponse:
    """Today's trades (UTC day), each at its newest status, and today's PnL as risk reports it.
    ---
    summary: today's fills and PnL
    responses:
      200: {description: "{fills: [...], pnl_today: {...}}"}
    """
    bus = context(request).bus
    latest: dict[str, Fill] = {}
    for _, message in await bus.history(FILLS, after=_today_start_id(), count=100_000):
        if isinstance(message, Fill):
            latest[message.trade_id] = message
    rows = [
        {
            "trade_id": f.trade_id,
            "status": f.status.value,
            "ts": f.envelope.source_ts_ns / 1e9,
            "strategy": f.strategy,
            "market": f.market,
            "token_id": f.token_id,
            "side": f.side.value,
            "size": str(f.size),
            "price": str(f.price),
            "fee_usd": str(f.fee_usd),
        }
        for f in latest.values()
    ]
    state = await collect(bus, recent=1, order_scan=1)  # only the services' reports are read here
    return JSONResponse({"fills": rows, "pnl_today": _pnl(state)})


async def kill_switch(request: Request) -> JSONResponse:
    """The kill switch as risk last published it.
    ---
    summary: kill switch state (unknown when risk never published one)
    responses:
      200: {description: "{state: on|off|unknown, reason, actor, changed_ts}"}
    """
    found = await control.kill_switch_status(context(request).bus.redis, context(request).bus.prefix)
    if found is None:
        return JSONResponse({"state": UNKNOWN})
    return JSONResponse({"state": "on" if found.get("active") else "off", **found})


async def verdicts(request: Request) -> JSONResponse:
    """Verdicts held for approval (POLYDESK_VERDICT_APPROVAL=manual), soonest expiry first.
    ---
    summary: pending verdicts
    responses:
      200: {description: "{verdicts: [...]}"}
    """
    return JSONResponse({"verdicts": [v.as_dict() for v in await context(request).verdicts.pending()]})
