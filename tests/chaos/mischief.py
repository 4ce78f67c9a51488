"""The chaos run's mischief beyond random kills: SIGKILLs aimed at the executor's windows, the exchange's
faults, poison on the events stream, a SIGSTOP past the claim idle time; and the executor-store reads the
quiet phase and the audit use. A mixin of tests.chaos.harness.Chaos (its attributes are set there)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.messages import BookSnapshot, Envelope, OrderIntent, PriceLevel, Side, encode
from shared.streams import Bus
from tests.chaos.audit import ExecutorApproval, ExecutorOrder

log = logging.getLogger("chaos")
PREFIX = "polydesk:"

AIMED_POINTS = ("after_sign", "after_save", "after_post", "before_ack")
POST_ATTEMPTS = 2  # the executor's retry budget in the run: the after-apply 429 outlasts it
# Faults switched on in the chaos phase (the exchange's /_paper/faults/http bodies), at spread event counts.
FAULTS: tuple[dict[str, Any], ...] = (
    {"status": 429, "retry_after_secs": 0.2, "paths": ["/order", "/orders"], "methods": ["POST"],
     "after_apply": True, "count": POST_ATTEMPTS + 2},
    {"status": 502, "paths": ["/order", "/orders"], "methods": ["POST"], "after_apply": True, "count": 1},
    {"status": "drop", "paths": ["/order", "/orders"], "methods": ["POST"], "after_apply": True, "count": 1},
)


class Mischief:
    """What Chaos does besides random kills (self.tmp, config, paper, supervisors... come from Chaos)."""

    def aim(self, service: str, point: str) -> None:
        """Arm a SIGKILL of `service` at its next pass through `point`: the process consumes the line as it
        dies (shared/crashpoints.py); `_check_aimed` counts it."""
        crash_file = self.tmp / "crash" / service
        crash_file.parent.mkdir(parents=True, exist_ok=True)
        with crash_file.open("a") as out:
            out.write(point + "\n")
        self.armed[point] = crash_file

    def _check_aimed(self) -> None:
        for point, crash_file in list(self.armed.items()):
            if point not in crash_file.read_text().splitlines():
                del self.armed[point]
                self.aimed[point] = self.aimed.get(point, 0) + 1
                log.warning("chaos: %s killed at %s", crash_file.name, point)

    def fault(self, body: dict[str, Any]) -> None:
        assert self.paper is not None
        with self.paper.admin() as admin:
            admin.post("/faults/http", json=body).raise_for_status()
        self.faults.append(body)
        log.warning("chaos: fault %s", body)

    async def poison(self, bus: Bus) -> None:
        """Poison on events:<shard>, as raw entries: well-formed JSON of a known type, out of the domain (a
        book with tick size 0 and a level of 1e30 shares), and a valid message of a type the stream does not
        carry. Each must be dead-lettered with its reason; nothing after it may stop."""
        keys = [k.decode() async for k in bus.redis.scan_iter(match=f"{PREFIX}events:*")]
        stream = min(k for k in keys if not k.endswith(":dead"))
        book = BookSnapshot(envelope=Envelope.new("chaos"), market="0xpoison", token_id="poison",
                            bids=(PriceLevel(price=Decimal("0.4"), size=Decimal(1)),), asks=(),
                            tick_size=Decimal("0.01"))
        fields = encode(book)
        data = json.loads(fields[b"data"])
        data["tick_size"] = "0"
        data["bids"] = [{"price": "0.4", "size": "1e30"}]
        intent = OrderIntent(envelope=Envelope.new("chaos"), token_id="poison", side=Side.BUY, size=Decimal(5),
                             price=Decimal("0.5"), reason="poison", strategy="chaos", signal_key="poison",
                             market="0xpoison")
        for raw in ({**fields, b"data": json.dumps(data).encode()}, encode(intent)):
            entry_id = await bus.redis.xadd(stream, raw)
            self.poisoned.append((stream.removeprefix(PREFIX), entry_id.decode()))
        log.warning("chaos: poison written to %s", stream)

    async def pause(self, service: str) -> None:
        """SIGSTOP `service` past the claim idle time (its heartbeat to the venue lapses too), then SIGCONT."""
        process = self.supervisors[service].children[service].process
        if process is None or process.returncode is not None:
            self.notes.append(f"pause: {service} was not running")
            return
        secs = self.config.claim_min_idle_ms / 1000 + 3.0
        os.kill(process.pid, signal.SIGSTOP)
        log.warning("chaos: SIGSTOP %s for %.1fs", service, secs)
        try:
            await asyncio.sleep(secs)
        finally:
            os.kill(process.pid, signal.SIGCONT)
        self.pauses[service] = self.pauses.get(service, 0) + 1


def executor_orders(path: Path) -> list[ExecutorOrder]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [ExecutorOrder(h, c, int(p), s, r, int(n)) for h, c, p, s, r, n in
                db.execute("SELECT order_hash, client_order_id, phase, status, reason, posts FROM orders")]


def executor_approvals(path: Path) -> list[ExecutorApproval]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [ExecutorApproval(c, s, o) for c, s, o in
                db.execute("SELECT client_order_id, state, outcome FROM approvals")]


async def approvals_finished(path: Path) -> bool:
    """No approval QUEUED or ACTIVE, no order PENDING or UNKNOWN, no basket still settling (its unwind sells a
    bought leg once that trade is MINED: an approval of its own, made after the others finished), in the
    executor's store."""
    if not path.exists():
        return False
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        open_approvals = db.execute("SELECT count(*) FROM approvals WHERE state != 'DONE'").fetchone()[0]
        unresolved = db.execute("SELECT count(*) FROM orders WHERE status IN ('PENDING', 'UNKNOWN')").fetchone()[0]
        settling = db.execute("SELECT count(*) FROM baskets WHERE state = 'SETTLING'").fetchone()[0]
    return open_approvals == 0 and unresolved == 0 and settling == 0
