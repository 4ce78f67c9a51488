"""Admin routes that switch faults on and off (/_paper/faults/...); bodies are documented per route.

The same `apply_fault()` serves scenario files, so a scenario's `faults:` entries use these bodies too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.http import JSON, body_text, parse_json
from paperexchange.core import errors
from paperexchange.core.errors import VenueError
from paperexchange.sim.faults import STATUSES, Rule
from paperexchange.venue import Venue


def _tuple(value: object, upper: bool = False) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValueError("paths and methods must be non-empty lists")
    return tuple(str(v).upper() if upper else str(v) for v in value)


def _until(venue: Venue, body: dict) -> float | None:
    return None if body.get("secs") is None else venue.clock.now() + float(body["secs"])


def _count(body: dict) -> int | None:
    return None if body.get("count") is None else int(body["count"])


def http_rule(venue: Venue, body: dict) -> Rule:
    """{status: 429|425|500|502|503|504|"drop", paths?, methods?, count?, secs?, retry_after_secs?, body?,
    after_apply?}"""
    status = body.get("status")
    if status != "drop" and status not in STATUSES:
        raise ValueError(f'status must be one of {STATUSES} or "drop"')
    return Rule(
        kind="http",
        status=status,
        paths=_tuple(body.get("paths")),
        methods=_tuple(body.get("methods"), True),
        remaining=_count(body),
        until=_until(venue, body),
        body=body.get("body"),
        retry_after_secs=None if body.get("retry_after_secs") is None else float(body["retry_after_secs"]),
        after_apply=bool(body.get("after_apply", False)),
    )


def delay_rule(venue: Venue, body: dict) -> Rule:
    """{secs (the delay), paths?, methods?, count?, for_secs? (how long the rule lasts on the venue clock)}"""
    lasting = body.get("for_secs")
    return Rule(
        kind="delay",
        secs=float(body["secs"]),
        paths=_tuple(body.get("paths")),
        methods=_tuple(body.get("methods"), True),
        remaining=_count(body),
        until=None if lasting is None else venue.clock.now() + float(lasting),
    )


def ws_fault(venue: Venue, body: dict) -> dict:
    """{channel, action: "disconnect"}; {channel: "market", action: "inject", events: [{...}, ...]} (each
    sent as a frame of its own just before the next market event, to the sockets that get that event, e.g.
    an unknown event type); or {channel: "market", drop_ratio?,
    duplicate_ratio?, drop_next? (the next N frame deliveries dropped), secs?, seed?}."""
    channel = body.get("channel")
    if channel not in ("market", "user"):
        raise ValueError("channel must be market or user")
    if body.get("action") == "disconnect":
        hub = venue.market_hub if channel == "market" else venue.user_hub
        return {"disconnected": hub.disconnect_all()}
    if channel != "market":
        raise ValueError("frame faults apply to the market channel")
    if body.get("action") == "inject":
        events = body.get("events")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events) or not events:
            raise ValueError("inject needs events: a non-empty list of objects")
        venue.market_hub.inject_next(events)
        return {"ok": True}
    drop, duplicate = float(body.get("drop_ratio", 0)), float(body.get("duplicate_ratio", 0))
    if not (0 <= drop <= 1 and 0 <= duplicate <= 1 and drop + duplicate <= 1):
        raise ValueError("drop_ratio and duplicate_ratio must be within 0..1 and sum to at most 1")
    secs = body.get("secs")
    drop_next = int(body.get("drop_next", 0))
    if drop_next < 0:
        raise ValueError("drop_next must be >= 0")
    venue.faults.set_frames(
        drop, duplicate, None if secs is None else float(secs), int(body.get("seed", 0)), drop_next
    )
    return {"ok": True}


def ws_silent(venue: Venue, body: dict) -> dict:
    """{} : every market socket open now stays open and answers PING with PONG but receives no more data
    (no events, no snapshots on resubscribe), as a frozen venue connection does. New sockets are fine."""
    return {"silenced": venue.market_hub.silence_all()}


def apply_fault(venue: Venue, kind: str, body: dict) -> dict:
    """Switch one fault on: kind is http, delay, restart or ws (the admin path's last segment)."""
    if kind == "http":
        return {"id": venue.faults.add(http_rule(venue, body)).id}
    if kind == "delay":
        return {"id": venue.faults.add(delay_rule(venue, body)).id}
    if kind == "restart":
        venue.faults.restart(float(body.get("secs", 90)), float(body.get("post_only_secs", 120)))
        return {"ok": True}
    if kind == "ws":
        return ws_fault(venue, body)
    if kind == "ws_silent":
        return ws_silent(venue, body)
    raise ValueError(f"unknown fault kind {kind}")


async def switch_on(request: Request) -> Response:
    body = parse_json(await body_text(request)) or {}
    if not isinstance(body, dict):
        raise VenueError(errors.BAD_REQUEST)
    try:
        return JSON(apply_fault(request.app.state.venue, request.path_params["kind"], body))
    except (KeyError, TypeError, ValueError) as exc:
        raise VenueError(f"bad fault: {exc}") from None


async def list_faults(request: Request) -> Response:
    return JSON(request.app.state.venue.faults.view())


async def clear_faults(request: Request) -> Response:
    venue: Venue = request.app.state.venue
    venue.faults.clear()
    venue.settlement.clear_faults()
    return JSON({"ok": True})


ROUTES = [
    Route("/faults", list_faults),
    Route("/faults", clear_faults, methods=["DELETE"]),
    Route("/faults/{kind}", switch_on, methods=["POST"]),
]
