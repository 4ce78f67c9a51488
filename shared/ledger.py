"""The position ledger, defined once: how a trade status moves a position, and whether an order is open.

Risk (SQLite, shared.ledger_store) and strategy (memory, MemoryLedgerStore) both apply fills through
`Ledger`, so they cannot disagree. A fill *part* is one own order's share of one trade, keyed by
(trade id, our order id): a self trade is two parts with the same trade id. A part's statuses move it:
MATCHED / RETRYING = provisional, MINED / CONFIRMED = settled (on chain, sellable), FAILED = reversed
(its shares and cash never moved). The state is a function of the *set* of statuses seen (CONFIRMED wins,
then FAILED, then the furthest of MINED > RETRYING > MATCHED), so redelivery and arrival order cannot
change it; an odd arrival (a status going backwards, FAILED and CONFIRMED both, a reused key with other
numbers, a part of an order nobody placed) is logged with its reason and counted, never a crash.

A token's position is folded from its entries (parts, venue adjustments, the resolution, redemptions) in
the order they were first seen, at every change: shares, cash, fees and total PnL depend only on which
parts count; the split of PnL into realized and unrealized is average cost in first-seen order.

Cash: `cash_base + sum of every entry's cash`. The base is set from the venue's pUSD balance the first
time it is adopted (`adopt_cash`), so that from then on ledger cash = that balance + the buys, sells, fees
and payouts seen since: a comparison with the venue's balance shows exactly what the ledger missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from shared import metrics
from shared.messages import Fill, OrderStatus, PositionRedeemed, Side, TradeStatus

log = logging.getLogger(__name__)
ZERO = Decimal(0)
ONE = Decimal(1)


class PartState(StrEnum):
    PROVISIONAL = "provisional"
    SETTLED = "settled"
    REVERSED = "reversed"


# How far along the chain a status is; FAILED is apart (it ends a part unless CONFIRMED is seen too).
STATUS_RANK: dict[TradeStatus, int] = {
    TradeStatus.MATCHED: 1,
    TradeStatus.RETRYING: 2,
    TradeStatus.MINED: 3,
    TradeStatus.CONFIRMED: 4,
}
STATE_OF_STATUS: dict[TradeStatus, PartState] = {
    TradeStatus.MATCHED: PartState.PROVISIONAL,
    TradeStatus.RETRYING: PartState.PROVISIONAL,  # the settlement transaction is being resubmitted
    TradeStatus.MINED: PartState.SETTLED,
    TradeStatus.CONFIRMED: PartState.SETTLED,
    TradeStatus.FAILED: PartState.REVERSED,
}

# Whether an order with this status can still trade; with size left, it is open (risk and strategy alike).
ORDER_STATUS_CAN_TRADE: dict[OrderStatus, bool] = {
    OrderStatus.PENDING: True,
    OrderStatus.UNKNOWN: True,  # may be live at the venue: counted until reconciled
    OrderStatus.LIVE: True,
    OrderStatus.DELAYED: True,
    OrderStatus.MATCHED: True,  # the size left decides: a partly matched order still rests
    OrderStatus.CANCELED: False,
    OrderStatus.REJECTED: False,
    OrderStatus.EXPIRED: False,
}


def order_is_open(status: OrderStatus, original_size: Decimal, size_matched: Decimal) -> bool:
    """True while an own order can still trade: a status that can, and size left."""
    return ORDER_STATUS_CAN_TRADE[status] and size_matched < original_size


def final_status(statuses: Iterable[TradeStatus]) -> TradeStatus:
    """The status a set of statuses amounts to, whatever order they came in (the set must not be empty)."""
    seen = set(statuses)
    if TradeStatus.CONFIRMED in seen:
        return TradeStatus.CONFIRMED  # final on chain; a FAILED beside it is an anomaly, logged
    if TradeStatus.FAILED in seen:
        return TradeStatus.FAILED
    return max(seen, key=STATUS_RANK.__getitem__)


@dataclass(frozen=True)
class Part:
    """One own order's share of one trade."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    market: str
    token_id: str
    side: Side
    size: Decimal
    price: Decimal
    fee_usd: Decimal
    statuses: frozenset[TradeStatus]
    seq: int  # when first seen (the fold's order)
    day: str  # the trading day it was first seen (its realized PnL belongs there)

    @property
    def status(self) -> TradeStatus:
        return final_status(self.statuses)

    @property
    def state(self) -> PartState:
        return STATE_OF_STATUS[self.status]

    @property
    def signed_size(self) -> Decimal:
        return self.size if self.side is Side.BUY else -self.size

    @property
    def cash_usd(self) -> Decimal:
        """pUSD this part moves: a BUY pays, a SELL receives; the taker fee is paid in pUSD either way."""
        notional = self.size * self.price
        return (-notional if self.side is Side.BUY else notional) - self.fee_usd

    def same_trade(self, other: Part) -> bool:
        return (self.token_id, self.side, self.size, self.price) == (
            other.token_id,
            other.side,
            other.size,
            other.price,
        )


