"""Strategy settings from the environment: lists, the worker's shard, and rejected mistakes."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from services.strategy.config import StrategySettings
from services.strategy.engine import build_strategies
from shared.config import load_settings
from shared.errors import ConfigurationError


@pytest.fixture
def env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("POLYDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POLYDESK_ENV_FILE", "/nonexistent.env")
    return monkeypatch


def test_lists_and_shard_from_the_environment(env):
    env.setenv("POLYDESK_SHARDS", "a,b")
    env.setenv("POLYDESK_STRATEGY_SHARD", "b")
    env.setenv("POLYDESK_STRATEGIES", "copy,arbitrage,market_making,verdict")
    env.setenv("POLYDESK_COPY_WALLETS", "0xA, 0xB")
    env.setenv("POLYDESK_ARB_MIN_EDGE_BPS", "25")
    s = load_settings(StrategySettings, _env_file=None)
    assert (s.shard, s.copy_wallets, s.arb_min_edge_bps) == ("b", ("0xA", "0xB"), Decimal(25))
    assert [x.name for x in build_strategies(s)] == ["copy", "arbitrage", "market_making", "verdict"]


def test_the_shard_defaults_to_the_first(env):
    env.setenv("POLYDESK_SHARDS", "x,y")
    assert load_settings(StrategySettings, _env_file=None).shard == "x"


@pytest.mark.parametrize(("name", "value"), [
    ("POLYDESK_STRATEGY_SHARD", "zz"),  # not one of the shards
    ("POLYDESK_STRATEGIES", "copy_trading"),  # not a strategy
    ("POLYDESK_MM_REFERENCE", "last"),
    ("POLYDESK_VERDICT_SIZING", "martingale"),
    ("POLYDESK_COPY_PRICE_GUARD_BPS", "-1"),
])
def test_mistakes_fail_at_start(env, name, value):
    env.setenv(name, value)
    with pytest.raises(ConfigurationError):
        load_settings(StrategySettings, _env_file=None)


def test_copy_needs_wallets(env):
    env.setenv("POLYDESK_STRATEGIES", "copy")
    with pytest.raises(ConfigurationError, match="POLYDESK_COPY_WALLETS"):
        load_settings(StrategySettings, _env_file=None)
