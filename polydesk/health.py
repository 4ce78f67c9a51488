"""`polydesk health <service> [--instance I]`: exit 0 when that service has a live health key, else 1.

The keys are read by name (shared/topology.py: this environment's process slot, POLYDESK_INSTANCE, and the
slot `polydesk up` gives the service), never found by SCAN: a container's healthcheck runs with the
service's own Redis user, which may only GET its own health keys.
"""

from __future__ import annotations

import argparse
import json
import sys

from polydesk.common import cli_redis, settings_or_none
from shared import topology
from shared.config import ServiceSettings
from shared.redis_conn import connect_sync


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk health", description=__doc__)
    parser.add_argument("service", choices=topology.SERVICES)
    parser.add_argument(
        "--instance", default=None, help="one process slot (default: POLYDESK_INSTANCE's, and `up`'s)"
    )
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "unhealthy")
    if settings is None:
        return 1
    if args.instance is not None:
        keys: tuple[str, ...] = (topology.health_key(args.service, args.instance),)
    else:
        keys = topology.health_keys(args.service, settings.instance)
    try:
        client = connect_sync(*cli_redis(settings))
        values = [client.get(settings.stream_prefix + key) for key in keys]
    except Exception as error:  # noqa: BLE001  (any failure to ask is a failed health check)
        print(f"unhealthy: cannot read health from Redis ({type(error).__name__})", file=sys.stderr)
        return 1
    live = [json.loads(v) for v in values if v]
    if not live:
        print(f"unhealthy: no live {args.service} instance", file=sys.stderr)
        return 1
    print(f"healthy: {args.service} ({', '.join(str(v.get('instance')) for v in live)})")
    return 0
