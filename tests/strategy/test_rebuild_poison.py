"""Rebuild at start folds the history one entry at a time (issue 15 #4): an entry that cannot be decoded (a
book with tick size 0, written before the bounds existed) or that the engine cannot fold is skipped and
counted, and everything after it is still folded. It used to stop the rebuild: a crash loop at every start."""

from __future__ import annotations

import json

from services.strategy.rebuild import replay
from shared.messages import encode
from shared.streams import Output, events_stream
from tests.strategy.scenario import discovered, info, snapshot

M = info("rb")


async def test_one_poisonous_entry_is_skipped_and_the_rest_is_folded(bus):
    stream = events_stream("a")
    good = snapshot(M, "rb-yes", [("0.40", "10")], [("0.60", "10")])
    fields = encode(good)
    data = json.loads(fields[b"data"])
    data["tick_size"] = "0"  # what divided market making by zero
    await bus.publish_many([Output(stream, discovered(M))])
    await bus.redis.xadd(bus.key(stream), {**fields, b"data": json.dumps(data).encode()})
    await bus.publish_many([Output(stream, good), Output(stream, snapshot(M, "rb-no", [], [("0.50", "5")]))])
    folded = []

    def fold(message) -> None:
        if getattr(message, "token_id", None) == "rb-no":
            raise ZeroDivisionError("a bug in one strategy")
        folded.append(message.TYPE)

    replayed = await replay(bus, stream, fold)
    assert folded == ["market_discovered", "book_snapshot"]
    assert (replayed.entries, replayed.skipped) == (2, 2)


def test_one_strategy_failing_on_an_event_costs_the_others_nothing():
    from services.strategy.engine import Engine
    from shared import metrics

    class Broken:
        name = "broken"

        def relevant(self, event) -> bool:
            return True

        def on_event(self, state, event, now):
            raise ZeroDivisionError("tick 0")

    class Quiet(Broken):
        name = "quiet"
        calls = 0

        def on_event(self, state, event, now):
            Quiet.calls += 1
            return []

    before = metrics.STRATEGY_ERRORS.labels(strategy="broken")._value.get()
    engine = Engine([Broken(), Quiet()])
    assert engine.on_event(discovered(M)) == []
    assert Quiet.calls == 1
    assert metrics.STRATEGY_ERRORS.labels(strategy="broken")._value.get() == before + 1
