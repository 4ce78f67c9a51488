"""The services of a backtest: their own embedded Redis (password-protected) and ingest, strategy, risk and
executor as child processes, exactly the modules `polydesk up` runs, pointed at the backtest's paper
exchange and reading the tape's time from the shared clock file (shared/clock.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from polydesk.paper_mode import paper_env
from polydesk.preflight import effective_environ
from polydesk.runs import write_private
from polydesk.settings import SERVICES
from polydesk.supervisor import Supervisor
from shared.logging import EventLog, register_secret
from shared.redis_conn import EmbeddedRedis, connect, free_port, start_embedded
from shared.streams import Bus

PREFIX = "polydesk:"
STOP_GRACE_SECS = 5.0
NEVER_SECS = 10**9
# Settings that say where and who (venue, wallet, credentials, Redis, files, ports) are the backtest's own;
# the user's others (strategy and risk parameters) apply to the backtest as they would live.
NOT_INHERITED = (
    "URL",
    "PRIVATE_KEY",
    "API_",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "REDIS",
    "WALLET",
    "FUNDER",
    "SIGNATURE",
    "STATE_DIR",
    "LOG_DIR",
    "DB_PATH",
    "METRICS",
    "INSTANCE",
    "DRY_RUN",
    "CHAIN",
    "ENV_FILE",
    "STREAM_PREFIX",
)


@dataclass
class Wallet:
    key_file: Path
    address: str


def backtest_wallet(run_dir: Path, seed: int) -> Wallet:
    """A wallet of its own per backtest, derived from the seed (nothing real is ever held by it)."""
    key = "0x" + keccak(text=f"polydesk backtest wallet {seed}").hex()
    path = run_dir / "executor.key"
    write_private(path, key)
    return Wallet(path, Account.from_key(key).address)


@dataclass
class Pipeline:
    run_dir: Path
    venue_url: str
    wallet: Wallet
    clock_file: Path
    strategies: str | None
    settings_env: dict[str, str] = field(default_factory=dict)  # extra POLYDESK_* for every service
    redis: EmbeddedRedis | None = None
    supervisors: list[Supervisor] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    bus: Bus | None = None
    _password: str = ""

    def start_redis(self) -> None:
        self._password = secrets.token_urlsafe(24)
        register_secret(self._password)
        write_private(self.run_dir / "redis.password", self._password)
        self.redis = start_embedded(self.run_dir / "redis", free_port(), password=self._password)
        self.bus = Bus(connect(self.redis.url, self._password), prefix=PREFIX)

    def service_env(self, name: str) -> dict[str, str]:
        assert self.redis is not None
        env = {
            k: v
            for k, v in effective_environ().items()
            if not k.startswith("POLYDESK_") or not any(part in k for part in NOT_INHERITED)
        }
        env.update(paper_env(self.venue_url, self.wallet.address, self.wallet.key_file))
        env.update(
            {
                "POLYDESK_ENV_FILE": str(self.run_dir / "no.env"),  # its values are in `env` already
                "POLYDESK_REDIS_URL": self.redis.url,
                "POLYDESK_REDIS_PASSWORD_FILE": str(self.run_dir / "redis.password"),
                "POLYDESK_STATE_DIR": str(self.run_dir / "state"),
                "POLYDESK_LOG_DIR": str(self.run_dir / "logs"),
                "POLYDESK_INSTANCE": f"backtest-{name}",
                "POLYDESK_METRICS_PORT": str(self.metrics_ports[name]),
                "POLYDESK_SIM_CLOCK_PATH": str(self.clock_file),
                "POLYDESK_DRY_RUN": "false",
                **({"POLYDESK_STRATEGIES": self.strategies} if self.strategies else {}),
                "POLYDESK_LOG_LEVEL": "WARNING",
                # The machine-clock safety nets that would report at moments the tape does not decide:
                # the executor's REST gap fill (the paper user channel loses nothing) and risk's periodic
                # venue comparison (it runs on start).
                "POLYDESK_RECONCILE_INTERVAL_SECS": str(NEVER_SECS),
                "POLYDESK_RISK_RECONCILE_INTERVAL_SECS": "0",
            }
        )
        env.update(self.settings_env)
        return env

    async def start_services(self, names: tuple[str, ...]) -> None:
        """Start some services (under a supervisor of their own, so later ones can start after them)."""
        if not self.metrics_ports:
            self.metrics_ports = {name: free_port() for name in SERVICES}
        events = EventLog(self.run_dir / "logs", "backtest")
        supervisor = Supervisor(events, max_failures_in_a_row=3)
        for name in names:
            supervisor.add_service(name, self.service_env(name))
        (self.run_dir / "logs" / "services").mkdir(parents=True, exist_ok=True)
        await supervisor.start(log_dir=self.run_dir / "logs" / "services")
        self.supervisors.append(supervisor)

    def gave_up(self) -> bool:
        return any(supervisor.gave_up.is_set() for supervisor in self.supervisors)

    def last_errors(self) -> str:
        return "; ".join(
            f"{name}: {status['last_error']}"
            for supervisor in self.supervisors
            for name, status in supervisor.status().items()
            if status.get("last_error")
        )

    async def stop(self) -> None:
        # The run is over and collected: every service stops at once (no order to keep between them).
        for supervisor in reversed(self.supervisors):
            await supervisor.stop(STOP_GRACE_SECS, order=(tuple(SERVICES),))
        if self.bus is not None:
            await self.bus.redis.aclose()
        if self.redis is not None:
            self.redis.stop()
