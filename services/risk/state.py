"""Risk's durable state in SQLite (WAL, raw SQL, migrations by `PRAGMA user_version`), with an injected clock.

Holds the kill switch, recorded outputs by input message id (so a redelivered input re-emits the same
messages), approved signal keys, the position ledger (shared.ledger's rules in shared.ledger_store's tables:
fill parts, positions, realized PnL by trading day, cash), the day's unrealized baseline, open orders,
markets and marks. Amounts are Decimal stored as TEXT.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from services.risk.pnl import ZERO, trading_day, unrealized_usd
from shared.clock import now as clock_now
from shared.ledger import Applied, Ledger, TokenPosition
from shared.ledger_store import LEDGER_SCHEMA, SqliteLedgerStore
from shared.messages import Fill, MarketInfo, PositionRedeemed, Side

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE kill_switch (id INTEGER PRIMARY KEY CHECK (id = 1), active INTEGER NOT NULL,
                              reason TEXT NOT NULL, actor TEXT NOT NULL, changed_ts REAL NOT NULL);
    INSERT INTO kill_switch VALUES (1, 0, 'initial', 'risk', 0);
    CREATE TABLE handled (input_id TEXT PRIMARY KEY, outputs TEXT NOT NULL, ts REAL NOT NULL);
    CREATE TABLE signal_keys (signal_key TEXT PRIMARY KEY, approved_ts REAL NOT NULL);
    CREATE TABLE fill_statuses (trade_id TEXT NOT NULL, status TEXT NOT NULL, ts REAL NOT NULL,
                                PRIMARY KEY (trade_id, status));
    CREATE TABLE trades (trade_id TEXT PRIMARY KEY, status TEXT NOT NULL, applied INTEGER NOT NULL,
                         token_id TEXT NOT NULL, market TEXT NOT NULL, day TEXT NOT NULL,
                         d_size TEXT NOT NULL, d_cost TEXT NOT NULL, d_realized TEXT NOT NULL);
    CREATE TABLE positions (token_id TEXT PRIMARY KEY, market TEXT NOT NULL, size TEXT NOT NULL,
                            cost TEXT NOT NULL);
    CREATE TABLE realized (day TEXT PRIMARY KEY, usd TEXT NOT NULL);
    CREATE TABLE day_baseline (day TEXT PRIMARY KEY, unrealized TEXT NOT NULL);
    CREATE TABLE open_orders (client_order_id TEXT PRIMARY KEY, market TEXT NOT NULL, token_id TEXT NOT NULL,
                              side TEXT NOT NULL, price TEXT NOT NULL, remaining TEXT NOT NULL,
                              updated_ts REAL NOT NULL);
    CREATE TABLE markets (condition_id TEXT PRIMARY KEY, volume_24h TEXT NOT NULL, end_date_ts INTEGER,
                          tick_size TEXT NOT NULL, min_order_size TEXT NOT NULL, neg_risk INTEGER NOT NULL,
                          closed INTEGER NOT NULL);
    CREATE TABLE tokens (token_id TEXT PRIMARY KEY, condition_id TEXT NOT NULL);
    CREATE TABLE marks (token_id TEXT PRIMARY KEY, price TEXT NOT NULL, ts REAL NOT NULL);
    """,
    # The trading day of the last automatic trip: after a release by hand, a loss does not re-trip that day.
    "ALTER TABLE kill_switch ADD COLUMN auto_day TEXT NOT NULL DEFAULT '';",
    # The shared ledger replaces fills-by-(trade, status) and positions; held positions and the realized PnL
    # of past days carry over (as venue adjustments: their trades are not known part by part).
    LEDGER_SCHEMA
    + """
    INSERT INTO ledger_entries SELECT rowid, 'adjust', token_id, market, '', size, cost, '0', 'migrated'
        FROM positions;
    INSERT INTO ledger_positions SELECT token_id, market, size, '0', cost, '0', '0', '0', '0', NULL FROM positions;
    INSERT INTO ledger_realized SELECT 'migrated', day, usd FROM realized;
    UPDATE ledger_meta SET value = CAST((SELECT IFNULL(MAX(seq), 0) FROM ledger_entries) AS TEXT) WHERE key='seq';
    DROP TABLE fill_statuses; DROP TABLE trades; DROP TABLE positions; DROP TABLE realized;
    ALTER TABLE tokens ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
    """,
    # Each token's book as ingest last reported it (BookStatus, BookSnapshot): risk approves nothing on a
    # book that is not valid, and cancels resting orders on a market whose book stays invalid.
    """
    CREATE TABLE book_status (token_id TEXT PRIMARY KEY, market TEXT NOT NULL, state TEXT NOT NULL,
                              reason TEXT NOT NULL, epoch INTEGER NOT NULL, since_ts REAL NOT NULL);
    """,
    # The market's question, for `polydesk positions`.
    "ALTER TABLE markets ADD COLUMN question TEXT NOT NULL DEFAULT '';",
    # Every intent asks for its market's held cost: by index, not by reading every token ever held.
    "CREATE INDEX ledger_positions_market ON ledger_positions (market);",
    # Every intent reads its market's open BUY orders, its tokens' open orders, its market's tokens and
    # today's realized PnL: a scan of each table grew the decision with every order resting (+0.3 ms at
    # 1,000 resting orders), every market known and every token traded on every day.
    """
    CREATE INDEX open_orders_market ON open_orders (market, side);
    CREATE INDEX open_orders_token ON open_orders (token_id);
    CREATE INDEX tokens_condition ON tokens (condition_id);
    CREATE INDEX ledger_realized_day ON ledger_realized (day);
    """,
)


