"""`polydesk up`: Redis (found or embedded) and the services under one supervisor; Ctrl-C stops them all."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import time

from polydesk.settings import SERVICES, UpSettings
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.logging import EventLog, register_secret, setup_console
from shared.redis_conn import connect, resolve_redis
from shared.streams import Bus

log = logging.getLogger("polydesk.up")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="polydesk up", description=__doc__)
    parser.add_argument("--duration", type=float, default=None,
                        help="run headless for this many seconds, then stop and print a summary")
    return parser.parse_args(argv)


def child_env(redis_url: str, slot: str) -> dict[str, str]:
    env = dict(os.environ)
    env["POLYDESK_REDIS_URL"] = redis_url
    env["POLYDESK_INSTANCE"] = slot
    env.pop("POLYDESK_METRICS_PORT", None)  # each service keeps its own default port
    return env


async def run_up(settings: UpSettings, duration: float | None) -> int:
    from polydesk.supervisor import Supervisor

    password = settings.redis_password_value()
    url, embedded = resolve_redis(settings.redis_url, password, settings.state_dir)
    events = EventLog(settings.log_dir, "up")
    supervisor = Supervisor(events, settings.restart_backoff_base_secs, settings.restart_backoff_max_secs,
                            settings.restart_reset_after_secs)
    for name in settings.up_services:
        supervisor.add_service(name, child_env(url, f"local-{name}"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    print(f"polydesk: Redis at {'embedded ' if embedded else ''}{url.split('@')[-1]}; "
          f"running {', '.join(settings.up_services)}; Ctrl-C stops", flush=True)
    await supervisor.start()
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration)
    except TimeoutError:
        pass
    print("polydesk: stopping...", flush=True)
    codes = await supervisor.stop(settings.shutdown_grace_secs + 5)
    await _print_summary(settings, url, supervisor, codes, time.monotonic() - started)
    if embedded:
        embedded.stop()
    events.emit("up_stopped", exit_codes=codes)
    events.close()
    return 0 if all(code == 0 for code in codes.values()) else 1


async def _print_summary(settings: UpSettings, url: str, supervisor, codes, elapsed: float) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"polydesk ran {elapsed:.1f}s")
    table.add_column("service")
    table.add_column("restarts", justify="right")
    table.add_column("exit", justify="right")
    for name, child in supervisor.children.items():
        table.add_row(name, str(child.restarts), str(codes.get(name)))
    client = connect(url)
    bus = Bus(client, prefix=settings.stream_prefix)
    try:
        for stream in ("intents", "approved_orders", "fills"):
            table.add_row(f"stream {stream}", "", f"{await bus.length(stream)} entries")
    finally:
        await client.aclose()
    Console(stderr=False).print(table)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    try:
        settings = load_settings(UpSettings)
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2
    setup_console("up", settings.log_level)
    if settings.redis_password:
        register_secret(settings.redis_password)
    try:
        return asyncio.run(run_up(settings, args.duration))
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2


def run_service_main(argv: list[str]) -> int:
    """`polydesk run <service>`: one service in the foreground, as `python -m services.<service>` does."""
    if len(argv) != 1 or argv[0] not in SERVICES:
        print(f"usage: polydesk run {{{','.join(SERVICES)}}}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"services.{argv[0]}.service")
    config = importlib.import_module(f"services.{argv[0]}.config")
    settings_cls = next(getattr(config, n) for n in dir(config) if n.endswith("Settings") and n != "ServiceSettings")
    from shared.lifecycle import service_entry

    return service_entry(argv[0], settings_cls, module.build_main)
