"""A held socket (the replaying venue's user channel) keeps data events until released; PONGs never wait."""

from __future__ import annotations

from paperexchange.api.ws_hub import Subscriber
from paperexchange.api.ws_user import UserHub, UserSubscriber


def test_held_events_wait_for_release_and_pongs_do_not():
    sub = Subscriber(websocket=None)  # type: ignore[arg-type]  # the writer task is not started
    sub.held = True
    sub.push(b'{"event_type":"trade"}')
    sub.push(b"PONG")
    assert sub._buffer == [b"PONG"] and not sub.drained
    assert sub.release() == 1
    assert sub._buffer == [b"PONG", b'{"event_type":"trade"}']
    sub.push(b'{"event_type":"order"}')  # still held after a release
    assert sub._buffer[-1] != b'{"event_type":"order"}' and sub.release() == 1


def test_a_hub_holds_its_sockets_and_those_that_join_later():
    hub = UserHub()
    first = UserSubscriber(websocket=None)  # type: ignore[arg-type]
    first.owner = "key"
    hub.add(first)
    hub.hold()
    late = UserSubscriber(websocket=None)  # type: ignore[arg-type]
    late.owner = "key"
    hub.add(late)
    hub.publish("key", "0xabc", {"event_type": "trade", "id": "t1"})
    assert first.held and late.held and first._buffer == [] and late._buffer == []
    assert hub.release_held() == 2
    assert len(first._buffer) == len(late._buffer) == 1
