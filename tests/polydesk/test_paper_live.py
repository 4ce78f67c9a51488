"""`polydesk up --paper-live`: which venue the paper exchange mirrors, from the venue settings; a bad one
stops `up` at start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from polydesk.paper_live import live_venue
from shared.errors import ConfigurationError


def test_unset_venue_settings_mirror_polymarket_with_ingests_selection():
    venue = live_venue({})
    assert venue.gamma_url == "https://gamma-api.polymarket.com"
    assert venue.market_ws_url.startswith("wss://ws-subscriptions-clob.polymarket.com/")
    assert (venue.condition_ids, venue.slugs, venue.max_markets) == ((), (), 200)


def test_the_named_venue_and_markets_become_the_exchanges_mirror_flags():
    venue = live_venue({
        "POLYDESK_GAMMA_URL": "http://127.0.0.1:9/gamma",
        "POLYDESK_MARKET_WS_URL": "ws://127.0.0.1:9/ws/market",
        "POLYDESK_DISCOVERY_CONDITION_IDS": "0xaa,0xbb",
        "POLYDESK_DISCOVERY_MAX_MARKETS": "7",
    })
    assert venue.exchange_args() == [
        "--mirror-gamma-url", "http://127.0.0.1:9/gamma", "--mirror-market-ws-url", "ws://127.0.0.1:9/ws/market",
        "--mirror-max-markets", "7", "--mirror-condition-ids", "0xaa,0xbb",
    ]


@pytest.mark.parametrize(("name", "value"), [
    ("POLYDESK_MARKET_WS_URL", "http://127.0.0.1:9/ws/market"),
    ("POLYDESK_GAMMA_URL", "gamma.example"),
    ("POLYDESK_DISCOVERY_MAX_MARKETS", "many"),
])
def test_a_bad_venue_setting_is_named(name, value):
    with pytest.raises(ConfigurationError, match=name):
        live_venue({name: value})


@pytest.mark.processes
def test_up_paper_live_with_a_bad_venue_setting_stops_at_start_naming_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_PAPER_LIVE="true", POLYDESK_MARKET_WS_URL="https://not-a-socket.example/ws")
    done = subprocess.run([sys.executable, "-m", "polydesk", "up", "--duration", "1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "POLYDESK_MARKET_WS_URL" in done.stderr and "Traceback" not in done.stderr
