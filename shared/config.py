"""Settings: typed, frozen, prefix `POLYDESK_`, `.env` support; a typo fails at start naming the field.

Each layer's settings class (services/<layer>/config.py) extends `ServiceSettings`. Because all layers
read one environment (and one `.env`), an unknown `POLYDESK_*` name is one that *no* layer declares;
`load_settings` checks against the union of every layer's fields. A secret may also come from a file
named by `POLYDESK_<NAME>_FILE` (Docker secrets), and is held as `SecretStr` so it never prints.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, overload

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigurationError

ENV_PREFIX = "POLYDESK_"

# Every settings module, so the unknown-name check knows every layer's fields. Data, not imports:
# shared/ never imports a service at module load.
SETTINGS_CLASSES: tuple[str, ...] = (
    "shared.config:ServiceSettings",
    "services.ingest.config:IngestSettings",
    "services.strategy.config:StrategySettings",
    "services.risk.config:RiskSettings",
    "services.executor.config:ExecutorSettings",
    "polydesk.settings:UpSettings",
    "polydesk.api.settings:ApiSettings",
    "services.notifier.config:NotifierSettings",
)

# Names used by tooling around polydesk rather than by a settings class: the .env location, and the Redis
# the test suite uses (tests/conftest.py). A developer who exports the latter must still be able to start
# the services (and the tests start them as subprocesses with that environment).
EXTRA_KNOWN_NAMES = frozenset({"POLYDESK_ENV_FILE", "POLYDESK_TEST_REDIS_URL"})

DEFAULT_METRICS_PORTS = {"ingest": 9101, "strategy": 9102, "risk": 9103, "executor": 9104, "notifier": 9105}

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SHARD_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@overload
def url_with_scheme(value: str, schemes: tuple[str, ...]) -> str: ...
@overload
def url_with_scheme(value: None, schemes: tuple[str, ...]) -> None: ...
def url_with_scheme(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """`value` when it is a URL with one of `schemes` and a host; else ValueError (naming the schemes, not
    quoting the value: a URL may carry a password)."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - parsing is the check
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not (parts.hostname or parts.scheme == "unix"):
        raise ValueError(f"must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
    return value.strip()


# The validators keep None as None and a value as a value: the overloads tell the type checker so.
@overload
def http_url(value: str) -> str: ...
@overload
def http_url(value: None) -> None: ...
def http_url(value: str | None) -> str | None:
    return url_with_scheme(value, ("http", "https"))


@overload
def ws_url(value: str) -> str: ...
@overload
def ws_url(value: None) -> None: ...
def ws_url(value: str | None) -> str | None:
    return url_with_scheme(value, ("ws", "wss"))


@overload
def wallet_address(value: str) -> str: ...
@overload
def wallet_address(value: None) -> None: ...
def wallet_address(value: str | None) -> str | None:
    """An EVM address: 0x and 40 hex digits."""
    if value is None:
        return None
    if not _ADDRESS.match(value.strip()):
        raise ValueError("must be an address: 0x followed by 40 hex digits")
    return value.strip()


class ServiceSettings(BaseSettings):
    """Settings every service shares: Redis, bus, logs, metrics, identity."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=os.environ.get("POLYDESK_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        # Each layer sees the others' names in the shared environment and .env; the union check in
        # load_settings() is what rejects a name no layer declares.
        extra="ignore",
        frozen=True,
        case_sensitive=False,
    )
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("redis_password",)

    redis_url: str | None = Field(
        default=None,
        description="Redis URL; unset: the machine's 127.0.0.1:6379 if it answers, else embedded",
    )
    redis_password: SecretStr | None = Field(
        default=None, description="Redis password (kept out of the URL so it never prints)"
    )
    redis_username: str | None = Field(
        default=None,
        description="Redis ACL user (polydesk up gives each service its own); unset: default user",
    )
    stream_prefix: str = Field(default="polydesk:", description="prefix of every Redis key polydesk writes")
    state_dir: Path = Field(default=Path("state"), description="SQLite files, embedded Redis data")
    log_dir: Path = Field(default=Path("logs"), description="the daily JSONL event log")
    log_level: str = Field(
        default="INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
        description="least severe level written to the console and the JSONL event log",
    )
    metrics_port: int | None = Field(default=None, ge=0, le=65535, description="unset: the service's default")
    metrics_host: str = Field(
        default="127.0.0.1", description="address /metrics listens on (0.0.0.0: every interface)"
    )
    instance: str = Field(
        default_factory=socket.gethostname,
        description="stable consumer name per process slot",
        json_schema_extra={"default_text": "this machine's host name"},
    )
    health_ttl_secs: float = Field(
        default=15.0,
        gt=0,
        description="the health key expires this long after the last beat (beats every third)",
    )
    shutdown_grace_secs: float = Field(
        default=20.0, gt=0, description="on SIGTERM, work in flight gets this long to finish"
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="an entry delivered more often than this goes to <stream>:dead"
    )
    claim_min_idle_ms: int = Field(
        default=30_000,
        ge=10,
        description="an entry pending this long at a silent consumer is claimed by another",
    )
    stream_retain_secs: float = Field(
        default=3600.0, ge=0, description="acknowledged stream entries are kept at least this long"
    )
    sim_clock_path: Path | None = Field(
        default=None,
        description="backtests only (polydesk backtest sets it): read the time from this file, not the clock",
    )
    crash_points_dir: Path | None = Field(
        default=None, description="TEST HOOK ONLY: SIGKILL at the named points listed in <dir>/<service>"
    )
    shards: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("main",), description="market sets; comma list or JSON array"
    )

    @field_validator("shards", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("shards")
    @classmethod
    def _shard_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one market set name")
        if not all(_SHARD_NAME.match(name) for name in value):
            raise ValueError("names may hold only letters, digits, '_', '-' and '.'")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return url_with_scheme(value, ("redis", "rediss", "unix")) if value else None

    @field_validator("metrics_host")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        try:
            socket.getaddrinfo(value, None)
        except (OSError, UnicodeError):
            raise ValueError("must be an IP address or a host name this machine resolves") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in cls.SECRET_FIELDS:
            path = os.environ.get(f"{ENV_PREFIX}{name.upper()}_FILE")
            if path and data.get(name) is None:
                try:
                    data[name] = Path(path).read_text().strip()
                except OSError as error:
                    raise ValueError(
                        f"{name}: cannot read the file named by {ENV_PREFIX}{name.upper()}_FILE "
                        f"({error.strerror})"
                    ) from None
        return data

    def redis_password_value(self) -> str | None:
        """The Redis password in clear, for the client only (never log what this returns)."""
        return self.redis_password.get_secret_value() if self.redis_password else None

    def metrics_port_for(self, service: str) -> int:
        return self.metrics_port if self.metrics_port is not None else DEFAULT_METRICS_PORTS.get(service, 0)


_SettingsT = TypeVar("_SettingsT", bound=BaseSettings)


def parse_list(value: Any) -> Any:
    """A setting that is a list: a JSON array or a comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def mask_url(url: str) -> str:
    """The URL with any password replaced by '****' (so a Redis URL can be printed).

    Split at the last '@' rather than parsed: a password written without URL-encoding ('/', '#', '?' in it)
    ends urllib's authority early, so urllib finds no password there and would print it whole.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:****@{host}" if colon else url


def known_setting_names() -> set[str]:
    """Every `POLYDESK_*` variable some layer declares (including `_FILE` variants of secrets)."""
    names = set(EXTRA_KNOWN_NAMES)
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue  # a layer not built yet declares nothing
        for field_name in cls.model_fields:
            names.add(ENV_PREFIX + field_name.upper())
        for secret in getattr(cls, "SECRET_FIELDS", ()):
            names.add(f"{ENV_PREFIX}{secret.upper()}_FILE")
    return names


def unknown_setting_names(environ: dict[str, str] | None = None, env_file: Path | None = None) -> list[str]:
    """`POLYDESK_*` names in the environment (and `env_file`) that no layer declares, sorted."""
    names = set(os.environ if environ is None else environ)
    if env_file is not None and Path(env_file).is_file():
        names |= {k for k in dotenv_values(env_file) if k}
    known = known_setting_names()
    return sorted(k for k in names if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(cls: type[_SettingsT], **overrides: Any) -> _SettingsT:
    """Build settings from the environment and `.env`; raises ConfigurationError naming each bad field."""
    env_file = overrides.get("_env_file", cls.model_config.get("env_file"))
    unknown = unknown_setting_names(env_file=Path(env_file) if isinstance(env_file, str | Path) else None)
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s): {', '.join(unknown)} (no polydesk layer declares them)"
        )
    try:
        return cls(**overrides)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            field_path = ".".join(str(p) for p in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            if not field_path:  # a check across fields: name them as the user writes them
                message = re.sub(r"\b[a-z][a-z0-9_]*\b", lambda m: _env_name(cls, m.group()), message)
            # Never echo the input: it may be a secret.
            problems.append(f"{ENV_PREFIX}{field_path.upper()}: {message}" if field_path else message)
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


def _env_name(cls: type[BaseSettings], word: str) -> str:
    return ENV_PREFIX + word.upper() if word in cls.model_fields and "_" in word else word


def redacted(settings: BaseSettings) -> dict[str, Any]:
    """The effective settings as plain data, every SecretStr and every SECRET_FIELDS value replaced by
    '**********' (None stays None)."""
    out: dict[str, Any] = {}
    secret_names = set(getattr(type(settings), "SECRET_FIELDS", ()))
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or (name in secret_names and value is not None):
            out[name] = "**********"
        elif isinstance(value, str) and "://" in value:
            out[name] = mask_url(value)
        elif isinstance(value, Path):
            out[name] = str(value)
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
    return out
