"""User channel (/ws/user): authenticated by raw API credentials in the first frame; own orders and trades.

First frame `{"type": "user", "auth": {"apiKey", "secret", "passphrase"}, "markets": [...]}` (no markets
means all); later `{"operation": "subscribe"|"unsubscribe", "markets": [...]}`. Bad credentials close
the socket with 1008 (policy violation).
"""

from __future__ import annotations

import hmac
from collections import defaultdict

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from paperexchange.api.ws_hub import Subscriber
from paperexchange.core.auth import KeyStore


class UserSubscriber(Subscriber):
    def __init__(self, websocket: WebSocket) -> None:
        super().__init__(websocket)
        self.owner: str | None = None
        self.markets: set[str] = set()  # lower-case condition ids; empty = every market


class UserHub:
    def __init__(self) -> None:
        self._by_owner: dict[str, set[UserSubscriber]] = defaultdict(set)
        self.held = False

    def publish(self, owner: str, condition_id: str, message: dict) -> None:
        subs = self._by_owner.get(owner)
        if not subs:
            return
        data = orjson.dumps(message)
        condition = condition_id.lower()
        for sub in subs:
            if not sub.markets or condition in sub.markets:
                sub.push(data)

    def add(self, sub: UserSubscriber) -> None:
        if sub.owner is None:
            raise ValueError("a user socket joins the hub only once it has authenticated (owner unset)")
        sub.held = self.held
        self._by_owner[sub.owner].add(sub)

    def subscribers(self) -> list[UserSubscriber]:
        return [sub for group in self._by_owner.values() for sub in group]

    def hold(self) -> None:
        """From now on every socket holds its events until `release_held()` (a backtest delivers the market
        channel's consequences of a step first, then the user channel's, so their order never varies)."""
        self.held = True
        for sub in self.subscribers():
            sub.held = True

    def release_held(self) -> int:
        """Send every socket what it holds; returns how many events that is (holding goes on)."""
        return sum(sub.release() for sub in self.subscribers())

    def disconnect_all(self) -> int:
        subs = [sub for group in self._by_owner.values() for sub in group]
        for sub in subs:
            sub.disconnect()
        return len(subs)

    def remove(self, sub: UserSubscriber) -> None:
        if sub.owner is not None:
            self._by_owner[sub.owner].discard(sub)


def authenticate(keys: KeyStore, auth: object) -> str | None:
    """The API key named by raw credentials, or None when any part is wrong."""
    if not isinstance(auth, dict):
        return None
    key = keys.get(str(auth.get("apiKey", "")))
    if key is None:
        return None
    if not (
        hmac.compare_digest(str(auth.get("secret", "")), key.secret)
        and hmac.compare_digest(str(auth.get("passphrase", "")), key.passphrase)
    ):
        return None
    return key.key


def _markets(message: dict) -> set[str]:
    return {str(market).lower() for market in message.get("markets") or []}


def handle_message(keys: KeyStore, hub: UserHub, sub: UserSubscriber, text: str) -> bool:
    """Apply one client frame; False means the socket must be closed (failed authentication)."""
    if text == "PING":
        sub.push(b"PONG")
        return True
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return sub.owner is not None
    if not isinstance(message, dict):
        return sub.owner is not None
    operation = str(message.get("operation") or "").lower()
    if sub.owner is None:
        owner = authenticate(keys, message.get("auth"))
        if owner is None:
            return False
        sub.owner, sub.markets = owner, _markets(message)
        hub.add(sub)
    elif operation == "subscribe" and sub.markets:
        sub.markets |= _markets(message)
    elif operation == "unsubscribe":
        sub.markets -= _markets(message)
    return True


async def user_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    keys, hub = state.exchange.keys, state.user_hub
    await websocket.accept()
    sub = UserSubscriber(websocket)
    sub.start()
    try:
        while not sub.closed:
            text = await websocket.receive_text()
            if not handle_message(keys, hub, sub, text):
                await websocket.close(code=1008)
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.remove(sub)
        await sub.stop()
