"""REST responses: Gamma and Data API pages, risk's positions and the executor's error translation.

Contracts: a malformed page raises TransientVenueError (the pollers back off and retry) and a malformed
row is skipped and counted; what decodes translates into bus messages without raising; risk's positions
raise only TransientVenueError or VenueRejected; any venue error becomes a shared.errors PolydeskError.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from polymarket.errors import (
    OrderHeartbeatMismatchError,
    PolymarketError,
    RateLimitError,
    RequestRejectedError,
    TransportError,
    UnexpectedResponseError,
)

from services.executor.venue import translate
from services.ingest.discovery import Discovery
from services.risk.reconcile import fetch_positions, parse_position
from shared.errors import PolydeskError, TransientVenueError, VenueRejected
from shared.messages import MarketInfo, TradeSeen
from shared.polymarket import parse
from shared.polymarket.data_api import DataApiClient, decode_trades
from shared.polymarket.gamma import GammaClient, decode_events, decode_markets
from tests.fuzz.conftest import FAST, FAST_IO, SLOW, captures
from tests.fuzz.strategies import JSON, dumps, mutated
from tests.ingest.paper import ingest_settings

GAMMA_SEEDS = captures(
    "polymarket-captures/rust-test-data/gamma_market.json",
    "polymarket-captures/rust-test-data/gamma_market_closed_binary_accepting_true.json",
    "polymarket-captures/rust-test-data/gamma_market_sports_market_money_line.json",
    "polymarket-captures/rust-test-data/gamma_event.json",
    "polymarket-captures/python-http/markets_list.json", "polymarket-captures/python-http/events_list.json",
)
TRADE_SEEDS = captures("polymarket-captures/rust-test-data/data_api_trades_response.json",
                       "polymarket-captures/python-http/trades.json")
TRADE_SEEDS += [{"data": rows} for rows in captures("py-sdk/data_v2/trades.json")]
POSITION_SEEDS = captures("polymarket-captures/rust-test-data/data_api_positions_response.json")
POSITION_SEEDS += [{"data": rows} for rows in captures("py-sdk/data_v2/positions.json")]


def pages(seeds: list) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(seeds).flatmap(mutated), st.sampled_from(seeds), JSON)


def check_gamma(payload: object) -> None:
    for decoder in (decode_markets, decode_events):
        try:
            items, bad = decoder(payload)
        except TransientVenueError as error:
            assert str(error)
            continue
        assert bad >= 0
        for item in items:  # every market that decodes translates (or is None: no tokens)
            markets = getattr(item, "markets", [item])
            for market in markets:
                info = parse.market_info(market)
                assert info is None or isinstance(info, MarketInfo)


@FAST
@given(pages(GAMMA_SEEDS))
@example([{"conditionId": "c", "outcomes": "5"}])
@example([{"conditionId": "c", "clobTokenIds": 7, "events": "7"}])
@example({"markets": 5})
@example([{"conditionId": "c", "outcomes": "[" * 5000}])
@example([{"conditionId": "c", "clobTokenIds": ["1", "2"], "endDate": "0001-01-01T00:00:00+01:00"}])
def test_gamma_pages_raise_only_transient_and_decoded_markets_translate(payload):
    check_gamma(payload)


def check_data_trades(payload: object) -> None:
    try:
        trades, bad = decode_trades(payload)
    except TransientVenueError:
        return
    assert bad >= 0
    for trade in trades:
        assert isinstance(parse.trade_seen(trade, "fuzz"), TradeSeen)


ROW = {"proxyWallet": "0xa", "side": "BUY", "asset": "1", "conditionId": "0x1", "size": 1, "price": 0.5}


@FAST
@given(pages(TRADE_SEEDS))
@example([{**ROW, "timestamp": "1e400"}])
@example([{**ROW, "timestamp": None}])
@example([{**ROW, "timestamp": 1, "size": "abc"}])
@example([{**ROW, "timestamp": 1, "price": 7}])
@example([{**ROW, "timestamp": 1, "size": 1_000_000_000_001}])  # above the bus's MAX_SIZE: skipped, not raised
@example({"data": 3})
def test_data_api_pages_raise_only_transient_and_decoded_trades_translate(payload):
    check_data_trades(payload)


def check_positions(payload: object) -> None:
    rows = payload.get("data") if isinstance(payload, dict) else payload
    for row in rows if isinstance(rows, list) else [rows]:
        try:
            parse_position(row)
        except VenueRejected as error:
            assert str(error)


@FAST
@given(pages(POSITION_SEEDS))
@example([{"asset": "1", "conditionId": "c", "size": "abc", "avgPrice": 1}])
@example([{"asset": "1", "conditionId": "c", "size": "NaN", "avgPrice": 1}])
@example([5, "x", None])
def test_position_rows_raise_only_venue_rejected(payload):
    check_positions(payload)


# ---- transports: arbitrary status, headers and bodies ---------------------------------------------------

RESPONSES = st.tuples(
    st.sampled_from([200, 200, 200, 204, 301, 400, 404, 408, 425, 429, 500, 502, 503, 599]),
    st.one_of(st.none(), st.sampled_from(["5", "-1", "nan", "inf", "Wed, 21 Oct 2026 07:28:00 GMT", "", "1e400"])),
    st.one_of(pages(GAMMA_SEEDS + TRADE_SEEDS + POSITION_SEEDS).map(dumps), st.binary(max_size=100).map(bytes)),
)


def transport(responses: list) -> httpx.MockTransport:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        status, retry_after, body = queue.pop(0) if queue else (200, None, "[]")
        headers = {} if retry_after is None else {"retry-after": retry_after}
        return httpx.Response(status, headers=headers, content=body if isinstance(body, bytes) else body.encode())

    return httpx.MockTransport(handler)


async def _pollers(responses: list) -> None:
    # Discovery: a bad answer reads as the venue's (TransientVenueError), never as a crash of the parser.
    gamma = GammaClient("http://gamma", transport=transport(responses))
    try:
        await Discovery(ingest_settings(), gamma).refresh()
    except TransientVenueError:
        pass
    finally:
        await gamma.aclose()
    data = DataApiClient("http://data", transport=transport(responses))
    try:
        for trade in await data.trades_since("0xa", 0, page_size=2, max_pages=3):
            parse.trade_seen(trade, "fuzz")
    except TransientVenueError as error:  # RateLimited included
        assert getattr(error, "retry_after_secs", 0) >= 0
    finally:
        await data.aclose()
    async with httpx.AsyncClient(transport=transport(responses)) as http:
        try:
            await fetch_positions(http, "http://data", "0xa")
        except (TransientVenueError, VenueRejected):
            pass


@FAST_IO
@given(st.lists(RESPONSES, min_size=1, max_size=4))
@example([(429, "Wed, 21 Oct 2026 07:28:00 GMT", "[]")])
@example([(200, None, b"<html>bad gateway</html>")])
@example([(200, None, "5")])
def test_pollers_raise_only_what_their_loops_catch(responses):
    asyncio.run(_pollers(responses))


# ---- the executor's error translation ----------------------------------------------------------------------

TEXT = st.text(max_size=40)
FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
SDK_ERRORS = st.one_of(
    st.builds(lambda m, s, c, r, x: RequestRejectedError(m, status=s, code=c, retry_after=r, restriction=x),
              TEXT, st.integers(-(10**6), 10**6), st.one_of(st.none(), TEXT), FLOATS,
              st.one_of(st.none(), st.sampled_from(["restarting", "post_only", "cancel_only"]), TEXT)),
    st.builds(lambda m, r: RateLimitError(m, retry_after=r), TEXT, FLOATS),
    st.builds(OrderHeartbeatMismatchError, TEXT),
    st.builds(TransportError, TEXT), st.builds(UnexpectedResponseError, TEXT), st.builds(PolymarketError, TEXT),
    st.builds(httpx.ReadTimeout, TEXT), st.builds(httpx.ConnectError, TEXT), st.builds(TimeoutError, TEXT),
    st.builds(ValueError, TEXT), st.builds(KeyError, TEXT), st.builds(json.JSONDecodeError, TEXT, TEXT, st.just(0)),
)


@FAST
@given(SDK_ERRORS, st.booleans(), st.one_of(st.none(), SDK_ERRORS))
def test_every_venue_error_translates_into_the_shared_tree(error, mutating, cause):
    if cause is not None:
        error.__cause__ = cause
    translated = translate(error, mutating=mutating)
    assert isinstance(translated, PolydeskError) and str(translated) is not None
    if mutating and isinstance(error, RequestRejectedError) and error.status >= 500 and error.restriction is None:
        assert not isinstance(translated, TransientVenueError)  # a maybe-processed post is never retried


@pytest.mark.slow
@SLOW
@given(pages(GAMMA_SEEDS), pages(TRADE_SEEDS), pages(POSITION_SEEDS))
def test_rest_pages_long(gamma, trades, positions):
    check_gamma(gamma)
    check_data_trades(trades)
    check_positions(positions)
