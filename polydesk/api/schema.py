"""The OpenAPI document of the control API, built from the routes' own docstrings (starlette's generator)."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

BASE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "polydesk control API",
        "version": "1",
        "description": "Every route but /health needs `Authorization: Bearer <POLYDESK_API_TOKEN>`.",
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
}


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3 document of `routes`."""
    return SchemaGenerator(BASE).get_schema(routes)
