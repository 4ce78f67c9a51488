"""The executor's SQLite store (WAL, raw SQL, migrations in code): approvals, venue orders, published reports.

An order row (client order id, phase, locally computed order hash, the signed payload) is committed with
synchronous=FULL *before* its POST leaves, so after any crash the store names every order that may exist
on the venue; restart resolves those by hash instead of posting again.

Commits are per batch, not per order: each commit fsyncs (~3 ms on this machine's disk, under load), and a
store that committed every statement spent ~4 commits on each order. Two kinds of transaction:
* durable ones (`add_pending`, `add_approvals`): committed before the act they protect (the POST, the
  acknowledgement of the approvals' entries);
* groups (`group()`, `begin_group()`/`end_group()`): the other writes of a batch (a post's answers, user-stream
  events) share one commit. Nothing outside waits on them (the venue is asked again by hash after a crash);
  whatever must be on disk before an acknowledgement is flushed by the consumer's `before_ack` hook, and a
  durable transaction commits any open group with it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from services.executor.commits import Commits
from shared.errors import DecodeError
from shared.messages import ApprovedBasket, ApprovedOrder, OrderStatus, from_json, to_json

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE approvals (
        client_order_id TEXT PRIMARY KEY,
        payload TEXT NOT NULL,            -- the ApprovedOrder as JSON
        state TEXT NOT NULL,              -- QUEUED, ACTIVE, DONE
        phase INTEGER NOT NULL DEFAULT 0, -- the last phase posted (0: none yet)
        remaining TEXT NOT NULL,          -- shares still to fill (must-fill phases)
        outcome TEXT NOT NULL DEFAULT '',
        created_ts REAL NOT NULL,
        updated_ts REAL NOT NULL
    );
    CREATE INDEX approvals_state ON approvals(state);
    CREATE TABLE orders (
        order_hash TEXT PRIMARY KEY,      -- computed locally from the signed order; the venue's order id
        client_order_id TEXT,             -- NULL for orders adopted from the venue
        phase INTEGER NOT NULL,
        status TEXT NOT NULL,             -- shared.messages.OrderStatus
        side TEXT NOT NULL,
        token_id TEXT NOT NULL,
        market TEXT NOT NULL,
        price TEXT NOT NULL,
        size TEXT NOT NULL,
        size_matched TEXT NOT NULL DEFAULT '0',
        order_type TEXT NOT NULL,
        strategy TEXT,
        signed TEXT,                      -- the POST body of this order: re-posted as is, never re-signed
        reason TEXT NOT NULL DEFAULT '',
        created_ts REAL NOT NULL,
        updated_ts REAL NOT NULL
    );
    CREATE INDEX orders_client ON orders(client_order_id);
    CREATE INDEX orders_status ON orders(status);
    CREATE TABLE published (key TEXT PRIMARY KEY, ts REAL NOT NULL);
    """,
    # How many times the same signed order was posted (re-posts after the venue showed no trace of it).
    "ALTER TABLE orders ADD COLUMN posts INTEGER NOT NULL DEFAULT 1",
    # All-or-none baskets being settled (services/executor/baskets.py), so a restart finishes them.
    """
    CREATE TABLE baskets (
        basket_id TEXT PRIMARY KEY,
        payload TEXT NOT NULL,            -- the ApprovedBasket as JSON
        state TEXT NOT NULL,              -- SETTLING, COMPLETE, UNWOUND
        created_ts REAL NOT NULL,
        updated_ts REAL NOT NULL
    )
    """,
)

OPEN_STATUSES = (OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.LIVE, OrderStatus.DELAYED)
UNRESOLVED_STATUSES = (OrderStatus.PENDING, OrderStatus.UNKNOWN)


@dataclass(frozen=True)
class OrderRow:
    order_hash: str
    client_order_id: str | None
    phase: int
    status: OrderStatus
    side: str
    token_id: str
    market: str
    price: Decimal
    size: Decimal
    size_matched: Decimal
    order_type: str
    strategy: str | None
    reason: str
    created_ts: float
    updated_ts: float


@dataclass(frozen=True)
class ApprovalRow:
    approval: ApprovedOrder
    state: str
    phase: int
    remaining: Decimal
    outcome: str


