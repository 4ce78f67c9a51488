"""Fan-out plumbing shared by both channels: one outgoing buffer and writer task per connection.

Events are serialized once and appended to each subscriber's buffer. The writer sends every item as a
frame of its own, as the venue does: a live event is one JSON object per frame; only the subscription's
`book` snapshot is an array (pushed as one item by the market channel).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket

# A consumer this far behind is cut off rather than allowed to grow the server's memory without bound.
MAX_BUFFERED = 200_000


class Subscriber:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._buffer: list[bytes] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.closed = False
        self.close_code = 1008
        self.frames_sent = 0  # data frames written (PONGs not counted)
        self._sending = False
        # Held (a backtest's user channel): data events wait here until release(); PONGs never wait.
        self.held = False
        self._held: list[bytes] = []

    @property
    def drained(self) -> bool:
        """Nothing queued and nothing being written (a backtest steps only once every socket is)."""
        return not self._buffer and not self._sending

    def disconnect(self, code: int = 1011) -> None:
        """Close from the server side (fault injection): the writer sends the close frame."""
        self.close_code, self.closed = code, True
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop())

    async def stop(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def push(self, data: bytes) -> None:
        """Queue one frame: a serialized event, the snapshot array, or PONG."""
        if self.closed:
            return
        if len(self._buffer) >= MAX_BUFFERED:
            self.closed = True
            return
        if self.held and data != b"PONG":
            self._held.append(data)
            return
        self._buffer.append(data)
        self._wakeup.set()

    def release(self) -> int:
        """Send what is held (and go on holding what comes next); returns how many events that is."""
        released, self._held = self._held, []
        if released and not self.closed:
            self._buffer += released
            self._wakeup.set()
        return len(released)

    async def _write_loop(self) -> None:
        while not self.closed:
            if not self._buffer:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            frames, self._buffer = self._buffer, []
            self._sending = True
            try:
                for frame in frames:
                    await self.websocket.send({"type": "websocket.send", "text": frame.decode()})
                    if frame != b"PONG":  # data frames only: what a client counts as received data
                        self.frames_sent += 1
            finally:
                self._sending = False
        with contextlib.suppress(Exception):
            await self.websocket.close(code=self.close_code)
