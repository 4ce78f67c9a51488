"""The generic webhook: each batch of notes is one JSON POST, signed with the webhook secret (when set) as
`X-Polydesk-Signature: sha256=<hex HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from services.notifier.telegram import ChannelError

SIGNATURE_HEADER = "X-Polydesk-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    def __init__(self, url: str, secret: str | None, *, timeout_secs: float = 10.0) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_secs)

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        try:
            answer = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:  # the URL may carry a key of its own: never in the message
            raise ChannelError(f"webhook: {type(error).__name__}") from None
        if answer.status_code == 429:
            raise ChannelError("webhook: rate limited", float(answer.headers.get("retry-after") or 5))
        if answer.status_code >= 300:
            raise ChannelError(f"webhook: HTTP {answer.status_code}")
