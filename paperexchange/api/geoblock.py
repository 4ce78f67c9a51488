"""`GET /api/geoblock` as polymarket.com serves it, with a location the admin API chooses.

`POST /_paper/geoblock {"mode": "ok" | "blocked" | "close_only"}` (or `{"blocked", "country", "region"}`
for any answer) sets what the next check sees. The modes answer with a representative location: ok is
Ireland, blocked the United States (NY), close-only Singapore (listed close-only in the docs).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.http import JSON, parse_json
from paperexchange.core import errors
from paperexchange.core.errors import VenueError

MODES = {
    "ok": {"blocked": False, "country": "IE", "region": "L"},
    "blocked": {"blocked": True, "country": "US", "region": "NY"},
    "close_only": {"blocked": False, "country": "SG", "region": "01"},
}


def _location(app_state) -> dict:
    return getattr(app_state, "geoblock", None) or MODES["ok"]


async def geoblock(request: Request) -> Response:
    ip = request.client.host if request.client else "127.0.0.1"
    return JSON({**_location(request.app.state), "ip": ip})


async def set_geoblock(request: Request) -> Response:
    body = parse_json((await request.body()).decode(errors="replace"))
    if not isinstance(body, dict):
        raise VenueError(errors.BAD_REQUEST)
    if "mode" in body:
        if body["mode"] not in MODES:
            raise VenueError(f"mode must be one of {sorted(MODES)}")
        location = MODES[body["mode"]]
    elif isinstance(body.get("blocked"), bool):
        location = {
            "blocked": body["blocked"],
            "country": str(body.get("country", "")),
            "region": str(body.get("region", "")),
        }
    else:
        raise VenueError(errors.BAD_REQUEST)
    request.app.state.geoblock = dict(location)
    return JSON(request.app.state.geoblock)


ROUTES = [Route("/api/geoblock", geoblock, methods=["GET"])]
ADMIN_ROUTES = [Route("/geoblock", set_geoblock, methods=["POST"])]
