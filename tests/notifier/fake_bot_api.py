"""A local HTTP server speaking the Telegram Bot API methods the notifier uses (sendMessage, getUpdates,
answerCallbackQuery) and a webhook receiver, in a thread: nothing leaves the machine in tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.webhooks: list[tuple[dict[str, str], bytes]] = []
        self.updates: list[dict[str, Any]] = []
        self.offsets: list[int | None] = []
        self.rate_limit_next = 0  # answer this many sendMessage calls with 429
        self._next_update = 1
        self._lock = threading.Lock()
        app = Starlette(routes=[
            Route("/bot{token}/{method}", self._method, methods=["POST"]),
            Route("/hook", self._hook, methods=["POST"]),
        ])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def press(self, data: str, chat_id: int | str, user_id: int = 7, username: str = "trader") -> None:
        """Queue a button press as getUpdates will return it."""
        with self._lock:
            self.updates.append({
                "update_id": self._next_update,
                "callback_query": {"id": f"cb{self._next_update}", "from": {"id": user_id, "username": username},
                                   "message": {"message_id": 1, "chat": {"id": chat_id}}, "data": data},
            })
            self._next_update += 1

    async def _method(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        body = json.loads(await request.body() or b"{}")
        method = request.path_params["method"]
        with self._lock:
            if method == "sendMessage":
                if self.rate_limit_next > 0:
                    self.rate_limit_next -= 1
                    return JSONResponse({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                         "parameters": {"retry_after": 1}}, status_code=429)
                self.sent.append(body)
                return JSONResponse({"ok": True, "result": {"message_id": len(self.sent)}})
            if method == "getUpdates":
                offset = body.get("offset")
                self.offsets.append(offset)
                result = [u for u in self.updates if offset is None or u["update_id"] >= offset]
                return JSONResponse({"ok": True, "result": result})
            if method == "answerCallbackQuery":
                self.answers.append(body)
                return JSONResponse({"ok": True, "result": True})
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)

    async def _hook(self, request: Request) -> JSONResponse:
        with self._lock:
            self.webhooks.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})
