"""The chaos run's audit: pure functions over the records a run leaves behind.

Invariants (docs/architecture.md, "Delivery guarantees" and "One order per approval phase"):
- every intent got exactly one verdict (approved or rejected) or was dead-lettered;
  replayed entries with the same intent id are fine, two *different* verdicts are not;
- exactly once per approval: every approval on `approved_orders` was recorded by the executor (or dropped
  by the kill switch) and ended in one final recorded outcome (placed/filled, rejected with the venue's
  reason, cancelled, expired...), never "unknown outcome" and never left queued or active; an approval
  whose outcome says it was placed has an order on the exchange; no order is left PENDING / UNKNOWN in the
  executor's store, nor live on the exchange after the executor's graceful stop;
- every approval produced at most one exchange order per price phase (a must-fill approval walks up to
  three phases, one order each), never matched more than it approved, and every exchange order of our
  wallet is explained by an approval;
- every exchange trade of our wallet appears in `fills` exactly once per (trade_id, status), with the
  status the exchange reports, and `fills` holds no trade the exchange does not know;
- risk's ledger equals the exchange's balances of our wallet (every token's shares, and the cash);
- every poison entry the run wrote was dead-lettered with its reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.executor.baskets import leg_approvals
from shared.messages import (
    ApprovedBasket,
    ApprovedCancel,
    ApprovedOrder,
    BasketIntent,
    CancelIntent,
    Fill,
    Message,
    OrderIntent,
    OrderType,
    OrderUpdate,
    RiskDecision,
    Side,
    deterministic_id,
    replace,
)
from shared.streams import DeadLetter

MAX_PHASES = 3
MARKET_TYPES = {"FOK", "FAK"}
SPEND_ROUNDING = Decimal("0.01")


@dataclass
class ExecutorOrder:
    """A row of the executor's SQLite `orders` table."""

    order_hash: str
    client_order_id: str | None
    phase: int
    status: str = "CANCELED"
    reason: str = ""
    posts: int = 1


@dataclass
class ExecutorApproval:
    """A row of the executor's SQLite `approvals` table."""

    client_order_id: str
    state: str  # QUEUED, ACTIVE, DONE
    outcome: str


@dataclass
class Records:
    """Everything a run leaves behind, collected after the services stopped."""

    wallet: str
    events: int = 0
    intents: list[tuple[str, Message | None]] = field(default_factory=list)  # (entry id, message)
    decisions: list[Message | None] = field(default_factory=list)
    approved: list[Message | None] = field(default_factory=list)
    fills: list[Message | None] = field(default_factory=list)
    dead_letters: dict[str, list[DeadLetter]] = field(default_factory=dict)  # logical stream -> letters
    exchange_orders: list[dict[str, Any]] = field(default_factory=list)  # GET /_paper/orders (all makers)
    exchange_trades: list[dict[str, Any]] = field(default_factory=list)  # GET /_paper/trades
    executor_orders: list[ExecutorOrder] = field(default_factory=list)
    decision_log: list[dict[str, Any]] = field(default_factory=list)  # JSONL risk_approve / risk_reject
    kills: dict[str, int] = field(default_factory=dict)  # service (or "redis") -> SIGKILLs sent
    executor_approvals: list[ExecutorApproval] | None = None  # None: not collected (older records)
    dropped_by_executor: set[str] = field(default_factory=set)  # approvals refused unrecorded (kill switch)
    ledger: dict[str, Any] | None = None  # polydesk.positions.report(); None: not collected
    aimed: dict[str, int] = field(default_factory=dict)  # crash point -> executor SIGKILLs there
    faults: list[dict[str, Any]] = field(default_factory=list)  # exchange faults switched on
    poisoned: list[tuple[str, str]] = field(default_factory=list)  # (stream, entry id) of poison written
    pauses: dict[str, int] = field(default_factory=dict)  # service -> SIGSTOP pauses


@dataclass
class Audit:
    counts: dict[str, int]
    problems: list[str]

    @property
    def clean(self) -> bool:
        return not self.problems

    def table(self) -> str:
        width = max(len(k) for k in self.counts)
        lines = ["chaos audit", "-" * (width + 12)]
        lines += [f"{key:<{width}}  {value:>9}" for key, value in self.counts.items()]
        lines.append("-" * (width + 12))
        lines += [f"PROBLEM: {p}" for p in self.problems] or ["clean: no problem found"]
        return "\n".join(lines)


