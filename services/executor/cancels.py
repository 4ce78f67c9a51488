"""Which orders an approved cancel may touch: only those of the strategy that sent it (and of the signal it
names), never another strategy's orders in the same market.

A market-making requote used to cancel by market on the venue (DELETE /cancel-market-orders), taking every
strategy's orders there with it. Now the executor resolves the cancel against its own store: the named
client order ids that belong to the strategy, or every approval of the strategy (and signal) in the market.
Ids of another strategy are refused and logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.executor.orders import OPEN_STATUSES, OrderStore
from shared.messages import ApprovedCancel, ApprovedOrder


@dataclass
class CancelScope:
    client_order_ids: list[str] = field(default_factory=list)  # approvals to end (not posted further)
    order_hashes: list[str] = field(default_factory=list)  # their open orders on the venue
    refused: list[str] = field(default_factory=list)  # named ids that are not the strategy's (or unknown)


def owns(cancel: ApprovedCancel, approval: ApprovedOrder) -> bool:
    signal = getattr(cancel, "of_signal_key", None)
    return (
        approval.strategy == cancel.strategy
        and (signal is None or approval.signal_key == signal)
        and (cancel.market is None or approval.market == cancel.market)
    )


def scope(store: OrderStore, cancel: ApprovedCancel) -> CancelScope:
    found = CancelScope()
    if cancel.client_order_ids:
        candidates = list(dict.fromkeys(cancel.client_order_ids))
    elif cancel.market is None and getattr(cancel, "of_signal_key", None) is None:
        return found  # neither ids, market nor signal: nothing is named (never "everything")
    else:
        live = {o.client_order_id for o in store.orders_in(*OPEN_STATUSES) if o.client_order_id}
        waiting = {a.approval.client_order_id for a in store.approvals_in("QUEUED", "ACTIVE")}
        candidates = sorted(live | waiting)
    for client_order_id in candidates:
        row = store.approval(client_order_id)
        if row is None or not owns(cancel, row.approval):
            if cancel.client_order_ids:
                found.refused.append(client_order_id)
            continue
        found.client_order_ids.append(client_order_id)
        found.order_hashes += [
            o.order_hash for o in store.orders_of(client_order_id) if o.status in OPEN_STATUSES
        ]
    return found