class EntryKind(StrEnum):
    ADJUST = "adjust"  # the venue's position adopted: shares and cost added to make ours equal theirs
    RESOLVE = "resolve"  # the market resolved: the token pays `price` (1 or 0) per share
    REDEEM = "redeem"  # shares burned for `usd` pUSD on chain


@dataclass(frozen=True)
class Entry:
    """A change to a token's position that is not a trade."""

    kind: EntryKind
    token_id: str
    market: str
    seq: int
    day: str
    shares: Decimal = ZERO
    usd: Decimal = ZERO  # ADJUST: cost added; REDEEM: payout received
    price: Decimal = ZERO  # RESOLVE: payout per share
    ref: str = ""  # REDEEM: transaction hash (with the token, its idempotency key)


@dataclass(frozen=True)
class TokenPosition:
    token_id: str
    market: str
    settled: Decimal = ZERO  # on chain: what can be sold
    provisional: Decimal = ZERO  # matched, not yet settled (negative for a pending sell)
    cost_usd: Decimal = ZERO  # cost basis of the shares held
    realized_usd: Decimal = ZERO
    fees_usd: Decimal = ZERO
    cash_usd: Decimal = ZERO  # net pUSD this token's entries moved (pending parts included)
    pending_cash_usd: Decimal = ZERO  # of which from provisional parts
    resolved_price: Decimal | None = None  # 1 or 0 once the market resolved
    realized_by_day: dict[str, Decimal] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> Decimal:
        return self.settled + self.provisional

    @property
    def avg_price(self) -> Decimal:
        return self.cost_usd / self.size if self.size > 0 else ZERO

    def mark(self, marks: dict[str, Decimal]) -> Decimal | None:
        """What a share is worth: the payout once resolved, else the book's mark (None: unknown)."""
        return self.resolved_price if self.resolved_price is not None else marks.get(self.token_id)

    def unrealized_usd(self, marks: dict[str, Decimal]) -> Decimal:
        """Mark-to-market gain; a token without a mark counts at cost (no gain, no loss)."""
        mark = self.mark(marks)
        return ZERO if mark is None else self.size * mark - self.cost_usd


