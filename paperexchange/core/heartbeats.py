"""The dead-man switch: once an API key sends a heartbeat, silence for the timeout cancels all its orders.

POST /v1/heartbeats takes the id returned by the previous call ("" the first time) and returns a new
one; a wrong id is refused with 400 and the id that was expected. There is no way to disarm it; after it
fires the key starts again from "".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from paperexchange.core import errors
from paperexchange.core.clock import Clock
from paperexchange.core.errors import VenueError


@dataclass(slots=True)
class _Beat:
    expected_id: str
    last_seen: float


class HeartbeatMismatch(VenueError):
    def __init__(self, expected_id: str) -> None:
        super().__init__(errors.HEARTBEAT_MISMATCH, 400)
        self.expected_id = expected_id


class Heartbeats:
    def __init__(self, clock: Clock, timeout_secs: float) -> None:
        self._clock = clock
        self._timeout = timeout_secs
        self._armed: dict[str, _Beat] = {}

    def beat(self, api_key: str, heartbeat_id: str) -> str:
        """Accept a heartbeat and return the id to send next; HeartbeatMismatch on a stale id."""
        beat = self._armed.get(api_key)
        expected = beat.expected_id if beat else ""
        if heartbeat_id != expected:
            raise HeartbeatMismatch(expected)
        new_id = str(uuid.uuid4())
        self._armed[api_key] = _Beat(expected_id=new_id, last_seen=self._clock.now())
        return new_id

    def expired(self) -> list[str]:
        """Keys whose switch fired: disarmed here, to be cancelled by the caller."""
        now = self._clock.now()
        fired = [key for key, beat in self._armed.items() if now - beat.last_seen >= self._timeout]
        for key in fired:
            del self._armed[key]
        return fired

    def armed(self) -> list[str]:
        return list(self._armed)
