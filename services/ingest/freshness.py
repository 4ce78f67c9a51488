"""Freshness of each token's market data and the book state ingest reports downstream (BookStatus).

Silence is measured on market data only (book, price_change, best_bid_ask, last_trade_price and
tick_size_change events naming the token), never on PONGs: a socket that answers PINGs but delivers
nothing looks alive to the transport. Each token learns its own cadence (a moving average of the gaps
between its events), so a quiet market is not taken for a frozen feed: a token silent for longer than
max(floor, factor x cadence) is *probed* (REST /book compared with our book). The same book means the
market is quiet (the next probe waits twice as long, up to the cap); a different one means the feed
froze for that token (its connection is replaced and its books re-snapshotted). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import BookState

CADENCE_WEIGHT = 0.2  # of the newest gap in the moving average


@dataclass(slots=True)
class _Token:
    last_data: float
    cadence: float | None = None  # typical gap between this token's market data events, seconds
    probe_base: float = 0.0  # silence is counted from max(last_data, probe_base)
    quiet_probes: int = 0  # probes in a row that found the book unchanged (backoff)
    probing: bool = False
    last_venue_ms: int = 0  # the venue's timestamp of the newest event seen for this token


class Freshness:
    """When each token last had market data, its usual cadence, and which tokens are due a probe."""

    def __init__(self, *, floor_secs: float, cadence_factor: float, cap_secs: float) -> None:
        self.floor_secs, self.cadence_factor, self.cap_secs = floor_secs, cadence_factor, cap_secs
        self.tokens: dict[str, _Token] = {}

    def track(self, asset: str, now: float) -> None:
        self.tokens.setdefault(asset, _Token(last_data=now))

    def forget(self, asset: str) -> None:
        self.tokens.pop(asset, None)

    def heard(self, asset: str, now: float, venue_ms: int | None = None) -> None:
        """Market data for `asset` arrived now (stamped `venue_ms` by the venue)."""
        token = self.tokens.get(asset)
        if token is None:
            return
        if venue_ms is not None and venue_ms > token.last_venue_ms:
            token.last_venue_ms = venue_ms
        gap = now - token.last_data
        if gap > 0 and token.cadence is None:
            token.cadence = min(gap, self.cap_secs)
        elif gap > 0 and token.cadence is not None:
            # A gap past the threshold was a silence (probed or not), not the market's rhythm: capped, so one
            # freeze does not make the next one take several times longer to notice.
            gap = min(gap, self._base(token))
            token.cadence = (1 - CADENCE_WEIGHT) * token.cadence + CADENCE_WEIGHT * gap
        token.last_data = now
        token.quiet_probes = 0

    def threshold(self, asset: str) -> float:
        """How long `asset` may stay silent before it is probed."""
        token = self.tokens[asset]
        return min(self.cap_secs, self._base(token) * (2 ** min(token.quiet_probes, 16)))

    def _base(self, token: _Token) -> float:
        if token.cadence is None:
            return self.floor_secs
        return min(self.cap_secs, max(self.floor_secs, self.cadence_factor * token.cadence))

    def silence(self, asset: str, now: float) -> float:
        token = self.tokens[asset]
        return now - max(token.last_data, token.probe_base)

    def due(self, now: float) -> list[str]:
        """Tokens silent past their threshold with no probe in flight."""
        return [
            asset
            for asset, token in self.tokens.items()
            if not token.probing and self.silence(asset, now) > self.threshold(asset)
        ]

    def probe_started(self, asset: str) -> None:
        if asset in self.tokens:
            self.tokens[asset].probing = True

    def probe_done(self, asset: str, now: float, *, quiet: bool) -> None:
        """A probe ended: quiet (book unchanged: back off) or not (frozen or failed: probe again soon)."""
        token = self.tokens.get(asset)
        if token is None:
            return
        token.probing = False
        token.probe_base = now
        token.quiet_probes = token.quiet_probes + 1 if quiet else 0


@dataclass(frozen=True, slots=True)
class Transition:
    asset: str
    market: str
    state: BookState
    reason: str
    epoch: int


class BookStates:
    """The state last reported per token; `set` returns the transition to publish, or None if unchanged."""

    def __init__(self) -> None:
        self.states: dict[
            str, tuple[BookState, str, int, float]
        ] = {}  # asset -> (state, reason, epoch, since)

    def set(
        self, asset: str, market: str, state: BookState, reason: str, epoch: int, now: float
    ) -> Transition | None:
        old = self.states.get(asset)
        if old is not None and old[0] is state and old[2] == epoch:
            return None  # already reported for this epoch: the first reason stands
        since = old[3] if old is not None and old[0] is state else now
        self.states[asset] = (state, reason, epoch, since)
        return Transition(asset, market, state, "" if state is BookState.VALID else reason, epoch)

    def state(self, asset: str) -> BookState | None:
        entry = self.states.get(asset)
        return None if entry is None else entry[0]

    def reason(self, asset: str) -> str | None:
        entry = self.states.get(asset)
        return None if entry is None else entry[1]

    def forget(self, asset: str) -> None:
        self.states.pop(asset, None)

    def not_valid(self) -> list[str]:
        return [asset for asset, entry in self.states.items() if entry[0] is not BookState.VALID]
