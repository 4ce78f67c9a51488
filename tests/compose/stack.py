"""The compose project under test: compose commands, code run inside its containers, and what they report."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ("ingest", "strategy", "risk", "executor")
OPEN_STATUSES = {"LIVE", "DELAYED", "UNMATCHED"}  # the paper exchange's own statuses of a resting order

# Inside paper-exchange: every order and trade of the exchange (its admin API, not published on the host).
EXCHANGE_STATE = """
import json, urllib.request as u
get = lambda path: json.load(u.urlopen('http://127.0.0.1:8900/_paper/' + path, timeout=10))
print(json.dumps({'orders': get('orders'), 'trades': get('trades')}))
"""
# Inside executor: its own records (read-only), which order hash it posted for which approval and phase.
EXECUTOR_RECORDS = """
import json, sqlite3
db = sqlite3.connect('file:/data/state/executor.sqlite?mode=ro', uri=True)
rows = db.execute('SELECT order_hash, client_order_id, phase, status, posts FROM orders').fetchall()
print(json.dumps([dict(zip(('order_hash', 'client_order_id', 'phase', 'status', 'posts'), r)) for r in rows]))
"""


class Failed(Exception):
    """Raised by a check that will not get better by waiting."""


def eventually(check: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """The first truthy result of `check` within `timeout` seconds (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except Failed:
            raise
        except Exception as error:  # noqa: BLE001 - not ready yet; the last one is reported
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})"[:2000])
        time.sleep(interval)


@dataclass
class Stack:
    compose: list[str]  # the compose command
    project: str
    env_files: list[Path]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        files = [arg for path in self.env_files for arg in ("--env-file", str(path))]
        return [*self.compose, "-p", self.project, "--project-directory", str(ROOT), *files, *args]

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        with self.log.open("a") as out:
            out.write(f"$ {' '.join(self.command(*args))}\n")
        result = subprocess.run(self.command(*args), check=False, cwd=ROOT, capture_output=True, text=True,
                                timeout=timeout)
        with self.log.open("a") as out:
            out.write(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def python(self, service: str, code: str, *, check: bool = True) -> subprocess.CompletedProcess:
        """Run `code` with the image's python inside the running container of `service`, as that service."""
        return self.run("exec", "-T", service, "python", "-c", code, timeout=60, check=check)

    def json(self, service: str, code: str) -> Any:
        return json.loads(self.python(service, code).stdout)

    def container(self, service: str) -> dict:
        """`docker inspect` of the service's container."""
        ids = self.run("ps", "-a", "-q", service).stdout.split()
        if len(ids) != 1:
            raise AssertionError(f"{service}: {len(ids)} containers")
        return json.loads(subprocess.run(["docker", "inspect", ids[0]], capture_output=True, text=True,
                                         check=True).stdout)[0]

    def project_containers(self) -> list[str]:
        out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={self.project}"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()

    def exchange(self) -> dict:
        return self.json("paper-exchange", EXCHANGE_STATE)

    def executor_records(self) -> list[dict]:
        return self.json("executor", EXECUTOR_RECORDS)


def http_json(url: str, auth: tuple[str, str] | None = None) -> Any:
    request = urllib.request.Request(url)
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wallet_orders(state: dict, wallet: str) -> list[dict]:
    return [o for o in state["orders"] if not o["internal"] and o["maker_address"].lower() == wallet.lower()]


def wallet_trades(state: dict, wallet: str) -> list[dict]:
    def ours(trade: dict) -> bool:
        makers = [m.get("maker_address", "") for m in trade.get("maker_orders", [])]
        return any(a.lower() == wallet.lower() for a in [trade["maker_address"], *makers])

    return [t for t in state["trades"] if ours(t)]
