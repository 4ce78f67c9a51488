"""The executor's rule (docs/architecture.md, "One order per approval phase"), against an in-memory venue that
misbehaves the way the issue-15 campaign found: a refusal answered after the order was applied, for longer
than the retry budget; INVALID_ORDER_DUPLICATED for a second copy of a hash; a crash between saving a
signed order and posting it; an approval whose signing raises a non-venue error. Real Redis for the
reports (the Reporter's publish-once script), real SQLite store; the venue is a fake so the windows are
hit exactly, not by luck."""

from __future__ import annotations

import decimal
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from services.executor.config import ExecutorSettings
from services.executor.heartbeat import Gate
from services.executor.orders import OrderStore
from services.executor.reconcile import Reconciler
from services.executor.submitter import Submitter
from services.executor.tracking import Reporter
from services.executor.venue import OrderRequest, PostResult, Rejected, SignedOrder, VenueOrder
from shared.errors import RateLimited
from shared.messages import ApprovedOrder, Envelope, OrderStatus, OrderType, Side

D = Decimal
POISON_SIZE = D(7777)


class Events:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict]] = []

    def emit(self, kind: str, **fields) -> None:
        self.emitted.append((kind, fields))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.emitted]


class MemoryVenue:
    """Keeps orders by hash like the CLOB: a second copy of a hash is refused as duplicated."""

    api_key = "key"

    def __init__(self) -> None:
        self.orders: dict[str, VenueOrder] = {}
        self.signed = 0
        self.posts: list[list[str]] = []
        self.refuse_after_apply = 0  # the next N posts are applied, then answered 429
        self.refuse_before_apply = 0  # the next N posts are answered 429 without being applied
        self.reject_batches = False  # a batch of more than one order is refused whole (HTTP 400)
        self._salts = itertools.count(1)

    async def sign(self, request: OrderRequest) -> SignedOrder:
        if request.size == POISON_SIZE:  # what the SDK did with 1e30 (now refused on the bus): a non-venue error
            raise decimal.InvalidOperation([decimal.InvalidOperation])
        self.signed += 1
        salt = next(self._salts)
        body = {"salt": salt, "tokenId": request.token_id, "price": str(request.price), "size": str(request.size)}
        return SignedOrder(f"0x{salt:064x}", body, request)

    def restore(self, order_hash: str, body: dict, request: OrderRequest) -> SignedOrder:
        return SignedOrder(order_hash, body, request)

    async def post_orders(self, batch) -> list[PostResult]:
        self.posts.append([s.order_hash for s in batch])
        if self.reject_batches and len(batch) > 1:
            raise Rejected("HTTP 400: Invalid order payload", "unknown")
        if self.refuse_before_apply:
            self.refuse_before_apply -= 1
            raise RateLimited("429 Too Many Requests", 0.0)
        results = []
        for signed in batch:
            if signed.order_hash in self.orders:
                results.append(PostResult(signed.order_hash, False, code="duplicated",
                                          message=f"INVALID_ORDER_DUPLICATED: order {signed.order_hash}"))
                continue
            r = signed.request
            self.orders[signed.order_hash] = VenueOrder(signed.order_hash, "LIVE", "m", r.token_id, r.side.value,
                                                        r.price, r.size, D(0))
            results.append(PostResult(signed.order_hash, True, "live"))
        if self.refuse_after_apply:
            self.refuse_after_apply -= 1
            raise RateLimited("429 Too Many Requests", 0.0)
        return results

    async def order(self, order_id: str) -> VenueOrder | None:
        return self.orders.get(order_id)

    async def open_orders(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.status == "LIVE"]

    async def trades(self) -> list:
        return []

    async def cancel(self, order_ids):  # pragma: no cover - not reached here
        raise AssertionError("no cancel expected")

    def live(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.status == "LIVE"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp_path: Path, bus, venue: MemoryVenue | None = None, **settings) -> None:
        self.venue = venue or MemoryVenue()
        self.clock = Clock()
        self.store = OrderStore(tmp_path / "executor.sqlite", clock=self.clock)
        self.events = Events()
        self.settings = ExecutorSettings(_env_file=None, post_attempts=2, unknown_grace_secs=5,
                                         **settings)
        self.reporter = Reporter(self.store, bus, self.events, "key")
        gate = Gate()
        gate.set(heartbeat_ok=True)
        self.submitter = Submitter(self.venue, self.store, self.reporter, self.events, gate, self.settings)
        self.reporter.on_resolved = self.submitter.after_placed
        self.reconciler = Reconciler(self.venue, self.store, self.reporter, self.submitter, self.events,
                                     self.settings, clock=self.clock)

    def approve(self, n: int = 1, size: str = "10") -> list[ApprovedOrder]:
        out = []
        for _ in range(n):
            number = len(self.store.approvals_in("QUEUED", "ACTIVE", "DONE"))
            a = ApprovedOrder(envelope=Envelope.new("risk"), client_order_id=f"coid-{number}",
                              intent_id="i", signal_key="k", strategy="s", market="m", token_id="1", side=Side.BUY,
                              size=D(size), price=D("0.5"), price_limit=D("0.5"), order_type=OrderType.GTC,
                              tick_size=D("0.01"))
            self.store.add_approval(a)
            out.append(a)
        return out

    def outcome(self, approval: ApprovedOrder) -> tuple[str, str]:
        row = self.store.approval(approval.client_order_id)
        return row.state, row.outcome


