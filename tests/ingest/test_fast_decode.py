"""The fast (msgspec) decoding of price_change frames accepts and refuses exactly the frames the pydantic union
alone did, with the same messages (unknown fields kept) and the same reasons: checked on the captured frames,
on damaged copies of them, on generated price_changes with odd values, and on garbage."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.polymarket import schemas
from shared.polymarket.schemas import MarketFrameError, PriceChangeMessage, decode_market_frame
from tests.fuzz.strategies import JSON, frames_from, mutated
from tests.fuzz.test_market_frames import SEEDS

EXAMPLES = settings(max_examples=400, deadline=None)


def pydantic_only(raw: str | bytes) -> list[Any] | str:
    """What decode_market_frame returned before the fast decoder: the messages, or the refusal's reason."""
    try:
        if raw.lstrip()[:1] in (b"[", "["):
            return [schemas._message(wire) for wire in schemas._MANY.validate_json(raw)]
        return [schemas._message(schemas._ONE.validate_json(raw))]
    except ValidationError as error:
        return schemas._reason(error)


def current(raw: str | bytes) -> list[Any] | str:
    try:
        return decode_market_frame(raw)
    except MarketFrameError as error:
        assert error.raw is raw
        return error.reason


def plain(value: Any) -> Any:
    """A message as comparable data: its type, fields and unknown fields, whichever library made it."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, BaseModel):
        fields = {name: plain(getattr(value, name)) for name in type(value).model_fields}
        return (type(value).__name__, fields, value.model_extra)
    if isinstance(value, msgspec.Struct):
        fields = {name: plain(getattr(value, name)) for name in value.__struct_fields__}
        return (type(value).__name__, fields, value.model_extra)  # type: ignore[attr-defined]
    return value


def assert_same(raw: str | bytes) -> None:
    assert plain(current(raw)) == plain(pydantic_only(raw))


ASSET = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
ODD_TEXT = st.sampled_from([
    "0.5", "1", "1.000", "0", ".5", "0.", "00.5", "01", "1.5", "2", "-0.5", "0.5\n", "0.5 ", " 0.5", "١", "٠.٥",
    "0x1", "1e-3", "", "9" * 12, "9" * 13, "123456789012.5", ".", "0..5", "\ud800", "0.5\u0000", "BUY", "SELL",
    "buy", "h" * 40,
])
VALUES = st.one_of(ODD_TEXT, st.none(), st.integers(-5, 10**13), st.floats(allow_nan=False), st.booleans(),
                   st.just([]), st.just({}))
ENTRY_KEYS = ("asset_id", "price", "size", "side", "hash", "best_bid", "best_ask")


@st.composite
def entries(draw: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"asset_id": ASSET, "price": "0.5", "size": "10", "side": "BUY",
                             "hash": "a" * 40, "best_bid": "0.5", "best_ask": "0.6"}
    for key in draw(st.lists(st.sampled_from(ENTRY_KEYS), max_size=3)):
        if draw(st.booleans()):
            entry[key] = draw(VALUES)
        else:
            entry.pop(key, None)
    if draw(st.integers(0, 9)) == 0:
        entry[draw(st.sampled_from(["new_field", "fee", "price "]))] = draw(VALUES)
    return entry


@st.composite
def price_changes(draw: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "event_type": "price_change", "market": "0x" + "5f" * 32,
        "price_changes": draw(st.lists(entries(), max_size=3)),
        "timestamp": draw(st.sampled_from(["1764000000000", 1764000000000, "1.5", None])),
    }
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.sampled_from(["new_field", "event_type", "hash"]))] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        del message[draw(st.sampled_from(sorted(message)))]
    return message


def frames(value: Any) -> list[str | bytes]:
    text = json.dumps(value)
    return [text, text.encode(), "  " + text]


FRAMES = st.one_of(
    price_changes(),
    st.lists(price_changes(), max_size=3),
    st.lists(st.one_of(price_changes(), st.sampled_from(SEEDS)), max_size=3),
)


@EXAMPLES
@given(FRAMES)
def test_generated_price_changes_decode_as_pydantic_alone_did(value):
    for raw in frames(value):
        assert_same(raw)


@EXAMPLES
@given(frames_from(st.one_of(st.sampled_from(SEEDS).flatmap(mutated), JSON)))
@example('{"event_type":"price_change","market":"m","timestamp":"1","price_changes":[],"event_type":"book"}')
@example('{"event_type":"book","market":"m","timestamp":"1","price_changes":[],"event_type":"price_change"}')
@example('{"event_type":"price_change","market":"m","timestamp":"1","price_changes":[],"market":"n"}')
@example('{"event_type":"price_change","market":"\\ud800","timestamp":"1","price_changes":[]}')
@example('{"event_type":"price_change","market":"m\ud800","timestamp":"1","price_changes":[]}')
@example(b'\xef\xbb\xbf{"event_type":"price_change","market":"m","timestamp":"1","price_changes":[]}')
@example(b'{"event_type":"price_change","market":"m","timestamp":"1","price_changes":[]} x')
@example("[]")
def test_damaged_seeds_and_garbage_decode_as_pydantic_alone_did(raw):
    assert_same(raw)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_captured_frames_decode_as_pydantic_alone_did(seed):
    for raw in frames(SEEDS[seed]):
        assert_same(raw)


def test_the_bench_frames_take_the_fast_path():
    raw = json.dumps({"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
        {"asset_id": "a", "price": "0.5", "size": "10", "side": "BUY", "hash": "h", "best_bid": "0.5",
         "best_ask": "0.6"}]})
    assert schemas._fast(raw, many=False) == decode_market_frame(raw)


def test_unknown_fields_of_a_price_change_are_kept_for_venue_change_reports():
    raw = json.dumps({"event_type": "price_change", "market": "m", "timestamp": "1", "new": 1, "price_changes": [
        {"asset_id": "a", "price": "0.5", "size": "10", "side": "BUY", "fee": "0"}]})
    (message,) = decode_market_frame(raw)
    assert isinstance(message, PriceChangeMessage)
    assert message.model_extra == {"new": 1} and message.price_changes[0].model_extra == {"fee": "0"}
    assert schemas.market_parts(message) == [message, message.price_changes[0]]
