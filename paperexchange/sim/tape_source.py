"""A recorded tape as an external book source (paperexchange/sim/external_book.py): its markets come back from
the Gamma objects in its metadata line, its frames become `BookBatch`es in tape order.

The backtest (paperexchange/replay.py, driven by polydesk/backtest/) owns the clock and the pace: for each batch it sets the venue's
clock to the batch's time, runs the venue's timers, and calls `ExternalBooks.apply(batch)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from paperexchange.core.markets import TICK_SIZES, Market
from paperexchange.sim import tapes
from paperexchange.sim.external_book import BookBatch, batches_from_frames

if TYPE_CHECKING:
    from paperexchange.venue import Venue


class TapeError(ValueError):
    """A tape a backtest cannot use; the message says why."""


def _decoded(value: object) -> list[str]:
    if isinstance(value, str):
        value = orjson.loads(value)
    return [str(item) for item in value] if isinstance(value, list) else []


def _tick(value: object) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    if text not in TICK_SIZES:
        raise TapeError(f"market tick size {value!r} is not one of {TICK_SIZES}")
    return text


def market_from_gamma(gamma: dict) -> Market:
    """The paper market for a Gamma market object (as Gamma serves it, or as the paper exchange does)."""
    try:
        tokens = _decoded(gamma["clobTokenIds"])
        outcomes = _decoded(gamma.get("outcomes") or '["Yes", "No"]')
        if len(tokens) != 2 or len(outcomes) != 2:
            raise TapeError(f"market {gamma.get('conditionId')}: not a binary market")
        schedule = gamma.get("feeSchedule") or {}
        events = gamma.get("events") or [{}]
        return Market(
            condition_id=str(gamma["conditionId"]),
            question_id=str(gamma.get("questionID") or ""),
            question=str(gamma.get("question") or ""),
            slug=str(gamma.get("slug") or ""),
            token_ids=(tokens[0], tokens[1]),
            outcomes=(outcomes[0], outcomes[1]),
            tick_size=_tick(gamma.get("orderPriceMinTickSize", "0.01")),
            min_order_size=int(float(gamma.get("orderMinSize") or 5)),
            neg_risk=bool(gamma.get("negRisk")),
            neg_risk_market_id=str(gamma.get("negRiskMarketID") or ""),
            neg_risk_request_id=str(gamma.get("negRiskRequestID") or ""),
            fee_rate=Decimal(str(schedule.get("rate", 0))),
            fee_exponent=Decimal(str(schedule.get("exponent", 1))),
            taker_only_fees=bool(schedule.get("takerOnly", True)),
            maker_base_fee_bps=int(gamma.get("makerBaseFee") or 0),
            taker_base_fee_bps=int(gamma.get("takerBaseFee") or 0),
            taker_delay=bool(gamma.get("secondsDelay")),
            accepting_orders=bool(gamma.get("acceptingOrders", True)),
            active=bool(gamma.get("active", True)),
            closed=bool(gamma.get("closed", False)),
            description=str(gamma.get("description") or ""),
            end_date_iso=str(gamma.get("endDate") or "2027-12-31T00:00:00Z"),
            group_item_title=str(gamma.get("groupItemTitle") or ""),
            tags=[str(tag.get("label")) for tag in gamma.get("tags") or () if isinstance(tag, dict)],
            event_id=str(events[0].get("id") or ""),
            event_slug=str(events[0].get("slug") or ""),
            event_title=str(events[0].get("title") or ""),
            prior_volume_24h=float(gamma.get("volume24hr") or 0),
        )
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as error:
        if isinstance(error, TapeError):
            raise
        raise TapeError(f"market {gamma.get('conditionId')!r}: {type(error).__name__}: {error}") from None


@dataclass
class TapeBookSource:
    """A tape file: its metadata, its markets, and its batches."""

    path: Path
    meta: dict
    batches: list[BookBatch]

    @classmethod
    def open(cls, path: str | Path) -> TapeBookSource:
        path = Path(path)
        if not path.is_file():
            raise TapeError(f"{path}: no such tape")
        meta = tapes.load_meta(path)
        if meta is None:
            raise TapeError(f"{path}: no metadata line; record tapes with `polydesk record`")
        if meta.get("version") != 1:
            raise TapeError(f"{path}: tape format version {meta.get('version')!r}, this polydesk reads 1")
        frames = [(when, orjson.loads(data)) for when, data in tapes.load(path)]
        batches = list(batches_from_frames(frames))
        if not batches:
            raise TapeError(f"{path}: no market data")
        return cls(path, meta, batches)

    def markets(self) -> list[Market]:
        return [market_from_gamma(gamma) for gamma in self.meta.get("markets", [])]

    def create_markets(self, venue: Venue) -> list[Market]:
        """Create the tape's markets on the venue, announced as new markets at the venue's time."""
        created = []
        for market in self.markets():
            market.created_at = venue.clock.now()
            created.append(venue.exchange.add_market(market))
        return created

    def __iter__(self) -> Iterator[BookBatch]:
        return iter(self.batches)

    @property
    def start_ms(self) -> int:
        return self.batches[0].ts_ms

    @property
    def end_ms(self) -> int:
        return self.batches[-1].ts_ms
