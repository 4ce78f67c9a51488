"""Gamma API under /gamma: /markets, /events (offset lists), their /keyset variants (the official SDK's),
lookups by id and slug, and /tags. Filters: active, closed, id, slug, condition_ids, clob_token_ids,
question_ids, tag_id, tag_slug, end_date_min/max; order + ascending; limit/offset or after_cursor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.gamma_views import Event, event_object, market_object, tag_object
from paperexchange.api.http import JSON
from paperexchange.core.errors import VenueError
from paperexchange.core.markets import Market
from paperexchange.venue import Venue

MAX_KEYSET_LIMIT = 100  # since 2026-05-14
DEFAULT_LIMIT = 20


def _venue(request: Request) -> Venue:
    return request.app.state.venue


def _ids(venue: Venue) -> dict[str, str]:
    """Gamma's numeric market ids, in creation order (the registry keeps insertion order)."""
    return {market.condition_id: str(index) for index, market in enumerate(venue.exchange.markets.all(), 1)}


def events(venue: Venue) -> list[Event]:
    groups: dict[str, list[Market]] = {}
    for market in venue.exchange.markets.all():
        groups.setdefault(market.neg_risk_market_id or market.condition_id, []).append(market)
    return [Event(str(index), members) for index, members in enumerate(groups.values(), 1)]


# ---- query parsing ------------------------------------------------------------------------------


def _many(request: Request, name: str) -> set[str] | None:
    values = [part for value in request.query_params.getlist(name) for part in value.split(",") if part]
    return set(values) if values else None


