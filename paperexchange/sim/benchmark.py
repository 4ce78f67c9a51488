"""Benchmark support (admin API only, off until started): a book-change generator and arrival records.

`polydesk bench` measures tick-to-order latency against the paper exchange's own clock:

* the generator changes house books at a target rate on chosen markets, round robin, each change one
  `price_change` frame: a house BUY of the first (YES) token placed at a cycling price, or the oldest
  such order cancelled. One change in `trigger_every` places a house bid at `trigger_price` instead (a
  *trigger*: the `bench` strategy orders on it); the next visit to that market cancels it, so at most
  one trigger rests per market. Each trigger is recorded as (market, frame timestamp ms) -> wall ns at
  which the change was published (time.time_ns(), taken in the market-channel tap, before fan-out).
  Triggers of one market are kept at least 1 ms apart, so (market, ms) identifies one.
* each POST /order(s) is stamped with time.time_ns() when the request enters the app (before auth and
  signature checks), and every order the request places is recorded as order hash -> that arrival ns.

Routes (under /_paper): POST /bench/start {markets, rate, seconds, trigger_every, trigger_price},
GET /bench/status, GET /bench/record (and POST /bench/reset). Nothing is hooked until the first start.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.venue import Venue

_ARRIVAL: contextvars.ContextVar[int | None] = contextvars.ContextVar("bench_arrival_ns", default=None)
ORDER_PATHS = {"/order", "/orders"}
LEVELS = [f"0.{cents}" for cents in range(30, 46)]  # the generator's non-trigger prices (never crossing)
RESTING_PER_MARKET = 4


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class BenchRecorder:
    """The generator and the records; one per venue, installed by the first /bench/start."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.triggers: dict[str, int] = {}  # "<market>|<ts_ms>" -> wall ns of the change
        self.arrivals: dict[str, list[int]] = {}  # order hash -> [arrival ns, placed ns]
        self.changes = 0
        self.started_ns = 0
        self.finished_ns = 0
        self.task: asyncio.Task[None] | None = None
        self._capture: str | None = None  # market whose next price_change is a trigger
        self._hooked = False

    # ---- hooks ----------------------------------------------------------------------------------
    def hook(self, app) -> None:
        if self._hooked:
            return
        self._hooked = True
        self.venue.market_hub.taps.append(self._tap)
        exchange = self.venue.exchange
        post = exchange.post

        def recording_post(posted):
            result = post(posted)
            arrival = _ARRIVAL.get()
            if arrival is not None and isinstance(result, dict) and result.get("orderID"):
                self.arrivals[result["orderID"]] = [arrival, time.time_ns()]
            return result

        exchange.post = recording_post  # type: ignore[method-assign]
        inner = app.middleware_stack or app.build_middleware_stack()

        async def stamp(scope, receive, send):
            if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in ORDER_PATHS:
                _ARRIVAL.set(time.time_ns())
            await inner(scope, receive, send)

        app.middleware_stack = stamp

    def _tap(self, data: bytes | None) -> None:
        if self._capture is None or data is None:
            return
        now = time.time_ns()
        event = orjson.loads(data)
        if event.get("event_type") == "price_change" and event.get("market") == self._capture:
            self.triggers[f"{self._capture}|{event['timestamp']}"] = now
            self._capture = None

    # ---- generator ------------------------------------------------------------------------------
    async def run(
        self, markets: list[dict], rate: float, seconds: float, trigger_every: int, trigger_price: str
    ) -> None:
        resting: dict[str, deque[str]] = {m["condition_id"]: deque() for m in markets}
        trigger: dict[str, str | None] = {m["condition_id"]: None for m in markets}
        last_trigger_ms: dict[str, int] = {}
        exchange = self.venue.exchange
        self.started_ns = time.time_ns()
        start = time.perf_counter()
        total = int(rate * seconds)
        done, index = 0, 0
        try:
            while done < total:
                due = min(total, int((time.perf_counter() - start) * rate) + 1)
                while done < due:
                    # Each lap starts one market further on, so triggers (1 in N changes) do not stay in lockstep
                    # with a round robin over a multiple of N markets: they spread over every market.
                    market = markets[(index + index // len(markets)) % len(markets)]
                    cid, token = market["condition_id"], market["token_ids"][0]
                    index += 1
                    live_trigger = trigger[cid]
                    if live_trigger is not None:
                        exchange.cancel("paper-house", [live_trigger])
                        trigger[cid] = None
                    elif (
                        done % trigger_every == trigger_every - 1
                        and last_trigger_ms.get(cid) != exchange.now_ms()
                    ):
                        self._capture = cid
                        trigger[cid] = self.venue.house_order(token, "BUY", trigger_price, "5")["orderID"]
                        self._capture = None
                        last_trigger_ms[cid] = exchange.now_ms()
                    elif len(resting[cid]) >= RESTING_PER_MARKET:
                        exchange.cancel("paper-house", [resting[cid].popleft()])
                    else:
                        price = LEVELS[(index // len(markets)) % len(LEVELS)]
                        resting[cid].append(self.venue.house_order(token, "BUY", price, "10")["orderID"])
                    done += 1
                    self.changes += 1
                await asyncio.sleep(0.0005)
        finally:
            self.finished_ns = time.time_ns()

    def status(self) -> dict:
        running = self.task is not None and not self.task.done()
        end = time.time_ns() if running else self.finished_ns
        elapsed = max(1, end - self.started_ns) / 1e9 if self.started_ns else 0.0
        return {
            "running": running,
            "changes": self.changes,
            "elapsed_secs": elapsed,
            "rate": self.changes / elapsed if elapsed else 0.0,
            "triggers": len(self.triggers),
            "arrivals": len(self.arrivals),
        }


def _recorder(request: Request) -> BenchRecorder:
    venue = request.app.state.venue
    recorder = getattr(venue, "bench_recorder", None)
    if recorder is None:
        recorder = venue.bench_recorder = BenchRecorder(venue)
    return recorder


async def start(request: Request) -> Response:
    recorder = _recorder(request)
    body = orjson.loads(await request.body() or b"{}")
    if recorder.task is not None and not recorder.task.done():
        return _json({"error": "a bench run is in progress"}, 409)
    exchange = recorder.venue.exchange
    markets = []
    for cid in body.get("markets") or []:
        market = exchange.markets.by_condition(str(cid))
        if market is None:
            return _json({"error": f"unknown market {cid}"}, 400)
        markets.append({"condition_id": market.condition_id, "token_ids": list(market.token_ids)})
    if not markets:
        return _json({"error": "no markets"}, 400)
    recorder.hook(request.app)
    recorder.changes = 0
    recorder.task = asyncio.create_task(
        recorder.run(
            markets,
            float(body.get("rate", 1000)),
            float(body.get("seconds", 10)),
            max(1, int(body.get("trigger_every", 10))),
            str(body.get("trigger_price", "0.02")),
        )
    )
    return _json({"ok": True, "markets": len(markets)})


async def status(request: Request) -> Response:
    return _json(_recorder(request).status())


async def record(request: Request) -> Response:
    recorder = _recorder(request)
    return _json({**recorder.status(), "trigger_ns": recorder.triggers, "arrival_ns": recorder.arrivals})


async def reset(request: Request) -> Response:
    recorder = _recorder(request)
    recorder.triggers.clear()
    recorder.arrivals.clear()
    recorder.changes = 0
    return _json({"ok": True})


ROUTES = [
    Route("/bench/start", start, methods=["POST"]),
    Route("/bench/status", status),
    Route("/bench/record", record),
    Route("/bench/reset", reset, methods=["POST"]),
]
