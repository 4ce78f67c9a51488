"""The Telegram Bot API over httpx: sendMessage (with an inline keyboard for a pending verdict), getUpdates
(the buttons pressed) and answerCallbackQuery. The bot token is part of every URL
(`<api>/bot<token>/<method>`), so no httpx error leaves this module: each becomes a ChannelError that names
the method and the failure, never the URL.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.logging import register_secret


class ChannelError(Exception):
    """A channel could not deliver; `retry_after` when the far end asked us to wait (HTTP 429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


APPROVE, REJECT = "approve", "reject"


def verdict_keyboard(verdict_id: str) -> dict[str, Any]:
    """Approve / reject buttons; the callback data (at most 64 bytes) is `<action>:<verdict id>`."""
    return {
        "inline_keyboard": [
            [
                {"text": "Approve", "callback_data": f"{APPROVE}:{verdict_id}"},
                {"text": "Reject", "callback_data": f"{REJECT}:{verdict_id}"},
            ]
        ]
    }


class TelegramBot:
    def __init__(self, api_url: str, token: str, chat_id: str, *, timeout_secs: float = 10.0) -> None:
        register_secret(token)
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self.chat_id = chat_id
        self._client = httpx.AsyncClient(timeout=timeout_secs)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, payload: dict[str, Any], *, timeout_secs: float | None = None) -> Any:
        """POST one Bot API method; returns its `result`. Raises ChannelError (without the URL)."""
        try:
            answer = await self._client.post(
                f"{self._base}/{method}",
                json=payload,
                timeout=timeout_secs if timeout_secs is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            raise ChannelError(f"telegram {method}: {type(error).__name__}") from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code == 429:
            retry = (body.get("parameters") or {}).get("retry_after")
            raise ChannelError(f"telegram {method}: rate limited", float(retry) if retry else 5.0)
        if answer.status_code != 200 or not body.get("ok"):
            raise ChannelError(
                f"telegram {method}: HTTP {answer.status_code} {str(body.get('description', ''))[:200]}"
            )
        return body.get("result")

    async def send(self, text: str, verdict_id: str | None = None) -> None:
        payload: dict[str, Any] = {"chat_id": self.chat_id, "text": text[:4096]}
        if verdict_id is not None:
            payload["reply_markup"] = verdict_keyboard(verdict_id)
        await self.call("sendMessage", payload)

    async def updates(self, offset: int | None, wait_secs: int) -> list[dict[str, Any]]:
        """Button presses after `offset` (long poll up to `wait_secs`)."""
        payload: dict[str, Any] = {"timeout": wait_secs, "allowed_updates": ["callback_query"]}
        if offset is not None:
            payload["offset"] = offset
        result = await self.call("getUpdates", payload, timeout_secs=wait_secs + 10.0)
        return list(result or [])

    async def answer(self, callback_query_id: str, text: str) -> None:
        await self.call("answerCallbackQuery", {"callback_query_id": callback_query_id, "text": text[:200]})
