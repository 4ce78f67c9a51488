"""Every Prometheus metric polydesk exports, declared once (namespace `polydesk`), and the /metrics server.

Label sets are fixed and bounded: streams, groups, services, rules, statuses. Never an order id or a
token id. Grafana panels and alert rules read only the names declared here (a test checks that).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

NAMESPACE = "polydesk"

# Latency buckets from 50 us to 10 s: a bus hop is ~0.1 ms, a venue round trip ~100 ms.
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)

# ---- every service -------------------------------------------------------------------------------------
SERVICE_UP = Gauge("service_up", "1 while the service runs its main loop", ["service"], namespace=NAMESPACE)
SERVICE_STARTED = Gauge(
    "service_start_time_seconds", "Unix time the service started", ["service"], namespace=NAMESPACE
)
MESSAGES_PUBLISHED = Counter(
    "messages_published", "Entries written to a stream", ["stream"], namespace=NAMESPACE
)
MESSAGES_CONSUMED = Counter(
    "messages_consumed",
    "Entries finished by a consumer group, by outcome (ok, dead_lettered, lost_ownership)",
    ["stream", "group", "outcome"],
    namespace=NAMESPACE,
)
HANDLER_SECONDS = Histogram(
    "handler_seconds", "Time a handler took for one entry", ["stream", "group"],
    namespace=NAMESPACE, buckets=LATENCY_BUCKETS,
)
ENTRIES_RECLAIMED = Counter(
    "entries_reclaimed", "Entries taken over with XAUTOCLAIM", ["stream", "group"], namespace=NAMESPACE
)
STREAM_LAG = Gauge(
    "stream_lag_entries", "Entries not yet delivered to a group", ["stream", "group"], namespace=NAMESPACE
)
STREAM_PENDING = Gauge(
    "stream_pending_entries", "Entries delivered to a group and not yet acknowledged", ["stream", "group"],
    namespace=NAMESPACE,
)
STREAM_LENGTH = Gauge("stream_length_entries", "Entries held in a stream", ["stream"], namespace=NAMESPACE)
HOP_LATENCY_SECONDS = Histogram(
    "hop_latency_seconds",
    "From a message's creation to its handling by the next stage, by hop (e.g. events->strategy)",
    ["hop"], namespace=NAMESPACE, buckets=LATENCY_BUCKETS,
)
TICK_TO_ORDER_SECONDS = Histogram(
    "tick_to_order_seconds", "From the source event (book change) to the order post, end to end",
    namespace=NAMESPACE, buckets=LATENCY_BUCKETS,
)


# ---- strategy ------------------------------------------------------------------------------------------
STRATEGY_SIGNALS_SEEN = Counter(
    "strategy_signals_seen", "Triggers a strategy considered (leader trades, book changes, verdicts)",
    ["strategy"], namespace=NAMESPACE,
)
INTENTS_EMITTED = Counter(
    "intents_emitted", "Order and cancel intents emitted, by strategy and reason kind (the text before ':')",
    ["strategy", "reason_kind"], namespace=NAMESPACE,
)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[None]:
    """Observe the duration of the with-block on `histogram` (with `labels` when it has any)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        target = histogram.labels(**labels) if labels else histogram
        target.observe(time.perf_counter() - started)


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics on `port` from a daemon thread (port 0 picks a free one; used by tests)."""
    start_http_server(port, addr=host, registry=REGISTRY)


def declared_metric_names() -> set[str]:
    """Every sample name this registry can export (counter `_total`, histogram `_bucket`, ...)."""
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - the public API has no listing
        for metric in collector.describe():
            names.add(metric.name)
            for suffix in ("_total", "_created", "_bucket", "_sum", "_count"):
                names.add(metric.name + suffix)
    return {n for n in names if n.startswith(NAMESPACE + "_")}


# ---- risk ----------------------------------------------------------------------------------------------
KILL_SWITCH_ACTIVE = Gauge("kill_switch_active", "1 while the kill switch is on", namespace=NAMESPACE)
DAILY_PNL_USD = Gauge(
    "daily_pnl_usd", "Today's PnL in USD by kind (realized, unrealized), since the daily reset",
    ["kind"], namespace=NAMESPACE,
)
EXPOSURE_USD = Gauge(
    "exposure_usd", "Positions at marks plus own open BUY orders, in USD", namespace=NAMESPACE
)
RISK_DECISIONS = Counter(
    "risk_decisions", "Risk decisions by outcome (approved, rejected, dry_run)", ["outcome"], namespace=NAMESPACE
)
RISK_REJECTIONS = Counter(
    "risk_rejections", "Intents rejected by risk, by the rule that stopped them", ["rule"], namespace=NAMESPACE
)
RISK_DECISION_SECONDS = Histogram(
    "risk_decision_seconds", "Time risk took to decide one intent", namespace=NAMESPACE, buckets=LATENCY_BUCKETS
)
