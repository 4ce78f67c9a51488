"""`polydesk up`: Redis, the paper exchange (unless a venue is configured), and the four services under one
supervisor, with the live dashboard; Ctrl-C stops everything gracefully.

With no venue settings it runs in paper mode, isolated: its own password-protected embedded Redis and free
ports (unless POLYDESK_REDIS_URL, POLYDESK_EMBEDDED_REDIS_PORT, POLYDESK_PAPER_PORT or the metrics ports say
otherwise), its state in a folder of its own under <state_dir>/runs/ (--fresh removes earlier runs first).
Pointed at Polymarket itself with `POLYDESK_DRY_RUN=false`, it says loudly that it is trading live.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import runpy
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from polydesk import run_summary
from polydesk.api.auth import TOKEN_FILE
from polydesk.api.settings import ApiSettings
from polydesk.dashboard import supervised_key
from polydesk.paper_live import LiveVenue, live_venue
from polydesk.paper_mode import PaperVenue, paper_env, paper_key, start_paper_exchange, venue_is_configured
from polydesk.preflight import check_layers, effective_environ, port_is_free
from polydesk.runs import RunDir, clear_runs, new_run, write_private
from polydesk.settings import SERVICES, UpSettings
from polydesk.supervisor import Supervisor
from services.notifier.config import NotifierSettings
from shared import acl, topology
from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError
from shared.logging import EventLog, register_secret, setup_console
from shared.mode import DRY_RUN, LIVE, PAPER, is_production, trading_mode, venue_name
from shared.redis_conn import EmbeddedRedis, connect, connect_sync, free_port, resolve_redis, start_embedded
from shared.streams import FILLS, Bus

log = logging.getLogger("polydesk.up")

# Paper mode's venue URL and its scenario's whales are known only once the exchange runs; settings are
# checked before that, with these in their place.
PLACEHOLDER_PAPER_URL = "http://127.0.0.1:1"
PLACEHOLDER_WHALE = "0x" + "0" * 39 + "1"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="polydesk up", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="run headless for this many seconds, then stop and print a summary",
    )
    parser.add_argument("--no-dash", action="store_true", help="no dashboard: service logs on the console")
    parser.add_argument(
        "--paper-live",
        action="store_true",
        help="paper trading on live books: the paper exchange mirrors the configured venue's markets and "
        "books (POLYDESK_GAMMA_URL, POLYDESK_MARKET_WS_URL; unset: Polymarket); also POLYDESK_PAPER_LIVE",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="paper mode: remove earlier paper runs' folders and the paper wallet first",
    )
    return parser.parse_args(argv)


def child_env(
    redis_url: str | None,
    slot: str,
    extra: dict[str, str],
    metrics_port: int | None = None,
) -> dict[str, str]:
    env = {**os.environ, **extra}
    if redis_url is not None:
        env["POLYDESK_REDIS_URL"] = redis_url
    env["POLYDESK_INSTANCE"] = slot
    env.pop("POLYDESK_METRICS_PORT", None)  # unless given, each service keeps its own default port
    if metrics_port is not None:
        env["POLYDESK_METRICS_PORT"] = str(metrics_port)
    return env


def announce_mode(paper: PaperVenue | None, layers: dict[str, ServiceSettings]) -> str:
    """The one line that says where orders go, from the settings risk and the executor will load (the same
    environment and `.env`); loud when real money can move."""
    risk, executor = layers.get("risk"), layers.get("executor")
    dry_run = getattr(risk, "dry_run", None)
    clob = getattr(executor, "clob_url", None)
    mode = trading_mode(dry_run, None if executor is None else is_production(clob))
    if paper is not None and paper.mirrors is not None and mode == PAPER:
        return (
            f"PAPER mode on live books: orders go to the local paper exchange at {paper.url} (wallet "
            f"{paper.wallet}), which mirrors the markets and books of {venue_name(paper.mirrors.clob_url)} "
            f"({paper.mirrors.market_ws_url}); nothing is sent to that venue"
        )
    if paper is not None and mode == PAPER:
        return f"PAPER mode: orders go to the local paper exchange at {paper.url} (wallet {paper.wallet})"
    if paper is not None and mode == DRY_RUN:
        return f"DRY RUN on the local paper exchange at {paper.url}: decisions are logged, no order is sent"
    if mode == LIVE:
        bar = "!" * 78
        return f"{bar}\n!!  LIVE TRADING on Polymarket ({clob}): real money.\n{bar}"
    if mode == DRY_RUN:
        return (
            f"DRY RUN on {venue_name(clob)}: decisions are logged, no order is sent "
            "(POLYDESK_DRY_RUN=false to trade)"
        )
    if mode == PAPER:
        return f"PAPER mode: orders are sent to {clob}"
    return f"mode UNKNOWN: risk or the executor is not run by this `up` (venue {venue_name(clob)})"


def runs_paper(settings: UpSettings) -> bool:
    """Paper mode: no venue configured, or paper trading on live books (the venue settings name the venue
    to mirror, not where orders go)."""
    return settings.paper_live or not venue_is_configured(effective_environ())


def mirrored_venue(settings: UpSettings) -> LiveVenue | None:
    """With paper trading on live books, the venue mirrored (ConfigurationError naming a bad setting)."""
    return live_venue(effective_environ()) if settings.paper_live else None


def metrics_ports(settings: UpSettings, paper: bool) -> dict[str, int | None]:
    """Each service's /metrics port: base+i when POLYDESK_UP_METRICS_PORT_BASE is set; in paper mode a free
    port each unless POLYDESK_METRICS_PORT says otherwise (two paper runs never collide); else the
    services' defaults (None)."""
    base = settings.up_metrics_port_base
    if base is not None:
        return {name: base + SERVICES.index(name) for name in settings.up_services}
    if paper and "POLYDESK_METRICS_PORT" not in effective_environ():
        return {name: free_port() for name in settings.up_services}
    return dict.fromkeys(settings.up_services)


