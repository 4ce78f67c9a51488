"""The three ways to run the paper exchange: in this loop, in a thread, as `python -m paperexchange`."""

from __future__ import annotations

import httpx
import pytest

from paperexchange.__main__ import parse_args
from paperexchange.server import PaperExchangeProcess, PaperExchangeServer


def test_cli_flags_map_to_settings():
    settings = parse_args(["--port", "0", "--admin", "--settlement-delay-secs", "0.5", "--no-default-markets"])
    assert (settings.host, settings.port, settings.admin) == ("127.0.0.1", 0, True)
    assert settings.settlement_delay_secs == 0.5 and settings.default_markets is False


async def test_async_context_manager_on_a_free_port():
    async with PaperExchangeServer(default_markets=False) as server:
        assert server.port != 0
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/ok")).text == "OK"
            assert (await http.get("/version")).json() == {"version": 2}
            assert (await http.get("/markets")).json()["data"] == []


@pytest.mark.timeout(30)
def test_subprocess_serves_default_markets():
    with PaperExchangeProcess("--admin", "--scenario", "none") as process:
        assert httpx.get(process.url + "/ok").text == "OK"
        assert len(httpx.get(process.url + "/_paper/markets").json()) == 4
