"""A test-only HTTP proxy in front of the paper exchange: records every request (and how many orders each
POST carried), and can inject faults.

The executor's fault tests now use the exchange's own /_paper/faults (issue 4), which express every fault
this proxy can (status before/after apply, drop, delay, Retry-After), and answer like the venue. The proxy
stays as a passive recorder, for what the exchange does not log: the requests themselves (e.g. how many
orders each POST /orders carried). Its fault contract: a status for the next `count` requests matching
paths/methods, with Retry-After; `after_apply` forwards first, then answers 5xx or drops the connection;
`delay_secs` holds the answer back. WebSockets are not proxied: point the SDK's WS base at the exchange.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Self

import aiohttp
from aiohttp import web


@dataclass
class Fault:
    status: int | None = None  # None: no status fault (delay only)
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    count: int = 1
    retry_after_secs: float | None = None
    after_apply: bool = False
    drop: bool = False  # after_apply: close the connection instead of answering
    delay_secs: float = 0.0
    body: dict = field(default_factory=dict)

    def matches(self, request: web.Request) -> bool:
        return (self.count > 0 and (not self.paths or request.path in self.paths)
                and (not self.methods or request.method in self.methods))


_HOP_HEADERS = ("content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "date",
                "server")


def _orders_in(body: bytes) -> int:
    try:
        payload = json.loads(body)
    except ValueError:
        return 0
    return len(payload) if isinstance(payload, list) else 1


class FaultProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.faults: list[Fault] = []
        self.seen: list[tuple[float, str, str, int]] = []  # (loop time, method, path, status answered)
        self.posted: list[tuple[str, int]] = []  # (path, orders in the body) of every POST /order(s) forwarded
        self._lock = threading.Lock()
        self.url = ""

    def add(self, **fields) -> None:
        with self._lock:
            self.faults.append(Fault(**fields))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take(self, request: web.Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(request):
                    fault.count -= 1
                    return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._take(request)
        now = asyncio.get_running_loop().time()
        if fault and fault.delay_secs:
            await asyncio.sleep(fault.delay_secs)
        if fault and fault.status and not fault.after_apply:
            self.seen.append((now, request.method, request.path, fault.status))
            return self._fault_response(fault)
        body = await request.read()
        if request.method == "POST" and request.path in ("/order", "/orders"):
            self.posted.append((request.path, _orders_in(body)))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(request.method, self.target + request.path_qs, data=body,
                                         headers=headers) as upstream:
            payload = await upstream.read()
            status = upstream.status
            answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
        if fault and fault.status and fault.after_apply:
            self.seen.append((now, request.method, request.path, fault.status))
            if fault.drop:
                request.transport.close()
                return web.Response(status=500)
            return self._fault_response(fault)
        self.seen.append((now, request.method, request.path, status))
        return web.Response(body=payload, status=status, headers=answer_headers)  # Retry-After too

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        headers = {}
        if fault.retry_after_secs is not None:
            headers["Retry-After"] = str(fault.retry_after_secs)
        body = fault.body or {"error": f"injected {fault.status}"}
        return web.json_response(body, status=fault.status, headers=headers)

    def __enter__(self) -> Self:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def start() -> None:
                self._session = aiohttp.ClientSession()
                app = web.Application(client_max_size=10 * 1024 * 1024)
                app.router.add_route("*", "/{tail:.*}", self._handle)
                self._runner = web.AppRunner(app)
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]
                self.url = f"http://127.0.0.1:{port}"
                ready.set()

            self._loop.run_until_complete(start())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        async def stop() -> None:
            await self._session.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