def up_services_env(
    settings: UpSettings,
    redis_url: str | None,
    extra: dict[str, str],
    ports: dict[str, int | None] | None = None,
) -> dict[str, dict[str, str]]:
    """The environment each service gets."""
    ports = ports or metrics_ports(settings, paper=False)
    return {
        name: child_env(redis_url, topology.up_instance(name), extra, ports.get(name))
        for name in settings.up_services
    }


def preflight(
    settings: UpSettings,
    ports: dict[str, int | None] | None = None,
) -> tuple[dict[str, ServiceSettings], tuple[Path, str] | None]:
    """Every layer's settings checked before anything starts; in paper mode the paper wallet's key file
    (created once, 0600) and address. Raises ConfigurationError (one line, the setting named)."""
    key = None
    extra: dict[str, str] = {}
    mirrored_venue(settings)
    if runs_paper(settings):
        key = paper_key(settings.state_dir)
        extra = paper_env(PLACEHOLDER_PAPER_URL, key[1], key[0], [PLACEHOLDER_WHALE])
    layers = check_layers(up_services_env(settings, settings.redis_url, extra, ports))
    return layers, key


async def run_up(
    settings: UpSettings,
    args: argparse.Namespace,
    layers: dict[str, ServiceSettings] | None = None,
    ports: dict[str, int | None] | None = None,
) -> int:
    paper_mode = runs_paper(settings)
    ports = ports or metrics_ports(settings, paper_mode)
    if layers is None:
        layers, _ = preflight(settings, ports)
    with contextlib.ExitStack() as started:  # whatever started is stopped, also when a later start fails
        service_logs = Path(settings.log_dir) / "services"
        if not paper_mode:
            url, embedded = resolve_redis(
                settings.redis_url,
                settings.redis_password_value(),
                settings.state_dir,
                embedded_only=settings.redis_embedded,
                embedded_port=settings.embedded_redis_port,
            )
            if embedded:
                started.callback(embedded.stop)
            return await _supervise(settings, args, url, embedded, None, layers, ports, {}, None, {})
        run = new_run(settings.state_dir)
        started.callback(run.release)
        url, embedded, password, extra = _paper_redis(settings, run)
        if embedded:
            started.callback(embedded.stop)
        users: dict[str, dict[str, str]] = {}
        if embedded and "POLYDESK_REDIS_PASSWORD_FILE" in extra:  # our own server, our own password
            users = redis_users(run, url, password, settings.stream_prefix)
        service_logs.mkdir(parents=True, exist_ok=True)
        paper = start_paper_exchange(
            settings.state_dir,
            port=settings.paper_port if "paper_port" in settings.model_fields_set else 0,
            scenario=settings.paper_scenario,
            seed=settings.paper_seed,
            speed=settings.paper_speed,
            collateral_usd=settings.paper_collateral_usd,
            settlement_delay_secs=settings.paper_settlement_delay_secs,
            log_path=service_logs / "paper-exchange.log",
            mirror=mirrored_venue(settings),
        )
        started.callback(paper.stop)
        cli = users.get("cli", {})
        run.describe(
            redis_url=url,
            redis_username=cli.get("POLYDESK_REDIS_USERNAME"),
            redis_password_file=cli.get(
                "POLYDESK_REDIS_PASSWORD_FILE", extra.get("POLYDESK_REDIS_PASSWORD_FILE")
            ),
            paper_exchange_url=paper.url,
            metrics_ports=ports,
            stream_prefix=settings.stream_prefix,
        )
        return await _supervise(settings, args, url, embedded, paper, layers, ports, extra, password, users)
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


