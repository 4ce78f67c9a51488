"""The secrets scan (issue 10.4): `polydesk up` runs the whole pipeline with known secrets while we provoke
errors, then every trace the run left is searched for every secret in every encoding; none may appear.

Two runs go side by side (one wall-clock window):
  A  "venue": a paper exchange started here, `up` pointed at it as an external venue; the private key in
     POLYDESK_PRIVATE_KEY and API key/secret/passphrase (created for that key on the exchange with the
     official SDK) in POLYDESK_API_*.
  B  paper mode (what `polydesk up` does with no settings): the key in the file named by
     POLYDESK_PRIVATE_KEY_FILE (state/paper/executor.key, seeded with a known key); the executor derives its
     API creds, which we derive too with the same key, so they are known.
Both: an embedded Redis that requires POLYDESK_REDIS_PASSWORD, GRAFANA_ADMIN_PASSWORD in the environment.
Provoked: HTTP 500 on order posts, a malformed entry on `intents` and on `events:main` (dead letters), the
executor SIGKILLed once (restart, adoption of open orders, re-auth).
Searched: every file the runs wrote (logs, state, SQLite and WAL raw bytes, Redis AOF), stdout/stderr of
`up` (headless: the services log to its console) and the paper exchange log, every service's /metrics
(scraped throughout), every Redis key and stream entry (dead letters, health keys, error hashes), the
output of `polydesk dash --once`, `polydesk dead-letters`, `polydesk config`, and every process's argv
(`ps` and /proc/*/cmdline) sampled throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis
from eth_account import Account
from eth_utils.crypto import keccak

from polydesk.paper_mode import start_paper_exchange
from tests.helpers import eventually
from tests.secrets.scan import files_under, find, leaks, needles

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DURATION_SECS = 30.0
SERVICES = ("ingest", "strategy", "risk", "executor")


def _key(label: str) -> str:
    return "0x" + keccak(text=f"polydesk secrets scan {label}").hex()


KEY_A, KEY_B = _key("A"), _key("B")
REDIS_PASSWORD = "rEdis-Pw:scan/7Qz+9%secret"  # ':', '/', '+', '%' so the URL-encoded form differs
GRAFANA_PASSWORD = "Graf-admin-Pw-5cAn-8812"


def _free_port_block(n: int) -> int:
    """A base port with base..base+n-1 free, below the ephemeral range (so no client socket takes one of them
    between this check and the server's bind)."""
    low, _ = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        base = random.randrange(max(1024, low - 12000), low - n)
        sockets = []
        try:
            for port in range(base, base + n):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports")


@dataclass
class Run:
    name: str
    root: Path
    env: dict[str, str]
    secrets: dict[str, str]
    secret_files: set[Path]
    exchange_url: str = ""
    metrics_base: int = 0
    redis_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    captured: dict[str, bytes] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            # The test stops the run itself (SIGTERM, as systemd would) once every command ran against it; the
            # duration is only a backstop, so a slow machine cannot end the run under the commands.
            [sys.executable, "-m", "polydesk", "up", "--duration", str(4 * DURATION_SECS)], cwd=self.root,
            env=self.env,
            stdout=open(self.root / "up.stdout", "wb"), stderr=open(self.root / "up.stderr", "wb"),  # noqa: SIM115
            start_new_session=True)

    def events(self) -> list[dict]:
        out = []
        for path in (self.root / "logs").glob("events-*.jsonl"):
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def started(self, event: str) -> bool:
        return any(e.get("type") == event for e in self.events())

    def redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis_port, password=self.secrets["redis password"], socket_timeout=5)

    def cli(self, *args: str, **extra: str) -> bytes:
        """A `polydesk` command with this run's environment (secrets included); stdout + stderr."""
        # Wide, so that the dashboard truncates no cell (a cut secret would escape the search).
        env = {**self.env, "POLYDESK_REDIS_URL": self.redis_url, "COLUMNS": "400", **extra}
        done = subprocess.run([sys.executable, "-m", "polydesk", *args], cwd=self.root, env=env,
                              capture_output=True, timeout=60, check=False)
        return f"$ polydesk {' '.join(args)} -> {done.returncode}\n".encode() + done.stdout + done.stderr