class CountingLedgerStore(SqliteLedgerStore):
    """The shared ledger's store, counting writes of positions (the only way a position changes)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__(db)
        self.position_writes = 0

    def put_position(self, p: TokenPosition) -> None:
        self.position_writes += 1
        super().put_position(p)


@dataclass(frozen=True)
class KillState:
    active: bool
    reason: str
    actor: str
    changed_ts: float


@dataclass(frozen=True)
class MarketRow:
    condition_id: str
    volume_24h_usd: Decimal
    end_date_ts: int | None
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    closed: bool


@dataclass(frozen=True)
class BookStatusRow:
    token_id: str
    market: str
    state: str  # valid | stale | resyncing | gap
    reason: str
    epoch: int
    since_ts: float  # when the book entered this state (risk's clock)


class RiskState:
    """One SQLite connection, used by one event loop thread; `transaction()` groups writes atomically."""

    def __init__(
        self, path: Path | str, *, reset_minute_of_day: int = 0, clock: Callable[[], float] = clock_now
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process kill
        self.clock = clock
        self.reset_minute_of_day = reset_minute_of_day
        self._depth = 0
        self._migrate()
        self._store = CountingLedgerStore(self.db)
        self.ledger = Ledger(self._store, day=self.today)
        self.marks: dict[str, Decimal] = {
            r[0]: Decimal(r[1]) for r in self.db.execute("SELECT token_id, price FROM marks")
        }
        # positions() and their tokens as of the count of position writes they were read at (-1: not yet).
        self._held: tuple[int, list[TokenPosition], frozenset[str]] = (-1, [], frozenset())
        self._kill: KillState | None = None  # kill_switch() as last read; None: read it again

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested use joins the outer transaction."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("ROLLBACK")
                # What was read inside may have been rolled back: the switch, and positions read after a
                # position was written (the count of writes stays, so only forgetting the read is safe).
                self._kill = None
                self._held = (-1, [], frozenset())
            raise
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT")

    def _one(self, sql: str, *args: object) -> tuple | None:
        return self.db.execute(sql, args).fetchone()

    # ---- kill switch ---------------------------------------------------------------------------------

    def kill_switch(self) -> KillState:
        """The switch, read from the database once and again after each change (every intent and every
        status sync asks; only set_kill_switch writes it, and a rollback forgets what was read)."""
        if self._kill is None:
            row = self._one("SELECT active, reason, actor, changed_ts FROM kill_switch")
            assert row is not None, "the kill switch row is created by the first migration"
            active, reason, actor, ts = row
            self._kill = KillState(bool(active), reason, actor, ts)
        return self._kill

    def set_kill_switch(self, active: bool, reason: str, actor: str, *, auto: bool = False) -> bool:
        """Set the switch; returns False (and changes nothing) when it already is in that state."""
        if self.kill_switch().active == active:
            return False
        self._kill = None
        self.db.execute(
            "UPDATE kill_switch SET active=?, reason=?, actor=?, changed_ts=?",
            (int(active), reason, actor, self.clock()),
        )
        if auto:
            self.db.execute("UPDATE kill_switch SET auto_day=?", (self.today(),))
        return True

    def auto_tripped_today(self) -> bool:
        row = self._one("SELECT auto_day FROM kill_switch")
        return row is not None and row[0] == self.today()

    # ---- recorded outputs and signal keys ---------------------------------------------------------------

    def recorded_outputs(self, input_id: str) -> str | None:
        row = self._one("SELECT outputs FROM handled WHERE input_id=?", input_id)
        return row[0] if row else None

    def record_outputs(self, input_id: str, outputs: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO handled VALUES (?, ?, ?)", (input_id, outputs, self.clock()))

    def signal_approved_ts(self, signal_key: str) -> float | None:
        row = self._one("SELECT approved_ts FROM signal_keys WHERE signal_key=?", signal_key)
        return row[0] if row else None

    def approve_signal(self, signal_key: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO signal_keys VALUES (?, ?)", (signal_key, self.clock()))

    def prune(self, *, handled_keep_secs: float, signal_keep_secs: float) -> None:
        now = self.clock()
        with self.transaction():
            self.db.execute("DELETE FROM handled WHERE ts < ?", (now - handled_keep_secs,))
            self.db.execute("DELETE FROM signal_keys WHERE approved_ts < ?", (now - signal_keep_secs,))

    # ---- fills, positions, PnL ---------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> Applied:
        """One status of one fill part, through the shared ledger (idempotent; see shared.ledger)."""
        with self.transaction():
            self._baseline(self.today())  # today's baseline is taken before the first change of the day
            applied = self.ledger.apply_fill(fill)
            self._keep_mark(fill.token_id)
            return applied

    def apply_redemption(self, message: PositionRedeemed) -> Applied:
        with self.transaction():
            self._baseline(self.today())
            return self.ledger.redeem(message)

    def resolve_market(self, condition_id: str, winning_token_id: str) -> list[str]:
        """Winning token pays 1, the others 0, at once; returns the tokens whose position PnL moved."""
        with self.transaction():
            self._baseline(self.today())
            self.close_market(condition_id)
            return self.ledger.resolve(condition_id, self.tokens_of_market(condition_id), winning_token_id)

    def position(self, token_id: str) -> TokenPosition:
        position = self.ledger.position(token_id)
        return position if position.market else TokenPosition(token_id, self.market_of_token(token_id) or "")

    def positions(self) -> list[TokenPosition]:
        """Tokens held (settled or provisional shares). Read again only after a position was written (every
        intent and every move of a held token's mark ask): keyed on the store's count of position writes, so no
        change of a position can leave it stale, and forgotten on a rollback, which may undo what was read."""
        writes = self._store.position_writes
        if self._held[0] != writes:
            held = [p for p in self.ledger.positions() if p.size != 0]
            self._held = (writes, held, frozenset(p.token_id for p in held))
        return list(self._held[1])

    def held_tokens(self) -> frozenset[str]:
        """The tokens of positions() (every book change asks)."""
        self.positions()
        return self._held[2]

    def realized_usd(self, day: str) -> Decimal:
        return self.ledger.store.realized_on(day)

    def today(self) -> str:
        return trading_day(self.clock(), self.reset_minute_of_day)

    def daily_pnl(self) -> tuple[Decimal, Decimal]:
        """Today's (realized, unrealized); unrealized counts from the day's baseline."""
        day = self.today()
        baseline = self._baseline(day)
        return self.realized_usd(day), unrealized_usd(self.positions(), self.marks) - baseline

    def _baseline(self, day: str) -> Decimal:
        # The unrealized PnL when the day was first looked at or first changed: the service looks every
        # second, and every change looks before it applies, so this is the value at the reset time.
        row = self._one("SELECT unrealized FROM day_baseline WHERE day=?", day)
        if row is not None:
            return Decimal(row[0])
        unrealized = unrealized_usd(self.positions(), self.marks)
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO day_baseline VALUES (?, ?)", (day, str(unrealized)))
        return unrealized

    # ---- open orders ----------------------------------------------------------------------------------

    def upsert_open_order(
        self, client_order_id: str, market: str, token_id: str, side: Side, price: Decimal, remaining: Decimal
    ) -> None:
        if remaining <= 0:
            self.close_open_order(client_order_id)
            return
        self.db.execute(
            "INSERT OR REPLACE INTO open_orders VALUES (?, ?, ?, ?, ?, ?, ?)",
            (client_order_id, market, token_id, side, str(price), str(remaining), self.clock()),
        )

    def close_open_order(self, client_order_id: str) -> None:
        self.db.execute("DELETE FROM open_orders WHERE client_order_id=?", (client_order_id,))

    def open_buy_notional(self, market: str | None = None) -> Decimal:
        sql = "SELECT price, remaining FROM open_orders WHERE side='BUY'"
        rows = self.db.execute(sql + " AND market=?", (market,)) if market else self.db.execute(sql)
        return sum((Decimal(p) * Decimal(r) for p, r in rows), ZERO)

    def market_notional(self, market: str) -> Decimal:
        """Own open BUY orders plus the cost of what is held, in one market."""
        rows = self.db.execute(
            "SELECT cost, settled, provisional FROM ledger_positions WHERE market=?", (market,)
        )
        held = sum(
            (Decimal(cost) for cost, settled, provisional in rows if Decimal(settled) + Decimal(provisional)),
            ZERO,
        )
        return self.open_buy_notional(market) + held

    # ---- markets and marks ------------------------------------------------------------------------------

    def upsert_market(self, info: MarketInfo) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO markets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.condition_id,
                    str(info.volume_24h_usd),
                    info.end_date_ts,
                    str(info.tick_size),
                    str(info.min_order_size),
                    int(info.neg_risk),
                    int(info.closed or not info.active),
                    info.question,
                ),
            )
            for token in info.tokens:
                self.db.execute(
                    "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)",
                    (token.token_id, info.condition_id, token.outcome),
                )

    def close_market(self, condition_id: str) -> None:
        self.db.execute("UPDATE markets SET closed=1 WHERE condition_id=?", (condition_id,))

    def market(self, condition_id: str) -> MarketRow | None:
        row = self._one("SELECT * FROM markets WHERE condition_id=?", condition_id)
        if row is None:
            return None
        cid, volume, end, tick, min_size, neg_risk, closed, _question = row
        return MarketRow(
            cid, Decimal(volume), end, Decimal(tick), Decimal(min_size), bool(neg_risk), bool(closed)
        )

    def set_tick_size(self, condition_id: str, tick_size: Decimal) -> None:
        self.db.execute("UPDATE markets SET tick_size=? WHERE condition_id=?", (str(tick_size), condition_id))

    def set_book_status(self, token_id: str, market: str, state: str, reason: str, epoch: int) -> None:
        """Record a token's book state; `since_ts` moves only when the state changes."""
        old = self.book_status(token_id)
        since = old.since_ts if old is not None and old.state == state else self.clock()
        self.db.execute(
            "INSERT OR REPLACE INTO book_status VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, market, state, reason, epoch, since),
        )

    def book_status(self, token_id: str) -> BookStatusRow | None:
        row = self._one("SELECT * FROM book_status WHERE token_id=?", token_id)
        return None if row is None else BookStatusRow(*row)

    def books_invalid_since(self, before_ts: float) -> list[BookStatusRow]:
        """Books not valid since before `before_ts`."""
        rows = self.db.execute(
            "SELECT * FROM book_status WHERE state != 'valid' AND since_ts <= ? ORDER BY market, token_id",
            (before_ts,),
        )
        return [BookStatusRow(*row) for row in rows]

    def has_open_orders(self, market: str) -> bool:
        return self._one("SELECT 1 FROM open_orders WHERE market=? LIMIT 1", market) is not None

    def market_of_token(self, token_id: str) -> str | None:
        row = self._one("SELECT condition_id FROM tokens WHERE token_id=?", token_id)
        return row[0] if row else None

    def tokens_of_market(self, condition_id: str) -> list[str]:
        rows = self.db.execute(
            "SELECT token_id FROM tokens WHERE condition_id=? ORDER BY rowid", (condition_id,)
        )
        return [token_id for (token_id,) in rows]

    def token_of_outcome(self, condition_id: str, outcome: str) -> str | None:
        row = self._one(
            "SELECT token_id FROM tokens WHERE condition_id=? AND lower(outcome)=lower(?)",
            condition_id,
            outcome,
        )
        return row[0] if row else None

    def open_orders(self, token_ids: list[str]) -> list[tuple[str, Side, Decimal, Decimal]]:
        """Own open orders on these tokens: (token id, side, price, remaining)."""
        marks = ",".join("?" * len(token_ids))
        rows = self.db.execute(
            f"SELECT token_id, side, price, remaining FROM open_orders WHERE token_id IN ({marks})", token_ids
        )
        return [(t, Side(s), Decimal(p), Decimal(r)) for t, s, p, r in rows]

    def set_mark(self, token_id: str, price: Decimal) -> bool:
        """Remember a token's mark; returns True when we hold the token (so PnL moved)."""
        if self.marks.get(token_id) == price:
            return False
        held = self.ledger.position(token_id).size != 0
        if held:
            self._baseline(self.today())
        self.marks[token_id] = price
        # Only held tokens' marks matter after a restart; writing every book change would be waste.
        if held:
            self._persist_mark(token_id)
        return held

    def _keep_mark(self, token_id: str) -> None:
        """A token just became (or still is) held: its mark matters after a restart (and to `polydesk positions`)."""
        if token_id in self.marks and self.ledger.position(token_id).size != 0:
            self._persist_mark(token_id)

    def _persist_mark(self, token_id: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO marks VALUES (?, ?, ?)",
            (token_id, str(self.marks[token_id]), self.clock()),
        )
