"""The control API's bearer token: where it comes from, the check on every request but `/health`, and the
actor a state change is logged with (the token's short fingerprint and the caller's address)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from polydesk.api.settings import ApiSettings
from polydesk.runs import write_private
from shared.logging import register_secret

OPEN_PATHS = frozenset({"/health"})
TOKEN_FILE = "api-token"


def token_file(settings: ApiSettings) -> Path:
    return Path(settings.state_dir).resolve() / TOKEN_FILE


def resolve_token(settings: ApiSettings) -> str:
    """POLYDESK_API_TOKEN (or its _FILE); unset: the token in <state_dir>/api-token, generated (0600) when
    there is none yet. Registered as a secret either way, so no log line can carry it."""
    if settings.api_token is not None:
        token = settings.api_token.get_secret_value()
    else:
        path = token_file(settings)
        token = path.read_text().strip() if path.exists() else ""
        if not token:
            token = secrets.token_urlsafe(32)
            write_private(path, token)
    register_secret(token)
    return token


def fingerprint(token: str) -> str:
    """Eight hex digits naming a token in the event log without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def actor(scope: Scope) -> str:
    """Who made a call: `api:token-<fingerprint>@<remote address>` (set by BearerAuth)."""
    return str(scope.get("state", {}).get("actor") or "api:unknown")


class BearerAuth:
    """ASGI middleware: 401 (with WWW-Authenticate) for any path but OPEN_PATHS without `Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._name = f"token-{fingerprint(token)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
        scheme, _, presented = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(presented.strip(), self._token):
            await _unauthorized(send)
            return
        client = scope.get("client") or ("unknown", 0)
        scope.setdefault("state", {})["actor"] = f"api:{self._name}@{client[0]}"
        await self.app(scope, receive, send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps({"error": "unauthorized: send Authorization: Bearer <POLYDESK_API_TOKEN>"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="polydesk"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
