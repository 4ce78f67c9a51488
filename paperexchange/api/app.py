"""Starlette app factory: routes wiring only. CLOB REST at the root, WebSockets under /ws, Gamma under /gamma,
the Data API under /data-api, Polygon JSON-RPC at /rpc, admin under /_paper."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

from paperexchange.api import (
    admin,
    data_api,
    gamma,
    geoblock,
    rest_market_lists,
    rest_private,
    rest_public,
    rpc,
    wallets,
)
from paperexchange.api.fault_middleware import FaultMiddleware
from paperexchange.api.http import venue_error_handler
from paperexchange.api.ws_market import market_endpoint
from paperexchange.api.ws_user import user_endpoint
from paperexchange.core.clock import Clock
from paperexchange.core.config import Settings
from paperexchange.core.errors import VenueError
from paperexchange.sim import scenario, tapes
from paperexchange.sim.defaults import create_default_markets
from paperexchange.sim.flow import Flow
from paperexchange.sim.live_mirror import LiveMirror, MirrorTarget, load_markets
from paperexchange.sim.tapes import TapePlayer, TapeRecorder
from paperexchange.venue import Venue

log = logging.getLogger("paperexchange")


async def _timer(venue: Venue, tick_secs: float) -> None:
    while True:
        await asyncio.sleep(tick_secs)
        try:
            venue.tick()
        except Exception:  # one bad tick must not stop heartbeats and settlement for good
            log.exception("paper exchange timer tick failed")


def _populate(venue: Venue, settings: Settings) -> Flow | None:
    """The scenario's markets and flow, else (optionally) the defaults.py markets."""
    if venue.flow is not None or venue.exchange.markets.all():
        return venue.flow
    if settings.scenario:
        venue.flow = Flow(venue, scenario.load(settings.scenario), settings.seed, settings.speed).setup()
    elif settings.default_markets:
        create_default_markets(venue)
    return venue.flow


def _mirror(venue: Venue, settings: Settings) -> LiveMirror | None:
    """Paper trading on live books: the venue's markets now (MirrorError when it cannot be read), its books
    once the app runs."""
    if settings.mirror_gamma_url is None or settings.mirror_market_ws_url is None:
        return None
    target = MirrorTarget(
        gamma_url=settings.mirror_gamma_url,
        market_ws_url=settings.mirror_market_ws_url,
        condition_ids=settings.mirror_condition_ids,
        slugs=settings.mirror_slugs,
        max_markets=settings.mirror_max_markets,
    )
    if not venue.exchange.markets.all():
        load_markets(venue, target)
    return LiveMirror(venue, target)


async def _mirror_status(request: Request) -> JSONResponse:
    mirror = request.app.state.mirror
    return JSONResponse(mirror.status() if mirror is not None else {"mirroring": False})


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, venue: Venue | None = None
) -> Starlette:
    settings = settings or Settings()
    venue = venue or Venue(settings, clock)
    mirror = _mirror(venue, settings)
    flow = None if mirror is not None else _populate(venue, settings)
    recorder = TapeRecorder(settings.record_tape, venue.clock) if settings.record_tape else None
    if settings.replay_tape:
        venue.market_hub.player = TapePlayer(tapes.load(settings.replay_tape), settings.replay_speed)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if recorder is not None:
            recorder.attach(venue.market_hub, venue.exchange)
        tasks = [asyncio.create_task(_timer(venue, settings.timer_tick_secs))]
        if flow is not None:
            tasks.append(asyncio.create_task(flow.run()))
        if mirror is not None:
            tasks.append(asyncio.create_task(mirror.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if recorder is not None:
                recorder.close()

    routes = [
        *rest_public.ROUTES,
        *rest_market_lists.ROUTES,
        *rest_private.ROUTES,
        WebSocketRoute("/ws/market", market_endpoint),
        WebSocketRoute("/ws/user", user_endpoint),
    ]
    # Gamma, the Data API and Polygon JSON-RPC share the base URL, so one URL stands for every service.
    routes += [
        Mount("/gamma", routes=gamma.ROUTES),
        Mount("/data-api", routes=data_api.ROUTES),
        *rpc.ROUTES,
        *wallets.ROUTES,
        *geoblock.ROUTES,
    ]
    if settings.admin:
        mirror_routes = [Route("/mirror", _mirror_status)]
        routes.append(Mount("/_paper", routes=[*admin.ROUTES, *geoblock.ADMIN_ROUTES, *mirror_routes]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={VenueError: venue_error_handler},
        middleware=[Middleware(FaultMiddleware, faults=venue.faults)],
    )
    app.state.venue = venue
    app.state.geoblock = dict(geoblock.MODES[settings.geoblock])
    app.state.exchange = venue.exchange
    app.state.heartbeats = venue.heartbeats
    app.state.market_hub = venue.market_hub
    app.state.user_hub = venue.user_hub
    app.state.settings = settings
    app.state.mirror = mirror
    return app
