"""Codec benchmark: the bus codec (msgspec Structs, shared/messages.py) against pydantic v2 on the same message.

    python -m bench.codec [--rounds 20000]

The pydantic side is a twin of BookDelta (and its Envelope and LevelChange) with the same fields and bounds,
kept here only as the comparison: the bus defines its messages once, in shared/messages.py. Both codecs
encode to the same JSON (checked), and are timed interleaved, best of several runs, so a burst of load on
the machine hits both alike. Decoding includes every check of types and bounds on both sides.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field

from bench.goals import GoalResult
from shared.messages import BookDelta, LevelChange, Side, decode, encode, from_json
from shared.messages import Envelope as BusEnvelope

TOKENS = ("71321045679252212594626385532706912750332728571942532289631379312455583992563",
          "52114319501245915516055106046884209969926127482827954674443846427813813222426")  # fmt: skip
WIN = 1.2  # the faster codec is used where it wins by more than 20 %


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PydEnvelope(_Frozen):
    message_id: str
    correlation_id: str
    causation_id: str | None = None
    source_ts_ns: int
    created_ts_ns: int
    producer: str


OrderPrice = Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)]


class PydLevelChange(_Frozen):
    token_id: str
    side: Side
    price: OrderPrice
    size: Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 12, allow_inf_nan=False)]


class PydBookDelta(_Frozen):
    envelope: PydEnvelope
    market: str
    changes: tuple[PydLevelChange, ...] = Field(max_length=40_000)
    best_bid: dict[str, OrderPrice | None] = Field(default_factory=dict)
    best_ask: dict[str, OrderPrice | None] = Field(default_factory=dict)
    epoch: int = 0


def sample(changes: int = 2) -> BookDelta:
    return BookDelta(
        envelope=BusEnvelope.new("bench"),
        market="0x" + "ab" * 32,
        changes=tuple(
            LevelChange(
                token_id=TOKENS[i % 2],
                side=Side.BUY if i % 2 else Side.SELL,
                price=Decimal(f"0.{40 + i % 50:02d}"),
                size=Decimal("120.5"),
            )
            for i in range(changes)
        ),
        best_bid={TOKENS[0]: Decimal("0.49"), TOKENS[1]: Decimal("0.48")},
        best_ask={TOKENS[0]: Decimal("0.51"), TOKENS[1]: None},
        epoch=3,
    )


def _per_call_us(fn: Callable[[], object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1e6


def measure(rounds: int = 20_000, repeat: int = 5, changes: int = 2) -> dict[str, float]:
    """Microseconds per decode / encode of one BookDelta entry, each codec, best of `repeat` interleaved runs."""
    message = sample(changes)
    fields = encode(message)
    data = fields[b"data"]
    twin = PydBookDelta.model_validate_json(data)
    assert orjson.loads(twin.model_dump_json()) == orjson.loads(data), "the two codecs disagree on the JSON"
    assert decode(fields) == message
    runs: dict[str, Callable[[], object]] = {
        "msgspec_decode": lambda: from_json(BookDelta, data),
        "pydantic_decode": lambda: PydBookDelta.model_validate_json(data),
        "msgspec_encode": lambda: encode(message),
        "pydantic_encode": lambda: twin.model_dump_json().encode(),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            best[name] = min(best[name], _per_call_us(run, rounds))
    best["bytes"] = len(data)
    return best


def goals(us: dict[str, float]) -> list[GoalResult]:
    out = []
    for what in ("decode", "encode"):
        ours, theirs = us[f"msgspec_{what}"], us[f"pydantic_{what}"]
        out.append(
            GoalResult.judge(
                f"bus codec {what}: pydantic time / msgspec time (msgspec used where > {WIN:.1f}x)",
                f"{ours:.2f} us per BookDelta ({int(us['bytes'])} bytes)",
                theirs / ours,
                WIN,
                detail=f"pydantic {theirs:.2f} us in the same run",
            )
        )
    return out


def run_goals(rounds: int = 20_000) -> list[GoalResult]:
    return goals(measure(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=2, help="level changes in the BookDelta")
    args = parser.parse_args()
    print(f"codec bench: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    us = measure(args.rounds, changes=args.changes)
    for name in ("msgspec_decode", "pydantic_decode", "msgspec_encode", "pydantic_encode"):
        print(f"  {name:<16} {us[name]:7.2f} us")
    for goal in goals(us):
        print(goal.line())


if __name__ == "__main__":
    main()
