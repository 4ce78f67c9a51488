"""Paper mode of `polydesk up`: the local exchange with its default scenario, a funded wallet, and the
settings that point every layer at it.

The paper exchange keeps its state in memory, so it is not restarted when it dies: `polydesk up` stops
instead (a restarted exchange would have forgotten every order). The executor's key is generated once
and kept in `<state_dir>/paper/executor.key` (mode 0600); only its file name travels in the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from eth_account import Account

from polydesk.paper_live import LiveVenue
from shared.errors import ConfigurationError

LISTENING = re.compile(r"paper exchange listening on (\S+)")
VENUE_URL_NAMES = (
    "POLYDESK_CLOB_URL",
    "POLYDESK_MARKET_WS_URL",
    "POLYDESK_USER_WS_URL",
    "POLYDESK_GAMMA_URL",
    "POLYDESK_DATA_API_URL",
    "POLYDESK_RPC_URL",
)


def venue_is_configured(environ: dict[str, str]) -> bool:
    """True when the user pointed polydesk at a venue (then `up` starts no paper exchange)."""
    return any(environ.get(name) for name in VENUE_URL_NAMES)


@dataclass
class PaperVenue:
    """A running paper exchange child and what the services need to use it."""

    process: subprocess.Popen[str]
    url: str
    wallet: str
    key_file: Path
    whales: list[str] = field(default_factory=list)
    mirrors: LiveVenue | None = None  # paper trading on live books: the venue whose books it copies

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def env(self) -> dict[str, str]:
        """Settings for every layer: venue URLs, the wallet, whom to copy; paper defaults the user can override."""
        return paper_env(self.url, self.wallet, self.key_file, self.whales)

    def alive(self) -> bool:
        return self.process.poll() is None

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/_paper", timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def paper_env(url: str, wallet: str, key_file: Path, whales: list[str] | None = None) -> dict[str, str]:
    """What the services get in paper mode: the venue URLs on the exchange at `url`, the wallet, its key file,
    whom to copy; plus paper defaults that a setting of the user's (environment or `.env`) overrides."""
    from polydesk.preflight import effective_environ

    ws = url.replace("http://", "ws://", 1)
    venue = {
        "POLYDESK_CLOB_URL": url,
        "POLYDESK_MARKET_WS_URL": f"{ws}/ws/market",
        "POLYDESK_USER_WS_URL": ws,
        "POLYDESK_GAMMA_URL": f"{url}/gamma",
        "POLYDESK_DATA_API_URL": f"{url}/data-api",
        "POLYDESK_RPC_URL": f"{url}/rpc",
        "POLYDESK_GEOBLOCK_URL": f"{url}/api/geoblock",
        "POLYDESK_PRIVATE_KEY_FILE": str(key_file),
        "POLYDESK_WALLET_ADDRESS": wallet,
        "POLYDESK_ACCOUNT_WALLET": wallet,
        "POLYDESK_RECONCILE_WALLET_ADDRESS": wallet,
    }
    # No real money moves on the paper exchange, so paper mode trades unless the user says otherwise.
    defaults = {
        "POLYDESK_DRY_RUN": "false",
        "POLYDESK_STRATEGIES": "copy,arbitrage" if whales else "arbitrage",
    }
    if whales:
        defaults["POLYDESK_WATCHED_WALLETS"] = ",".join(whales)
        defaults["POLYDESK_COPY_WALLETS"] = ",".join(whales)
    users = effective_environ()
    return {**{k: v for k, v in defaults.items() if k not in users}, **venue}


def paper_key(state_dir: Path) -> tuple[Path, str]:
    """The paper wallet's key file (created on first use, 0600) and its address."""
    path = Path(state_dir).resolve() / "paper" / "executor.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Account.create().key.hex())
    key = path.read_text().strip()
    return path, Account.from_key(key).address


def start_paper_exchange(
    state_dir: Path,
    *,
    port: int,
    scenario: str,
    seed: int | None,
    speed: float,
    collateral_usd: str,
    settlement_delay_secs: float | None = None,
    log_path: Path | None = None,
    wait_secs: float = 30.0,
    mirror: LiveVenue | None = None,
) -> PaperVenue:
    """Start `python -m paperexchange` with its admin API on loopback, fund our wallet, read the whales.
    With `mirror`, the exchange is that venue's shadow (its markets and books, no scenario)."""
    args = [sys.executable, "-m", "paperexchange", "--host", "127.0.0.1", "--port", str(port), "--admin"]
    if mirror is not None:
        args += ["--scenario", "none", "--no-default-markets", *mirror.exchange_args()]
    else:
        args += ["--scenario", scenario, "--speed", str(speed)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if settlement_delay_secs is not None:  # the fast setting; unset: live-like settlement timings
        args += ["--settlement-delay-secs", str(settlement_delay_secs)]
    log_start = log_path.stat().st_size if log_path and log_path.is_file() else 0
    stderr = open(log_path, "ab") if log_path else None  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
    if stderr is not None:
        stderr.close()  # the child holds its own copy
    url = _wait_listening(process, wait_secs, (log_path, log_start) if log_path else None)
    key_file, wallet = paper_key(state_dir)
    venue = PaperVenue(process, url, wallet, key_file, mirrors=mirror)
    try:
        with venue.admin() as admin:
            admin.post(
                "/fund", json={"address": wallet, "collateral": collateral_usd, "tokens": {}, "approve": True}
            ).raise_for_status()
            scenario_info = admin.get("/scenario")
            if scenario_info.status_code == 200:
                venue.whales = [
                    w["address"] for w in scenario_info.json().get("wallets", []) if w.get("whale")
                ]
    except httpx.HTTPError as error:
        venue.stop()
        raise ConfigurationError(f"the paper exchange did not fund the paper wallet: {error}") from None
    return venue


def _wait_listening(
    process: subprocess.Popen[str], wait_secs: float, log: tuple[Path, int] | None = None
) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + wait_secs
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = LISTENING.search(line)
        if match:
            return match.group(1)
    process.kill()
    process.wait()
    said = _last_line(*log) if log else ""
    if said:  # e.g. the venue to mirror could not be read: its own one-line reason
        raise ConfigurationError(f"the paper exchange did not start: {said}")
    raise ConfigurationError("the paper exchange did not start (is its port free? see POLYDESK_PAPER_PORT)")


def _last_line(log_path: Path, start: int) -> str:
    """The last line this start of the paper exchange wrote to its log, when it is its own error message."""
    if not log_path.is_file():
        return ""
    with open(log_path, "rb") as handle:
        handle.seek(start)
        lines = handle.read().decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    return (
        last.removeprefix("polydesk paper-exchange: ") if last.startswith("polydesk paper-exchange: ") else ""
    )
