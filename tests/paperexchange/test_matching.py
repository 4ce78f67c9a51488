"""Matching and ledger rules on the venue object itself (no HTTP): mirrored book, mint and merge,
price-time priority, price improvement, taker fees, FOK/FAK, post-only, funds, GTD and settlement."""

from __future__ import annotations

import itertools

import pytest

from paperexchange.core import config, errors
from paperexchange.core.clock import ManualClock
from paperexchange.core.config import Settings
from paperexchange.core.engine import Order
from paperexchange.core.errors import VenueError
from paperexchange.core.ledger import COLLATERAL, MAX_ALLOWANCE
from paperexchange.core.orders import Posted, exchange_for
from paperexchange.core.trades import FEE_COLLECTOR
from paperexchange.core.units import notional_up
from paperexchange.venue import Venue

_ids = itertools.count(1)
ALICE, BOB, CAROL = ("0x" + f"{n:040x}" for n in (0xA11CE, 0xB0B, 0xCA201))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def venue(clock) -> Venue:
    return Venue(Settings(default_markets=False, settlement_delay_secs=2.0), clock)


@pytest.fixture
def market(venue):
    return venue.create_market(question="Unit test market", min_order_size=1)


def fund(venue: Venue, address: str, collateral: float = 0, **tokens: float) -> None:
    ledger = venue.exchange.ledger
    ledger.set_balance(address, COLLATERAL, int(collateral * 1e6))
    for token_id, shares in tokens.items():
        ledger.set_balance(address, token_id, int(shares * 1e6))
    for spender in (config.STANDARD_EXCHANGE, config.NEG_RISK_EXCHANGE):
        ledger.set_allowance(address, spender, MAX_ALLOWANCE)
        ledger.set_approval_for_all(address, spender, True)


def post(venue: Venue, market, who: str, token: int, side: str, price: float, size: float,
         order_type: str = "GTC", post_only: bool = False, expiration: int = 0, spend: float | None = None) -> dict:
    token_id = market.token_ids[token]
    price_units, shares = round(price * 10_000), round(size * 1e6)
    maker_amount = shares * price_units // 10_000 if side == "BUY" else shares
    order = Order(
        id=f"0x{next(_ids):064x}", condition_id=market.condition_id, token_id=token_id, is_yes=token == 0,
        side=side, price=price_units, original_size=shares, owner=f"key-{who}", maker=who, signer=who,
        order_type=order_type, created_at=int(venue.clock.now()), expiration=expiration, post_only=post_only,
        spend_limit=round(spend * 1e6) if spend is not None else None,
    )
    if spend is not None:
        maker_amount = order.spend_limit
    taker_amount = shares if side == "BUY" else maker_amount * price_units // 10_000
    return venue.exchange.post(Posted(order=order, market=market, maker_amount=maker_amount,
                                      taker_amount=taker_amount, exchange=exchange_for(market)))


def bal(venue: Venue, who: str, asset: str = COLLATERAL) -> float:
    return venue.exchange.ledger.balance(who, asset) / 1e6


def test_no_book_is_the_yes_book_mirrored(venue, market):
    fund(venue, ALICE, 100)
    post(venue, market, ALICE, 0, "BUY", 0.40, 10)
    book = venue.exchange.book(market.condition_id)
    assert book.best("BUY") == 4000 and book.best("SELL") is None
    fund(venue, BOB, 100)
    post(venue, market, BOB, 1, "BUY", 0.55, 10)  # a NO bid at 0.55 is a YES ask at 0.45: no cross
    assert book.best("SELL") == 4500


def test_mint_buy_yes_against_buy_no_with_price_improvement(venue, market):
    yes, no = market.token_ids
    fund(venue, ALICE, 100)
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "BUY", 0.60, 10)
    response = post(venue, market, BOB, 1, "BUY", 0.45, 10)  # NO at 0.45 = YES ask at 0.55 <= 0.60
    assert response["status"] == "matched"
    assert (response["makingAmount"], response["takingAmount"]) == ("4", "10")  # BOB pays 0.40, not 0.45
    assert bal(venue, ALICE) == 94 and bal(venue, BOB) == 96  # pUSD leaves at the match...
    assert bal(venue, ALICE, yes) == bal(venue, BOB, no) == 0  # ...the tokens arrive when MINED
    settle(venue)
    assert bal(venue, ALICE, yes) == 10 and bal(venue, BOB, no) == 10
    (trade,) = venue.exchange.trades.values()
    assert str(trade.taker_price()) == "0.4000" and trade.parts[0].price == 6000


