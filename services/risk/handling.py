"""Handle each input once: its state changes and recorded outputs commit in one SQLite transaction.

A redelivered input (the bus committed nothing before a crash) finds its recorded outputs and re-emits
exactly the same messages instead of being evaluated again; JSONL events and metrics follow the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.risk.state import RiskState
from shared.logging import EventLog
from shared.messages import decode, encode
from shared.streams import Output


@dataclass
class Effects:
    """What handling one input produced: bus outputs, then events and callbacks to run after the commit."""

    outputs: list[Output] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)

    def event(self, event_type: str, **fields: Any) -> None:
        self.events.append((event_type, fields))


def encode_outputs(outputs: list[Output]) -> str:
    rows = []
    for stream, message in outputs:
        fields = encode(message)
        rows.append([stream, *(fields[k].decode() for k in (b"type", b"v", b"data"))])
    return orjson.dumps(rows).decode()  # read back by json.loads, like records written by json.dumps


def decode_outputs(text: str) -> list[Output]:
    return [Output(stream, decode({"type": t, "v": v, "data": d})) for stream, t, v, d in json.loads(text)]


def handle_once(
    state: RiskState,
    events: EventLog,
    input_id: str,
    work: Callable[[Effects], object],
    *,
    record_always: bool,
) -> list[Output]:
    """Run `work` once per input id; outputs are recorded when there are some, or always with `record_always`."""
    recorded = state.recorded_outputs(input_id)
    if recorded is not None:
        return decode_outputs(recorded)
    effects = Effects()
    with state.transaction():
        work(effects)
        if effects.outputs or record_always:
            state.record_outputs(input_id, encode_outputs(effects.outputs))
    for event_type, fields in effects.events:
        events.emit(event_type, **fields)
    for callback in effects.after:
        callback()
    return effects.outputs
