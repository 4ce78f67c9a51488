"""Faults on demand: the failures production throws, as state the admin API and scenarios switch on and off.

HTTP faults (429/425/5xx, answered before or after the order is processed), slow responses, the
restart window (425, then post-only mode answering 503 `post_only_mode`), market-channel frame drops
(a ratio, or the next N) and duplicates, silent market sockets (`ws_silent`: PINGs answered, no data),
and events injected before the next market event, each a frame of its own (a venue change: an unknown
event type). Durations run on the venue clock (so they follow an accelerated scenario).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from paperexchange.core.clock import Clock

# Bodies of the venue's own refusals. The 503 text is the one the official SDK maps to post_only_mode.
POST_ONLY_MODE = {
    "error": "post-only mode: only post-only orders and cancels are allowed",
    "code": "post_only_mode",
}
RESTARTING = {
    "error": "the matching engine is restarting, please retry shortly"
}  # paper: only the 425 is documented
DEFAULT_BODIES = {
    429: {"error": "Too Many Requests"},
    425: RESTARTING,
    500: {"error": "Internal Server Error"},
    502: {"error": "Bad Gateway"},
    503: {"error": "Service Unavailable"},
    504: {"error": "Gateway Timeout"},
}
STATUSES = tuple(DEFAULT_BODIES)
# "All order-related endpoints" return 425 during a restart (docs: trading/matching-engine).
ORDER_PATHS = ("/order", "/orders", "/cancel-all", "/cancel-market-orders")
POST_PATHS = ("/order", "/orders")
# Paths that are not the CLOB: a fault with no `paths` leaves them alone.
NON_CLOB_PREFIXES = ("/_paper", "/gamma", "/data-api", "/rpc", "/ws/")


def _matches(patterns: tuple[str, ...] | None, path: str) -> bool:
    """None = every CLOB path; otherwise exact paths, or prefixes written with a trailing `*`."""
    if patterns is None:
        return not path.startswith(NON_CLOB_PREFIXES)
    return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in patterns)


@dataclass(slots=True)
class Rule:
    """One switched-on fault. `remaining` None = until cleared (or `until`, on the venue clock)."""

    kind: str  # "http" | "delay"
    paths: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    remaining: int | None = None
    until: float | None = None
    status: int | str = 0  # int, or "drop" (close the connection without a response)
    secs: float = 0.0
    retry_after_secs: float | None = None
    body: object = None
    after_apply: bool = False
    id: int = 0

    def spent(self, now: float) -> bool:
        return (self.until is not None and now >= self.until) or (
            self.remaining is not None and self.remaining <= 0
        )

    def applies(self, method: str, path: str, now: float) -> bool:
        return (
            not self.spent(now)
            and (self.methods is None or method in self.methods)
            and _matches(self.paths, path)
        )

    def view(self) -> dict:
        out = {
            "id": self.id,
            "kind": self.kind,
            "paths": self.paths,
            "methods": self.methods,
            "remaining": self.remaining,
            "until": self.until,
        }
        if self.kind == "http":
            out.update(
                status=self.status, retry_after_secs=self.retry_after_secs, after_apply=self.after_apply
            )
        else:
            out["secs"] = self.secs
        return out


@dataclass(slots=True)
class FrameFault:
    """Market-channel frames dropped or sent twice, decided per subscriber by a seeded generator."""

    drop_ratio: float = 0.0
    duplicate_ratio: float = 0.0
    until: float | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    drop_next: int = 0  # deliveries dropped outright before the ratios apply (a deterministic gap)

    def copies(self, now: float) -> int:
        """How many times to deliver one frame: 0 (dropped), 1, or 2 (duplicated)."""
        if self.drop_next > 0:
            self.drop_next -= 1
            return 0
        if self.until is not None and now >= self.until:
            return 1
        draw = self.rng.random()
        if draw < self.drop_ratio:
            return 0
        return 2 if draw < self.drop_ratio + self.duplicate_ratio else 1


class Faults:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rules: list[Rule] = []
        self.restart_until = 0.0
        self.post_only_until = 0.0
        self.frames: FrameFault | None = None
        self._ids = 0

    def add(self, rule: Rule) -> Rule:
        self._ids += 1
        rule.id = self._ids
        self.rules.append(rule)
        return rule

    def restart(self, secs: float, post_only_secs: float) -> None:
        now = self.clock.now()
        self.restart_until = now + secs
        self.post_only_until = now + secs + post_only_secs

    def set_frames(
        self, drop_ratio: float, duplicate_ratio: float, secs: float | None, seed: int, drop_next: int = 0
    ) -> None:
        until = None if secs is None else self.clock.now() + secs
        self.frames = FrameFault(drop_ratio, duplicate_ratio, until, random.Random(seed), drop_next)

    def clear(self) -> None:
        self.rules.clear()
        self.restart_until = self.post_only_until = 0.0
        self.frames = None

    def take(self, kind: str, method: str, path: str) -> Rule | None:
        """The first active rule of `kind` for this request, its count consumed."""
        now = self.clock.now()
        for rule in self.rules:
            if rule.kind == kind and rule.applies(method, path, now):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None

    def phase(self, path: str) -> str | None:
        """ "restart" (425) or "post_only" (503 for non-postOnly posts) when the window covers this path."""
        if path not in ORDER_PATHS:
            return None
        now = self.clock.now()
        if now < self.restart_until:
            return "restart"
        if now < self.post_only_until and path in POST_PATHS:
            return "post_only"
        return None

    def frame_copies(self) -> int:
        return 1 if self.frames is None else self.frames.copies(self.clock.now())

    def view(self) -> dict:
        now = self.clock.now()
        self.rules = [rule for rule in self.rules if not rule.spent(now)]
        frames = self.frames
        return {
            "rules": [rule.view() for rule in self.rules],
            "restart_until": self.restart_until if now < self.restart_until else None,
            "post_only_until": self.post_only_until if now < self.post_only_until else None,
            "ws_market": None
            if frames is None or (frames.until is not None and now >= frames.until)
            else {
                "drop_ratio": frames.drop_ratio,
                "duplicate_ratio": frames.duplicate_ratio,
                "until": frames.until,
            },
        }