def test_merge_sell_yes_against_sell_no(venue, market):
    yes, no = market.token_ids
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 0, **{no: 10})
    post(venue, market, ALICE, 0, "SELL", 0.60, 10)
    response = post(venue, market, BOB, 1, "SELL", 0.35, 10)  # SELL NO 0.35 = YES bid at 0.65 >= 0.60
    assert response["status"] == "matched"
    settle(venue)
    assert bal(venue, ALICE) == 6 and bal(venue, BOB) == 4  # BOB gets 0.40 > his 0.35
    assert bal(venue, ALICE, yes) == 0 and bal(venue, BOB, no) == 0


def test_price_time_priority(venue, market):
    for who in (ALICE, BOB, CAROL):
        fund(venue, who, 100, **{market.token_ids[0]: 100})
    post(venue, market, ALICE, 0, "SELL", 0.55, 5)
    post(venue, market, BOB, 0, "SELL", 0.55, 5)
    post(venue, market, CAROL, 0, "SELL", 0.54, 5)
    fund(venue, "0x" + "d" * 40, 100)
    response = post(venue, market, "0x" + "d" * 40, 0, "BUY", 0.56, 12)
    (trade,) = venue.exchange.trades.values()  # one taker order, three makers: ONE trade
    assert response["tradeIDs"] == [trade.id] and trade.size == 12_000_000
    makers = [(p.order.maker, p.size / 1e6, p.yes_price) for p in trade.parts]
    assert makers == [(CAROL, 5, 5400), (ALICE, 5, 5500), (BOB, 2, 5500)]


def test_taker_pays_the_fee_curve_maker_pays_nothing(venue):
    market = venue.create_market(question="Fee market", fee_rate="0.07", fee_exponent="1", min_order_size=1)
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 100})
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 100)
    post(venue, market, BOB, 0, "BUY", 0.50, 100)
    settle(venue)
    assert bal(venue, ALICE) == 50  # maker: no fee
    assert bal(venue, BOB) == pytest.approx(100 - 50 - 1.75)  # 100 x 0.07 x 0.25 (docs fee table)
    assert bal(venue, FEE_COLLECTOR) == pytest.approx(1.75)


def test_fok_kills_without_touching_the_book(venue, market):
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 100})
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 5)
    with pytest.raises(VenueError) as raised:
        post(venue, market, BOB, 0, "BUY", 0.50, 10, order_type="FOK", spend=5.0)
    assert raised.value.message == errors.FOK_NOT_FILLED
    assert venue.exchange.trades == {} and venue.exchange.book(market.condition_id).level_size("SELL", 5000) == 5e6
    response = post(venue, market, BOB, 0, "BUY", 0.50, 5, order_type="FOK", spend=2.5)
    assert response["status"] == "matched" and response["takingAmount"] == "5"


def test_fak_fills_what_it_can_and_kills_the_rest(venue, market):
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 100})
    fund(venue, BOB, 0, **{yes: 100})
    with pytest.raises(VenueError) as raised:
        post(venue, market, BOB, 0, "SELL", 0.50, 10, order_type="FAK")
    assert raised.value.message == errors.FAK_NOT_FILLED
    fund(venue, CAROL, 100)
    post(venue, market, CAROL, 0, "BUY", 0.50, 4)
    response = post(venue, market, BOB, 0, "SELL", 0.50, 10, order_type="FAK")
    assert (response["makingAmount"], response["takingAmount"]) == ("4", "2")
    assert venue.exchange.book(market.condition_id).best("SELL") is None  # the rest did not rest


def test_post_only_must_not_cross(venue, market):
    fund(venue, ALICE, 100)
    fund(venue, BOB, 0, **{market.token_ids[0]: 10})
    post(venue, market, ALICE, 0, "BUY", 0.50, 10)
    with pytest.raises(VenueError) as raised:
        post(venue, market, BOB, 0, "SELL", 0.50, 10, post_only=True)
    assert raised.value.message == errors.POST_ONLY_CROSSES
    assert post(venue, market, BOB, 0, "SELL", 0.51, 10, post_only=True)["status"] == "live"


