"""The stream topology, in one place: every stream, who writes it, which consumer groups read it (and which
service each group belongs to), and the message types it carries.

docs/architecture.md's stream table is checked against this (tests/unit/test_topology.py), and so are the
services' own group names and the message registry. `<shard>` stands for each name in POLYDESK_SHARDS.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.streams.base import APPROVED_ORDERS, CONTROL, FILLS, INTENTS, SIGNALS, VERDICTS

SHARD = "<shard>"
CLI = "cli"  # the `polydesk` commands (kill-switch, signal, redeem, approve) and the control API
OUTSIDE = "outside"  # processes outside polydesk (e.g. a forecaster posting verdicts)
# The notifier (services/notifier/) reads fills, control and verdicts in its own group and writes only a
# verdict decision from a Telegram button.


@dataclass(frozen=True)
class StreamSpec:
    name: str  # key after the prefix; `events:<shard>` for the per-shard streams
    producers: tuple[str, ...]
    groups: dict[str, str]  # consumer group -> the service that runs it
    messages: tuple[str, ...]  # message TYPE names (shared/messages.py)
    what: str

    def key(self, shard: str | None = None) -> str:
        return self.name.replace(SHARD, shard) if shard is not None else self.name


MARKET_EVENTS = (
    "market_discovered",
    "market_updated",
    "market_resolved",
    "book_snapshot",
    "book_delta",
    "last_trade",
    "tick_size_changed",
    "book_status",
    "trade_seen",
    "account_state",
)

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        f"events:{SHARD}",
        ("ingest",),
        {f"strategy:{SHARD}": "strategy", "risk-marks": "risk"},
        MARKET_EVENTS,
        "the market as ingest sees it, per market set",
    ),
    StreamSpec(
        SIGNALS,
        (OUTSIDE, CLI, "notifier"),
        {f"strategy:{SHARD}": "strategy"},
        ("external_signal", "verdict_decision"),
        "external verdicts: market, fair probability, source, expiry; a person's approval or rejection of a held one",
    ),
    StreamSpec(
        INTENTS,
        ("strategy",),
        {"risk": "risk"},
        ("order_intent", "basket_intent", "cancel_intent"),
        "order intents, basket intents (all legs or none) and cancel intents with a deterministic signal key",
    ),
    StreamSpec(
        APPROVED_ORDERS,
        ("risk",),
        {"executor": "executor"},
        ("approved_order", "approved_basket", "approved_cancel"),
        "approved (possibly clamped) orders with a price limit; approved baskets; approved cancels",
    ),
    StreamSpec(
        FILLS,
        ("executor", CLI),
        {"risk": "risk", f"strategy:{SHARD}": "strategy", "notifier": "notifier"},
        ("order_update", "fill", "position_redeemed"),
        "order updates and fills with trade status; redemptions",
    ),
    StreamSpec(
        CONTROL,
        ("risk", "ingest", CLI),
        {"executor": "executor", "risk": "risk", "notifier": "notifier"},
        (
            "kill_switch_command",
            "kill_switch_changed",
            "cancel_all_requested",
            "shutdown_notice",
            "tick_size_changed",
        ),
        "kill switch commands and changes, cancel-all requests, shutdown notices, tick size changes",
    ),
    StreamSpec(
        "decisions", ("risk",), {}, ("risk_decision",), "every risk decision, for people and dashboards"
    ),
    StreamSpec(
        VERDICTS,
        ("strategy",),
        {"notifier": "notifier"},
        ("verdict_pending", "verdict_decided"),
        "verdicts held for a person's approval (POLYDESK_VERDICT_APPROVAL=manual) and how each ended",
    ),
)

SERVICES = ("ingest", "strategy", "risk", "executor", "notifier")


def health_key(service: str, instance: str) -> str:
    """A process slot's health key (after the prefix): written by the service, read by `polydesk health`."""
    return f"health:{service}:{instance}"


def up_instance(service: str) -> str:
    """The process slot (POLYDESK_INSTANCE) `polydesk up` runs `service` in."""
    return f"local-{service}"


def health_keys(service: str, instance: str) -> tuple[str, ...]:
    """The health keys (after the prefix) of `service` that a reader in an environment whose process slot is
    `instance` looks for, by name: that slot's (compose, systemd: POLYDESK_INSTANCE, the host name by
    default) and the slot `polydesk up` gives the service. Read by name because the services' Redis users
    may not SCAN (shared/acl.py)."""
    return tuple(dict.fromkeys((health_key(service, instance), health_key(service, up_instance(service)))))


def stream(name: str) -> StreamSpec:
    for spec in STREAMS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def inputs_of(service: str) -> dict[str, tuple[str, ...]]:
    """stream name -> the groups `service` reads it with."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in STREAMS:
        groups = tuple(g for g, owner in spec.groups.items() if owner == service)
        if groups:
            out[spec.name] = groups
    return out


def outputs_of(producer: str) -> tuple[str, ...]:
    """The streams `producer` (a service or `cli`) writes."""
    return tuple(spec.name for spec in STREAMS if producer in spec.producers)
