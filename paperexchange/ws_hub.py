"""Fan-out plumbing shared by both channels: one outgoing buffer and writer task per connection.

Events are serialized once and appended to each subscriber's buffer. The writer sends what has piled
up, joining consecutive events into one JSON-array frame as the venue does for its snapshots (clients
must parse both forms); control frames (`PONG`, the initial book array) go out as they are.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket

MAX_EVENTS_PER_FRAME = 200
# A consumer this far behind is cut off rather than allowed to grow the server's memory without bound.
MAX_BUFFERED = 200_000


class Subscriber:
    def __init__(self, websocket: WebSocket, batch: bool = True) -> None:
        self.websocket = websocket
        self._batch = batch
        self._buffer: list[tuple[bytes, bool]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.closed = False
        self.close_code = 1008

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

    def push(self, data: bytes, mergeable: bool = True) -> None:
        if self.closed:
            return
        if len(self._buffer) >= MAX_BUFFERED:
            self.closed = True
            return
        self._buffer.append((data, mergeable))
        self._wakeup.set()

    def _frames(self, items: list[tuple[bytes, bool]]) -> list[str]:
        frames: list[str] = []
        run: list[bytes] = []

        def flush() -> None:
            if len(run) == 1:
                frames.append(run[0].decode())
            elif run:
                frames.append("[" + ",".join(item.decode() for item in run) + "]")
            run.clear()

        for data, mergeable in items:
            if mergeable and self._batch:
                run.append(data)
                if len(run) >= MAX_EVENTS_PER_FRAME:
                    flush()
            else:
                flush()
                frames.append(data.decode())
        flush()
        return frames

    async def _write_loop(self) -> None:
        while not self.closed:
            if not self._buffer:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            items, self._buffer = self._buffer, []
            for frame in self._frames(items):
                await self.websocket.send({"type": "websocket.send", "text": frame})
        with contextlib.suppress(Exception):
            await self.websocket.close(code=self.close_code)
