"""Starlette app factory: routes wiring only. CLOB REST at the root, WebSockets under /ws, admin under /_paper."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount, Route, WebSocketRoute

from paperexchange import admin, rest_private, rest_public
from paperexchange.clock import Clock
from paperexchange.config import Settings
from paperexchange.defaults import create_default_markets
from paperexchange.errors import VenueError
from paperexchange.fault_middleware import FaultMiddleware
from paperexchange.http import error, venue_error_handler
from paperexchange.venue import Venue
from paperexchange.ws_market import market_endpoint
from paperexchange.ws_user import user_endpoint

log = logging.getLogger("paperexchange")

# Paths part 2 will serve (Gamma, Data API, Polygon JSON-RPC), so one base URL can stand for every service.
RESERVED_PREFIXES = ("/gamma", "/data-api", "/rpc")


async def _reserved(request: Request):
    return error(f"{request.url.path} is reserved for a later part of the paper exchange", 501)


async def _timer(venue: Venue, tick_secs: float) -> None:
    while True:
        await asyncio.sleep(tick_secs)
        try:
            venue.tick()
        except Exception:  # one bad tick must not stop heartbeats and settlement for good
            log.exception("paper exchange timer tick failed")


def create_app(settings: Settings | None = None, clock: Clock | None = None, venue: Venue | None = None) -> Starlette:
    settings = settings or Settings()
    venue = venue or Venue(settings, clock)
    if settings.default_markets and not venue.exchange.markets.all():
        create_default_markets(venue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(_timer(venue, settings.timer_tick_secs))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [*rest_public.ROUTES, *rest_private.ROUTES,
              WebSocketRoute("/ws/market", market_endpoint), WebSocketRoute("/ws/user", user_endpoint)]
    routes += [Route(prefix + "{rest:path}", _reserved, methods=["GET", "POST"]) for prefix in RESERVED_PREFIXES]
    if settings.admin:
        routes.append(Mount("/_paper", routes=admin.ROUTES))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={VenueError: venue_error_handler},
                    middleware=[Middleware(FaultMiddleware, faults=venue.faults)])
    app.state.venue = venue
    app.state.exchange = venue.exchange
    app.state.heartbeats = venue.heartbeats
    app.state.market_hub = venue.market_hub
    app.state.user_hub = venue.user_hub
    app.state.settings = settings
    app.state.settings_batch_frames = True
    return app