@pytest.fixture
def rig_factory(tmp_path, bus):
    made: list[Rig] = []

    def make(**kw) -> Rig:
        rig = Rig(tmp_path, bus, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.store.close()


async def test_a_refusal_after_apply_that_outlasts_the_retries_is_resolved_by_hash_not_signed_again(rig_factory):
    rig = rig_factory()
    rig.venue.refuse_after_apply = 5  # more than post_attempts (2): the old code re-signed and posted again
    (approval,) = rig.approve()
    await rig.submitter.submit_ready()
    (order,) = rig.store.orders_of(approval.client_order_id)
    assert order.status is OrderStatus.UNKNOWN and "refused 2 times" in order.reason
    assert rig.store.approval(approval.client_order_id).state == "ACTIVE"
    await rig.submitter.submit_ready()  # nothing more is signed while that order is unresolved
    assert rig.venue.signed == 1
    await rig.reconciler.resolve_unresolved()  # the venue has it by hash: LIVE, and the approval is placed
    assert rig.store.order(order.order_hash).status is OrderStatus.LIVE
    assert rig.outcome(approval) == ("DONE", "placed")
    assert len(rig.venue.live()) == 1 and rig.venue.signed == 1


async def test_a_refusal_before_apply_is_posted_again_as_signed_after_the_grace_period(rig_factory):
    rig = rig_factory()
    rig.venue.refuse_before_apply = 2
    (approval,) = rig.approve()
    await rig.submitter.submit_ready()
    (order,) = rig.store.orders_of(approval.client_order_id)
    assert order.status is OrderStatus.UNKNOWN
    await rig.reconciler.resolve_unresolved()  # absent, but within the grace period: wait
    assert rig.venue.posts == [[order.order_hash]] * 2
    rig.clock.now += 10
    await rig.reconciler.resolve_unresolved()  # absent past the grace: the same signed order again
    assert rig.venue.posts[-1] == [order.order_hash] and rig.venue.signed == 1
    assert rig.store.order(order.order_hash).status is OrderStatus.LIVE
    assert rig.store.posts(order.order_hash) == 2
    assert rig.outcome(approval) == ("DONE", "placed")
    assert "order_reposted" in rig.events.kinds()


async def test_invalid_order_duplicated_means_it_exists_and_is_resolved_by_hash(rig_factory):
    rig = rig_factory()
    (approval,) = rig.approve()
    await rig.submitter.submit_ready()
    (order,) = rig.store.orders_of(approval.client_order_id)
    # The store lost the answer (say, a crash after the post); the same order goes out again.
    rig.store.update_order(order.order_hash, OrderStatus.UNKNOWN)
    rig.store.set_approval(approval.client_order_id, state="ACTIVE", phase=1)
    rig.venue.orders.pop(order.order_hash)
    rig.venue.orders[order.order_hash] = VenueOrder(order.order_hash, "LIVE", "m", "1", "BUY", D("0.5"), D(10),
                                                    D(0))
    row = rig.store.order(order.order_hash)
    await rig.submitter.repost([row])
    assert rig.store.order(order.order_hash).status is OrderStatus.UNKNOWN  # not REJECTED: it exists
    assert rig.store.approval(approval.client_order_id).state == "ACTIVE"
    await rig.reconciler.resolve_unresolved()
    assert rig.store.order(order.order_hash).status is OrderStatus.LIVE
    assert rig.outcome(approval) == ("DONE", "placed")
    assert len(rig.venue.orders) == 1 and rig.venue.signed == 1


async def test_a_crash_between_save_and_post_reposts_the_saved_order_at_restart(rig_factory, tmp_path, bus):
    first = rig_factory()
    (approval,) = first.approve()
    row = first.store.approval(approval.client_order_id)
    phase_and_signed = await first.submitter._prepare(row)
    assert phase_and_signed is not None
    number, signed = phase_and_signed
    first.store.add_pending([(first.submitter._row(row, number, signed), signed.body)])  # saved; then SIGKILL
    first.store.close()

    restarted = Rig(tmp_path, bus, venue=first.venue)
    restarted.clock.now += 60  # the restart comes after the grace period
    try:
        await restarted.reconciler.on_start()
        await restarted.submitter.submit_ready()  # the approval is ACTIVE with a saved order: nothing signed
        await restarted.reconciler.resolve_unresolved()
        assert first.venue.signed == 1 and list(first.venue.orders) == [signed.order_hash]
        assert restarted.store.order(signed.order_hash).status is OrderStatus.LIVE
        assert restarted.outcome(approval) == ("DONE", "placed")
    finally:
        restarted.store.close()


async def test_an_order_never_seen_after_max_posts_ends_rejected_with_that_reason(rig_factory):
    rig = rig_factory(max_posts_per_order=2)
    rig.venue.refuse_before_apply = 100
    (approval,) = rig.approve()
    await rig.submitter.submit_ready()
    for _ in range(3):
        rig.clock.now += 10
        await rig.reconciler.resolve_unresolved()
    (order,) = rig.store.orders_of(approval.client_order_id)
    assert order.status is OrderStatus.REJECTED and "after 2 posts" in order.reason
    state, outcome = rig.outcome(approval)
    assert state == "DONE" and "after 2 posts" in outcome
    assert rig.venue.signed == 1


async def test_one_approval_that_cannot_be_signed_does_not_stop_the_others(rig_factory):
    rig = rig_factory()
    good_before = rig.approve()
    (poison,) = rig.approve(size=str(POISON_SIZE))
    good_after = rig.approve(2)
    await rig.submitter.submit_ready()
    for approval in (*good_before, *good_after):
        assert rig.outcome(approval) == ("DONE", "placed")
    state, outcome = rig.outcome(poison)
    assert state == "DONE" and outcome.startswith("not signed: InvalidOperation")
    assert len(rig.venue.live()) == 3


async def test_a_batch_refused_whole_is_posted_order_by_order(rig_factory):
    rig = rig_factory()
    rig.venue.reject_batches = True
    approvals = rig.approve(3)
    await rig.submitter.submit_ready()
    assert [len(p) for p in rig.venue.posts] == [3, 1, 1, 1]
    assert all(rig.outcome(a) == ("DONE", "placed") for a in approvals)
