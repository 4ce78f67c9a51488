"""An HTTP request attempts no import: httpcore imports sniffio on every request, and a module that is not
installed is looked for on sys.path each time (25.7 us a lookup, four per order POST, measured)."""

from __future__ import annotations

import importlib.abc
import sys

import httpx
import pytest


class ImportRecorder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.looked_for: list[str] = []

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - the finder protocol
        self.looked_for.append(fullname)
        return None


async def test_a_request_looks_for_no_module():
    recorder = ImportRecorder()
    try:
        async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as client:
            for n in range(4):
                if n == 1:  # after the first request, which may import httpcore's lazily loaded modules
                    sys.meta_path.insert(0, recorder)
                with pytest.raises(httpx.ConnectError):  # nothing listens there: the pool's code runs all the same
                    await client.get("/")
    finally:
        if recorder in sys.meta_path:
            sys.meta_path.remove(recorder)
    assert recorder.looked_for == []