def _paper_redis(
    settings: UpSettings, run: RunDir
) -> tuple[str, EmbeddedRedis | None, str | None, dict[str, str]]:
    """Paper mode's Redis: the one POLYDESK_REDIS_URL names, else the run's own embedded one on a free port
    (POLYDESK_EMBEDDED_REDIS_PORT to fix it), password-protected: POLYDESK_REDIS_PASSWORD, else a generated
    one in the run's folder (0600) that the services read through POLYDESK_REDIS_PASSWORD_FILE.

    Returns (url, embedded server or None, password, settings for the services)."""
    extra = {"POLYDESK_STATE_DIR": str(run.path)}
    password = settings.redis_password_value()
    if settings.redis_url:
        url, _ = resolve_redis(settings.redis_url, password, run.path)
        return url, None, password, extra
    if password is None:
        password_file = run.redis_password_file()
        password = password_file.read_text()
        register_secret(password)
        extra["POLYDESK_REDIS_PASSWORD_FILE"] = str(password_file)
    port = settings.embedded_redis_port if "embedded_redis_port" in settings.model_fields_set else 0
    embedded = start_embedded(run.redis_dir, port, password=password)
    return embedded.url, embedded, password, extra


def redis_users(run: RunDir, url: str, admin_password: str | None, prefix: str) -> dict[str, dict[str, str]]:
    """One ACL user per service and `cli` on the run's own Redis (shared/acl.py), each with a generated
    password in the run's folder (0600); returns each user's settings (username, password file)."""
    users_dir = run.redis_dir / "users"
    passwords: dict[str, str] = {}
    env: dict[str, dict[str, str]] = {}
    for user in acl.users():
        passwords[user.name] = secrets.token_urlsafe(24)
        register_secret(passwords[user.name])
        write_private(users_dir / user.name, passwords[user.name])
        env[user.name] = {
            "POLYDESK_REDIS_USERNAME": user.name,
            "POLYDESK_REDIS_PASSWORD_FILE": str(users_dir / user.name),
        }
    admin = connect_sync(url, admin_password)
    try:
        acl.apply(admin, prefix, passwords)
    finally:
        admin.close()
    return env


