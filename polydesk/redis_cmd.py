"""`polydesk redis`: the embedded Redis in the foreground (AOF on, data under the state folder)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError
from shared.redis_conn import EMBEDDED_PORT, start_embedded


class _StopRequested(BaseException):
    """SIGTERM or SIGINT arrived."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk redis", description=__doc__)
    parser.add_argument("--port", type=int, default=EMBEDDED_PORT)
    args = parser.parse_args(argv)
    # A stop asked for while the server starts is held until it answers, then honoured: the server runs in
    # its own session, so dying here by default would leave it running without us.
    asked: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: asked.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: asked.append(signum))
    try:
        settings = load_settings(ServiceSettings)
        server = start_embedded(
            Path(settings.state_dir) / "redis", args.port, password=settings.redis_password_value()
        )
    except ConfigurationError as error:
        print(f"polydesk redis: {error}", file=sys.stderr)
        return 2
    print(f"embedded Redis at {server.url} (data in {server.data_dir}); Ctrl-C stops", flush=True)

    def stop_requested(signum: int, _frame: object) -> None:
        # Stopping from inside the handler would deadlock: the interrupted wait() below holds the lock
        # subprocess needs to reap the server. Unwind instead, and stop it from the main flow.
        raise _StopRequested

    try:
        signal.signal(signal.SIGTERM, stop_requested)
        signal.signal(signal.SIGINT, stop_requested)
        if asked:
            raise _StopRequested
        code = server.process.wait()
    except _StopRequested:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the AOF flush short
        server.stop()
        return 0
    return code