def audit(records: Records) -> Audit:
    problems: list[str] = []
    counts: dict[str, int] = {"events": records.events}
    approvals = _intents(records, counts, problems)
    # A basket's unwind orders are the executor's own approvals: they explain exchange orders, but only
    # those it made are recorded, so they are not owed an outcome.
    unwinds = {a.client_order_id: a for b in records.approved if isinstance(b, ApprovedBasket)
               for a in basket_unwinds(b)}
    per_approval = _orders(records, {**unwinds, **approvals}, counts, problems, frozenset(unwinds))
    _outcomes(records, approvals, {k: v for k, v in per_approval.items() if k not in unwinds}, counts, problems)
    _fills(records, counts, problems)
    _ledger(records, counts, problems)
    _poison(records, counts, problems)
    for name, n in sorted(records.kills.items()):
        counts[f"kills {name}"] = n
    for point, n in sorted(records.aimed.items()):
        counts[f"kills executor at {point}"] = n
    counts["kills total"] = sum(records.kills.values()) + sum(records.aimed.values())
    counts["faults switched on"] = len(records.faults)
    for name, n in sorted(records.pauses.items()):
        counts[f"pauses {name}"] = n
    counts["problems"] = len(problems)
    return Audit(counts, problems)


def _intents(records: Records, counts: dict[str, int], problems: list[str]) -> dict[str, ApprovedOrder]:
    intents: dict[str, Message] = {}
    entry_to_intent: dict[str, str] = {}
    undecodable_entries = 0
    for entry_id, message in records.intents:
        if isinstance(message, OrderIntent | CancelIntent | BasketIntent):
            intents.setdefault(message.envelope.message_id, message)
            entry_to_intent[entry_id] = message.envelope.message_id
        else:
            undecodable_entries += 1
    verdicts: dict[str, set[bool]] = defaultdict(set)
    decision_entries: Counter[str] = Counter()
    for message in records.decisions:
        if isinstance(message, RiskDecision):
            verdicts[message.intent_id].add(message.approved)
            decision_entries[message.intent_id] += 1
    dead_intent_entries = {letter.source_id for letter in records.dead_letters.get("intents", [])}
    dead = {entry_to_intent[e] for e in dead_intent_entries if e in entry_to_intent}
    dead_unknown = len(dead_intent_entries) - len({e for e in dead_intent_entries if e in entry_to_intent})

    for intent_id in sorted(intents):
        if len(verdicts.get(intent_id, ())) > 1:
            problems.append(f"intent {intent_id} was both approved and rejected")
        if intent_id not in verdicts and intent_id not in dead:
            problems.append(f"intent {intent_id} ({type(intents[intent_id]).__name__}) has no decision and no "
                            "dead letter")
    for intent_id in sorted(set(verdicts) - set(intents)):
        problems.append(f"decision for intent {intent_id} that is not in the intents stream")

    approvals: dict[str, ApprovedOrder] = {}
    approval_entries: Counter[str] = Counter()
    for message in records.approved:
        if isinstance(message, ApprovedOrder):
            approvals.setdefault(message.client_order_id, message)
            approval_entries[message.client_order_id] += 1
            if verdicts.get(message.intent_id) != {True}:
                problems.append(f"approved order {message.client_order_id} without an approving decision")
        elif isinstance(message, ApprovedBasket):
            if verdicts.get(message.intent_id) != {True}:
                problems.append(f"approved basket {message.basket_id} without an approving decision")
            for approval in leg_approvals(message):
                approvals.setdefault(approval.client_order_id, approval)
            for leg in message.legs:
                approval_entries[leg.client_order_id] += 1
    approved_order_intents = {a.intent_id for a in approvals.values()}
    for intent_id, message in intents.items():
        if isinstance(message, OrderIntent | BasketIntent) and verdicts.get(intent_id) == {True} \
                and intent_id not in approved_order_intents:
            problems.append(f"intent {intent_id} approved but no approved_order was published")

    log_ids = {str(e.get("intent_id")) for e in records.decision_log
               if e.get("type") in {"risk_approve", "risk_reject"}}
    decided = set(verdicts) & set(intents)
    counts.update({
        "intents": len(intents),
        "intents order": sum(1 for m in intents.values() if isinstance(m, OrderIntent)),
        "intents cancel": sum(1 for m in intents.values() if isinstance(m, CancelIntent)),
        "intents basket": sum(1 for m in intents.values() if isinstance(m, BasketIntent)),
        "intent entries replayed": len(records.intents) - undecodable_entries - len(intents),
        "approved": sum(1 for i in decided if verdicts[i] == {True}),
        "approved orders": len(approvals),
        "approved cancels": sum(1 for m in records.approved if isinstance(m, ApprovedCancel)),
        "rejected": sum(1 for i in decided if verdicts[i] == {False}),
        "dead-lettered intents": len(dead - set(verdicts)) + dead_unknown,
        "dead letters (all streams)": sum(len(v) for v in records.dead_letters.values()),
        "decision entries replayed": sum(n - 1 for n in decision_entries.values()),
        "approval entries replayed": sum(n - 1 for n in approval_entries.values()),
        "decision log missing": len(decided - log_ids) if records.decision_log else 0,
    })
    return approvals