async def _supervise(
    settings: UpSettings,
    args: argparse.Namespace,
    url: str,
    embedded: EmbeddedRedis | None,
    paper: PaperVenue | None,
    layers: dict[str, ServiceSettings],
    ports: dict[str, int | None],
    extra: dict[str, str],
    password: str | None,
    users: dict[str, dict[str, str]],
) -> int:
    events = EventLog(settings.log_dir, "up")
    dashboard = args.duration is None and not args.no_dash and sys.stdout.isatty()
    service_logs = Path(settings.log_dir) / "services"
    service_logs.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(
        events,
        settings.restart_backoff_base_secs,
        settings.restart_backoff_max_secs,
        settings.restart_reset_after_secs,
        max_failures_in_a_row=settings.restart_max_failures,
    )
    for name, env in up_services_env(
        settings, url, {**(paper.env() if paper else {}), **extra}, ports
    ).items():
        supervisor.add_service(name, {**env, **users.get(name, {})})
    api_line = _add_api(supervisor, settings, url, paper, extra, users)
    if load_settings(NotifierSettings).configured:  # Telegram or a webhook is set: tell a person
        metrics_port = free_port() if paper is not None else None
        env = child_env(url, "local-notifier", {**(paper.env() if paper else {}), **extra}, metrics_port)
        supervisor.add_service("notifier", {**env, **users.get("notifier", {})})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(announce_mode(paper, layers), flush=True)
    print(
        f"polydesk: Redis at {'embedded ' if embedded else ''}{url.split('@')[-1]}; running "
        f"{', '.join(settings.up_services)}; {'Ctrl-C stops' if args.duration is None else f'{args.duration:.0f}s'}",
        flush=True,
    )
    if api_line:
        print(api_line, flush=True)
    events.emit(
        "up_started",
        mode=("paper-live" if paper.mirrors else "paper") if paper else "venue",
        mirrored_venue=paper.mirrors.market_ws_url if paper and paper.mirrors else None,
        services=list(settings.up_services),
        duration_secs=args.duration,
        paper_exchange_pid=paper.process.pid if paper else None,
        paper_exchange_url=paper.url if paper else None,
        embedded_redis_pid=embedded.process.pid if embedded else None,
    )
    started = time.monotonic()
    since_id = f"{int(time.time() * 1000)}-0"  # Redis may hold earlier runs' entries: count only this run's
    client = connect(url, password if paper else settings.redis_password_value())
    bus = Bus(client, prefix=settings.stream_prefix)
    try:
        await supervisor.start(log_dir=service_logs if dashboard else None)
        await _run_until_stopped(
            stop,
            args.duration,
            paper,
            bus if dashboard else None,
            supervisor,
            status_bus=bus,
            ledger=_ledger_path(layers, extra.get("POLYDESK_STATE_DIR")),
        )
        last_risk = await _risk_status(bus)
        print("polydesk: stopping (the executor cancels its open orders)...", flush=True)
        codes = await supervisor.stop(
            settings.shutdown_grace_secs + 5,
            before=lambda name: _drained_fills(bus) if name == "risk" else _nothing(),
        )
        summary = await _summary(
            bus, since_id, paper, supervisor, codes, last_risk, time.monotonic() - started
        )
        reconciliation = await run_summary.reconcile_run(layers, paper, extra.get("POLYDESK_STATE_DIR"))
        summary.update(run_summary.summary_fields(reconciliation))
        summary_path = run_summary.write(Path(settings.log_dir), summary, reconciliation)
    finally:
        await client.aclose()
    for name, child in supervisor.children.items():
        if child.gave_up:
            print(
                f"polydesk up: {name} failed {child.failures_in_a_row} times in a row; gave up. "
                f"Last error: {child.last_error or 'none printed'}",
                file=sys.stderr,
                flush=True,
            )
    _print_summary(summary)
    for line in run_summary.difference_lines(summary):
        print(f"polydesk up: {line}", flush=True)
    print(f"polydesk up: run summary with the ledger/venue reconciliation in {summary_path}", flush=True)
    events.emit("up_stopped", **summary, run_summary=str(summary_path))
    events.close()
    clean = all(code == 0 for code in codes.values()) and not summary.get("open_orders_left")
    return 0 if clean and not supervisor.gave_up.is_set() else 1


def check_api(api: ApiSettings, paper_mode: bool) -> None:
    """A bad API setting or a taken port stops `up` now, rather than crash-looping the API child until the
    supervisor gives up on it (and stops the services with it)."""
    if api.api_port == 0 or (paper_mode and "POLYDESK_API_PORT" not in effective_environ()):
        return  # a free port is taken for it
    if not port_is_free(api.api_host, api.api_port):
        raise ConfigurationError(
            f"POLYDESK_API_PORT: port {api.api_port} on {api.api_host} (the control API) is in use "
            "(set another, or POLYDESK_UP_API=false)"
        )


