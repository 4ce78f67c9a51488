"""Risk's durable state in SQLite (WAL, raw SQL, migrations by `PRAGMA user_version`), with an injected clock.

Holds the kill switch, recorded outputs by input message id (so a redelivered input re-emits the same
messages), approved signal keys, fills applied by (trade id, status), positions, realized PnL by trading
day and the day's unrealized baseline, open orders, markets and marks. Amounts are Decimal stored as TEXT.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from services.risk.pnl import ZERO, Position, fill_effect, trading_day, unrealized_usd
from shared.messages import MarketInfo, Side, TradeStatus

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
)


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
class FillRecord:
    trade_id: str
    status: TradeStatus
    market: str
    token_id: str
    side: Side
    size: Decimal
    price: Decimal
    fee_usd: Decimal = ZERO


class RiskState:
    """One SQLite connection, used by one event loop thread; `transaction()` groups writes atomically."""

    def __init__(self, path: Path | str, *, reset_minute_of_day: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process kill
        self.clock = clock
        self.reset_minute_of_day = reset_minute_of_day
        self._depth = 0
        self._migrate()
        self.marks: dict[str, Decimal] = {r[0]: Decimal(r[1]) for r in self.db.execute("SELECT token_id, price FROM marks")}

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
            raise
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT")

    def _one(self, sql: str, *args: object) -> tuple | None:
        return self.db.execute(sql, args).fetchone()

    # ---- kill switch ---------------------------------------------------------------------------------

    def kill_switch(self) -> KillState:
        active, reason, actor, ts = self._one("SELECT active, reason, actor, changed_ts FROM kill_switch")
        return KillState(bool(active), reason, actor, ts)

    def set_kill_switch(self, active: bool, reason: str, actor: str, *, auto: bool = False) -> bool:
        """Set the switch; returns False (and changes nothing) when it already is in that state."""
        if self.kill_switch().active == active:
            return False
        self.db.execute("UPDATE kill_switch SET active=?, reason=?, actor=?, changed_ts=?",
                        (int(active), reason, actor, self.clock()))
        if auto:
            self.db.execute("UPDATE kill_switch SET auto_day=?", (self.today(),))
        return True

    def auto_tripped_today(self) -> bool:
        return self._one("SELECT auto_day FROM kill_switch")[0] == self.today()

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

    def apply_fill(self, fill: FillRecord) -> str:
        """Apply a fill once per (trade id, status); returns applied, status, reversed, failed or duplicate.

        The first non-FAILED status of a trade applies its effect (provisionally, from MATCHED on); later
        statuses only record themselves; FAILED reverses an applied effect. A trade that failed stays failed.
        """
        with self.transaction():
            if self._one("SELECT 1 FROM fill_statuses WHERE trade_id=? AND status=?", fill.trade_id, fill.status):
                return "duplicate"
            self._baseline(self.today())
            self.db.execute("INSERT INTO fill_statuses VALUES (?, ?, ?)", (fill.trade_id, fill.status, self.clock()))
            row = self._one("SELECT status, applied, day, d_size, d_cost, d_realized FROM trades WHERE trade_id=?",
                            fill.trade_id)
            if fill.status == TradeStatus.FAILED:
                return self._fail_trade(fill, row)
            if row is None:
                self._apply_new_trade(fill)
                return "applied"
            if row[0] == TradeStatus.FAILED:
                return "failed"
            self.db.execute("UPDATE trades SET status=? WHERE trade_id=?", (fill.status, fill.trade_id))
            return "status"

    def _apply_new_trade(self, fill: FillRecord) -> None:
        held = self.position(fill.token_id)
        effect = fill_effect(held.size, held.cost_usd, fill.side, fill.size, fill.price, fill.fee_usd)
        day = trading_day(self.clock(), self.reset_minute_of_day)
        self.db.execute("INSERT INTO trades VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
                        (fill.trade_id, fill.status, fill.token_id, fill.market, day, str(effect.d_size),
                         str(effect.d_cost), str(effect.d_realized)))
        self._move(fill.token_id, fill.market, day, effect.d_size, effect.d_cost, effect.d_realized)

    def _fail_trade(self, fill: FillRecord, row: tuple | None) -> str:
        if row is None:
            self.db.execute("INSERT INTO trades VALUES (?, ?, 0, ?, ?, ?, '0', '0', '0')",
                            (fill.trade_id, TradeStatus.FAILED, fill.token_id, fill.market,
                             trading_day(self.clock(), self.reset_minute_of_day)))
            return "failed"
        _, applied, day, d_size, d_cost, d_realized = row
        self.db.execute("UPDATE trades SET status=?, applied=0 WHERE trade_id=?", (TradeStatus.FAILED, fill.trade_id))
        if not applied:
            return "failed"
        self._move(fill.token_id, fill.market, day, -Decimal(d_size), -Decimal(d_cost), -Decimal(d_realized))
        return "reversed"

    def _move(self, token_id: str, market: str, day: str, d_size: Decimal, d_cost: Decimal,
              d_realized: Decimal) -> None:
        held = self.position(token_id)
        self.set_position(token_id, market, held.size + d_size, held.cost_usd + d_cost)
        realized = self.realized_usd(day) + d_realized
        self.db.execute("INSERT OR REPLACE INTO realized VALUES (?, ?)", (day, str(realized)))
        if token_id in self.marks:
            self._persist_mark(token_id)

    def set_position(self, token_id: str, market: str, size: Decimal, cost_usd: Decimal) -> None:
        if size == 0:
            self.db.execute("DELETE FROM positions WHERE token_id=?", (token_id,))
        else:
            self.db.execute("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)",
                            (token_id, market, str(size), str(cost_usd)))

    def position(self, token_id: str) -> Position:
        row = self._one("SELECT market, size, cost FROM positions WHERE token_id=?", token_id)
        if row is None:
            return Position(token_id, self.market_of_token(token_id) or "", ZERO, ZERO)
        return Position(token_id, row[0], Decimal(row[1]), Decimal(row[2]))

    def positions(self) -> list[Position]:
        rows = self.db.execute("SELECT token_id, market, size, cost FROM positions ORDER BY token_id")
        return [Position(t, m, Decimal(s), Decimal(c)) for t, m, s, c in rows]

    def realized_usd(self, day: str) -> Decimal:
        row = self._one("SELECT usd FROM realized WHERE day=?", day)
        return Decimal(row[0]) if row else ZERO

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

    def upsert_open_order(self, client_order_id: str, market: str, token_id: str, side: Side, price: Decimal,
                          remaining: Decimal) -> None:
        if remaining <= 0:
            self.close_open_order(client_order_id)
            return
        self.db.execute("INSERT OR REPLACE INTO open_orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (client_order_id, market, token_id, side, str(price), str(remaining), self.clock()))

    def close_open_order(self, client_order_id: str) -> None:
        self.db.execute("DELETE FROM open_orders WHERE client_order_id=?", (client_order_id,))

    def open_buy_notional(self, market: str | None = None) -> Decimal:
        sql = "SELECT price, remaining FROM open_orders WHERE side='BUY'"
        rows = self.db.execute(sql + " AND market=?", (market,)) if market else self.db.execute(sql)
        return sum((Decimal(p) * Decimal(r) for p, r in rows), ZERO)

    def market_notional(self, market: str) -> Decimal:
        """Own open BUY orders plus the cost of what is held, in one market."""
        rows = self.db.execute("SELECT cost FROM positions WHERE market=?", (market,))
        return self.open_buy_notional(market) + sum((Decimal(c) for (c,) in rows), ZERO)

    # ---- markets and marks ------------------------------------------------------------------------------

    def upsert_market(self, info: MarketInfo) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO markets VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (info.condition_id, str(info.volume_24h_usd), info.end_date_ts, str(info.tick_size),
                             str(info.min_order_size), int(info.neg_risk), int(info.closed or not info.active)))
            for token in info.tokens:
                self.db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (token.token_id, info.condition_id))

    def close_market(self, condition_id: str) -> None:
        self.db.execute("UPDATE markets SET closed=1 WHERE condition_id=?", (condition_id,))

    def market(self, condition_id: str) -> MarketRow | None:
        row = self._one("SELECT * FROM markets WHERE condition_id=?", condition_id)
        if row is None:
            return None
        cid, volume, end, tick, min_size, neg_risk, closed = row
        return MarketRow(cid, Decimal(volume), end, Decimal(tick), Decimal(min_size), bool(neg_risk), bool(closed))

    def market_of_token(self, token_id: str) -> str | None:
        row = self._one("SELECT condition_id FROM tokens WHERE token_id=?", token_id)
        return row[0] if row else None

    def set_mark(self, token_id: str, price: Decimal) -> bool:
        """Remember a token's mark; returns True when we hold the token (so PnL moved)."""
        if self.marks.get(token_id) == price:
            return False
        held = self._one("SELECT 1 FROM positions WHERE token_id=?", token_id) is not None
        if held:
            self._baseline(self.today())
        self.marks[token_id] = price
        # Only held tokens' marks matter after a restart; writing every book change would be waste.
        if held:
            self._persist_mark(token_id)
        return held

    def _persist_mark(self, token_id: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO marks VALUES (?, ?, ?)",
                        (token_id, str(self.marks[token_id]), self.clock()))