def _flag(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    return None if value is None else value.lower() == "true"


def _int(request: Request, name: str, default: int) -> int:
    try:
        return max(0, int(request.query_params.get(name, default)))
    except ValueError:
        raise VenueError(f"invalid {name}") from None


def _market_filters(request: Request, ids: dict[str, str]) -> list[Callable[[Market], bool]]:
    checks: list[Callable[[Market], bool]] = []
    for name, field in (("active", "active"), ("closed", "closed")):
        flag = _flag(request, name)
        if flag is not None:
            checks.append(_attribute_is(field, flag))
    wanted: dict[str, Callable[[Market], set[str]]] = {
        "id": lambda m: {ids[m.condition_id]},
        "slug": lambda m: {m.slug},
        "condition_ids": lambda m: {m.condition_id.lower()},
        "clob_token_ids": lambda m: set(m.token_ids),
        "question_ids": lambda m: {m.question_id.lower()},
    }
    for name, keys in wanted.items():
        values = _many(request, name)
        if values is not None:
            values = {v.lower() for v in values} if name in ("condition_ids", "question_ids") else values
            checks.append(_keys_meet(keys, values))
    checks += _tag_and_date_filters(request)
    return checks


def _attribute_is(name: str, value: bool) -> Callable[[Market], bool]:
    return lambda market: getattr(market, name) == value


def _keys_meet(keys: Callable[[Market], set[str]], values: set[str]) -> Callable[[Market], bool]:
    """True for a market one of whose `keys` is among `values`."""
    return lambda market: bool(keys(market) & values)


def _tag_and_date_filters(request: Request) -> list[Callable[[Market], bool]]:
    checks: list[Callable[[Market], bool]] = []
    tag_ids, tag_slug = _many(request, "tag_id"), request.query_params.get("tag_slug")
    if tag_ids is not None:
        checks.append(lambda m: any(tag_object(label)["id"] in tag_ids for label in m.tags))
    if tag_slug:
        checks.append(lambda m: any(tag_object(label)["slug"] == tag_slug for label in m.tags))
    end_min, end_max = request.query_params.get("end_date_min"), request.query_params.get("end_date_max")
    if end_min:
        checks.append(lambda m: m.end_date_iso >= end_min)
    if end_max:
        checks.append(lambda m: m.end_date_iso <= end_max)
    return checks


def _ordered(request: Request, items: list[dict]) -> list[dict]:
    order = request.query_params.get("order")
    if not order:
        return items
    keys = order.split(",")
    descending = _flag(request, "ascending") is False
    return sorted(items, key=lambda item: tuple(_sortable(item.get(key)) for key in keys), reverse=descending)


def _sortable(value: object) -> tuple:
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    try:
        return (0, float(str(value)), "")
    except ValueError:
        return (1, 0.0, str(value))


# ---- pagination ---------------------------------------------------------------------------------


def _offset_page(request: Request, items: list) -> list:
    offset, limit = _int(request, "offset", 0), _int(request, "limit", DEFAULT_LIMIT)
    return items[offset : offset + limit]


def _keyset_page(request: Request, items: list, key: str) -> dict:
    cursor = request.query_params.get("after_cursor")
    try:
        start = int(base64.b64decode(cursor).decode()) if cursor else 0
    except ValueError:
        raise VenueError("invalid after_cursor") from None
    limit = min(_int(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_KEYSET_LIMIT)
    end = start + limit
    next_cursor = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return {key: items[start:end], "next_cursor": next_cursor}


# ---- markets ------------------------------------------------------------------------------------


def _market_list(request: Request) -> list[dict]:
    venue = _venue(request)
    ids = _ids(venue)
    refs = {m.condition_id: event.ref() for event in events(venue) for m in event.markets}
    include_tag = _flag(request, "include_tag") is True
    checks = _market_filters(request, ids)
    chosen = [m for m in venue.exchange.markets.all() if all(check(m) for check in checks)]
    items = [
        market_object(m, venue.exchange, venue.activity, ids, refs[m.condition_id], include_tag)
        for m in chosen
    ]
    return _ordered(request, items)


async def list_markets(request: Request) -> Response:
    return JSON(_offset_page(request, _market_list(request)))


async def keyset_markets(request: Request) -> Response:
    return JSON(_keyset_page(request, _market_list(request), "markets"))


def _one_market(request: Request, match: Callable[[Market, dict[str, str]], bool]) -> Response:
    venue = _venue(request)
    ids = _ids(venue)
    for event in events(venue):
        for market in event.markets:
            if match(market, ids):
                return JSON(market_object(market, venue.exchange, venue.activity, ids, event.ref(), True))
    raise VenueError("market not found", 404)


async def market_by_id(request: Request) -> Response:
    wanted = request.path_params["id"]
    return _one_market(request, lambda m, ids: ids[m.condition_id] == wanted)


async def market_by_slug(request: Request) -> Response:
    wanted = request.path_params["slug"]
    return _one_market(request, lambda m, ids: m.slug == wanted)


async def market_tags(request: Request) -> Response:
    venue, wanted = _venue(request), request.path_params["id"]
    ids = _ids(venue)
    for market in venue.exchange.markets.all():
        if ids[market.condition_id] == wanted:
            return JSON([tag_object(label) for label in market.tags])
    raise VenueError("market not found", 404)


# ---- events -------------------------------------------------------------------------------------


def _event_list(request: Request) -> list[dict]:
    venue = _venue(request)
    ids = _ids(venue)
    chosen = events(venue)
    closed, active = _flag(request, "closed"), _flag(request, "active")
    event_ids, slugs = _many(request, "id"), _many(request, "slug")
    if closed is not None:
        chosen = [e for e in chosen if e.closed == closed]
    if active is not None:
        chosen = [e for e in chosen if any(m.active for m in e.markets) == active]
    if event_ids is not None:
        chosen = [e for e in chosen if e.id in event_ids]
    if slugs is not None:
        chosen = [e for e in chosen if e.slug in slugs]
    tag_checks = _tag_and_date_filters(request)
    chosen = [e for e in chosen if all(any(check(m) for m in e.markets) for check in tag_checks)]
    return _ordered(request, [event_object(e, venue.exchange, venue.activity, ids) for e in chosen])


async def list_events(request: Request) -> Response:
    return JSON(_offset_page(request, _event_list(request)))


async def keyset_events(request: Request) -> Response:
    return JSON(_keyset_page(request, _event_list(request), "events"))


def _one_event(request: Request, match: Callable[[Event], bool]) -> Response:
    venue = _venue(request)
    for event in events(venue):
        if match(event):
            return JSON(event_object(event, venue.exchange, venue.activity, _ids(venue)))
    raise VenueError("event not found", 404)


async def event_by_id(request: Request) -> Response:
    return _one_event(request, lambda e: e.id == request.path_params["id"])


async def event_by_slug(request: Request) -> Response:
    return _one_event(request, lambda e: e.slug == request.path_params["slug"])


async def list_tags(request: Request) -> Response:
    labels = dict.fromkeys(label for m in _venue(request).exchange.markets.all() for label in m.tags)
    return JSON([tag_object(label) for label in labels])


ROUTES = [
    Route("/markets", list_markets),
    Route("/markets/keyset", keyset_markets),
    Route("/markets/slug/{slug}", market_by_slug),
    Route("/markets/{id}/tags", market_tags),
    Route("/markets/{id}", market_by_id),
    Route("/events", list_events),
    Route("/events/keyset", keyset_events),
    Route("/events/slug/{slug}", event_by_slug),
    Route("/events/{id}", event_by_id),
    Route("/tags", list_tags),
]
