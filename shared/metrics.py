"""Every Prometheus metric polydesk exports, declared once (namespace `polydesk`), and the /metrics server.

Label sets are fixed and bounded: streams, groups, services, rules, statuses. Never an order id or a
token id. Grafana panels and alert rules read only the names declared here (a test checks that).

Each service serves its own registry: the metrics every service keeps plus those `OWNERS` gives it, so no
service exports another's gauge (risk's kill switch exported as 0 by ingest read as "off" in Grafana). An
unlabeled metric exports a sample from the moment it is declared, so each one must have an owner here
(a test checks that); a labeled one exports nothing until a service sets it.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric

NAMESPACE = "polydesk"

# Latency buckets from 50 us to 10 s: a bus hop is ~0.1 ms, a venue round trip ~100 ms.
LATENCY_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
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
DEAD_LETTERS = Counter(
    "dead_letters",
    "Entries and venue payloads moved to a dead-letter stream, by stream and reason (too_large, wrong_type, "
    "invalid, max_deliveries, venue_payload)",
    ["stream", "reason"],
    namespace=NAMESPACE,
)
STRATEGY_ERRORS = Counter(
    "strategy_errors",
    "Events a strategy failed on (its intents for them dropped; the other strategies ran)",
    ["strategy"],
    namespace=NAMESPACE,
)
HANDLER_SECONDS = Histogram(
    "handler_seconds",
    "Time a handler took for one entry",
    ["stream", "group"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
ENTRIES_RECLAIMED = Counter(
    "entries_reclaimed", "Entries taken over with XAUTOCLAIM", ["stream", "group"], namespace=NAMESPACE
)
CONSUMER_REDIS_ERRORS = Counter(
    "consumer_redis_errors",
    "Times a consumer lost Redis and backed off before retrying",
    ["stream", "group"],
    namespace=NAMESPACE,
)
STREAM_LAG = Gauge(
    "stream_lag_entries", "Entries not yet delivered to a group", ["stream", "group"], namespace=NAMESPACE
)
STREAM_PENDING = Gauge(
    "stream_pending_entries",
    "Entries delivered to a group and not yet acknowledged",
    ["stream", "group"],
    namespace=NAMESPACE,
)
PERIODIC_JOB_ERRORS = Counter(
    "periodic_job_errors",
    "Runs of a service's periodic job that failed (logged and backed off)",
    ["service", "job"],
    namespace=NAMESPACE,
)
TASK_DEATHS = Counter(
    "task_deaths",
    "Long-running tasks that died and took their service down (health red, then restart)",
    ["service", "task"],
    namespace=NAMESPACE,
)
STREAM_LENGTH = Gauge("stream_length_entries", "Entries held in a stream", ["stream"], namespace=NAMESPACE)
HOP_LATENCY_SECONDS = Histogram(
    "hop_latency_seconds",
    "From a message's creation to its handling by the next stage, by hop (e.g. events->strategy)",
    ["hop"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
TICK_TO_ORDER_SECONDS = Histogram(
    "tick_to_order_seconds",
    "From the source event (book change) to the order post, end to end",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)


# ---- ingest --------------------------------------------------------------------------------------------
INGEST_FRAMES = Counter(
    "ingest_frames", "Market-channel frames received (rate: frames per second)", namespace=NAMESPACE
)
INGEST_FRAMES_HANDLED = Counter(
    "ingest_frames_handled",
    "Market-channel frames fully handled (applied and published); a backtest steps on when it reaches what was sent",
    namespace=NAMESPACE,
)
INGEST_VENUE_READS_IN_FLIGHT = Gauge(
    "ingest_venue_reads_in_flight",
    "Book resyncs and freshness probes under way (REST reads and what they publish)",
    namespace=NAMESPACE,
)
INGEST_PARSE_ERRORS = Counter(
    "ingest_parse_errors",
    "Venue payloads that could not be decoded, by source (market_ws, gamma, data_api)",
    ["source"],
    namespace=NAMESPACE,
)
INGEST_RECONNECTS = Counter(
    "ingest_ws_reconnects",
    "Market-channel sockets replaced, by kind (stale, frozen_feed, closed, error)",
    ["kind"],
    namespace=NAMESPACE,
)
INGEST_RESYNCS = Counter(
    "ingest_book_resyncs", "Books rebuilt from REST /book, by reason", ["reason"], namespace=NAMESPACE
)
INGEST_STALE_BOOKS = Gauge(
    "ingest_stale_books", "Books reported stale (silent feed, probe failed)", namespace=NAMESPACE
)
INGEST_BOOK_MAX_AGE_SECONDS = Gauge(
    "ingest_book_max_age_seconds",
    "Longest market-data silence of any token (PONGs do not count)",
    namespace=NAMESPACE,
)
INGEST_BOOKS_NOT_VALID = Gauge(
    "ingest_books_not_valid",
    "Books reported not valid (nothing trades on them), by shard and state",
    ["shard", "state"],
    namespace=NAMESPACE,
)
INGEST_DATA_SILENCE_SECONDS = Gauge(
    "ingest_data_silence_seconds",
    "Since a market-channel connection last delivered market data (not PONG)",
    ["connection"],
    namespace=NAMESPACE,
)
INGEST_FRESHNESS_PROBES = Counter(
    "ingest_freshness_probes",
    "REST /book probes of silent tokens, by outcome (quiet, frozen, inconclusive, failed)",
    ["outcome"],
    namespace=NAMESPACE,
)
INGEST_FEED_FROZEN = Counter(
    "ingest_feed_frozen",
    "Market-channel feeds found frozen (silent while the venue's book moved), replaced",
    namespace=NAMESPACE,
)
VENUE_UNEXPECTED = Counter(
    "venue_unexpected",
    "Venue payload parts we do not know (new event type or field), by channel, type, field",
    ["channel", "type", "field"],
    namespace=NAMESPACE,
)
INGEST_PUBLISH_LAG_SECONDS = Histogram(
    "ingest_publish_lag_seconds",
    "From the venue's timestamp (or receipt) to the events being on the bus",
    ["kind"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
INGEST_POLL_ERRORS = Counter(
    "ingest_poll_errors",
    "Failed reads of a venue source (gamma, data_api, rpc, clob_book)",
    ["source"],
    namespace=NAMESPACE,
)
INGEST_RPC_UP = Gauge("ingest_rpc_up", "1 when the last chain read succeeded", namespace=NAMESPACE)
INGEST_TRADES_SEEN = Counter(
    "ingest_trades_seen", "Watched-wallet trades published as trade_seen", namespace=NAMESPACE
)

# ---- strategy ------------------------------------------------------------------------------------------
STRATEGY_SIGNALS_SEEN = Counter(
    "strategy_signals_seen",
    "Triggers a strategy considered (leader trades, book changes, verdicts)",
    ["strategy"],
    namespace=NAMESPACE,
)
INTENTS_EMITTED = Counter(
    "intents_emitted",
    "Order and cancel intents emitted, by strategy and reason kind (the text before ':')",
    ["strategy", "reason_kind"],
    namespace=NAMESPACE,
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


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """Observe each value on a labelled histogram, as `observe` would one by one, in one pass per bucket.

    The consumer observes two latencies per bus entry; one by one they cost about as much as decoding the
    entry. Counting the values per bucket first (bisect: the first bound >= the value, as `observe` picks)
    and adding each count once gives the same buckets, sum and count. Uses the histogram's own bucket and
    sum values (prometheus_client 0.2x keeps them as `_upper_bounds`, `_buckets`, `_sum`); a test compares
    the exposition with observe().
    """
    if not values:
        return
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect_left(bounds, value)] += 1
    histogram._sum.inc(sum(values))
    for index, count in enumerate(counts):
        if count:
            histogram._buckets[index].inc(count)


# Metric name prefixes (after `polydesk_`) -> the services that export them; a name no prefix matches is
# exported by every service.
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ingest_", ("ingest",)),
    ("venue_unexpected", ("ingest", "executor")),
    ("strategy_", ("strategy",)),
    ("intents_emitted", ("strategy",)),
    ("kill_switch_", ("risk",)),
    ("daily_pnl_", ("risk",)),
    ("exposure_", ("risk",)),
    ("max_daily_loss_", ("risk",)),
    ("risk_", ("risk",)),
    ("executor_", ("executor",)),
    ("tick_to_order_", ("executor",)),
    ("ledger_", ("risk", "strategy")),
    ("reconcile_", ("risk", "strategy")),
)


def owners_of(metric_name: str) -> tuple[str, ...] | None:
    """The services that export `metric_name` (None: every service)."""
    short = metric_name.removeprefix(NAMESPACE + "_")
    for prefix, services in OWNERS:
        if short.startswith(prefix):
            return services
    return None


class ServiceView:
    """The process-wide registry as one service exports it: its own metrics and the shared ones (and
    prometheus_client's process and GC metrics)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        for collector in list(REGISTRY._collector_to_names):
            for metric in collector.collect():
                owners = owners_of(metric.name) if metric.name.startswith(NAMESPACE + "_") else None
                if owners is None or self.service in owners:
                    yield metric


def service_registry(service: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceView(service))
    return registry


def serve(port: int, host: str = "127.0.0.1", service: str | None = None) -> None:
    """Serve /metrics on `port` from a daemon thread (port 0 picks a free one; used by tests): `service`'s
    own registry, or the whole process's when None."""
    start_http_server(port, addr=host, registry=REGISTRY if service is None else service_registry(service))


def declared_metric_names() -> set[str]:
    """Every sample name this registry can export (counter `_total`, histogram `_bucket`, ...)."""
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        # prometheus_client's own process/platform/GC collectors have no describe() (and are not ours).
        for metric in getattr(collector, "describe", list)():
            names.add(metric.name)
            for suffix in ("_total", "_created", "_bucket", "_sum", "_count"):
                names.add(metric.name + suffix)
    return {n for n in names if n.startswith(NAMESPACE + "_")}


# ---- risk ----------------------------------------------------------------------------------------------
KILL_SWITCH_ACTIVE = Gauge("kill_switch_active", "1 while the kill switch is on", namespace=NAMESPACE)
RISK_DRY_RUN = Gauge(
    "risk_dry_run",
    "1 while risk dry-runs (nothing reaches the executor), 0 while it approves orders",
    namespace=NAMESPACE,
)
DAILY_PNL_USD = Gauge(
    "daily_pnl_usd",
    "Today's PnL in USD by kind (realized, unrealized), since the daily reset",
    ["kind"],
    namespace=NAMESPACE,
)
EXPOSURE_USD = Gauge(
    "exposure_usd", "Positions at marks plus own open BUY orders, in USD", namespace=NAMESPACE
)
MAX_DAILY_LOSS_USD = Gauge(
    "max_daily_loss_usd",
    "The configured daily loss limit in USD (the kill switch trips below minus this)",
    namespace=NAMESPACE,
)
RISK_DECISIONS = Counter(
    "risk_decisions",
    "Risk decisions by outcome (approved, rejected, dry_run)",
    ["outcome"],
    namespace=NAMESPACE,
)
RISK_REJECTIONS = Counter(
    "risk_rejections",
    "Intents rejected by risk, by the rule that stopped them",
    ["rule"],
    namespace=NAMESPACE,
)
RISK_DECISION_SECONDS = Histogram(
    "risk_decision_seconds",
    "Time risk took to decide one intent",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)

# ---- executor ------------------------------------------------------------------------------------------
EXECUTOR_SUBMIT_SECONDS = Histogram(
    "executor_submit_seconds",
    "One POST of an order batch to the venue, send to answer",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
EXECUTOR_ORDERS = Counter(
    "executor_orders",
    "Orders posted, by outcome (live, matched, delayed, rejected, unknown, not_sent)",
    ["outcome"],
    namespace=NAMESPACE,
)
EXECUTOR_BASKETS = Counter(
    "executor_baskets",
    "Baskets settled, by outcome (complete: every leg filled; unwound: the filled legs sold back)",
    ["outcome"],
    namespace=NAMESPACE,
)
EXECUTOR_BASKET_LEG_SLIPPAGE_BPS = Histogram(
    "executor_basket_leg_slippage_bps",
    "A filled basket leg's price past its target, in bps (0: at the target)",
    namespace=NAMESPACE,
    buckets=(0, 25, 50, 100, 150, 200, 300, 500, 1000),
)
EXECUTOR_BASKET_NAKED_SHARES = Counter(
    "executor_basket_naked_shares",
    "Shares of unwound baskets that could not be sold back within the policy",
    namespace=NAMESPACE,
)
EXECUTOR_UNKNOWN_OUTCOMES = Counter(
    "executor_unknown_outcomes",
    "Orders whose post ended without a definitive answer (then reconciled)",
    namespace=NAMESPACE,
)
EXECUTOR_FILLS = Counter(
    "executor_fills", "Fill reports published, by trade status", ["status"], namespace=NAMESPACE
)
EXECUTOR_TIMERS_DUE = Gauge(
    "executor_timers_due",
    "Business waits (must-fill phases) whose time has come and whose action is not done; a backtest step waits"
    " for 0",
    namespace=NAMESPACE,
)
EXECUTOR_USER_EVENTS = Counter(
    "executor_user_events",
    "User-channel order and trade events handled (reported); a backtest steps on when it reaches what was sent",
    namespace=NAMESPACE,
)
EXECUTOR_VENUE_PRODUCTION = Gauge(
    "executor_venue_production",
    "1 when the executor posts to production Polymarket, 0 to another venue (paper)",
    namespace=NAMESPACE,
)
EXECUTOR_REDEMPTIONS = Counter(
    "executor_redemptions",
    "Redemptions of resolved positions, by result (redeemed, reverted, dropped, failed, not_approved)",
    ["result"],
    namespace=NAMESPACE,
)
EXECUTOR_REDEEMED_USD = Counter(
    "executor_redeemed_usd",
    "pUSD paid out by confirmed redemptions",
    namespace=NAMESPACE,
)
EXECUTOR_HEARTBEAT_AGE_SECONDS = Gauge(
    "executor_heartbeat_age_seconds",
    "Seconds since the venue last accepted a dead-man heartbeat",
    namespace=NAMESPACE,
)

# ---- the position ledger (shared.ledger: risk and strategy) ------------------------------------------
LEDGER_ANOMALIES = Counter(
    "ledger_anomalies",
    "Ledger inputs that were odd, by reason (status_backwards, part_mismatch, unknown_order, ...): logged, counted",
    ["reason"],
    namespace=NAMESPACE,
)
RECONCILE_DIFFERENCES = Gauge(
    "reconcile_differences",
    "Differences between the ledger and the venue at risk's last reconciliation, by kind (position, cash)",
    ["kind"],
    namespace=NAMESPACE,
)
RECONCILE_RUNS = Counter(
    "reconcile_runs",
    "Risk's reconciliations with the venue, by outcome (ok, differences, failed)",
    ["outcome"],
    namespace=NAMESPACE,
)