def _add_api(
    supervisor: Supervisor,
    settings: UpSettings,
    url: str,
    paper: PaperVenue | None,
    extra: dict[str, str],
    users: dict[str, dict[str, str]],
) -> str | None:
    """The control API as a supervised child (with the `cli` Redis user: it sends what the commands send);
    returns the line that says where it listens and where its token is."""
    if not settings.up_api:
        return None
    api = load_settings(ApiSettings)
    port = api.api_port
    if port == 0 or (paper is not None and "POLYDESK_API_PORT" not in effective_environ()):
        port = free_port()  # two paper runs never collide; and `up` must know the port to say it
    env = child_env(url, "local-api", {**(paper.env() if paper else {}), **extra}, None)
    env["POLYDESK_API_PORT"] = str(port)
    supervisor.add_service("api", {**env, **users.get("cli", {})}, module="polydesk.api")
    state_dir = Path(extra.get("POLYDESK_STATE_DIR", settings.state_dir)).resolve()
    token = "POLYDESK_API_TOKEN" if api.api_token is not None else str(state_dir / TOKEN_FILE)
    return f"polydesk: control API at http://{api.api_host}:{port} (bearer token: {token})"


async def _nothing() -> None:
    return None


async def _drained_fills(bus: Bus, timeout_secs: float = 15.0) -> None:
    """Wait (bounded) until risk has applied every report on `fills`: the executor's last fills and
    cancels arrive while it stops, and a ledger that missed them would differ from the venue."""
    deadline = time.monotonic() + timeout_secs
    while time.monotonic() < deadline:
        try:
            groups = {g.group: g for g in await bus.group_stats(FILLS)}
        except (RedisError, OSError):
            return
        risk = groups.get("risk")
        if risk is None or (risk.pending == 0 and risk.lag == 0):
            return
        await asyncio.sleep(0.2)
    log.warning("risk had not applied every fill after %.0fs; stopping it anyway", timeout_secs)


async def _run_until_stopped(
    stop: asyncio.Event,
    duration: float | None,
    paper: PaperVenue | None,
    dashboard_bus: Bus | None,
    supervisor: Supervisor | None = None,
    status_bus: Bus | None = None,
    ledger: Path | None = None,
) -> None:
    async def watch_paper() -> None:
        while paper is not None and not stop.is_set():
            if not paper.alive():
                log.error("the paper exchange exited; stopping (its state is gone, a restart would not help)")
                stop.set()
            await asyncio.sleep(0.5)

    async def watch_supervisor() -> None:
        if supervisor is not None:
            await supervisor.gave_up.wait()
            log.error("a service kept failing; stopping (see its last error below)")
            stop.set()

    async def publish_supervised() -> None:
        """The supervisor's view (state, restarts, last error per service) for `polydesk dash` elsewhere."""
        while status_bus is not None and supervisor is not None and not stop.is_set():
            with contextlib.suppress(Exception):
                await status_bus.redis.set(
                    supervised_key(status_bus.prefix), json.dumps(supervisor.status()), px=5000
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    tasks = [
        asyncio.create_task(watch_paper()),
        asyncio.create_task(watch_supervisor()),
        asyncio.create_task(publish_supervised()),
    ]
    if dashboard_bus is not None:
        from polydesk.dashboard import run_dashboard

        tasks.append(
            asyncio.create_task(
                run_dashboard(
                    dashboard_bus,
                    stop,
                    supervised=supervisor.status if supervisor else None,
                    ledger_path=ledger,
                )
            )
        )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration)
    stop.set()
    tasks[1].cancel()  # the supervisor watch waits for a give-up that will not come now
    await asyncio.gather(*tasks, return_exceptions=True)


def _ledger_path(layers: dict[str, ServiceSettings], state_dir: str | None) -> Path | None:
    """Risk's ledger file, for the dashboard's positions and cash (None: unknown, shown as such)."""
    try:
        return run_summary.ledger_path(run_summary.risk_settings(layers), state_dir)
    except ConfigurationError:
        return None


async def _risk_status(bus: Bus) -> dict[str, Any]:
    from polydesk.dashboard import collect

    with contextlib.suppress(Exception):
        return (await collect(bus)).risk_status
    return {}


