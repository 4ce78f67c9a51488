"""Checks `polydesk up` makes before it starts anything: every layer's settings, loaded exactly as that
service will load them (the same environment, the same `.env`), and the ports the services will listen on.

A problem is one line naming the setting (`risk: invalid settings: POLYDESK_MAX_DAILY_LOSS_USD: ...`),
raised as ConfigurationError; nothing has been started yet, so nothing needs stopping.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from dotenv import dotenv_values

from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError

LAYER_SETTINGS = {
    "ingest": "services.ingest.config:IngestSettings",
    "strategy": "services.strategy.config:StrategySettings",
    "risk": "services.risk.config:RiskSettings",
    "executor": "services.executor.config:ExecutorSettings",
}


def effective_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a settings class sees: the `.env` file's names, overridden by the process environment."""
    environ = dict(os.environ if environ is None else environ)
    env_file = Path(environ.get("POLYDESK_ENV_FILE", ".env"))
    from_file = (
        {k: v for k, v in dotenv_values(env_file).items() if k and v is not None}
        if env_file.is_file()
        else {}
    )
    return {**from_file, **environ}


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ replaced by `env` for the with-block (settings classes read os.environ)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_class(service: str) -> type[ServiceSettings]:
    module_name, class_name = LAYER_SETTINGS[service].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def load_layer(service: str, env: dict[str, str]) -> ServiceSettings:
    """The settings `service` will load from `env`; ConfigurationError prefixed with the service's name."""
    with _environment(env):
        try:
            settings = load_settings(settings_class(service))
        except ConfigurationError as error:
            raise ConfigurationError(f"{service}: {error}") from None
    if service == "strategy":  # own strategies: an import error or a non-Strategy stops `up` here, named
        from services.strategy.config import StrategySettings
        from services.strategy.engine import build_strategies

        if isinstance(settings, StrategySettings):
            try:
                build_strategies(settings)
            except ConfigurationError as error:
                raise ConfigurationError(f"strategy: {error}") from None
    if service == "executor" and getattr(settings, "private_key", None) is None:
        raise ConfigurationError(
            "executor: POLYDESK_PRIVATE_KEY: required (or POLYDESK_PRIVATE_KEY_FILE naming a "
            "file that holds it)"
        )
    return settings


def check_layers(envs: dict[str, dict[str, str]]) -> dict[str, ServiceSettings]:
    """Every service's settings from the environment it will get; then their metrics ports.

    Raises ConfigurationError on the first problem found (one line, the setting named)."""
    layers = {service: load_layer(service, env) for service, env in envs.items()}
    check_metrics_ports(layers)
    return layers


def check_metrics_ports(layers: dict[str, ServiceSettings]) -> None:
    """Two services on one port, or a port something else holds, would crash-loop a service: say so now."""
    owners: dict[int, str] = {}
    for service, settings in layers.items():
        port = settings.metrics_port_for(service)
        if port == 0:
            continue
        if port in owners:
            raise ConfigurationError(
                f"POLYDESK_METRICS_PORT: {owners[port]} and {service} would both serve /metrics on port {port} "
                "(set POLYDESK_UP_METRICS_PORT_BASE)"
            )
        owners[port] = service
        if not port_is_free(settings.metrics_host, port):
            raise ConfigurationError(
                f"POLYDESK_METRICS_PORT: port {port} on {settings.metrics_host} ({service}'s /metrics) is in use "
                "(set POLYDESK_UP_METRICS_PORT_BASE, or stop what holds it)"
            )


def port_is_free(host: str, port: int) -> bool:
    """True when a listening socket could be bound at host:port now."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError:
        return False
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
        # The same option the /metrics server (http.server) sets, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