# An unwind tries about once a second for BASKET_UNWIND_SECS (120 s by default), counted afresh after a
# restart: 1,000 attempts cover that several times over. (100 did not: a quiet phase that waits for every
# basket to finish saw attempt 101.)
UNWIND_ATTEMPTS = 1000


def basket_unwinds(basket: ApprovedBasket) -> list[ApprovedOrder]:
    """The unwind orders the executor may make for each leg of a basket (by their deterministic ids)."""
    out = []
    for leg in leg_approvals(basket):
        opposite = Side.SELL if leg.side is Side.BUY else Side.BUY
        out += [replace(leg, client_order_id=deterministic_id("unwind", leg.client_order_id, str(n)),
                        side=opposite, must_fill=False, order_type=OrderType.FAK)
                for n in range(1, UNWIND_ATTEMPTS + 1)]
    return out


def _ours(records: Records) -> list[dict[str, Any]]:
    wallet = records.wallet.lower()
    return [o for o in records.exchange_orders if str(o.get("maker_address", "")).lower() == wallet]


def _orders(records: Records, approvals: dict[str, ApprovedOrder], counts: dict[str, int],
            problems: list[str], unwinds: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
    by_hash: dict[str, ExecutorOrder] = {o.order_hash: o for o in records.executor_orders}
    reported: dict[str, str] = {}  # order hash -> client order id, from the executor's own reports
    for message in records.fills:
        if isinstance(message, OrderUpdate | Fill) and message.order_id and message.client_order_id:
            reported.setdefault(message.order_id, message.client_order_id)
    ours = _ours(records)
    per_phase: Counter[tuple[str, int]] = Counter()
    per_approval: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unexplained = 0
    for order in ours:
        row = by_hash.get(order["id"])
        client_order_id = (row.client_order_id if row else None) or reported.get(order["id"])
        if client_order_id is None or client_order_id not in approvals:
            unexplained += 1
            problems.append(f"exchange order {order['id']} from our wallet is explained by no approval "
                            f"(client order id {client_order_id})")
            continue
        if row is not None and reported.get(order["id"], client_order_id) != client_order_id:
            problems.append(f"exchange order {order['id']}: the store says {client_order_id}, the reports say "
                            f"{reported[order['id']]}")
        per_approval[client_order_id].append(order)
        if row is not None:
            per_phase[(client_order_id, row.phase)] += 1
    duplicates = 0
    for (client_order_id, phase), n in sorted(per_phase.items()):
        if n > 1:
            duplicates += n - 1
            problems.append(f"approval {client_order_id} produced {n} exchange orders in phase {phase}")
    for client_order_id, orders in sorted(per_approval.items()):
        approval = approvals[client_order_id]
        allowed = MAX_PHASES if approval.must_fill else 1
        if len(orders) > allowed:
            duplicates += len(orders) - allowed
            problems.append(f"approval {client_order_id} produced {len(orders)} exchange orders (at most {allowed})")
        if approval.side == "BUY" and str(approval.order_type) in MARKET_TYPES:
            # A market BUY spends USD: price improvement buys more shares than the nominal size (the
            # exchange then raises original_size), so the bound is what it spent, from its trades.
            ids = {o["id"] for o in orders}
            spent = sum(Decimal(str(t["size"])) * Decimal(str(t["price"])) for t in records.exchange_trades
                        if t.get("taker_order_id") in ids)
            if spent > approval.size * approval.price_limit + SPEND_ROUNDING:
                problems.append(f"approval {client_order_id} spent {spent} USD, more than {approval.size} shares at "
                                f"its limit {approval.price_limit}")
            continue
        matched = sum(Decimal(str(o.get("size_matched") or 0)) for o in orders)
        # An unwind sells back what its leg bought, which a market BUY leg's price improvement makes more than
        # the leg's nominal size; what it may sell is bounded by the holding (the ledger check), not by this.
        if matched > approval.size and client_order_id not in unwinds:
            problems.append(f"approval {client_order_id} matched {matched} shares, more than the {approval.size} "
                            "approved")
    left_live = [o["id"] for o in ours if str(o.get("status", "")).upper() in ("LIVE", "ORDER_STATUS_LIVE")]
    for order_id in left_live:
        problems.append(f"exchange order {order_id} of ours is still live after the executor's graceful stop")
    counts.update({"exchange orders": len(ours), "approvals with an order": len(per_approval),
                   "unexplained orders": unexplained, "duplicate orders": duplicates,
                   "exchange orders left live": len(left_live)})
    return per_approval


# Outcomes (the executor's approvals.outcome) that say an order of the approval reached the venue.
PLACED_OUTCOMES = ("placed", "filled")
FINAL_ORDER_STATUSES = {"LIVE", "DELAYED", "MATCHED", "CANCELED", "REJECTED", "EXPIRED"}


def _outcome_kind(outcome: str) -> str:
    for prefix, kind in (("placed", "placed"), ("filled", "placed"), ("rejected", "rejected"),
                         ("not on the venue", "never placed (ended)"), ("expired", "expired"),
                         ("canceled", "cancelled"), ("kill switch", "cancelled"), ("cancel all", "cancelled"),
                         ("phases exhausted", "phases exhausted"), ("not signed", "not signed"),
                         ("invalid", "invalid"), ("basket", "basket stopped"),
                         ("unknown outcome", "abandoned")):
        if outcome.startswith(prefix):
            return kind
    return "other" if outcome else "none"


def _outcomes(records: Records, approvals: dict[str, ApprovedOrder], per_approval: dict[str, list[dict[str, Any]]],
              counts: dict[str, int], problems: list[str]) -> None:
    """Exactly once: one final recorded outcome per approval, and the orders behind it."""
    if records.executor_approvals is None:
        return
    stored = {a.client_order_id: a for a in records.executor_approvals}
    kinds: Counter[str] = Counter()
    for client_order_id in sorted(approvals):
        row = stored.get(client_order_id)
        if row is None:
            if client_order_id not in records.dropped_by_executor:
                problems.append(f"approval {client_order_id} was never recorded by the executor (lost)")
            kinds["dropped unrecorded (kill switch)"] += client_order_id in records.dropped_by_executor
            continue
        kind = _outcome_kind(row.outcome)
        kinds[kind] += 1
        if row.state != "DONE":
            problems.append(f"approval {client_order_id} not finished: {row.state} ({row.outcome!r})")
        elif kind in ("abandoned", "none", "other"):
            problems.append(f"approval {client_order_id} ended without a final outcome: {row.outcome!r}")
        if kind == "placed" and row.outcome.startswith(PLACED_OUTCOMES) and not per_approval.get(client_order_id):
            problems.append(f"approval {client_order_id} says {row.outcome!r} but no exchange order is its")
    unresolved = [o for o in records.executor_orders if o.status not in FINAL_ORDER_STATUSES]
    for order in unresolved:
        problems.append(f"order {order.order_hash} of {order.client_order_id} left {order.status} ({order.reason})")
    for kind, n in sorted(kinds.items()):
        counts[f"outcome {kind}"] = n
    counts["orders re-posted (same signed order)"] = sum(max(0, o.posts - 1) for o in records.executor_orders)
    counts["orders unresolved at the end"] = len(unresolved)


def _ledger(records: Records, counts: dict[str, int], problems: list[str]) -> None:
    """Risk's ledger equals the exchange's balances of our wallet."""
    if records.ledger is None:
        return
    result = records.ledger
    if "error" in result:
        problems.append(f"risk's ledger not read: {result['error']}")
        return
    for error in result.get("venue_errors", []):
        problems.append(f"exchange balances not read: {error}")
    for difference in result.get("position_differences", []):
        problems.append(f"risk's ledger differs from the exchange: {difference}")
    if result.get("cash_difference"):
        problems.append(f"risk's cash differs from the exchange: {result['cash_difference']}")
    if result.get("diagnosis"):
        problems.append("which fills: " + "\n".join(result["diagnosis"]))
    if result.get("provisional"):
        problems.append(f"risk's ledger still holds provisional shares at the end: {result['provisional']}")
    counts["ledger positions checked"] = int(result.get("positions_checked", 0))
    counts["ledger differences"] = len(result.get("position_differences", [])) + bool(result.get("cash_difference"))


def _poison(records: Records, counts: dict[str, int], problems: list[str]) -> None:
    """Every poison entry written by the run was dead-lettered (with a reason), not applied or acked unread."""
    dead = 0
    for stream, entry_id in records.poisoned:
        letters = [d for d in records.dead_letters.get(stream, []) if d.source_id == entry_id]
        if not letters:
            problems.append(f"poison entry {entry_id} on {stream} was not dead-lettered")
        elif not all(d.error for d in letters):
            problems.append(f"poison entry {entry_id} on {stream} was dead-lettered without a reason")
        else:
            dead += 1
    counts["poison entries written"] = len(records.poisoned)
    counts["poison entries dead-lettered"] = dead


def _fills(records: Records, counts: dict[str, int], problems: list[str]) -> None:
    our_trade_ids = {str(t) for o in _ours(records) for t in (o.get("associate_trades") or [])}
    trades = {str(t["id"]): t for t in records.exchange_trades if str(t.get("id")) in our_trade_ids}
    # One Fill per own order of a trade and status: a trade between two of our own orders (market making
    # crossing another strategy, self trades allowed) has two.
    recorded: Counter[tuple[str, str, str]] = Counter()
    for message in records.fills:
        if isinstance(message, Fill):
            recorded[(message.trade_id, message.order_id, str(message.status))] += 1
    statuses: dict[str, set[str]] = defaultdict(set)
    for (trade_id, order_id, status), n in recorded.items():
        statuses[trade_id].add(status)
        if n > 1:
            problems.append(f"trade {trade_id} status {status} of order {order_id} recorded {n} times in fills")
    lost = 0
    for trade_id, trade in sorted(trades.items()):
        status = str(trade.get("status", "")).removeprefix("TRADE_STATUS_")
        if trade_id not in statuses:
            lost += 1
            problems.append(f"exchange trade {trade_id} ({status}) of our wallet is missing from fills")
        elif status not in statuses[trade_id]:
            problems.append(f"exchange trade {trade_id} is {status}; fills recorded only {sorted(statuses[trade_id])}")
    known = {str(t.get("id")) for t in records.exchange_trades}
    for trade_id in sorted(set(statuses) - known):
        problems.append(f"fill for trade {trade_id} that the exchange does not know")
    counts.update({
        "exchange trades (ours)": len(trades),
        "fills": sum(recorded.values()),
        "fills distinct (trade, order, status)": len(recorded),
        "self trades (both sides ours)": sum(1 for n in Counter(t for t, _ in {(t, o) for t, o, _ in recorded}).values()
                                             if n > 1),
        "fills duplicated": sum(n - 1 for n in recorded.values()),
        "fills lost": lost,
        "order updates": sum(1 for m in records.fills if isinstance(m, OrderUpdate)),
    })