@dataclass
class _Fold:
    """The running numbers of one token while its entries are folded in order."""

    settled: Decimal = ZERO
    provisional: Decimal = ZERO
    cost: Decimal = ZERO
    realized: dict[str, Decimal] = field(default_factory=dict)
    fees: Decimal = ZERO
    cash: Decimal = ZERO
    pending_cash: Decimal = ZERO
    resolved: Decimal | None = None

    def realize(self, day: str, usd: Decimal) -> None:
        if usd:
            self.realized[day] = self.realized.get(day, ZERO) + usd

    def trade(self, part: Part) -> None:
        """Average cost on a signed position: a trade away from zero adds at its price; one toward zero
        closes at the average (realizing the difference) and any rest opens at its price. A short (sold
        before the buy arrived) is only ever transient, but keeps total PnL independent of arrival order."""
        held, signed = self.settled + self.provisional, part.signed_size
        if held == 0 or (held > 0) == (signed > 0):
            self.cost += signed * part.price
        else:
            closed = min(abs(signed), abs(held))
            closed_cost = self.cost if closed == abs(held) else self.cost * closed / abs(held)
            direction = 1 if held > 0 else -1
            self.realize(part.day, direction * closed * part.price - closed_cost)
            self.cost -= closed_cost
            rest = abs(signed) - closed
            if rest:
                self.cost += -direction * rest * part.price
        self.realize(part.day, -part.fee_usd)
        self.fees += part.fee_usd
        self.cash += part.cash_usd
        if part.state is PartState.SETTLED:
            self.settled += part.signed_size
        else:
            self.provisional += part.signed_size
            self.pending_cash += part.cash_usd

    def other(self, entry: Entry) -> None:
        if entry.kind is EntryKind.ADJUST:
            self.settled += entry.shares
            self.cost += entry.usd
        elif entry.kind is EntryKind.RESOLVE:
            held = self.settled + self.provisional
            self.realize(entry.day, held * entry.price - self.cost)
            self.cost, self.resolved = held * entry.price, entry.price
        elif entry.kind is EntryKind.REDEEM:
            paid = self.resolved if self.resolved is not None else ZERO
            self.settled -= entry.shares
            self.cost -= entry.shares * paid
            self.cash += entry.usd
            self.realize(entry.day, entry.usd - entry.shares * paid)  # 0 unless the chain paid otherwise


def fold(token_id: str, market: str, parts: Iterable[Part], entries: Iterable[Entry]) -> TokenPosition:
    """A token's position from all its parts and entries, in first-seen order; reversed parts count nothing."""
    state = _Fold()
    items: list[Part | Entry] = [*parts, *entries]
    for item in sorted(items, key=lambda item: item.seq):
        _fold_in(state, item)
    return _position_of(token_id, market, state)


def _fold_in(state: _Fold, item: Part | Entry) -> None:
    if isinstance(item, Part):
        if item.state is not PartState.REVERSED:
            state.trade(item)
    else:
        state.other(item)


def _position_of(token_id: str, market: str, state: _Fold) -> TokenPosition:
    return TokenPosition(
        token_id=token_id,
        market=market,
        settled=state.settled,
        provisional=state.provisional,
        cost_usd=state.cost,
        realized_usd=sum(state.realized.values(), ZERO),
        fees_usd=state.fees,
        cash_usd=state.cash,
        pending_cash_usd=state.pending_cash,
        resolved_price=state.resolved,
        realized_by_day=dict(state.realized),
    )


def _state_of(position: TokenPosition) -> _Fold:
    """The running numbers a fold ended with (the store keeps realized PnL by day with the position)."""
    return _Fold(
        settled=position.settled,
        provisional=position.provisional,
        cost=position.cost_usd,
        realized=dict(position.realized_by_day),
        fees=position.fees_usd,
        cash=position.cash_usd,
        pending_cash=position.pending_cash_usd,
        resolved=position.resolved_price,
    )


class LedgerStore(Protocol):
    """Where a ledger keeps its parts, entries and folded positions (memory for strategy, SQLite for risk)."""

    def next_seq(self) -> int: ...
    def part(self, trade_id: str, order_id: str) -> Part | None: ...
    def put_part(self, part: Part) -> None: ...
    def add_entry(self, entry: Entry) -> None: ...
    def has_entry(self, kind: EntryKind, token_id: str, ref: str) -> bool: ...
    def token_items(self, token_id: str) -> tuple[list[Part], list[Entry]]: ...
    def put_position(self, position: TokenPosition) -> None: ...
    def position(self, token_id: str) -> TokenPosition | None: ...
    def positions(self) -> list[TokenPosition]: ...
    def realized_on(self, day: str) -> Decimal: ...
    def cash_base(self) -> Decimal | None: ...
    def set_cash_base(self, usd: Decimal) -> None: ...


