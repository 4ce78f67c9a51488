import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared import messages as m
from shared.errors import DecodeError
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
    with pytest.raises(ValidationError):
        SAMPLES[0].market = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({b"type": b"order_intent", b"v": b"9", b"data": b"{}"}, "unknown message type/version 'order_intent' v9"),
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
