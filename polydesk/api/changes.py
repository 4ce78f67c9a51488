"""The control API's changes: each goes through the control path the `polydesk` commands use
(polydesk/control.py) and leaves an `api_call` event-log line with its actor."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from polydesk import control
from polydesk.api.auth import actor
from polydesk.api.context import CancelAllBody, DecisionBody, KillSwitchBody, changed, context, read_body


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
    body = await read_body(request, KillSwitchBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, KillSwitchBody)
    ctx = context(request)
    who = actor(request.scope)
    entry_id, confirmed = await control.request_kill_switch(
        ctx.bus,
        active=body.active,
        reason=body.reason,
        actor=who,
        wait_secs=ctx.settings.api_confirm_secs,
    )
    changed(request, "kill_switch", active=body.active, reason=body.reason, confirmed=confirmed is not None)
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
    body = await read_body(request, CancelAllBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, CancelAllBody)
    reason = f"{body.reason} ({actor(request.scope)})"
    entry_id = await control.request_cancel_all(context(request).bus, reason=reason, market=body.market)
    changed(request, "cancel_all", reason=body.reason, market=body.market, entry_id=entry_id)
    return JSONResponse({"requested": True, "entry_id": entry_id}, status_code=202)


async def _decide(request: Request, approve: bool) -> JSONResponse:
    body = await read_body(request, DecisionBody)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, DecisionBody)
    ctx = context(request)
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
    changed(
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
