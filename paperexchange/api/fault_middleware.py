"""ASGI middleware that applies the switched-on HTTP faults in front of every route but the admin API.

Order of effects per request: slow response, restart window (425) / post-only mode (503), then an HTTP
fault either instead of the route or, with `after_apply`, after the route has done its work (the order
IS placed but the client sees a 5xx or a dropped connection: the "unknown outcome" case).
"""

from __future__ import annotations

import asyncio

import orjson

from paperexchange.sim.faults import DEFAULT_BODIES, POST_ONLY_MODE, RESTARTING, Faults, Rule

RATE_LIMIT_TIER = "Standard"


class DroppedConnection(Exception):
    """Raised after a response head was sent, so the server closes the socket mid-response."""


def _headers(
    content_type: bytes, body: bytes, extra: dict[str, str] | None = None
) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return headers + [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]


async def _respond(send, status: int, body: object, extra: dict[str, str] | None = None) -> None:
    if isinstance(body, str):
        data, content_type = body.encode(), b"text/plain; charset=utf-8"
    else:
        data, content_type = orjson.dumps(body), b"application/json"
    await send(
        {"type": "http.response.start", "status": status, "headers": _headers(content_type, data, extra)}
    )
    await send({"type": "http.response.body", "body": data})


def _rate_limit_headers(rule: Rule) -> dict[str, str]:
    secs = rule.retry_after_secs if rule.retry_after_secs is not None else 1
    text = str(int(secs)) if float(secs).is_integer() else str(secs)
    return {
        "Retry-After": text,
        "Poly-RateLimit-Remaining": "0",
        "Poly-RateLimit-Reset": text,
        "Poly-RateLimit-Tier": RATE_LIMIT_TIER,
    }


async def _fault_response(send, rule: Rule) -> None:
    if rule.status == "drop":
        # A head promising a body that never comes: the server closes the socket, the client sees a reset.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise DroppedConnection("fault: connection dropped")
    status = int(rule.status)
    body = rule.body if rule.body is not None else DEFAULT_BODIES.get(status, {"error": "fault"})
    await _respond(send, status, body, _rate_limit_headers(rule) if status == 429 else None)


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _all_post_only(body: bytes) -> bool:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    items = payload if isinstance(payload, list) else [payload]
    return bool(items) and all(isinstance(item, dict) and item.get("postOnly") is True for item in items)


class FaultMiddleware:
    def __init__(self, app, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_paper"):
            await self.app(scope, receive, send)
            return
        method, path, faults = scope["method"], scope["path"], self.faults
        delay = faults.take("delay", method, path)
        if delay is not None:
            await asyncio.sleep(delay.secs)
        phase = faults.phase(path) if method in ("POST", "DELETE") else None
        if phase == "restart":
            await _respond(send, 425, RESTARTING)
            return
        if phase == "post_only" and method == "POST":
            body = await _read_body(receive)
            if not _all_post_only(body):
                await _respond(send, 503, POST_ONLY_MODE)
                return
            receive = _replay(body)
        rule = faults.take("http", method, path)
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.after_apply:
            await self.app(scope, receive, _swallow)
            await _fault_response(send, rule)
        else:
            await _fault_response(send, rule)


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # like a client that sends nothing more
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _swallow(message) -> None:
    pass
