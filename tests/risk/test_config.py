"""Risk settings: the seed's defaults, env parsing, and names no other layer uses."""

from __future__ import annotations

import importlib
from decimal import Decimal as D

import pytest

from services.risk.config import RiskSettings
from shared.config import SETTINGS_CLASSES, ServiceSettings


def test_defaults_follow_the_seed(tmp_path):
    s = RiskSettings(_env_file=None, state_dir=tmp_path)
    assert s.dry_run is True
    assert (s.min_secs_to_resolution("copy"), s.min_secs_to_resolution("market_making"),
            s.min_secs_to_resolution("arbitrage")) == (4 * 3600, 30 * 60, 15 * 60)
    assert s.db_path() == tmp_path / "risk.sqlite"


def test_environment_names_and_values(monkeypatch):
    monkeypatch.setenv("POLYDESK_DRY_RUN", "false")
    monkeypatch.setenv("POLYDESK_MAX_TRADE_SIZE_USD", "12.5")
    monkeypatch.setenv("POLYDESK_MIN_TIME_TO_RESOLUTION_SECS", '{"copy": 60, "default": 10}')
    monkeypatch.setenv("POLYDESK_DAILY_RESET_UTC", "13:30")
    s = RiskSettings(_env_file=None)
    assert not s.dry_run and s.max_trade_size_usd == D("12.5") and s.reset_minute_of_day() == 810
    assert s.min_secs_to_resolution("copy") == 60 and s.min_secs_to_resolution("other") == 10


def test_a_bad_reset_time_is_refused(monkeypatch):
    monkeypatch.setenv("POLYDESK_DAILY_RESET_UTC", "24:00")
    with pytest.raises(ValueError):
        RiskSettings(_env_file=None)


def test_risk_names_are_its_own():
    own = set(RiskSettings.model_fields) - set(ServiceSettings.model_fields)
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        if module_name == "services.risk.config":
            continue
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        shared = own & (set(cls.model_fields) - set(ServiceSettings.model_fields))
        # The Data API, the RPC and the geoblock URL are one setting per venue endpoint, shared on purpose.
        assert shared <= {"data_api_url", "rpc_url", "geoblock_url"}, (target, shared)