def _base_env(root: Path, secrets: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYDESK_", "GRAFANA_"))}
    env.update({
        "PYTHONPATH": str(REPO), "POLYDESK_ENV_FILE": str(root / "no.env"),
        "POLYDESK_STATE_DIR": str(root / "state"), "POLYDESK_LOG_DIR": str(root / "logs"),
        "POLYDESK_REDIS_EMBEDDED": "true", "POLYDESK_REDIS_PASSWORD": secrets["redis password"],
        "POLYDESK_LOG_LEVEL": "DEBUG", "GRAFANA_ADMIN_PASSWORD": GRAFANA_PASSWORD,
        "POLYDESK_PAPER_SPEED": "3", "POLYDESK_RECONCILE_INTERVAL_SECS": "2",
        "POLYDESK_RESTART_BACKOFF_BASE_SECS": "0.2",
    })
    return env


def _write_key(path: Path, key: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return path.resolve()


async def _sdk_creds(url: str, key: str) -> tuple[str, str, str]:
    """API creds for `key` on the exchange at `url`, created (or derived) by the official SDK."""
    from polymarket import AsyncSecureClient

    from shared.polymarket.sdk_env import paper_environment

    client = await AsyncSecureClient.create(private_key=key, wallet=Account.from_key(key).address,
                                            environment=paper_environment(url))
    try:
        creds = client.credentials
        return creds.key, creds.secret, creds.passphrase
    finally:
        await client.close()


def _venue_run(tmp: Path) -> tuple[Run, object]:
    root = tmp / "A"
    (root / "logs").mkdir(parents=True)
    venue_key = _write_key(tmp / "A-venue" / "paper" / "executor.key", KEY_A)
    paper = start_paper_exchange(tmp / "A-venue", port=0, scenario="default", seed=7, speed=3.0,
                                 collateral_usd="10000", log_path=root / "logs" / "paper-exchange.log")
    api_key, api_secret, passphrase = asyncio.run(_sdk_creds(paper.url, KEY_A))
    secrets = {"private key": KEY_A, "API secret": api_secret, "API passphrase": passphrase,
               "API key": api_key, "redis password": REDIS_PASSWORD, "grafana password": GRAFANA_PASSWORD}
    env = _base_env(root, secrets)
    env.update({k: v for k, v in paper.env().items() if k != "POLYDESK_PRIVATE_KEY_FILE"})
    env.update({"POLYDESK_PRIVATE_KEY": KEY_A, "POLYDESK_API_KEY": api_key, "POLYDESK_API_SECRET": api_secret,
                "POLYDESK_API_PASSPHRASE": passphrase})
    run = Run("A", root, env, secrets, {venue_key}, exchange_url=paper.url)
    return run, paper


def _paper_run(tmp: Path) -> Run:
    root = tmp / "B"
    (root / "logs").mkdir(parents=True)
    key_file = _write_key(root / "state" / "paper" / "executor.key", KEY_B)
    secrets = {"private key": KEY_B, "redis password": REDIS_PASSWORD + "-B", "grafana password": GRAFANA_PASSWORD}
    env = _base_env(root, secrets)
    env["POLYDESK_PAPER_PORT"] = "0"
    env["POLYDESK_PAPER_SEED"] = "7"
    return Run("B", root, env, secrets, {key_file})


def _paper_url(run: Run) -> str:
    text = (run.root / "up.stdout").read_text(errors="replace")
    marker = "orders go to the local paper exchange at "
    return text.split(marker, 1)[1].split()[0] if marker in text else ""


def _argv_of_every_process() -> bytes:
    lines = [subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, check=False).stdout]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ") + b"\n")
    return b"".join(lines)


def _scrape(run: Run) -> bytes:
    out = []
    for i, service in enumerate(SERVICES):
        with contextlib.suppress(OSError):
            body = urllib.request.urlopen(f"http://127.0.0.1:{run.metrics_base + i}/metrics", timeout=3).read()
            out.append(f"# {service}\n".encode() + body)
    return b"".join(out)


def _redis_dump(run: Run) -> bytes:
    """Every key name and value under the embedded Redis, read by type (not DUMP, which may compress)."""
    client = run.redis()
    out: list[bytes] = []
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            out.append(b"KEY " + key + b" " + kind.encode())
            if kind == "string":
                out.append(client.get(key) or b"")
            elif kind == "hash":
                out += [k + b"=" + v for k, v in client.hgetall(key).items()]
            elif kind == "list":
                out += client.lrange(key, 0, -1)
            elif kind == "set":
                out += list(client.smembers(key))
            elif kind == "zset":
                out += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                for entry_id, fields in client.xrange(key):
                    out.append(entry_id + b" " + b" ".join(k + b"=" + v for k, v in fields.items()))
                with contextlib.suppress(redis.ResponseError):
                    for group in client.xinfo_groups(key):
                        out.append(repr(group).encode())
    finally:
        client.close()
    return b"\n".join(out)


def _provoke(run: Run) -> None:
    """Errors, so that exception texts exist: 500s on order posts, malformed entries, a killed executor."""
    if run.exchange_url:
        httpx.post(f"{run.exchange_url}/_paper/faults/http", timeout=5,
                   json={"status": 500, "paths": ["/order", "/orders"], "methods": ["POST"], "count": 4})
    client = run.redis()
    try:
        client.xadd("polydesk:intents", {"type": "order_intent", "v": "1", "data": b"{not json"})
        client.xadd("polydesk:events:main", {"type": "book", "v": "99", "data": b"\xff\xfe"})
    finally:
        client.close()


def _kill_executor(run: Run) -> bool:
    spawned = [e for e in run.events() if e.get("type") == "service_spawned" and e.get("child") == "executor"]
    if not spawned:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(spawned[-1]["pid"], signal.SIGKILL)
    return True


@pytest.mark.serial
@pytest.mark.timeout(150)
def test_no_secret_leaves_a_pipeline_run(tmp_path):
    runs: list[Run] = []
    paper = None
    try:
        run_a, paper = _venue_run(tmp_path)
        run_b = _paper_run(tmp_path)
        runs = [run_a, run_b]
        ports = _free_port_block(2 * (len(SERVICES) + 1))
        for i, run in enumerate(runs):
            run.metrics_base = ports + i * (len(SERVICES) + 1)
            run.redis_port = run.metrics_base + len(SERVICES)
            run.env["POLYDESK_UP_METRICS_PORT_BASE"] = str(run.metrics_base)
            run.env["POLYDESK_EMBEDDED_REDIS_PORT"] = str(run.redis_port)
            run.start()
        started = time.monotonic()
        for run in runs:
            eventually(lambda run=run: run.started("executor_started") or run.process.poll() is not None,
                       timeout=40, interval=0.2)
            assert run.process.poll() is None, (run.root / "up.stderr").read_text()
        # The embedded Redis requires the password: unauthenticated clients are refused.
        for run in runs:
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(host="127.0.0.1", port=run.redis_port, socket_timeout=3).ping()
        run_b.exchange_url = _paper_url(run_b)
        assert run_b.exchange_url
        # B's executor created its API creds from its key file: derive the same ones, so they are known too.
        key_b, secret_b, passphrase_b = asyncio.run(_sdk_creds(run_b.exchange_url, KEY_B))
        run_b.secrets.update({"API key": key_b, "API secret": secret_b, "API passphrase": passphrase_b})

        argv, metrics = [], {run.name: [] for run in runs}
        for run in runs:
            _provoke(run)
        for run in runs:
            assert _kill_executor(run)
        while True:
            argv.append(_argv_of_every_process())
            for run in runs:
                metrics[run.name].append(_scrape(run))
            if time.monotonic() - started > DURATION_SECS - 12 and len(argv) >= 3:
                break
            time.sleep(1.0)
        commands: dict[tuple[str, str], tuple[str, ...] | tuple[tuple[str, ...], dict[str, str]]] = {}
        for run in runs:
            run.captured["redis (live, every key)"] = _redis_dump(run)
            run.captured["metrics"] = b"\n".join(metrics[run.name])
            url_with_password = f"redis://:{quote(run.secrets['redis password'], safe='')}@127.0.0.1:{run.redis_port}/0"
            commands[(run.name, "polydesk dash --once")] = (("dash", "--once"), {})
            commands[(run.name, "polydesk dash --once (password in URL)")] = (
                ("dash", "--once"), {"POLYDESK_REDIS_URL": url_with_password})
            commands[(run.name, "polydesk dead-letters intents")] = (("dead-letters", "intents"), {})
            commands[(run.name, "polydesk dead-letters events:main")] = (("dead-letters", "events:main"), {})
            commands[(run.name, "polydesk config")] = (("config",), {})
            commands[(run.name, "polydesk config (password in URL)")] = (
                ("config",), {"POLYDESK_REDIS_URL": url_with_password})
        by_name = {run.name: run for run in runs}
        with ThreadPoolExecutor(len(commands)) as pool:
            futures = {key: pool.submit(by_name[key[0]].cli, *args, **extra)
                       for key, (args, extra) in commands.items()}
            for (name, what), future in futures.items():
                by_name[name].captured[what] = future.result()
        for run in runs:
            assert run.process.poll() is None, f"run {run.name} ended before the commands were run against it"
            run.process.send_signal(signal.SIGTERM)  # up stops its services in order, as on a duration's end
        for run in runs:
            run.process.wait(timeout=60)
        argv.append(_argv_of_every_process())
    finally:
        for run in runs:
            if run.process and run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGTERM)
                run.process.wait(timeout=30)
        if paper is not None:
            paper.stop()

    problems = []
    for run in runs:
        every = [n for name, value in run.secrets.items()
                 for n in needles(name, value, base64_secret=name == "API secret")]
        # The scan can see what it looks for: each secret file holds its secret in the encoding we search.
        for path in run.secret_files:
            assert find(needles("private key", run.secrets["private key"]), path.read_bytes())
            assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        # The embedded Redis's password file: under the run's own folder since paper runs are isolated.
        auth_confs = [path.resolve() for path in (run.root / "state").rglob("auth.conf")]
        assert auth_confs, f"no embedded Redis password file under {run.root / 'state'}"
        for auth_conf in auth_confs:
            assert auth_conf.stat().st_mode & 0o077 == 0 and find(every, auth_conf.read_bytes())
            run.secret_files.add(auth_conf)

        for where, blob in run.captured.items():  # kept for a human reading a failure
            (tmp_path / f"{run.name}-{where.split()[0]}-{abs(hash(where))}.out").write_bytes(blob)
        sources = {f"{run.name}:{where}": blob for where, blob in run.captured.items()}
        sources.update({f"{run.name}:file {where}": blob
                        for where, blob in files_under(run.root, run.secret_files).items()})
        problems += leaks(every, sources)
        problems += leaks(every, {f"argv of a process during run {run.name}": b"\n".join(argv)})

        # The run did what the scan relies on: errors happened and were recorded where we searched.
        events = run.events()
        restarted = [e for e in events if e.get("type") == "service_restarted" and e.get("child") == "executor"]
        assert restarted, f"run {run.name}: the executor was not killed and restarted"
        redis_dump = run.captured["redis (live, every key)"]
        assert b"polydesk:intents:dead" in redis_dump and b"polydesk:events:main:dead" in redis_dump
        assert b"polydesk_service_up" in run.captured["metrics"]
        assert b"executor" in run.captured["polydesk dash --once"]
        assert b"executor" in run.captured["polydesk dash --once (password in URL)"]
        assert b"**********" in run.captured["polydesk config"]
        assert b"decode:" in run.captured["polydesk dead-letters intents"]
        assert any(name.endswith(".sqlite") for name in sources if name.startswith(f"{run.name}:file state/"))
    assert not problems, "secrets leaked:\n" + "\n".join(sorted(set(problems)))


