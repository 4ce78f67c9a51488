"""The market model, the registry of markets by condition and token id, and create_market()."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from eth_utils import keccak

from paperexchange.core import errors
from paperexchange.core.errors import VenueError
from paperexchange.core.units import PRICE_SCALE, parse_price

# The tick sizes the SDKs accept (polymarket-client _ALLOWED_TICK_SIZES, py-clob-client-v2 TickSize).
TICK_SIZES = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
LIVE_BASE_FEE_BPS = 1000


@dataclass(slots=True)
class Market:
    """One binary market (a neg-risk event is several of these sharing `neg_risk_market_id`)."""

    condition_id: str
    question_id: str
    question: str
    slug: str
    token_ids: tuple[str, str]  # (YES, NO): index 0 is the token whose price space the book is kept in
    outcomes: tuple[str, str] = ("Yes", "No")
    tick_size: str = "0.01"
    min_order_size: int = 5
    neg_risk: bool = False
    neg_risk_market_id: str = ""
    neg_risk_request_id: str = ""
    fee_rate: Decimal = Decimal(0)
    fee_exponent: Decimal = Decimal(1)
    taker_only_fees: bool = True
    maker_base_fee_bps: int = 0
    taker_base_fee_bps: int = 0
    taker_delay: bool = False  # `itode`: marketable orders answer `delayed`
    accepting_orders: bool = True
    active: bool = True
    closed: bool = False
    description: str = ""
    end_date_iso: str = "2027-12-31T00:00:00Z"
    group_item_title: str = ""
    tags: list[str] = field(default_factory=list)
    event_id: str = ""
    event_slug: str = ""
    event_title: str = ""
    winner: str | None = None
    prior_volume_24h: float = 0.0  # declared history (scenario), added to Gamma's volume figures
    created_at: float = 0.0  # venue-clock seconds; Gamma's createdAt / startDate
    closed_at: float = 0.0  # set on resolution; Gamma's closedTime

    @property
    def tick_units(self) -> int:
        return parse_price(self.tick_size)

    @property
    def min_size_units(self) -> int:
        return self.min_order_size * 1_000_000

    def is_yes(self, token_id: str) -> bool:
        return token_id == self.token_ids[0]

    def outcome_of(self, token_id: str) -> str:
        return self.outcomes[0] if self.is_yes(token_id) else self.outcomes[1]

    def other_token(self, token_id: str) -> str:
        return self.token_ids[1] if self.is_yes(token_id) else self.token_ids[0]


def _hex32(*parts: str) -> str:
    return "0x" + keccak(text="|".join(parts)).hex()


def _token_id(condition_id: str, index: int) -> str:
    # A uint256 written in decimal, as real CTF position ids are (about 77 digits).
    return str(int.from_bytes(keccak(text=f"{condition_id}|{index}"), "big"))


def _slugify(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


class MarketRegistry:
    def __init__(self) -> None:
        self._by_condition: dict[str, Market] = {}
        self._by_token: dict[str, Market] = {}

    def add(self, market: Market) -> Market:
        if market.condition_id in self._by_condition:
            raise ValueError(f"market {market.condition_id} exists")
        self._by_condition[market.condition_id] = market
        for token_id in market.token_ids:
            self._by_token[token_id] = market
        return market

    def by_condition(self, condition_id: str) -> Market | None:
        return self._by_condition.get(condition_id) or self._by_condition.get(condition_id.lower())

    def by_token(self, token_id: str) -> Market | None:
        return self._by_token.get(token_id)

    def of_token(self, token_id: str) -> Market:
        """The market trading `token_id`; the venue's unknown-token refusal when there is none."""
        market = self.by_token(token_id)
        if market is None:
            raise VenueError(errors.UNKNOWN_TOKEN.format(token_id=token_id))
        return market

    def of_order(self, condition_id: str) -> Market:
        """The market of an order the exchange holds. Markets are never removed, so a miss is a paper-exchange
        fault; it is reported as a not-found refusal naming the market instead of an AttributeError on None."""
        market = self.by_condition(condition_id)
        if market is None:
            raise VenueError(f"{errors.NOT_FOUND}: market {condition_id}", 404)
        return market

    def all(self) -> list[Market]:
        return list(self._by_condition.values())


def create_market(
    registry: MarketRegistry,
    *,
    question: str,
    outcomes: tuple[str, str] = ("Yes", "No"),
    tick_size: str = "0.01",
    min_order_size: int = 5,
    neg_risk: bool = False,
    neg_risk_market_id: str = "",
    fee_rate: str = "0",
    fee_exponent: str = "1",
    taker_delay: bool = False,
    slug: str | None = None,
    **extra: object,
) -> Market:
    """Create and register a binary market with venue-shaped ids derived from its question."""
    if tick_size not in TICK_SIZES:
        raise ValueError(f"tick size must be one of {TICK_SIZES}")
    if not 0 < parse_price(tick_size) < PRICE_SCALE:
        raise ValueError("bad tick size")
    question_id = _hex32("question", question, neg_risk_market_id)
    condition_id = _hex32("condition", question_id)
    market = Market(
        condition_id=condition_id,
        question_id=question_id,
        question=question,
        slug=slug or _slugify(question),
        token_ids=(_token_id(condition_id, 0), _token_id(condition_id, 1)),
        outcomes=outcomes,
        tick_size=tick_size,
        min_order_size=min_order_size,
        neg_risk=neg_risk,
        neg_risk_market_id=neg_risk_market_id,
        neg_risk_request_id=_hex32("request", question_id) if neg_risk else "",
        fee_rate=Decimal(fee_rate),
        fee_exponent=Decimal(fee_exponent),
        taker_delay=taker_delay,
        **{**_live_base_fees(Decimal(fee_rate)), **extra},  # type: ignore[arg-type]
    )
    return registry.add(market)


def _live_base_fees(fee_rate: Decimal) -> dict[str, int]:
    """Fee-enabled live markets carry makerBaseFee/takerBaseFee 1000 (captured Gamma markets
    gamma_market.json, gamma_market_sports_market_money_line.json); fee-free ones 0."""
    base = LIVE_BASE_FEE_BPS if fee_rate > 0 else 0
    return {"maker_base_fee_bps": base, "taker_base_fee_bps": base}


def create_neg_risk_event(
    registry: MarketRegistry, *, title: str, outcomes: list[str], **market_args: object
) -> list[Market]:
    """A neg-risk event: one binary Yes/No market per outcome, all with the same neg_risk_market_id."""
    event_id = _hex32("negrisk", title)
    return [
        create_market(
            registry,
            question=f"{title} - {outcome}",
            neg_risk=True,
            neg_risk_market_id=event_id,
            group_item_title=outcome,
            event_title=title,
            event_slug=_slugify(title),
            **market_args,  # type: ignore[arg-type]
        )
        for outcome in outcomes
    ]
