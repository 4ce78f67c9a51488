"""Market channel (/ws/market): subscribe by asset ids, a `book` snapshot per asset, then live events.

First frame `{"type": "market", "assets_ids": [...], "custom_feature_enabled": bool}`; later frames
`{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}`; text `PING` is answered `PONG`.
Custom-feature events (best_bid_ask, new_market, market_resolved) go only to sockets that asked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from paperexchange.api.ws_hub import Subscriber
from paperexchange.core import bookview
from paperexchange.core.exchange import Exchange
from paperexchange.sim.faults import Faults

if TYPE_CHECKING:  # tapes imports this module
    from paperexchange.sim.tapes import TapePlayer


class MarketSubscriber(Subscriber):
    def __init__(self, websocket: WebSocket) -> None:
        super().__init__(websocket)
        self.assets: set[str] = set()
        self.custom = False
        self.silent = False  # ws_silent fault: PINGs answered, data never delivered


class MarketHub:
    def __init__(self, faults: Faults | None = None) -> None:
        self._by_asset: dict[str, set[MarketSubscriber]] = defaultdict(set)
        self._all: set[MarketSubscriber] = set()
        self.sent = 0
        self.faults = faults
        # Callbacks(serialized event) seeing every event whether or not anyone subscribed (tape recorder).
        self.taps: list[Callable[[bytes], None]] = []
        # Set while a tape is served instead of the live book (tapes.TapePlayer): live events go nowhere.
        self.player: TapePlayer | None = None
        self._injected: list[bytes] = []  # events to send just before the next one (inject fault)

    def publish(self, asset_ids: tuple[str, ...], message: dict, custom: bool = False) -> None:
        data = orjson.dumps(message) if self.taps else None
        if data is not None:
            for tap in self.taps:
                tap(data)
        targets: set[MarketSubscriber] = set()
        for asset_id in asset_ids:
            targets.update(self._by_asset.get(asset_id, ()))
        if custom:
            targets = {sub for sub in targets if sub.custom}
        if not targets or self.player is not None:
            return
        self._deliver(targets, data or orjson.dumps(message))

    def broadcast_custom(self, message: dict) -> None:
        """new_market: every socket with custom features on, whatever it subscribed to."""
        data = orjson.dumps(message)
        for tap in self.taps:
            tap(data)
        if self.player is None:
            self._deliver([sub for sub in self._all if sub.custom], data)

    def _deliver(self, targets, data: bytes) -> None:
        faults = self.faults if self.faults is not None and self.faults.frames is not None else None
        injected, self._injected = self._injected, []
        for sub in targets:
            if sub.silent:
                continue
            for item in injected:  # each a frame of its own, right before the real event's
                sub.push(item)
            for _ in range(faults.frame_copies() if faults is not None else 1):
                sub.push(data)
        self.sent += len(targets)

    def inject_next(self, events: list[dict]) -> None:
        self._injected += [orjson.dumps(event) for event in events]

    def subscribers(self) -> list[MarketSubscriber]:
        return list(self._all)

    def silence_all(self) -> int:
        for sub in self._all:
            sub.silent = True
        return len(self._all)

    def disconnect_all(self) -> int:
        subs = list(self._all)
        for sub in subs:
            sub.disconnect()
        return len(subs)

    def add(self, sub: MarketSubscriber, asset_ids: list[str]) -> list[str]:
        self._all.add(sub)
        added = [asset_id for asset_id in dict.fromkeys(asset_ids) if asset_id not in sub.assets]
        for asset_id in added:
            sub.assets.add(asset_id)
            self._by_asset[asset_id].add(sub)
        return added

    def remove(self, sub: MarketSubscriber, asset_ids: list[str] | None = None) -> None:
        for asset_id in list(sub.assets) if asset_ids is None else asset_ids:
            sub.assets.discard(asset_id)
            self._by_asset.get(asset_id, set()).discard(sub)
        if asset_ids is None:
            self._all.discard(sub)


def snapshot(exchange: Exchange, asset_ids: list[str]) -> bytes | None:
    """The array of `book` events sent on subscribe (unknown assets are skipped)."""
    books = []
    timestamp = str(exchange.now_ms())
    for asset_id in asset_ids:
        market = exchange.markets.by_token(asset_id)
        if market is None:
            continue
        summary = bookview.book_summary(
            market,
            exchange.book(market.condition_id),
            asset_id,
            timestamp,
            exchange.last_yes_price(market.condition_id),
        )
        summary["event_type"] = "book"
        books.append(summary)
    return orjson.dumps(books) if books else None


def _subscribe(exchange: Exchange, hub: MarketHub, sub: MarketSubscriber, message: dict) -> None:
    if "custom_feature_enabled" in message:
        # Applied before the duplicate check, as the venue does (the SDK relies on it to toggle the flag).
        sub.custom = bool(message["custom_feature_enabled"])
    added = hub.add(sub, [str(asset) for asset in message.get("assets_ids") or []])
    if hub.player is not None:  # replaying a tape: the tape is the feed, snapshots included
        hub.player.start(sub)
        return
    if added and not sub.silent and message.get("initial_dump", True) is not False:
        books = snapshot(exchange, added)
        if books is not None:
            sub.push(books)


def handle_message(exchange: Exchange, hub: MarketHub, sub: MarketSubscriber, text: str) -> None:
    if text == "PING":
        sub.push(b"PONG")
        return
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    if not isinstance(message, dict):
        return
    operation = str(message.get("operation") or "").lower()
    if operation == "unsubscribe":
        hub.remove(sub, [str(asset) for asset in message.get("assets_ids") or []])
    elif operation == "subscribe" or str(message.get("type") or "").lower() == "market":
        _subscribe(exchange, hub, sub, message)


async def market_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    exchange, hub = state.exchange, state.market_hub
    await websocket.accept()
    sub = MarketSubscriber(websocket)
    sub.start()
    try:
        while not sub.closed:
            text = await websocket.receive_text()
            handle_message(exchange, hub, sub, text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.remove(sub)
        if hub.player is not None:
            hub.player.stop(sub)
        await sub.stop()
