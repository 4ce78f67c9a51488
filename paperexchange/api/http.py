"""Small HTTP helpers shared by the route modules: orjson responses, venue error bodies, body parsing."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from paperexchange.core import errors
from paperexchange.core.errors import VenueError


class JSON(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def error(message: str, status: int = 400) -> JSON:
    """Every CLOB error body is {"error": "<message>"}."""
    return JSON({"error": message}, status_code=status)


async def venue_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VenueError)
    return error(exc.message, exc.status)


async def body_text(request: Request) -> str:
    return (await request.body()).decode()


def parse_json(text: str) -> object:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        raise VenueError(errors.BAD_REQUEST) from None


def query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise VenueError(errors.BAD_REQUEST)
    return value
