"""Hypothesis strategies for fuzzing: mutations of structurally valid payloads, and plain garbage.

`mutated(seed)` starts from a real payload and damages it one to three times: a value replaced by a wrong
type, a huge or negative number, a non-decimal or unicode string, a nested or empty container; a key
deleted; an array element duplicated; a value wrapped in an array.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

DECIMALISH = st.sampled_from([
    "", " ", "0", "-0", "-1", "-0.5", "1", "1.0", "1.5", "2", "0.49", ".5", "5.", "00.50", "1e5", "1E-3", "0x10",
    "1_000", " 1", "1 ", "+1", "١", "NaN", "nan", "Infinity", "-Infinity", "inf", "9" * 5000, "0." + "0" * 40 + "1",
    "0.123456789", "1" + "0" * 400, "0.5.5", "--1", "½", "0.5\u0000", "\ud7ff", "null", "true", "[]", "{}",
])
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, -(10**400)]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), DECIMALISH,
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
)
BAD_VALUES = st.one_of(
    JSON_SCALARS, DECIMALISH, st.just([]), st.just({}), st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2), st.just([[[[[]]]]]),
    st.just(float("nan")), st.just(float("inf")),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


def _bad(draw: Any, strategy: st.SearchStrategy[Any] = BAD_VALUES) -> Any:
    return copy.deepcopy(draw(strategy))  # st.just([]) and friends hand out one shared object


def _mutate_once(draw: Any, value: Any) -> Any:
    path = draw(st.sampled_from(_paths(value)))
    op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "wrap", "empty"]))
    if not path:
        return [value, value] if op == "duplicate" else [value] if op == "wrap" else _bad(draw)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if op == "replace":
        parent[key] = _bad(draw)
    elif op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == "wrap" or op == "duplicate":
        parent[key] = [parent[key]]
    else:
        parent[key] = _bad(draw, st.sampled_from([[], {}, ""]))
    return value


@st.composite
def mutated(draw: Any, seed: Any, max_mutations: int = 3) -> Any:
    """A deep copy of `seed` damaged one to `max_mutations` times."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_mutations))):
        value = _mutate_once(draw, value)
    return value


def dumps(value: Any) -> str:
    """JSON text as a sloppy server might write it: big ints kept, NaN/Infinity written bare (invalid JSON)."""
    return json.dumps(value)


def frames_from(values: st.SearchStrategy[Any]) -> st.SearchStrategy[str | bytes]:
    """Serialized frames: text or bytes of the values, plus arbitrary bytes and text."""
    return st.one_of(
        values.map(dumps), values.map(lambda v: dumps(v).encode()), st.binary(max_size=200),
        st.text(max_size=200), values.map(lambda v: dumps(v)[: len(dumps(v)) // 2]),
    )
