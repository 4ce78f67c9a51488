"""libFuzzer harness (atheris, not part of pytest): bus entry fields into shared.messages.decode.

    python tests/fuzz/atheris_bus_messages.py -runs=100000

The input is split into (type, v, data); any exception other than DecodeError is a crash.
atheris is not a project dependency: pip install atheris.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from shared.errors import DecodeError
    from shared.messages import REGISTRY, decode

TYPES = sorted({t for t, _ in REGISTRY})


def test_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    type_name = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)].encode() if fdp.ConsumeBool() else fdp.ConsumeBytes(8)
    version = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 3))
    fields = {b"type": type_name, b"v": version, b"data": fdp.ConsumeBytes(fdp.remaining_bytes())}
    try:
        decode(fields)
    except DecodeError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
