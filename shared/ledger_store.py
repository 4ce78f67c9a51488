"""The ledger's SQLite store (risk's database): parts, entries and folded positions, Decimal as TEXT.

The rules are shared.ledger's; this module only stores. `LEDGER_SCHEMA` is applied by risk's migrations;
`open_readonly` lets `polydesk positions` and the `up` summary read risk's ledger while risk writes it (WAL).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from shared.ledger import ZERO, Entry, EntryKind, Part, TokenPosition
from shared.messages import Side, TradeStatus

LEDGER_SCHEMA = """
CREATE TABLE ledger_parts (trade_id TEXT NOT NULL, order_id TEXT NOT NULL, client_order_id TEXT,
                           market TEXT NOT NULL, token_id TEXT NOT NULL, side TEXT NOT NULL, size TEXT NOT NULL,
                           price TEXT NOT NULL, fee TEXT NOT NULL, statuses TEXT NOT NULL, seq INTEGER NOT NULL,
                           day TEXT NOT NULL, PRIMARY KEY (trade_id, order_id));
CREATE INDEX ledger_parts_token ON ledger_parts (token_id);
CREATE TABLE ledger_entries (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, token_id TEXT NOT NULL,
                             market TEXT NOT NULL, day TEXT NOT NULL, shares TEXT NOT NULL, usd TEXT NOT NULL,
                             price TEXT NOT NULL, ref TEXT NOT NULL, UNIQUE (kind, token_id, ref));
CREATE TABLE ledger_positions (token_id TEXT PRIMARY KEY, market TEXT NOT NULL, settled TEXT NOT NULL,
                               provisional TEXT NOT NULL, cost TEXT NOT NULL, realized TEXT NOT NULL,
                               fees TEXT NOT NULL, cash TEXT NOT NULL, pending_cash TEXT NOT NULL,
                               resolved_price TEXT);
CREATE TABLE ledger_realized (token_id TEXT NOT NULL, day TEXT NOT NULL, usd TEXT NOT NULL,
                              PRIMARY KEY (token_id, day));
CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO ledger_meta VALUES ('seq', '0');
"""


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class SqliteLedgerStore:
    """Runs on the caller's connection, inside the caller's transaction (risk groups a message's writes)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _one(self, sql: str, *args: object) -> tuple | None:
        return self.db.execute(sql, args).fetchone()

    def next_seq(self) -> int:
        row = self._one("SELECT value FROM ledger_meta WHERE key='seq'")
        assert row is not None, "ledger_meta has no seq row: the ledger schema was not applied"
        seq = int(row[0]) + 1
        self.db.execute("UPDATE ledger_meta SET value=? WHERE key='seq'", (str(seq),))
        return seq

    def part(self, trade_id: str, order_id: str) -> Part | None:
        row = self._one("SELECT * FROM ledger_parts WHERE trade_id=? AND order_id=?", trade_id, order_id)
        return None if row is None else _part(row)

    def put_part(self, part: Part) -> None:
        statuses = ",".join(sorted(part.statuses))
        self.db.execute(
            "INSERT OR REPLACE INTO ledger_parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                part.trade_id,
                part.order_id,
                part.client_order_id,
                part.market,
                part.token_id,
                part.side.value,
                str(part.size),
                str(part.price),
                str(part.fee_usd),
                statuses,
                part.seq,
                part.day,
            ),
        )

    def add_entry(self, entry: Entry) -> None:
        self.db.execute(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.seq,
                entry.kind.value,
                entry.token_id,
                entry.market,
                entry.day,
                str(entry.shares),
                str(entry.usd),
                str(entry.price),
                entry.ref,
            ),
        )

    def has_entry(self, kind: EntryKind, token_id: str, ref: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM ledger_entries WHERE kind=? AND token_id=? AND ref=?",
                kind.value,
                token_id,
                ref,
            )
            is not None
        )

    def token_items(self, token_id: str) -> tuple[list[Part], list[Entry]]:
        parts = [
            _part(r) for r in self.db.execute("SELECT * FROM ledger_parts WHERE token_id=?", (token_id,))
        ]
        entries = [
            Entry(
                EntryKind(kind), token, market, seq, day, Decimal(shares), Decimal(usd), Decimal(price), ref
            )
            for seq, kind, token, market, day, shares, usd, price, ref in self.db.execute(
                "SELECT * FROM ledger_entries WHERE token_id=?", (token_id,)
            )
        ]
        return parts, entries

    def put_position(self, p: TokenPosition) -> None:
        resolved = None if p.resolved_price is None else str(p.resolved_price)
        self.db.execute(
            "INSERT OR REPLACE INTO ledger_positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.token_id,
                p.market,
                str(p.settled),
                str(p.provisional),
                str(p.cost_usd),
                str(p.realized_usd),
                str(p.fees_usd),
                str(p.cash_usd),
                str(p.pending_cash_usd),
                resolved,
            ),
        )
        self.db.execute("DELETE FROM ledger_realized WHERE token_id=?", (p.token_id,))
        self.db.executemany(
            "INSERT INTO ledger_realized VALUES (?, ?, ?)",
            [(p.token_id, day, str(usd)) for day, usd in p.realized_by_day.items()],
        )

    def position(self, token_id: str) -> TokenPosition | None:
        """The position with its realized PnL by day (what a fold continues from)."""
        row = self._one("SELECT * FROM ledger_positions WHERE token_id=?", token_id)
        if row is None:
            return None
        days = self.db.execute("SELECT day, usd FROM ledger_realized WHERE token_id=?", (token_id,))
        return replace(_position(row), realized_by_day={day: Decimal(usd) for day, usd in days})

    def positions(self) -> list[TokenPosition]:
        return [_position(r) for r in self.db.execute("SELECT * FROM ledger_positions ORDER BY token_id")]

    def realized_on(self, day: str) -> Decimal:
        rows = self.db.execute("SELECT usd FROM ledger_realized WHERE day=?", (day,))
        return sum((Decimal(usd) for (usd,) in rows), ZERO)

    def cash_base(self) -> Decimal | None:
        row = self._one("SELECT value FROM ledger_meta WHERE key='cash_base'")
        return None if row is None else Decimal(row[0])

    def set_cash_base(self, usd: Decimal) -> None:
        self.db.execute("INSERT OR REPLACE INTO ledger_meta VALUES ('cash_base', ?)", (str(usd),))


def _part(row: tuple) -> Part:
    trade_id, order_id, client_id, market, token_id, side, size, price, fee, statuses, seq, day = row
    return Part(
        trade_id=trade_id,
        order_id=order_id,
        client_order_id=client_id,
        market=market,
        token_id=token_id,
        side=Side(side),
        size=Decimal(size),
        price=Decimal(price),
        fee_usd=Decimal(fee),
        statuses=frozenset(TradeStatus(s) for s in statuses.split(",")),
        seq=seq,
        day=day,
    )


def _position(row: tuple) -> TokenPosition:
    token_id, market, settled, provisional, cost, realized, fees, cash, pending_cash, resolved = row
    return TokenPosition(
        token_id=token_id,
        market=market,
        settled=Decimal(settled),
        provisional=Decimal(provisional),
        cost_usd=Decimal(cost),
        realized_usd=Decimal(realized),
        fees_usd=Decimal(fees),
        cash_usd=Decimal(cash),
        pending_cash_usd=Decimal(pending_cash),
        resolved_price=_dec(resolved),
    )


def open_readonly(path: Path | str) -> sqlite3.Connection:
    """Risk's database for reading only (raises sqlite3.OperationalError when it does not exist)."""
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
