import json
from decimal import Decimal

import msgspec
import pytest

from shared import messages as m
from shared.errors import DecodeError
from shared.message_checks import MessageError
from tests.unit.message_samples import SAMPLES, golden_path


def test_every_registered_type_has_a_sample():
    assert {(s.TYPE, s.VERSION) for s in SAMPLES} == set(m.REGISTRY)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.TYPE)
def test_round_trip(sample):
    fields = m.encode(sample)
    assert fields[b"type"] == sample.TYPE.encode()
    assert fields[b"v"] == str(sample.VERSION).encode()
    assert m.decode(fields) == sample


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.TYPE)
def test_golden_file_matches_encoding(sample):
    golden = golden_path(sample).read_text()
    assert json.loads(m.encode(sample)[b"data"]) == json.loads(golden)
    assert m.decode({"type": sample.TYPE, "v": str(sample.VERSION), "data": golden}) == sample


def test_money_is_a_decimal_string_on_the_wire():
    intent = next(s for s in SAMPLES if isinstance(s, m.OrderIntent))
    data = json.loads(m.encode(intent)[b"data"])
    assert data["price"] == "0.45" and data["size"] == "10"
    assert isinstance(m.decode(m.encode(intent)).price, Decimal)


def test_messages_are_frozen():
    with pytest.raises(AttributeError):
        SAMPLES[0].market = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "fields, reason",
    [
        (
            {b"type": b"order_intent", b"v": b"9", b"data": b"{}"},
            "unknown message type/version 'order_intent' v9",
        ),
        ({b"type": b"no_such", b"v": b"1", b"data": b"{}"}, "unknown message type/version 'no_such' v1"),
        ({b"v": b"1", b"data": b"{}"}, "lacks a valid type/v/data"),
        ({b"type": b"fill", b"v": b"x", b"data": b"{}"}, "lacks a valid type/v/data"),
        ({b"type": b"fill", b"v": b"1", b"data": b"not json"}, "invalid fill v1"),
        ({b"type": b"fill", b"v": b"1", b"data": b'{"envelope": {}}'}, "envelope.message_id"),
    ],
)
def test_undecodable_entries_raise_decode_error_with_reason(fields, reason):
    with pytest.raises(DecodeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        m.decode(fields)


def test_price_outside_unit_interval_is_rejected():
    intent = next(s for s in SAMPLES if isinstance(s, m.OrderIntent))
    data = json.loads(m.encode(intent)[b"data"])
    data["price"] = "1.5"
    with pytest.raises(DecodeError, match="price"):
        m.decode({"type": "order_intent", "v": "1", "data": json.dumps(data)})


def test_envelope_from_a_cause_keeps_correlation_and_points_causation():
    root = m.Envelope.new("ingest", source_ts_ns=123)
    event = m.ShutdownNotice(envelope=root, service="x", reason="y")
    child = m.Envelope.new("strategy", cause=event)
    assert root.correlation_id == root.message_id and root.causation_id is None
    assert child.correlation_id == root.message_id
    assert child.causation_id == root.message_id
    assert child.source_ts_ns == 123
    assert child.message_id != root.message_id


def test_deterministic_id_is_stable_and_input_sensitive():
    assert m.deterministic_id("intent", "copy:1") == m.deterministic_id("intent", "copy:1")
    assert m.deterministic_id("intent", "copy:1") != m.deterministic_id("intent", "copy:2")
    assert m.deterministic_id("a", "bc") != m.deterministic_id("ab", "c")


def test_registering_a_type_twice_fails():
    with pytest.raises(TypeError, match="registered twice"):
        m.register(type("Dup", (m.Fill,), {}))


# ---- checks when a message is built (msgspec checks nothing at construction by itself) ---------------------


def _intent(**changes):
    base = {
        "envelope": m.Envelope.new("strategy"),
        "token_id": "t",
        "side": m.Side.BUY,
        "size": Decimal(5),
        "price": Decimal("0.5"),
        "reason": "r",
        "strategy": "s",
        "signal_key": "k",
        "market": "m",
    }
    return m.OrderIntent(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"price": Decimal(1)}, "price: Input should be less than 1"),
        ({"price": Decimal("NaN")}, "price: Input should be a finite number"),
        ({"size": Decimal(0)}, "size: Input should be greater than 0"),
        ({"side": "HOLD"}, "side: Input should be one of 'BUY', 'SELL'"),
        ({"price": "half"}, "price: Input should be a valid decimal"),
        ({"market": 7}, "market: Input should be a string, not int"),
        ({"post_only": "yes"}, "post_only: Input should be a boolean"),
        ({"expiration_ts": 1.5}, "expiration_ts: Input should be an integer"),
        ({"envelope": "e"}, "envelope: Input should be Envelope"),
    ],
)
def test_a_message_out_of_its_types_or_bounds_cannot_be_built(changes, complaint):
    with pytest.raises(MessageError, match=complaint.replace("(", r"\(")):
        _intent(**changes)


