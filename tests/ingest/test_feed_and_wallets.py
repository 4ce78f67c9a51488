"""Malformed frames are dead-lettered with the raw frame and the feed goes on; a watched wallet's trade
becomes exactly one trade_seen, also across a restart; an unreachable RPC is a warning, not a crash."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from services.ingest.accounts import AccountReader
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from services.ingest.wallets import WalletWatcher
from shared.messages import BookDelta, BookSnapshot, BookState, BookStatus, TradeSeen
from shared.polymarket.chain import ChainReader
from shared.polymarket.data_api import DataApiClient, DataTrade
from shared.polymarket.parse import trade_seen
from shared.streams import events_stream
from tests.ingest.paper import ingest_settings

MARKET = "0x" + "ab" * 32
YES, NO = "111", "222"


def book_frame(asset: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: str = "1764000000000") -> str:
    return json.dumps([{"event_type": "book", "market": MARKET, "asset_id": asset, "timestamp": ts,
                        "bids": [{"price": p, "size": s} for p, s in bids],
                        "asks": [{"price": p, "size": s} for p, s in asks], "tick_size": "0.01"}])


async def test_malformed_frames_are_dead_lettered_and_the_feed_keeps_running(bus):
    async with httpx.AsyncClient() as http:
        feed = Feed(ingest_settings(), bus, ShardMap(("main",), {}), http=http)
        for asset in (YES, NO):
            feed.books.track(asset, MARKET, tick_size="0.01")
        bad = ['{"event_type": "book", "market": "x"', '{"event_type": "book"}',
               ('{"event_type":"price_change","market":"m","price_changes":[{"asset_id":"1","price":"abc",'
               '"size":"1","side":"BUY"}],"timestamp":"1"}')]
        for frame in bad:
            await feed.on_frame(frame)
        await feed.on_frame('{"event_type": "mystery"}')  # a venue change, not a malformed frame
        await feed.on_frame(book_frame(YES, [("0.40", "10")], [("0.45", "5")]))
        await feed.on_frame(json.dumps({"event_type": "price_change", "market": MARKET, "timestamp": "1764000000001",
                                        "price_changes": [{"asset_id": YES, "price": "0.41", "size": "3",
                                                           "side": "BUY", "best_bid": "0.41", "best_ask": "0.45"}]}))
        assert feed.counts["malformed"] == 3
        dead = await bus.dead_letters(events_stream("main"))
        assert [d.fields["raw"].decode() for d in dead] == bad
        assert all(d.error for d in dead)
        messages = [m for _, m in await bus.history(events_stream("main"))]
        assert [type(m) for m in messages] == [BookSnapshot, BookStatus, BookDelta]
        assert messages[1].state is BookState.VALID and messages[1].token_id == YES
        assert messages[2].best_bid == {YES: Decimal("0.41")}


def trade(tx: str, ts: int, wallet: str = "0xAAA0000000000000000000000000000000000001", size: float = 10) -> dict:
    return {"proxyWallet": wallet, "side": "BUY", "asset": YES, "conditionId": MARKET, "size": size,
            "price": 0.42, "timestamp": ts, "transactionHash": tx, "outcome": "Yes"}


class FakeDataApi:
    """`GET /trades?user=` newest first, limit/offset, as the Data API serves it."""

    def __init__(self) -> None:
        self.trades: list[dict] = []
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        user = request.url.params["user"].lower()
        rows = sorted((t for t in self.trades if t["proxyWallet"].lower() == user), key=lambda t: -t["timestamp"])
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json=rows[offset:offset + limit])


async def test_each_watched_wallet_trade_is_one_trade_seen_also_across_restarts(bus):
    wallet = "0xaaa0000000000000000000000000000000000001"
    api = FakeDataApi()
    now = [1_800_000_000.0]

    def watcher() -> WalletWatcher:  # a fresh process: nothing in memory, only what Redis holds
        client = DataApiClient("http://data-api", transport=httpx.MockTransport(api.handler))
        return WalletWatcher(bus, client, (wallet,), shard_of=lambda _: "main", overlap_secs=300, page_size=2,
                             clock=lambda: now[0])

    api.trades += [trade("0x01", 1_800_000_000 - 100), trade("0x02", 1_800_000_000 - 50),
                   trade("0x03", 1_800_000_000 - 50, size=7), trade("0xold", 1_700_000_000)]
    first = watcher()
    assert await first.poll_all() == 3  # the old trade is outside the first-start window
    assert await first.poll_all() == 0
    restarted = watcher()
    assert await restarted.poll_all() == 0
    api.trades.append(trade("0x04", 1_800_000_010))
    now[0] += 10
    assert await restarted.poll_all() == 1
    assert await watcher().poll_all() == 0

    seen = [m for _, m in await bus.history(events_stream("main")) if isinstance(m, TradeSeen)]
    assert sorted(m.transaction_hash for m in seen) == ["0x01", "0x02", "0x03", "0x04"]
    assert len({m.trade_key for m in seen}) == 4
    assert all(m.wallet == wallet for m in seen)
    # The message id is derived from the trade, so even a re-made event would be recognisable.
    again = trade_seen(DataTrade.model_validate(trade("0x04", 1_800_000_010)), "ingest")
    assert again.envelope.message_id in {m.envelope.message_id for m in seen}


async def test_an_unreachable_rpc_is_a_warning_and_a_metric_never_a_crash(bus):
    reader = ChainReader("http://127.0.0.1:9", timeout_secs=0.5)
    accounts = AccountReader(bus, reader, "0x" + "11" * 20, ("main",))
    assert await accounts.read_once() is None
    assert await accounts.read_once() is None
    assert accounts.status["rpc_ok"] is False and accounts.status["failures"] == 2
    assert await bus.length(events_stream("main")) == 0


async def test_account_state_from_the_paper_exchange_rpc(bus):
    from shared.messages import AccountState
    from tests.ingest.paper import PaperAdmin

    paper = pytest.importorskip("paperexchange.server")
    async with paper.PaperExchangeServer(admin=True) as server:
        admin = PaperAdmin(server.url)
        if (await admin.http.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})).status_code >= 400:
            pytest.skip("the paper exchange serves no JSON-RPC yet")
        wallet = "0x" + "12" * 20
        (await admin.http.post("/_paper/fund", json={"address": wallet, "collateral": "123.5"})).raise_for_status()
        accounts = AccountReader(bus, ChainReader(server.url + "/rpc"), wallet, ("main", "other"))
        message = await accounts.read_once()
        await admin.aclose()
    assert message is not None and message.collateral_balance == Decimal("123.5")
    assert message.allowances["ctf_exchange"] > 0
    for shard in ("main", "other"):
        assert [type(m) for _, m in await bus.history(events_stream(shard))] == [AccountState]


def test_trade_keys_spell_numbers_canonically():
    from shared.polymarket.data_api import DataTrade
    from shared.polymarket.parse import trade_key

    base = {"proxyWallet": "0xAbC", "side": "BUY", "asset": "123", "conditionId": "0xc", "timestamp": 1,
            "transactionHash": "0xt"}
    keys = {trade_key(DataTrade.model_validate({**base, "size": size, "price": price}))
            for size, price in (("50", "0.44"), ("50.0", "0.440"), (50, 0.44))}
    assert keys == {"0xabc:0xt:123:BUY:50:0.44"}
