"""One commit per batch, not per order (issue 19): the store's groups and durable transactions, and the
never-twice rule across a crash between a batch's commit and its POST, with the real executor process."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest

from services.executor.orders import OrderRow, OrderStore
from shared.messages import ApprovedOrder, Envelope, OrderStatus, OrderType, Side
from shared.streams import APPROVED_ORDERS, Output
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually


def _approval(cid: str) -> ApprovedOrder:
    return ApprovedOrder(envelope=Envelope.new("risk"), client_order_id=cid, intent_id="i", signal_key="k",
                         strategy="s", market="m", token_id="1", side=Side.BUY, size=D(10), price=D("0.5"),
                         price_limit=D("0.5"), order_type=OrderType.GTC, tick_size=D("0.01"))


def _row(order_hash: str, cid: str) -> OrderRow:
    return OrderRow(order_hash, cid, 1, OrderStatus.PENDING, "BUY", "1", "m", D("0.5"), D(10), D(0), "GTC", "s",
                    "", 0, 0)


def _commits(store: OrderStore) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def _outside(path: Path, sql: str) -> list:
    """What another connection (a process after a crash) reads: committed rows only."""
    other = sqlite3.connect(str(path))
    try:
        return other.execute(sql).fetchall()
    finally:
        other.close()


def test_a_batch_of_approvals_is_one_commit_and_replays_are_skipped(tmp_path) -> None:
    store = OrderStore(tmp_path / "x.sqlite")
    commits = _commits(store)
    added = store.add_approvals([_approval(f"c{i}") for i in range(15)] + [_approval("c3")])
    assert [a.client_order_id for a in added] == [f"c{i}" for i in range(15)]
    assert len(commits) == 1
    assert [a.client_order_id for a in store.add_approvals([_approval("c3"), _approval("c99")])] == ["c99"]
    assert len(_outside(tmp_path / "x.sqlite", "SELECT * FROM approvals")) == 16
    store.close()


def test_a_groups_writes_share_one_commit_and_a_durable_write_commits_them_first(tmp_path) -> None:
    path = tmp_path / "x.sqlite"
    store = OrderStore(path)
    store.add_approvals([_approval(f"c{i}") for i in range(3)])
    commits = _commits(store)
    with store.group():
        for i in range(3):
            store.set_approval(f"c{i}", state="DONE", outcome="placed")
            store.first_time(f"key-{i}")
        assert commits == [] and _outside(path, "SELECT * FROM published") == []  # not on disk yet
        store.add_pending([(_row("0xa", "c0"), {"salt": 1})])  # durable: the group's writes go with it
        assert len(_outside(path, "SELECT * FROM published")) == 3
        assert _outside(path, "SELECT order_hash FROM orders") == [("0xa",)]
        store.first_time("key-after")  # the group goes on in a new transaction
        assert _outside(path, "SELECT key FROM published WHERE key = 'key-after'") == []
    assert len(_outside(path, "SELECT * FROM published")) == 4
    assert len(commits) == 2  # the group's first part with the durable transaction (one fsync), the rest
    store.close()


def test_a_failed_durable_write_in_a_group_rolls_back_only_itself(tmp_path) -> None:
    path = tmp_path / "x.sqlite"
    store = OrderStore(path)
    store.add_approvals([_approval("c0")])
    with store.group():
        store.first_time("kept")
        store.add_pending([(_row("0xa", "c0"), {"salt": 1})])
        with pytest.raises(sqlite3.IntegrityError):  # the same hash again: the whole call is refused
            store.add_pending([(_row("0xb", "c0"), {"salt": 2}), (_row("0xa", "c0"), {"salt": 1})])
        store.first_time("after")
    assert _outside(path, "SELECT order_hash FROM orders") == [("0xa",)]
    assert {k for (k,) in _outside(path, "SELECT key FROM published")} == {"kept", "after"}
    store.close()


def test_flush_commits_an_open_group_and_keeps_it_open(tmp_path) -> None:
    path = tmp_path / "x.sqlite"
    store = OrderStore(path)
    store.begin_group()
    store.first_time("a")
    store.flush()
    assert _outside(path, "SELECT key FROM published") == [("a",)]
    store.first_time("b")
    assert _outside(path, "SELECT key FROM published") == [("a",)]
    store.end_group()
    assert len(_outside(path, "SELECT key FROM published")) == 2
    store.close()


@pytest.mark.integration
@pytest.mark.processes
@pytest.mark.timeout(180)
async def test_a_crash_between_a_batchs_commit_and_its_post_resends_the_same_signed_orders(
        bus, executor, admin, market, wallet, tmp_path) -> None:
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    (crash_dir / "executor").write_text("after_save\n")
    executor.start(POLYDESK_CRASH_POINTS_DIR=str(crash_dir))
    await executor.wait_started()
    batch = [approval(market, price=f"0.{10 + i:02d}", size="5") for i in range(8)]
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in batch])  # one XADD: one batch of 8
    await eventually(lambda: executor.process.poll() is not None, timeout=40)
    assert executor.process.returncode == -9  # SIGKILLed at after_save: committed, not posted
    assert own_orders(admin, wallet.address) == []
    (store_path,) = (tmp_path / "state").rglob("executor*.sqlite")
    saved = dict(_outside(store_path, "SELECT order_hash, signed FROM orders WHERE status = 'PENDING'"))
    assert len(saved) == 8
    signed_first = {e["order_hash"] for e in executor.events("order_phase")}
    assert signed_first == set(saved)

    executor.start()  # the crash file is empty now: a normal restart
    await executor.wait_started()
    await eventually(lambda: len(own_orders(admin, wallet.address)) >= 8, timeout=60)
    assert {o["id"] for o in own_orders(admin, wallet.address)} == set(saved)  # the saved orders, as signed
    assert {e["order_hash"] for e in executor.events("order_phase")} == signed_first  # nothing signed again
    after = dict(_outside(store_path, "SELECT order_hash, signed FROM orders"))
    assert after == saved  # same bodies (salt, signature), no new rows
    assert len(own_orders(admin, wallet.address)) == 8
    assert executor.stop() == 0


async def test_orders_the_venue_cancelled_are_recorded_in_one_commit(tmp_path) -> None:
    """A shutdown or cancel-all over hundreds of resting orders: one commit, not two fsyncs per order."""
    from types import SimpleNamespace

    from services.executor.service import Executor

    store = OrderStore(tmp_path / "x.sqlite")
    store.add_pending([(_row(f"0x{i:02x}", f"c{i}"), {"salt": i}) for i in range(30)])
    published: list[str] = []

    class Reporter:
        def order_update(self, row, kind):
            return (row.order_hash, Output("fills", None))

        async def publish(self, keyed):
            published.extend(key for key, _ in keyed)

    commits = _commits(store)
    owner = SimpleNamespace(store=store, reporter=Reporter())
    await Executor._record_canceled(owner, [f"0x{i:02x}" for i in range(20)])  # type: ignore[arg-type]
    assert len(commits) == 1
    assert published == [f"0x{i:02x}" for i in range(20)]
    cancelled = _outside(tmp_path / "x.sqlite", "SELECT order_hash FROM orders WHERE status = 'CANCELED'")
    assert sorted(h for (h,) in cancelled) == [f"0x{i:02x}" for i in range(20)]
    store.close()