def test_building_converts_what_pydantic_converted_and_nothing_else():
    intent = _intent(price="0.45", size=10, side="SELL", expiration_ts=1_800_000_000.0)
    assert (intent.price, intent.size, intent.side, intent.expiration_ts) == (
        Decimal("0.45"),
        Decimal(10),
        m.Side.SELL,
        1_800_000_000,
    )
    assert type(intent.side) is m.Side and type(intent.expiration_ts) is int
    delta = m.BookDelta(
        envelope=m.Envelope.new("ingest"),
        market="m",
        changes=[{"token_id": "t", "side": "BUY", "price": "0.4", "size": "3"}],
        best_bid={"t": "0.4"},
        best_ask={"t": None},
    )
    assert delta.changes == (
        m.LevelChange(token_id="t", side=m.Side.BUY, price=Decimal("0.4"), size=Decimal(3)),
    )
    assert delta.best_bid == {"t": Decimal("0.4")}
    pending = m.VerdictPending(
        envelope=m.Envelope.new("strategy"),
        verdict_id="v",
        market="m",
        token_id="t",
        probability="0.6",
        source="cli",
        expires_at_ts=1_800_000_000,
    )
    assert type(pending.expires_at_ts) is float and pending.probability == Decimal("0.6")
    with pytest.raises(MessageError, match=r"changes.item: .*price: Input should be greater than 0"):
        m.BookDelta(
            envelope=m.Envelope.new("ingest"),
            market="m",
            changes=[{"token_id": "t", "side": "BUY", "price": "0", "size": "3"}],
        )
    with pytest.raises(MessageError, match="legs: should have at least 2 items"):
        m.BasketIntent(
            envelope=m.Envelope.new("strategy"), strategy="s", signal_key="k", reason="r", market="m", legs=()
        )


def test_replace_checks_the_copy():
    intent = _intent()
    assert m.replace(intent, price="0.3").price == Decimal("0.3")
    with pytest.raises(MessageError, match="price"):
        m.replace(intent, price=Decimal(2))


def test_a_nested_bound_names_its_path_in_the_decode_error():
    delta = next(s for s in SAMPLES if isinstance(s, m.BookDelta))
    data = json.loads(m.encode(delta)[b"data"])
    data["changes"][1]["price"] = "0"
    with pytest.raises(
        DecodeError, match=r"^invalid book_delta v1: changes\.1\.price: Input should be greater than 0$"
    ):
        m.decode({"type": "book_delta", "v": "1", "data": json.dumps(data)})
    data["changes"][1]["price"] = (
        0.5  # a JSON number where the wire has decimal strings: refused, not guessed
    )
    data["changes"][1]["side"] = "HOLD"
    with pytest.raises(DecodeError, match=r"changes\.1\.side"):
        m.decode({"type": "book_delta", "v": "1", "data": json.dumps(data)})


def test_the_wire_format_is_msgspec_json_of_the_same_fields():
    delta = next(s for s in SAMPLES if isinstance(s, m.BookDelta))
    assert m.to_json(delta) == msgspec.json.encode(delta)
    assert m.from_json(m.BookDelta, m.to_json(delta)) == delta
    assert m.field_names(m.LevelChange) == ("token_id", "side", "price", "size")


def test_new_message_ids_are_32_hex_chars_and_distinct():
    ids = [m.new_message_id() for _ in range(10_000)]
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_process_makes_other_message_ids():
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        os.write(write, " ".join(m.new_message_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 4096).decode().split())
    os.close(read)
    mine = {m.new_message_id() for _ in range(3)}
    assert len(child) == 3 and all(len(i) == 32 for i in child) and not child & mine
