"""`polydesk config --describe` and `.env.example` come from the settings classes' own descriptions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from polydesk import config_cmd
from shared.config import EXTRA_KNOWN_NAMES, known_setting_names, load_settings
from shared.config_docs import setting_docs, settings_classes

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
SECRET_VALUES = {
    "POLYDESK_PRIVATE_KEY": PRIVATE_KEY,
    "POLYDESK_REDIS_PASSWORD": "redis-pass-describe-0123",
    "POLYDESK_API_KEY": "5e1c7a0e-describe-api-key",
    "POLYDESK_API_SECRET": "c2VjcmV0LWRlc2NyaWJlLXNlY3JldA==",
    "POLYDESK_API_PASSPHRASE": "passphrase-describe-0123",
}
_ASSIGNMENT = re.compile(r"^#? ?(POLYDESK_[A-Z0-9_]+)=(.*)$", re.MULTILINE)


def test_env_example_is_current():
    expected = config_cmd.env_example()
    actual = (ROOT / ".env.example").read_text()
    assert actual == expected, "stale .env.example: run `polydesk config --env-example > .env.example`"


def test_every_setting_has_a_description():
    missing = [
        f"{cls.__name__}.{name}"
        for _, cls in settings_classes()
        for name, field in cls.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing


def test_describe_lists_every_setting_with_type_default_unit_and_meaning(capsys):
    assert config_cmd.main(["--describe"]) == 0
    out = capsys.readouterr().out
    declared = {n for n in known_setting_names() - EXTRA_KNOWN_NAMES if not n.endswith("_FILE")}
    listed = set(re.findall(r"^  (POLYDESK_[A-Z0-9_]+)  ", out, re.MULTILINE))
    assert listed == declared
    lines = out.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("  POLYDESK_MAX_DAILY_LOSS_USD  ")))
    assert lines[at] == "  POLYDESK_MAX_DAILY_LOSS_USD  decimal > 0  default: 100  [USD]"
    assert "trips the switch" in lines[at + 1]
    assert "  POLYDESK_DRY_RUN  true|false  default: true" in lines
    assert "  POLYDESK_OPEN_ORDERS_ON_START  one of adopt|cancel  default: adopt" in lines
    assert any(line.startswith("  POLYDESK_HEALTH_TTL_SECS  number > 0  default: 15.0  [seconds]") for line in lines)


def test_describe_one_layer(capsys):
    assert config_cmd.main(["--describe", "--layer", "risk"]) == 0
    out = capsys.readouterr().out
    assert "POLYDESK_DRY_RUN" in out and "POLYDESK_PRIVATE_KEY" not in out and "POLYDESK_SHARDS" not in out


@pytest.mark.parametrize("flag", ["--describe", "--env-example"])
def test_secrets_show_as_secret_never_a_value(flag, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("POLYDESK_ENV_FILE", str(tmp_path / "none.env"))
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    assert config_cmd.main([flag]) == 0
    out = capsys.readouterr().out
    assert not [name for name, value in SECRET_VALUES.items() if value in out]
    docs = {d.env_name: d for d in setting_docs()}
    assert all(docs[name].secret and docs[name].type_text.startswith("secret") for name in SECRET_VALUES)
    for name in SECRET_VALUES:
        assert f"{name}_FILE" in out


def test_every_default_in_env_example_loads_as_that_default(monkeypatch):
    """Uncommenting a line of .env.example changes nothing for the layer it is written for (a name several
    layers read is written at the first, with its default): each value is spelt as .env takes it."""
    assignments = dict(_ASSIGNMENT.findall((ROOT / ".env.example").read_text()))
    assert set(assignments) == {d.env_name for d in setting_docs()}
    written_for: dict[str, str] = {}
    for doc in setting_docs():
        written_for.setdefault(doc.env_name, doc.layer)
    for name, value in assignments.items():
        if value:
            monkeypatch.setenv(name, value)
    checked = 0
    for layer, cls in settings_classes():
        loaded, defaults = load_settings(cls, _env_file=None), cls.model_construct()
        for name in cls.model_fields:
            env_name = f"POLYDESK_{name.upper()}"
            if assignments.get(env_name) and written_for[env_name] == layer:
                assert getattr(loaded, name) == getattr(defaults, name), env_name
                checked += 1
    assert checked > 100
