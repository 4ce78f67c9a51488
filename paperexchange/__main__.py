"""`polydesk paper-exchange` / `python -m paperexchange`: parse flags into Settings and serve."""

from __future__ import annotations

import argparse
import sys

from paperexchange.core.config import Settings


def parse_args(argv: list[str]) -> Settings:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="polydesk paper-exchange", description=__doc__)
    parser.add_argument("--host", default=defaults.host, help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=defaults.port, help="port; 0 picks a free one")
    parser.add_argument("--admin", action="store_true", help="mount the admin API under /_paper")
    parser.add_argument(
        "--settlement-delay-secs",
        type=float,
        default=None,
        help="fast settlement: every trade status step this long (default: live-like, "
        f"MINED after {defaults.mined_delay_secs:g} s, CONFIRMED "
        f"{defaults.confirmed_delay_secs:g} s later)",
    )
    parser.add_argument("--heartbeat-timeout-secs", type=float, default=defaults.heartbeat_timeout_secs)
    parser.add_argument("--no-default-markets", action="store_true", help="with --scenario none: no markets")
    parser.add_argument(
        "--scenario",
        default="default",
        help='scenario file (YAML/JSON) or shipped name; "none" = two static markets, no flow',
    )
    parser.add_argument("--seed", type=int, default=None, help="overrides the scenario's seed")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds of flow per real second")
    parser.add_argument(
        "--record-tape", default=None, metavar="FILE", help="append market-channel frames (JSONL)"
    )
    parser.add_argument("--replay-tape", default=None, metavar="FILE", help="serve this tape on /ws/market")
    parser.add_argument("--replay-speed", type=float, default=1.0)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--geoblock",
        choices=("ok", "blocked", "close_only"),
        default=defaults.geoblock,
        help="what GET /api/geoblock answers (the admin API can change it)",
    )
    mirror = parser.add_argument_group(
        "paper trading on live books", "mirror a venue's markets and books; our orders match against them"
    )
    mirror.add_argument("--mirror-gamma-url", default=None, metavar="URL", help="the venue's Gamma API")
    mirror.add_argument("--mirror-market-ws-url", default=None, metavar="URL", help="its market channel")
    mirror.add_argument("--mirror-condition-ids", default="", help="comma list: these markets only")
    mirror.add_argument("--mirror-slugs", default="", help="comma list of market slugs")
    mirror.add_argument(
        "--mirror-max-markets", type=int, default=defaults.mirror_max_markets, help="biggest 24h volume first"
    )
    args = parser.parse_args(argv)
    if (args.mirror_gamma_url is None) != (args.mirror_market_ws_url is None):
        parser.error("--mirror-gamma-url and --mirror-market-ws-url go together")
    if args.mirror_max_markets < 1:
        parser.error("--mirror-max-markets must be at least 1")
    return Settings(
        host=args.host,
        port=args.port,
        admin=args.admin,
        default_markets=not args.no_default_markets,
        settlement_delay_secs=args.settlement_delay_secs,
        heartbeat_timeout_secs=args.heartbeat_timeout_secs,
        log_level=args.log_level,
        scenario=None if args.scenario == "none" else args.scenario,
        seed=args.seed,
        speed=args.speed,
        record_tape=args.record_tape,
        replay_tape=args.replay_tape,
        replay_speed=args.replay_speed,
        geoblock=args.geoblock,
        mirror_gamma_url=args.mirror_gamma_url,
        mirror_market_ws_url=args.mirror_market_ws_url,
        mirror_condition_ids=_comma_list(args.mirror_condition_ids),
        mirror_slugs=_comma_list(args.mirror_slugs),
        mirror_max_markets=args.mirror_max_markets,
    )


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(list(sys.argv[1:] if argv is None else argv))
    from paperexchange.server import serve
    from paperexchange.sim.live_mirror import MirrorError
    from paperexchange.sim.scenario import ScenarioError

    try:
        serve(settings)
    except (ScenarioError, MirrorError) as exc:
        print(f"polydesk paper-exchange: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