def test_resting_orders_reserve_the_funder_balance(venue, market):
    fund(venue, ALICE, 10)
    first = post(venue, market, ALICE, 0, "BUY", 0.50, 15)  # reserves 7.5
    assert venue.exchange.ledger.reserved(ALICE, COLLATERAL) == notional_up(15_000_000, 5000)
    with pytest.raises(VenueError) as raised:
        post(venue, market, ALICE, 1, "BUY", 0.50, 6)  # 3.0 more, 2.5 available
    assert raised.value.message.startswith("not enough balance / allowance")
    venue.exchange.cancel("key-" + ALICE, [first["orderID"]])
    assert venue.exchange.ledger.reserved(ALICE, COLLATERAL) == 0
    assert post(venue, market, ALICE, 1, "BUY", 0.50, 6)["status"] == "live"


def test_allowance_is_checked_for_the_market_exchange(venue, market):
    venue.exchange.ledger.set_balance(ALICE, COLLATERAL, 100_000_000)
    with pytest.raises(VenueError) as raised:
        post(venue, market, ALICE, 0, "BUY", 0.50, 10)
    assert "allowance is not enough" in raised.value.message


def test_gtd_order_expires_a_minute_before_its_expiration(venue, market, clock):
    fund(venue, ALICE, 100)
    response = post(venue, market, ALICE, 0, "BUY", 0.50, 10, order_type="GTD", expiration=int(clock.now()) + 150)
    clock.advance(89)
    venue.tick()
    assert venue.exchange.orders[response["orderID"]].status == "LIVE"
    clock.advance(2)
    venue.tick()
    assert venue.exchange.orders[response["orderID"]].status == "CANCELED"
    assert venue.exchange.ledger.reserved(ALICE, COLLATERAL) == 0


def _cross(venue, market):
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 10)
    post(venue, market, BOB, 0, "BUY", 0.50, 10)
    (trade,) = venue.exchange.trades.values()
    return trade


def settle(venue: Venue, steps: int = 1) -> None:
    """Advance the venue clock past `steps` settlement steps (MATCHED -> MINED is one)."""
    for _ in range(steps):
        venue.clock.advance(2.0)
        venue.tick()


def test_trade_walks_matched_mined_confirmed(venue, market, clock):
    trade = _cross(venue, market)
    seen = []
    for _ in range(3):
        seen.append(trade.status)
        clock.advance(2.0)
        venue.tick()
    assert seen == ["MATCHED", "MINED", "CONFIRMED"] and trade.status == "CONFIRMED"


def test_injected_failure_walks_retrying_failed_and_undoes_the_transfer(venue, market, clock):
    venue.settlement.fail_next(1)
    trade = _cross(venue, market)
    assert bal(venue, BOB) == 95 and bal(venue, ALICE, market.token_ids[0]) == 0  # given at the match
    clock.advance(2.0)
    venue.tick()
    assert trade.status == "RETRYING"
    clock.advance(2.0)
    venue.tick()
    assert trade.status == "FAILED"
    assert bal(venue, BOB) == 100 and bal(venue, BOB, market.token_ids[0]) == 0
    assert bal(venue, ALICE, market.token_ids[0]) == 10


def test_collateral_and_tokens_are_conserved(venue, market):
    yes, no = market.token_ids
    for who, amount in ((ALICE, 50), (BOB, 50), (CAROL, 50)):
        fund(venue, who, amount, **{yes: 20, no: 20})
    post(venue, market, ALICE, 0, "BUY", 0.6, 10)
    post(venue, market, BOB, 1, "BUY", 0.45, 7)  # mint 7
    post(venue, market, CAROL, 0, "SELL", 0.55, 5)  # normal vs ALICE's rest
    post(venue, market, BOB, 1, "SELL", 0.3, 5)  # merge against CAROL? no ask left; rests as YES bid 0.7
    settle(venue)
    ledger = venue.exchange.ledger
    total = lambda asset: sum(ledger.balance(w, asset) for w in (ALICE, BOB, CAROL, FEE_COLLECTOR))
    minted = total(yes) - 60_000_000
    assert total(no) - 60_000_000 == minted
    assert total(COLLATERAL) + minted == 150_000_000
