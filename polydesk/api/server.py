"""`polydesk api`: serve the control API on POLYDESK_API_HOST:POLYDESK_API_PORT (127.0.0.1:8910 by default)
until Ctrl-C or SIGTERM. A non-loopback address needs POLYDESK_API_TOKEN; on loopback without one, a token is
generated into <state_dir>/api-token (0600). Clients send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

import uvicorn

from polydesk.api.app import ApiContext, build_app
from polydesk.api.auth import resolve_token, token_file
from polydesk.api.settings import ApiSettings
from polydesk.common import cli_redis
from services.risk.config import RiskSettings
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.logging import EventLog, register_secret, setup_console
from shared.redis_conn import connect
from shared.streams import Bus


def listen(host: str, port: int) -> socket.socket:
    """A bound listening socket; ConfigurationError naming the setting when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigurationError(
            f"POLYDESK_API_PORT: cannot listen on {host}:{port} ({error.strerror or error})"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(settings: ApiSettings, sock: socket.socket, token: str) -> int:
    if settings.redis_password:
        register_secret(settings.redis_password)
    try:
        risk: RiskSettings | None = load_settings(RiskSettings)
        risk_error = ""
    except ConfigurationError as error:
        risk, risk_error = None, str(error)
    client = connect(*cli_redis(settings))
    events = EventLog(settings.log_dir, "api")
    ctx = ApiContext(
        settings, Bus(client, prefix=settings.stream_prefix, producer="api"), events, risk, risk_error
    )
    config = uvicorn.Config(build_app(ctx, token), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    events.emit("api_started", host=host, port=port)
    try:
        await server.serve(sockets=[sock])
    finally:
        await client.aclose()
        events.emit("api_stopped")
        events.close()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk api", description=__doc__)
    parser.parse_args(argv)
    try:
        settings = load_settings(ApiSettings)
        token = resolve_token(settings)
        sock = listen(settings.api_host, settings.api_port)
    except ConfigurationError as error:
        print(f"polydesk api: {error}", file=sys.stderr)
        return 2
    setup_console("api", settings.log_level)
    host, port = sock.getsockname()[:2]
    where = "POLYDESK_API_TOKEN" if settings.api_token is not None else str(token_file(settings))
    print(f"polydesk api: listening on http://{host}:{port} (bearer token: {where})", flush=True)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again under the handler it found:
    # with Python's default for SIGTERM the process would die by it (and `up` would count a failed stop).
    signal.signal(signal.SIGTERM, lambda *_: None)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(settings, sock, token))
    return 0