@dataclass(frozen=True)
class Applied:
    """What applying one message did: outcome applied / status / duplicate / ignored; `moved` when the
    position changed; `anomaly` names what was odd about it (logged and counted), '' when nothing was."""

    outcome: str
    moved: bool
    anomaly: str = ""
    detail: str = ""


class Ledger:
    """The rules, over any store. `day` gives the trading day of 'now' (risk's reset time; '' for strategy)."""

    def __init__(self, store: LedgerStore, day: Callable[[], str] = lambda: "") -> None:
        self.store = store
        self.day = day

    # ---- fills ------------------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> Applied:
        """Add one status of one part; idempotent by (trade id, order id, status)."""
        old = self.store.part(fill.trade_id, fill.order_id)
        if old is None:
            return self._new_part(fill)
        new = replace(old, statuses=old.statuses | {fill.status})
        if not new.same_trade(self._part_of(fill, 0, "")):
            return self._anomaly(
                fill,
                "part_mismatch",
                f"first seen as {old.side} {old.size} of {old.token_id} "
                f"@ {old.price}; now {fill.side} {fill.size} of {fill.token_id} @ {fill.price}",
            )
        if fill.status in old.statuses:
            return Applied("duplicate", False)
        self.store.put_part(new)
        moved = new.state is not old.state
        if moved and PartState.REVERSED not in (old.state, new.state):
            self._settle(new)  # provisional -> settled: the cost basis does not change
        elif moved:
            self._refold(new.token_id, new.market)  # a part taken out (or put back) anywhere in the order
        anomaly = _status_anomaly(old, fill.status)
        if anomaly:
            self._report(fill, anomaly, f"{fill.status} after {sorted(old.statuses)}: now {new.status}")
        return Applied("status", moved, anomaly)

    def _new_part(self, fill: Fill) -> Applied:
        if fill.size <= 0:
            return self._anomaly(fill, "zero_size", "a part of no shares changes nothing")
        part = self._part_of(fill, self.store.next_seq(), self.day())
        self.store.put_part(part)
        moved = part.state is not PartState.REVERSED
        self._append(part)  # even a reversed part: the token has been seen
        if fill.client_order_id is None:
            # Still our wallet's trade (an order placed outside this pipeline, or adopted): the venue's
            # position moved, so the ledger counts it, and says so.
            self._report(fill, "unknown_order", f"order {fill.order_id} has no client order id: counted")
            return Applied("applied", moved, "unknown_order")
        return Applied("applied", moved)

    @staticmethod
    def _part_of(fill: Fill, seq: int, day: str) -> Part:
        return Part(
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            client_order_id=fill.client_order_id,
            market=fill.market,
            token_id=fill.token_id,
            side=fill.side,
            size=fill.size,
            price=fill.price,
            fee_usd=fill.fee_usd,
            statuses=frozenset({fill.status}),
            seq=seq,
            day=day,
        )

    def _anomaly(self, fill: Fill, reason: str, detail: str) -> Applied:
        self._report(fill, reason, detail)
        return Applied("ignored", False, reason, detail)

    @staticmethod
    def _report(fill: Fill, reason: str, detail: str) -> None:
        metrics.LEDGER_ANOMALIES.labels(reason=reason).inc()
        log.warning(
            "ledger anomaly %s: trade %s order %s status %s: %s",
            reason,
            fill.trade_id,
            fill.order_id,
            fill.status,
            detail,
        )

    # ---- resolution, redemption, adoption ---------------------------------------------------------------

    def resolve(self, market: str, token_ids: Iterable[str], winning_token_id: str) -> list[str]:
        """The market resolved: the winner pays 1, the others 0; returns the tokens whose PnL moved."""
        moved = []
        for token_id in token_ids:
            if self.store.has_entry(EntryKind.RESOLVE, token_id, ""):
                continue
            price = ONE if token_id == winning_token_id else ZERO
            before = self.store.position(token_id)
            after = self._append(
                Entry(EntryKind.RESOLVE, token_id, market, self.store.next_seq(), self.day(), price=price)
            )
            if before is not None and before.size != 0 or after.size != 0:
                moved.append(token_id)
        return moved

    def redeem(self, message: PositionRedeemed) -> Applied:
        """Shares burned for pUSD on chain; idempotent by (transaction hash, token)."""
        if self.store.has_entry(EntryKind.REDEEM, message.token_id, message.transaction_hash):
            return Applied("duplicate", False)
        if message.shares > 0 and not self.store.has_entry(EntryKind.RESOLVE, message.token_id, ""):
            # The chain paid, so the market resolved (its announcement is late, or went to another shard's
            # worker): the token's payout per share is what was paid for it.
            self._append(
                Entry(
                    EntryKind.RESOLVE,
                    message.token_id,
                    message.market,
                    self.store.next_seq(),
                    self.day(),
                    price=message.payout_usd / message.shares,
                )
            )
        after = self._append(
            Entry(
                EntryKind.REDEEM,
                message.token_id,
                message.market,
                self.store.next_seq(),
                self.day(),
                shares=message.shares,
                usd=message.payout_usd,
                ref=message.transaction_hash,
            )
        )
        anomaly = ""
        if after.resolved_price is None:
            anomaly = "redeemed_unresolved"
        elif after.settled < 0:
            anomaly = "redeemed_more_than_held"
        if anomaly:
            metrics.LEDGER_ANOMALIES.labels(reason=anomaly).inc()
            log.warning(
                "ledger anomaly %s: redemption %s of %s %s",
                anomaly,
                message.transaction_hash,
                message.shares,
                message.token_id,
            )
        return Applied("applied", True, anomaly)

    def adopt_position(self, token_id: str, market: str, size: Decimal, avg_price: Decimal) -> TokenPosition:
        """Make the ledger's shares and cost of a token equal the venue's (an ADJUST entry records how)."""
        current = self.store.position(token_id) or TokenPosition(token_id, market)
        shares, cost = size - current.size, size * avg_price - current.cost_usd
        if shares == 0 and cost == 0:
            return current
        seq = self.store.next_seq()
        # Each adoption is its own entry (a token is adopted again at every start that finds a difference):
        # its seq is its idempotency ref, as the store keeps (kind, token, ref) unique.
        return self._append(
            Entry(
                EntryKind.ADJUST,
                token_id,
                market or current.market,
                seq,
                self.day(),
                shares=shares,
                usd=cost,
                ref=f"adjust:{seq}",
            )
        )

    def adopt_cash(self, venue_usd: Decimal) -> None:
        """Take the venue's pUSD balance as ledger cash now (the base absorbs every flow seen so far)."""
        self.store.set_cash_base(venue_usd - self.flows_usd())

    def _append(self, item: Part | Entry) -> TokenPosition:
        """Add the newest item (the highest seq): folding it onto the stored position equals a full fold."""
        if isinstance(item, Entry):
            self.store.add_entry(item)
        current = self.store.position(item.token_id)
        state = _Fold() if current is None else _state_of(current)
        _fold_in(state, item)
        position = _position_of(item.token_id, item.market or (current.market if current else ""), state)
        self.store.put_position(position)
        return position

    def _settle(self, part: Part) -> None:
        position = self.store.position(part.token_id) or TokenPosition(part.token_id, part.market)
        self.store.put_position(
            replace(
                position,
                settled=position.settled + part.signed_size,
                provisional=position.provisional - part.signed_size,
                pending_cash_usd=position.pending_cash_usd - part.cash_usd,
            )
        )

    def _refold(self, token_id: str, market: str) -> TokenPosition:
        parts, entries = self.store.token_items(token_id)
        position = fold(token_id, market, parts, entries)
        self.store.put_position(position)
        return position

    # ---- reading ----------------------------------------------------------------------------------------

    def position(self, token_id: str) -> TokenPosition:
        return self.store.position(token_id) or TokenPosition(token_id, "")

    def positions(self) -> list[TokenPosition]:
        """Every token the ledger has seen, held or not (a closed position still carries realized PnL)."""
        return self.store.positions()

    def flows_usd(self) -> Decimal:
        return sum((p.cash_usd for p in self.store.positions()), ZERO)

    def cash_usd(self) -> Decimal | None:
        """Ledger cash (pending parts included); None until a venue balance was adopted as its base."""
        base = self.store.cash_base()
        return None if base is None else base + self.flows_usd()

    def pending_shares(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Per token with provisional parts: (shares provisionally sold, as a negative number; shares
        provisionally bought). On chain a seller's shares leave at the match and a buyer's arrive when
        MINED, so a net `provisional` cannot say where the venue's balance may be meanwhile."""
        pending: dict[str, tuple[Decimal, Decimal]] = {}
        for position in self.store.positions():
            parts, _ = self.store.token_items(position.token_id)
            moves = [part.signed_size for part in parts if part.state is PartState.PROVISIONAL]
            if moves:
                pending[position.token_id] = (
                    sum((m for m in moves if m < 0), ZERO),
                    sum((m for m in moves if m > 0), ZERO),
                )
        return pending

    def pending_cash_usd(self) -> Decimal:
        return sum((p.pending_cash_usd for p in self.store.positions()), ZERO)


def _status_anomaly(old: Part, status: TradeStatus) -> str:
    seen = old.statuses | {status}
    if TradeStatus.CONFIRMED in seen and TradeStatus.FAILED in seen:
        return "confirmed_and_failed"
    current = old.status
    if current is TradeStatus.FAILED:
        return "status_after_failed"
    if status is not TradeStatus.FAILED and STATUS_RANK[status] < STATUS_RANK[current]:
        return "status_backwards"
    return ""


class MemoryLedgerStore:
    """The store of a process that rebuilds its ledger from the fills stream (strategy)."""

    def __init__(self) -> None:
        self._seq = 0
        self._parts: dict[tuple[str, str], Part] = {}
        self._token_parts: dict[str, dict[tuple[str, str], Part]] = {}
        self._entries: dict[str, list[Entry]] = {}
        self._positions: dict[str, TokenPosition] = {}
        self._cash_base: Decimal | None = None

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def part(self, trade_id: str, order_id: str) -> Part | None:
        return self._parts.get((trade_id, order_id))

    def put_part(self, part: Part) -> None:
        key = (part.trade_id, part.order_id)
        self._parts[key] = part
        self._token_parts.setdefault(part.token_id, {})[key] = part

    def add_entry(self, entry: Entry) -> None:
        self._entries.setdefault(entry.token_id, []).append(entry)

    def has_entry(self, kind: EntryKind, token_id: str, ref: str) -> bool:
        return any(e.kind is kind and e.ref == ref for e in self._entries.get(token_id, ()))

    def token_items(self, token_id: str) -> tuple[list[Part], list[Entry]]:
        return list(self._token_parts.get(token_id, {}).values()), list(self._entries.get(token_id, ()))

    def put_position(self, position: TokenPosition) -> None:
        self._positions[position.token_id] = position

    def position(self, token_id: str) -> TokenPosition | None:
        return self._positions.get(token_id)

    def positions(self) -> list[TokenPosition]:
        return [self._positions[t] for t in sorted(self._positions)]

    def realized_on(self, day: str) -> Decimal:
        return sum((p.realized_by_day.get(day, ZERO) for p in self._positions.values()), ZERO)

    def cash_base(self) -> Decimal | None:
        return self._cash_base

    def set_cash_base(self, usd: Decimal) -> None:
        self._cash_base = usd
