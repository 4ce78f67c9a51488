"""How the executor's store commits: durable transactions and groups (see services/executor/orders.py).

Each SQLite commit with synchronous=FULL fsyncs, so the store commits per batch: a durable transaction
(`transaction()`) is atomic and on disk when it returns, together with any open group's writes (one
commit); a group (`group()`, or `begin_group()`/`end_group()` across awaits) lets many writes share one.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


class Commits:
    """Group and transaction bookkeeping over one autocommit (isolation_level=None) connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._groups = 0  # open groups (nested, or several coroutines'): their writes share one transaction

    def begin_group(self) -> None:
        """Writes from now on share one transaction, committed when the last open group ends (or earlier,
        by flush() or a durable transaction)."""
        self._groups += 1
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def end_group(self) -> None:
        self._groups = max(0, self._groups - 1)
        if self._groups == 0 and self._db.in_transaction:
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """One commit for the writes of a block (which may await: other coroutines' writes join it)."""
        self.begin_group()
        try:
            yield
        finally:
            self.end_group()

    def flush(self) -> None:
        """Commit what open groups hold now (they go on in a new transaction)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
            if self._groups:
                self._db.execute("BEGIN")

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """A durable, atomic transaction. Inside an open group it is a savepoint of the group's transaction, and
    its success commits both (one fsync, not two); a failure rolls back its own writes only. The group goes
    on in a new transaction."""

    def __init__(self, store: Commits) -> None:
        self._store = store
        self._db = store._db
        self._nested = False

    def __enter__(self) -> None:
        self._nested = self._db.in_transaction
        self._db.execute("SAVEPOINT durable" if self._nested else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._nested:
            if exc_type:
                self._db.execute("ROLLBACK TO durable")
            self._db.execute("RELEASE durable")
            if exc_type:
                return
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        if self._store._groups:
            self._db.execute("BEGIN")
