"""The control API's routes. Reads come from what the services report (their health keys, the streams, risk's
ledger), never a guess: what nobody reports is "unknown". Changes go through the control paths the commands
use (polydesk/control.py), and each is written to the JSONL event log with its actor.

Each endpoint's docstring ends in its OpenAPI description (YAML after `---`), served at /openapi.json.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from polydesk import control
from polydesk.api import schema
from polydesk.api.auth import BearerAuth, actor
from polydesk.api.settings import ApiSettings
from polydesk.dashboard import DashboardState, collect
from services.risk.config import RiskSettings
from shared.approvals import VerdictStore
from shared.logging import EventLog
from shared.messages import Fill
from shared.streams import FILLS, SIGNALS, VERDICTS, Bus

UNKNOWN = "unknown"


@dataclass
class ApiContext:
    settings: ApiSettings
    bus: Bus
    events: EventLog
    risk: RiskSettings | None  # None: risk's settings do not load here, so its ledger cannot be found
    risk_error: str = ""

    @property
    def verdicts(self) -> VerdictStore:
        return VerdictStore(self.bus.redis, self.bus.prefix)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KillSwitchBody(_Body):
    active: bool
    reason: str = Field(min_length=1, max_length=500)


class CancelAllBody(_Body):
    reason: str = Field(default="cancel all by hand", min_length=1, max_length=500)
    market: str | None = None


class DecisionBody(_Body):
    reason: str = Field(default="", max_length=500)


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def _body(request: Request, model: type[_Body]) -> _Body | JSONResponse:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"error": "bad request: " + "; ".join(problems)}, status_code=400)


def _changed(request: Request, what: str, **fields: Any) -> None:
    """A state change, in the event log with who asked for it."""
    _ctx(request).events.emit(
        "api_call", action=what, actor=actor(request.scope), path=request.url.path, **fields
    )


# ---- reads -----------------------------------------------------------------------------------------------


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
    bus = _ctx(request).bus
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

    ctx = _ctx(request)
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
    state = await collect(_ctx(request).bus)
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
    bus = _ctx(request).bus
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
    found = await control.kill_switch_status(_ctx(request).bus.redis, _ctx(request).bus.prefix)
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
    return JSONResponse({"verdicts": [v.as_dict() for v in await _ctx(request).verdicts.pending()]})


# ---- changes ---------------------------------------------------------------------------------------------


async def set_kill_switch(request: Request) -> JSONResponse:
    """Trip or release the kill switch through risk (as `polydesk kill-switch on/off`).
    ---
    summary: kill switch on or off, with a reason
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [active, reason]
            properties: {active: {type: boolean}, reason: {type: string}}
    responses:
      200: {description: risk confirmed the new state}
      202: {description: requested; risk has not confirmed it yet (it applies it when it runs)}
      400: {description: bad body}
    """
    body = await _body(request, KillSwitchBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, KillSwitchBody)
    ctx = _ctx(request)
    who = actor(request.scope)
    entry_id, confirmed = await control.request_kill_switch(
        ctx.bus,
        active=body.active,
        reason=body.reason,
        actor=who,
        wait_secs=ctx.settings.api_confirm_secs,
    )
    _changed(request, "kill_switch", active=body.active, reason=body.reason, confirmed=confirmed is not None)
    if confirmed is None:
        return JSONResponse({"requested": True, "entry_id": entry_id}, status_code=202)
    return JSONResponse({"state": "on" if confirmed.get("active") else "off", **confirmed})


async def cancel_all(request: Request) -> JSONResponse:
    """Ask the executor to cancel every open order (of one market when given).
    ---
    summary: cancel all open orders
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties: {reason: {type: string}, market: {type: string}}
    responses:
      202: {description: the request is on `control` for the executor}
      400: {description: bad body}
    """
    body = await _body(request, CancelAllBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, CancelAllBody)
    reason = f"{body.reason} ({actor(request.scope)})"
    entry_id = await control.request_cancel_all(_ctx(request).bus, reason=reason, market=body.market)
    _changed(request, "cancel_all", reason=body.reason, market=body.market, entry_id=entry_id)
    return JSONResponse({"requested": True, "entry_id": entry_id}, status_code=202)


async def _decide(request: Request, approve: bool) -> JSONResponse:
    body = await _body(request, DecisionBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, DecisionBody)
    ctx = _ctx(request)
    verdict_id = request.path_params["verdict_id"]
    answer = await control.request_verdict_decision(
        ctx.bus,
        ctx.verdicts,
        verdict_id,
        approve=approve,
        actor=actor(request.scope),
        reason=body.reason,
        wait_secs=ctx.settings.api_confirm_secs,
    )
    _changed(
        request,
        "verdict_approve" if approve else "verdict_reject",
        verdict_id=verdict_id,
        reason=body.reason,
        refused=answer.refused,
        state=answer.state,
    )
    if answer.refused is not None:
        return JSONResponse({"error": answer.refused, "state": answer.state}, status_code=409)
    if answer.state is None:
        return JSONResponse({"requested": True, "entry_id": answer.entry_id}, status_code=202)
    return JSONResponse({"verdict_id": verdict_id, "state": answer.state.value})


async def approve(request: Request) -> JSONResponse:
    """Approve a held verdict: the strategy worker holding it acts on it now.
    ---
    summary: approve a pending verdict
    parameters: [{name: verdict_id, in: path, required: true, schema: {type: string}}]
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {reason: {type: string}}}
    responses:
      200: {description: approved}
      202: {description: requested; strategy has not confirmed it yet}
      409: {description: refused (unknown, already decided, or expired), with the reason}
    """
    return await _decide(request, approve=True)


async def reject(request: Request) -> JSONResponse:
    """Reject a held verdict: it is never acted on.
    ---
    summary: reject a pending verdict
    parameters: [{name: verdict_id, in: path, required: true, schema: {type: string}}]
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {reason: {type: string}}}
    responses:
      200: {description: rejected}
      202: {description: requested; strategy has not confirmed it yet}
      409: {description: refused (unknown, already decided, or expired), with the reason}
    """
    return await _decide(request, approve=False)


ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"], include_in_schema=True),
    Route("/status", status, methods=["GET"]),
    Route("/positions", positions, methods=["GET"]),
    Route("/orders", orders, methods=["GET"]),
    Route("/fills", fills, methods=["GET"]),
    Route("/kill-switch", kill_switch, methods=["GET"]),
    Route("/kill-switch", set_kill_switch, methods=["POST"]),
    Route("/cancel-all", cancel_all, methods=["POST"]),
    Route("/verdicts", verdicts, methods=["GET"]),
    Route("/verdicts/{verdict_id}/approve", approve, methods=["POST"]),
    Route("/verdicts/{verdict_id}/reject", reject, methods=["POST"]),
]


def build_app(ctx: ApiContext, token: str) -> Starlette:
    app = Starlette(routes=ROUTES, middleware=[Middleware(BearerAuth, token=token)])
    app.state.ctx = ctx
    return app
