"""`polydesk config` prints no credential: the API key is redacted like the API secret and passphrase."""

from __future__ import annotations

import json

from polydesk import config_cmd
from services.executor.config import ExecutorSettings
from shared.config import load_settings, redacted

API_KEY = "5e1c7a0e-0c3b-4d1e-9f2a-apikey-scan-01"


def test_polydesk_config_redacts_the_api_key(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("POLYDESK_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("POLYDESK_API_KEY", API_KEY)
    monkeypatch.setenv("POLYDESK_API_SECRET", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXg=")
    monkeypatch.setenv("POLYDESK_API_PASSPHRASE", "passphrase-scan-0123456789")
    assert config_cmd.main(["--layer", "executor"]) == 0
    out = capsys.readouterr().out
    assert API_KEY not in out
    executor = json.loads(out)["executor"]
    assert executor["api_key"] == executor["api_secret"] == executor["api_passphrase"] == "**********"


def test_the_api_key_may_come_from_a_file_and_unset_stays_none(monkeypatch, tmp_path):
    monkeypatch.delenv("POLYDESK_API_KEY", raising=False)
    assert redacted(load_settings(ExecutorSettings, _env_file=None))["api_key"] is None
    path = tmp_path / "api_key"
    path.write_text(API_KEY + "\n")
    monkeypatch.setenv("POLYDESK_API_KEY_FILE", str(path))
    settings = load_settings(ExecutorSettings, _env_file=None)
    assert settings.api_key == API_KEY and redacted(settings)["api_key"] == "**********"