class OrderStore(Commits):
    """All reads and writes of executor.sqlite; one connection, used from the event loop thread."""

    def __init__(self, path: Path, *, clock=time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # the pre-post write must survive power loss too
        self._clock = clock
        super().__init__(self._db)
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    def close(self) -> None:
        self._db.close()

    # ---- approvals ------------------------------------------------------------------------------

    def add_approvals(self, approvals: list[ApprovedOrder]) -> list[ApprovedOrder]:
        """Record new approvals as QUEUED in one durable transaction; returns those not known before (a
        replayed client order id is skipped)."""
        now = self._clock()
        added = []
        with self._transaction():
            for approval in approvals:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO approvals (client_order_id, payload, state, remaining, created_ts,"
                    " updated_ts) VALUES (?, ?, 'QUEUED', ?, ?, ?)",
                    (approval.client_order_id, to_json(approval).decode(), str(approval.size), now, now),
                )
                if cursor.rowcount == 1:
                    added.append(approval)
        return added

    def add_approval(self, approval: ApprovedOrder) -> bool:
        """Record a new approval as QUEUED; False when its client order id is already known (a replay)."""
        now = self._clock()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO approvals (client_order_id, payload, state, remaining, created_ts, updated_ts)"
            " VALUES (?, ?, 'QUEUED', ?, ?, ?)",
            (approval.client_order_id, to_json(approval).decode(), str(approval.size), now, now),
        )
        return cursor.rowcount == 1

    def approval(self, client_order_id: str) -> ApprovalRow | None:
        row = self._db.execute(
            "SELECT * FROM approvals WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return _approval(row) if row else None

    def approvals_in(self, *states: str) -> list[ApprovalRow]:
        marks = ",".join("?" * len(states))
        rows = self._db.execute(
            f"SELECT * FROM approvals WHERE state IN ({marks}) ORDER BY created_ts", states
        ).fetchall()
        out = []
        for r in rows:
            try:
                out.append(_approval(r))
            except (ValueError, DecodeError) as error:  # stored before today's bounds: ended with the reason
                self._db.execute(
                    "UPDATE approvals SET state = 'DONE', outcome = ? WHERE client_order_id = ?",
                    (f"invalid: {error}"[:500], r["client_order_id"]),
                )
        return out

    def set_approval(
        self,
        client_order_id: str,
        *,
        state: str,
        phase: int | None = None,
        remaining: Decimal | None = None,
        outcome: str | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE approvals SET state = ?, phase = COALESCE(?, phase), remaining = COALESCE(?, remaining),"
            " outcome = COALESCE(?, outcome), updated_ts = ? WHERE client_order_id = ?",
            (
                state,
                phase,
                None if remaining is None else str(remaining),
                outcome,
                self._clock(),
                client_order_id,
            ),
        )

    # ---- orders ---------------------------------------------------------------------------------

    def add_pending(self, rows: list[tuple[OrderRow, dict]]) -> None:
        """Commit orders as PENDING with their hashes and signed bodies, in one transaction (before posting).

        The approvals of orders with a client order id become ACTIVE at their order's phase in the same
        transaction: a crash between two commits left a saved order beside a still-QUEUED approval, which
        the next start signed again (a second order for one phase) while re-posting the saved one."""
        now = self._clock()
        with self._transaction():
            for row, _ in rows:
                if row.client_order_id is not None:
                    self._db.execute(
                        "UPDATE approvals SET state = 'ACTIVE', phase = ?, updated_ts = ?"
                        " WHERE client_order_id = ?",
                        (row.phase, now, row.client_order_id),
                    )
            for row, signed in rows:
                self._db.execute(
                    "INSERT INTO orders (order_hash, client_order_id, phase, status, side, token_id, market, price,"
                    " size, order_type, strategy, signed, created_ts, updated_ts)"
                    " VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.order_hash,
                        row.client_order_id,
                        row.phase,
                        row.side,
                        row.token_id,
                        row.market,
                        str(row.price),
                        str(row.size),
                        row.order_type,
                        row.strategy,
                        json.dumps(signed),
                        now,
                        now,
                    ),
                )

    def adopt(self, row: OrderRow) -> bool:
        """Record an order found on the venue that the store did not know; False when it was known."""
        now = self._clock()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO orders (order_hash, client_order_id, phase, status, side, token_id, market,"
            " price, size, size_matched, order_type, strategy, reason, created_ts, updated_ts)"
            " VALUES (?, NULL, 0, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'adopted', ?, ?)",
            (
                row.order_hash,
                row.status.value,
                row.side,
                row.token_id,
                row.market,
                str(row.price),
                str(row.size),
                str(row.size_matched),
                row.order_type,
                now,
                now,
            ),
        )
        return cursor.rowcount == 1

    def signed_body(self, order_hash: str) -> dict | None:
        """The POST body the order was committed with (None: adopted from the venue, or unknown)."""
        row = self._db.execute("SELECT signed FROM orders WHERE order_hash = ?", (order_hash,)).fetchone()
        return json.loads(row["signed"]) if row and row["signed"] else None

    def posts(self, order_hash: str) -> int:
        row = self._db.execute("SELECT posts FROM orders WHERE order_hash = ?", (order_hash,)).fetchone()
        return int(row["posts"]) if row else 0

    def mark_reposted(self, order_hash: str, reason: str) -> None:
        """The same signed order goes out again: PENDING, one more post counted."""
        self._db.execute(
            "UPDATE orders SET status = 'PENDING', posts = posts + 1, reason = ?, updated_ts = ?"
            " WHERE order_hash = ?",
            (reason, self._clock(), order_hash),
        )

    def order(self, order_hash: str) -> OrderRow | None:
        row = self._db.execute("SELECT * FROM orders WHERE order_hash = ?", (order_hash,)).fetchone()
        return _order(row) if row else None

    def orders_of(self, client_order_id: str) -> list[OrderRow]:
        rows = self._db.execute(
            "SELECT * FROM orders WHERE client_order_id = ? ORDER BY phase", (client_order_id,)
        ).fetchall()
        return [_order(r) for r in rows]

    def orders_in(self, *statuses: OrderStatus) -> list[OrderRow]:
        marks = ",".join("?" * len(statuses))
        rows = self._db.execute(
            f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY created_ts", [s.value for s in statuses]
        ).fetchall()
        return [_order(r) for r in rows]

    def update_order(
        self,
        order_hash: str,
        status: OrderStatus,
        *,
        size_matched: Decimal | None = None,
        reason: str | None = None,
    ) -> OrderRow | None:
        """Set an order's status (and fill progress); returns the row after the change, None if unknown."""
        self._db.execute(
            "UPDATE orders SET status = ?, size_matched = COALESCE(?, size_matched), reason = COALESCE(?, reason),"
            " updated_ts = ? WHERE order_hash = ?",
            (
                status.value,
                None if size_matched is None else str(size_matched),
                reason,
                self._clock(),
                order_hash,
            ),
        )
        return self.order(order_hash)

    # ---- baskets --------------------------------------------------------------------------------

    def add_basket(self, basket: ApprovedBasket) -> bool:
        """Record a basket as SETTLING; False when it is already known (a replay)."""
        now = self._clock()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO baskets (basket_id, payload, state, created_ts, updated_ts) VALUES (?, ?, ?, ?, ?)",
            (basket.basket_id, to_json(basket).decode(), "SETTLING", now, now),
        )
        return cursor.rowcount == 1

    def settling_baskets(self) -> list[ApprovedBasket]:
        rows = self._db.execute(
            "SELECT payload FROM baskets WHERE state = 'SETTLING' ORDER BY created_ts"
        ).fetchall()
        return [from_json(ApprovedBasket, r["payload"]) for r in rows]

    def set_basket_state(self, basket_id: str, state: str) -> None:
        self._db.execute(
            "UPDATE baskets SET state = ?, updated_ts = ? WHERE basket_id = ?",
            (state, self._clock(), basket_id),
        )

    # ---- reports published ----------------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        """Mark a report key as published; True the first time (so WS and REST never report twice)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO published (key, ts) VALUES (?, ?)", (key, self._clock())
        )
        return cursor.rowcount == 1

    def published(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM published WHERE key = ?", (key,)).fetchone() is not None

    def trade_statuses_of(self, order_hash: str) -> dict[str, set[str]]:
        """The trade statuses reported for one of our orders, by trade id (from the published fill keys
        `fill:<trade id>:<order hash>:<status>`)."""
        statuses: dict[str, set[str]] = {}
        rows = self._db.execute("SELECT key FROM published WHERE key LIKE ?", (f"fill:%:{order_hash}:%",))
        for (key,) in rows:
            trade_id, found, status = key.removeprefix("fill:").rpartition(f":{order_hash}:")
            if found and trade_id:
                statuses.setdefault(trade_id, set()).add(status)
        return statuses

    def forget(self, key: str) -> None:
        """Undo first_time() when the publish itself failed, so a later pass reports it."""
        self._db.execute("DELETE FROM published WHERE key = ?", (key,))


def _approval(row: sqlite3.Row) -> ApprovalRow:
    return ApprovalRow(
        approval=from_json(ApprovedOrder, row["payload"]),
        state=row["state"],
        phase=row["phase"],
        remaining=Decimal(row["remaining"]),
        outcome=row["outcome"],
    )


def _order(row: sqlite3.Row) -> OrderRow:
    return OrderRow(
        order_hash=row["order_hash"],
        client_order_id=row["client_order_id"],
        phase=row["phase"],
        status=OrderStatus(row["status"]),
        side=row["side"],
        token_id=row["token_id"],
        market=row["market"],
        price=Decimal(row["price"]),
        size=Decimal(row["size"]),
        size_matched=Decimal(row["size_matched"]),
        order_type=row["order_type"],
        strategy=row["strategy"],
        reason=row["reason"],
        created_ts=row["created_ts"],
        updated_ts=row["updated_ts"],
    )


def iter_chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
