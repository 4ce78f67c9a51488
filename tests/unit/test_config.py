import importlib
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from shared.config import (
    SETTINGS_CLASSES,
    ServiceSettings,
    load_settings,
    mask_url,
    redacted,
    unknown_setting_names,
)
from shared.errors import ConfigurationError

SECRET_PASSWORD = "s3cr3t-redis-pass-Zq9"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("POLYDESK_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_defaults_load(clean_env):
    settings = load_settings(ServiceSettings)
    assert settings.stream_prefix == "polydesk:" and settings.shards == ("main",)


def test_bad_value_names_the_field_and_hides_the_input(clean_env):
    clean_env.setenv("POLYDESK_HEALTH_TTL_SECS", "-3")
    with pytest.raises(ConfigurationError, match="POLYDESK_HEALTH_TTL_SECS") as info:
        load_settings(ServiceSettings)
    assert "-3" not in str(info.value)


def test_unknown_setting_is_rejected_with_its_name(clean_env):
    clean_env.setenv("POLYDESK_MAX_TRADE_SIZE_UDS", "5")
    with pytest.raises(ConfigurationError, match="POLYDESK_MAX_TRADE_SIZE_UDS"):
        load_settings(ServiceSettings)


def test_a_setting_of_another_layer_is_not_unknown(clean_env, tmp_path):
    assert unknown_setting_names({"POLYDESK_UP_SERVICES": "risk"}) == []
    (tmp_path / ".env").write_text("POLYDESK_UP_SERVICES=risk\n")
    assert load_settings(ServiceSettings, _env_file=tmp_path / ".env").stream_prefix == "polydesk:"


def test_the_test_suites_redis_setting_is_not_unknown_to_any_layer(clean_env):
    clean_env.setenv("POLYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert unknown_setting_names() == []
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        load_settings(getattr(importlib.import_module(module_name), class_name))


def test_unknown_key_in_dotenv_is_rejected(clean_env, tmp_path):
    (tmp_path / ".env").write_text("POLYDESK_SHARDZ=a,b\n")
    with pytest.raises(ConfigurationError, match="POLYDESK_SHARDZ"):
        load_settings(ServiceSettings, _env_file=tmp_path / ".env")


def test_shards_accept_a_comma_list_or_json(clean_env):
    clean_env.setenv("POLYDESK_SHARDS", "politics, sports")
    assert load_settings(ServiceSettings).shards == ("politics", "sports")
    clean_env.setenv("POLYDESK_SHARDS", '["a","b"]')
    assert load_settings(ServiceSettings).shards == ("a", "b")


def test_settings_are_frozen(clean_env):
    settings = load_settings(ServiceSettings)
    with pytest.raises(ValidationError):
        settings.stream_prefix = "x"  # type: ignore[misc]


def test_secret_from_a_file(clean_env, tmp_path):
    path = tmp_path / "redis_password"
    path.write_text(SECRET_PASSWORD + "\n")
    clean_env.setenv("POLYDESK_REDIS_PASSWORD_FILE", str(path))
    settings = load_settings(ServiceSettings)
    assert settings.redis_password.get_secret_value() == SECRET_PASSWORD
    assert SECRET_PASSWORD not in repr(settings) and SECRET_PASSWORD not in str(redacted(settings))


def test_missing_secret_file_is_a_clear_error(clean_env, tmp_path):
    clean_env.setenv("POLYDESK_REDIS_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="POLYDESK_REDIS_PASSWORD: cannot read the file"):
        load_settings(ServiceSettings)


def test_mask_url_hides_password():
    assert mask_url(f"redis://:{SECRET_PASSWORD}@host:6379/0") == "redis://:****@host:6379/0"
    assert mask_url("redis://host:6379/0") == "redis://host:6379/0"


def _polydesk(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "polydesk", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(extra)
    return env


@pytest.mark.processes  # starts polydesk processes: not in make test-fast
def test_polydesk_config_redacts_secrets(tmp_path):
    env = _env(POLYDESK_REDIS_PASSWORD=SECRET_PASSWORD,
               POLYDESK_REDIS_URL=f"redis://:{SECRET_PASSWORD}@127.0.0.1:1/0")
    result = _polydesk(["config"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert SECRET_PASSWORD not in result.stdout + result.stderr
    assert '"redis_password": "**********"' in result.stdout


@pytest.mark.processes  # starts polydesk processes: not in make test-fast
def test_polydesk_config_accepts_the_test_suites_redis_setting(tmp_path):
    result = _polydesk(["config"], _env(POLYDESK_TEST_REDIS_URL="redis://127.0.0.1:6379/0"), tmp_path)
    assert result.returncode == 0 and "unknown setting" not in result.stdout + result.stderr, result.stderr


@pytest.mark.processes  # starts polydesk processes: not in make test-fast
def test_a_service_with_a_bad_setting_fails_at_start_naming_it(tmp_path):
    env = _env(POLYDESK_CLAIM_MIN_IDLE_MS="soon", POLYDESK_REDIS_PASSWORD=SECRET_PASSWORD)
    result = subprocess.run([sys.executable, "-m", "services.risk"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "POLYDESK_CLAIM_MIN_IDLE_MS" in result.stdout + result.stderr
    assert SECRET_PASSWORD not in result.stdout + result.stderr
