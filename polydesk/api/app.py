"""The control API's routes (reads.py, changes.py) behind the bearer token (auth.py); the OpenAPI document
(schema.py) is built from the handlers' docstrings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from polydesk.api.auth import BearerAuth
from polydesk.api.changes import approve, cancel_all, reject, set_kill_switch
from polydesk.api.context import ApiContext
from polydesk.api.reads import fills, health, kill_switch, openapi, orders, positions, status, verdicts

__all__ = ["ROUTES", "ApiContext", "build_app"]

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