def test_the_needles_find_every_encoding():
    """Positive control of the search: each way a secret could be written out is found."""
    import base64

    key = _key("control")
    digits = key.removeprefix("0x")
    found = lambda n, blob: bool(find(n, blob))
    key_needles = needles("private key", key)
    for blob in (key, digits, digits.upper(), "0X" + digits.upper(), base64.b64encode(bytes.fromhex(digits)).decode()):
        assert found(key_needles, f"xx {blob} yy".encode()), blob
    assert found(key_needles, b"\x00" + bytes.fromhex(digits) + b"\x00")
    secret = base64.urlsafe_b64encode(bytes(range(1, 33))).decode()
    secret_needles = needles("API secret", secret, base64_secret=True)
    for blob in (secret.encode(), secret.rstrip("=").encode(), base64.b64encode(bytes(range(1, 33))),
                 bytes(range(1, 33)), bytes(range(1, 33)).hex().upper().encode(), quote(secret, safe="").encode()):
        assert found(secret_needles, b"<" + blob + b">"), blob
    password_needles = needles("redis password", REDIS_PASSWORD)
    assert found(password_needles, f"redis://:{quote(REDIS_PASSWORD, safe='')}@h".encode())
    assert found(password_needles, base64.b64encode(REDIS_PASSWORD.encode()))
    assert not found(key_needles + secret_needles + password_needles, b"nothing secret here " * 100)