async def _summary(
    bus: Bus,
    since_id: str,
    paper: PaperVenue | None,
    supervisor: Supervisor,
    codes: dict[str, int | None],
    risk: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    from shared.messages import (
        ApprovedBasket,
        ApprovedOrder,
        BasketIntent,
        Fill,
        OrderIntent,
        OrderStatus,
        OrderUpdate,
        TradeStatus,
    )

    ACCEPTED = {OrderStatus.LIVE, OrderStatus.DELAYED, OrderStatus.MATCHED}

    async def this_run(stream: str) -> list[Any]:
        return [m for _, m in await bus.history(stream, after=since_id, count=1_000_000)]

    fills, intents, approved = (
        await this_run(FILLS),
        await this_run("intents"),
        await this_run("approved_orders"),
    )
    summary: dict[str, Any] = {
        "elapsed_secs": round(elapsed, 1),
        "restarts": {name: child.restarts for name, child in supervisor.children.items()},
        "exit_codes": codes,
        "intents": sum(1 for m in intents if isinstance(m, OrderIntent)),
        "approved_orders": sum(1 for m in approved if isinstance(m, ApprovedOrder)),
        # Baskets are one intent and one approval for all their legs (each leg is an order of its own).
        "basket_intents": sum(1 for m in intents if isinstance(m, BasketIntent)),
        "approved_baskets": sum(1 for m in approved if isinstance(m, ApprovedBasket)),
        # Orders the venue took: an accepted status, or a fill (a FOK/FAK partly filled and killed at once is
        # reported CANCELED with its fills; counted by status alone, it read 7 beside 8 exchange orders).
        "orders_accepted": len(
            {m.order_id for m in fills if isinstance(m, OrderUpdate) and m.order_id and m.status in ACCEPTED}
            | {m.order_id for m in fills if isinstance(m, Fill) and m.order_id}
        ),
        "trades_confirmed": len(
            {m.trade_id for m in fills if isinstance(m, Fill) and m.status == TradeStatus.CONFIRMED}
        ),
        # PnL is not taken from risk's last health report here: that was published before the last fills, and
        # the summary showed it beside the ledger's final figures (realized_pnl, unrealized_pnl) disagreeing.
        "kill_switch": _kill_switch_text(risk.get("kill_switch")),
    }
    if paper is not None and paper.alive():
        with paper.admin() as admin, contextlib.suppress(Exception):
            ours = [
                o
                for o in admin.get("/orders").json()
                if str(o.get("maker_address", "")).lower() == paper.wallet.lower()
            ]
            summary["exchange_orders"] = len(ours)
            summary["open_orders_left"] = sum(
                1 for o in ours if str(o.get("status", "")).upper() in {"LIVE", "OPEN"}
            )
    return summary


def _kill_switch_text(status: Any) -> str:
    if isinstance(status, dict):
        return f"ON: {status.get('reason')}" if status.get("active") else "off"
    return "unknown"


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"polydesk ran {summary['elapsed_secs']}s")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key != "elapsed_secs":
            shown = len(value) if isinstance(value, list) and key != "venue_errors" else value
            table.add_row(key.replace("_", " "), str(shown))
    Console().print(table)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    try:
        settings = load_settings(UpSettings, **({"paper_live": True} if args.paper_live else {}))
        if settings.redis_password:
            register_secret(settings.redis_password)
        paper_mode = runs_paper(settings)
        if args.fresh and paper_mode:
            _, busy = clear_runs(settings.state_dir)
            if busy:
                raise ConfigurationError(f"--fresh: a paper run is still going in {busy[0]}; stop it first")
        ports = metrics_ports(settings, paper_mode)
        layers, _ = preflight(settings, ports)
        if settings.up_api:
            check_api(load_settings(ApiSettings), paper_mode)
        load_settings(NotifierSettings)
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2
    setup_console("up", settings.log_level)
    try:
        return asyncio.run(run_up(settings, args, layers, ports))
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2


def run_service_main(argv: list[str]) -> int:
    """`polydesk run <service>`: one service in the foreground, through its own `__main__` wiring."""
    runnable = (*SERVICES, "notifier")
    if len(argv) != 1 or argv[0] not in runnable:
        print(f"usage: polydesk run {{{','.join(runnable)}}}", file=sys.stderr)
        return 2
    try:
        runpy.run_module(f"services.{argv[0]}", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
