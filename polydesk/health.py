"""`polydesk health <service> [--instance I]`: exit 0 when that service has a live health key, else 1."""

from __future__ import annotations

import argparse
import json
import sys

from polydesk.common import cli_redis, settings_or_none
from shared.config import ServiceSettings
from shared.lifecycle import health_key
from shared.redis_conn import connect_sync


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk health", description=__doc__)
    parser.add_argument("service")
    parser.add_argument("--instance", default=None, help="one process slot (default: any instance)")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "unhealthy")
    if settings is None:
        return 1
    try:
        client = connect_sync(*cli_redis(settings))
        pattern = health_key(settings.stream_prefix, args.service, args.instance or "*")
        keys = (
            list(client.scan_iter(match=pattern, count=1000))
            if args.instance is None
            else ([pattern] if client.exists(pattern) else [])
        )
        values = [client.get(k) for k in keys]
    except Exception as error:  # noqa: BLE001  (any failure to ask is a failed health check)
        print(f"unhealthy: cannot read health from Redis ({type(error).__name__})", file=sys.stderr)
        return 1
    live = [json.loads(v) for v in values if v]
    if not live:
        print(f"unhealthy: no live {args.service} instance", file=sys.stderr)
        return 1
    print(f"healthy: {args.service} ({', '.join(str(v.get('instance')) for v in live)})")
    return 0
