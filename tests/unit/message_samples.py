"""One fixed sample of every bus message type; `python -m tests.unit.message_samples --write` rewrites the
golden files (do that only for a deliberate, versioned change)."""

from __future__ import annotations

import sys
from decimal import Decimal as D
from pathlib import Path

import msgspec

from shared import messages as m

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
ENV = m.Envelope(message_id="5f0c1d2e3a4b5c6d7e8f901234567890", correlation_id="00000000000000000000000000000001",
                 causation_id="00000000000000000000000000000002", source_ts_ns=1764000000000000000,
                 created_ts_ns=1764000000000500000, producer="ingest")
CID = "0x" + "ab" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
MARKET = m.MarketInfo(condition_id=CID, question="Will it rain?", slug="will-it-rain",
                      tokens=(m.TokenInfo(token_id=YES, outcome="Yes"), m.TokenInfo(token_id=NO, outcome="No")),
                      tick_size=D("0.01"), min_order_size=D("5"), end_date_ts=1767225600,
                      volume_24h_usd=D("12345.67"), liquidity_usd=D("5000"), fee_rate=D("0.02"),
                      fee_exponent=D("1"), tags=("weather",))

SAMPLES: list[m.Message] = [
    m.BookSnapshot(envelope=ENV, market=CID, token_id=YES,
                   bids=(m.PriceLevel(price=D("0.48"), size=D("100")), m.PriceLevel(price=D("0.47"), size=D("5.5"))),
                   asks=(m.PriceLevel(price=D("0.52"), size=D("30")),), tick_size=D("0.01"), min_order_size=D("5"),
                   venue_hash="a" * 40, epoch=2),
    m.BookDelta(envelope=ENV, market=CID,
                changes=(m.LevelChange(token_id=YES, side=m.Side.BUY, price=D("0.49"), size=D("10")),
                         m.LevelChange(token_id=NO, side=m.Side.SELL, price=D("0.51"), size=D("10"))),
                best_bid={YES: D("0.49"), NO: D("0.48")}, best_ask={YES: D("0.52"), NO: None}, epoch=2),
    m.LastTrade(envelope=ENV, market=CID, token_id=YES, price=D("0.5"), size=D("12"), side=m.Side.BUY,
                transaction_hash="0x" + "12" * 32),
    m.TradeSeen(envelope=ENV, wallet="0x" + "cd" * 20, market=CID, token_id=YES, side=m.Side.BUY, size=D("250"),
                price=D("0.61"), outcome="Yes", trade_key="0x" + "34" * 32 + ":BUY", transaction_hash="0x" + "34" * 32,
                traded_at_ts=1764000000),
    m.MarketDiscovered(envelope=ENV, market=MARKET),
    m.MarketUpdated(envelope=ENV, market=MARKET, changed=("tick_size",)),
    m.MarketResolved(envelope=ENV, condition_id=CID, winning_token_id=YES, winning_outcome="Yes"),
    m.TickSizeChanged(envelope=ENV, market=CID, token_id=YES, old_tick_size=D("0.01"), new_tick_size=D("0.001")),
    m.BookStatus(envelope=ENV, market=CID, token_id=YES, state=m.BookState.GAP, reason="hash_mismatch", epoch=3),
    m.AccountState(envelope=ENV, wallet="0x" + "ef" * 20, collateral_balance=D("1000.5"),
                   allowances={"standard_exchange": D("1e6")}, token_balances={YES: D("20")}, block_number=123),
    m.ExternalSignal(envelope=ENV, market=CID, token_id=YES, probability=D("0.7"), source="cli",
                     expires_at_ts=1764003600),
    m.OrderIntent(envelope=ENV, token_id=YES, side=m.Side.BUY, size=D("10"), price=D("0.45"), reason="edge 0.05",
                  strategy="copy", signal_key="copy:0x12", market=CID, must_fill=True),
    m.CancelIntent(envelope=ENV, strategy="mm", signal_key="mm:gen:7", reason="requote", market=CID),
    m.CancelIntentV2(envelope=ENV, strategy="mm", signal_key="mm:gen:8:cancel", reason="requote", market=CID,
                     of_signal_key="mm:gen:7"),
    m.BasketIntent(envelope=ENV, strategy="arbitrage", signal_key="arb:0xcond:ab12", reason="arb_binary: edge",
                   market=CID, legs=(m.BasketLeg(market=CID, token_id=YES, side=m.Side.BUY, price=D("0.45"),
                                                 size=D("20")),
                                     m.BasketLeg(market=CID, token_id=NO, side=m.Side.BUY, price=D("0.50"),
                                                 size=D("20")))),
    m.ApprovedBasket(envelope=ENV, basket_id="b1", intent_id="i2", signal_key="arb:0xcond:ab12",
                     strategy="arbitrage", market=CID, order_type=m.OrderType.FOK, clamped_from_size=D("30"),
                     legs=(m.ApprovedBasketLeg(client_order_id="c2", market=CID, token_id=YES, side=m.Side.BUY,
                                               size=D("20"), price=D("0.45"), price_limit=D("0.47"),
                                               tick_size=D("0.01")),
                           m.ApprovedBasketLeg(client_order_id="c3", market=CID, token_id=NO, side=m.Side.BUY,
                                               size=D("20"), price=D("0.50"), price_limit=D("0.52"),
                                               tick_size=D("0.01")))),
    m.RiskDecision(envelope=ENV, intent_id="i1", signal_key="copy:0x12", strategy="copy", approved=False,
                   rule="MAX_PER_MARKET_NOTIONAL", detail="notional 120 > 100", numbers={"notional": D("120")},
                   requested_size=D("10")),
    m.ApprovedOrder(envelope=ENV, client_order_id="c1", intent_id="i1", signal_key="copy:0x12", strategy="copy",
                    market=CID, token_id=YES, side=m.Side.BUY, size=D("10"), price=D("0.45"), price_limit=D("0.47"),
                    order_type=m.OrderType.GTC, tick_size=D("0.01"), clamped_from_size=D("20")),
    m.ApprovedCancel(envelope=ENV, signal_key="mm:gen:7", strategy="mm", market=CID, client_order_ids=("c1",)),
    m.ApprovedCancelV2(envelope=ENV, signal_key="mm:gen:8:cancel", strategy="mm", market=CID,
                       of_signal_key="mm:gen:7"),
    m.OrderUpdate(envelope=ENV, client_order_id="c1", order_id="0x" + "56" * 32, kind=m.OrderEventKind.PLACEMENT,
                  status=m.OrderStatus.LIVE, market=CID, token_id=YES, side=m.Side.BUY, price=D("0.45"),
                  original_size=D("10")),
    m.Fill(envelope=ENV, trade_id="t1", status=m.TradeStatus.MATCHED, order_id="0x" + "56" * 32, client_order_id="c1",
           strategy="copy", market=CID, token_id=YES, side=m.Side.BUY, size=D("10"), price=D("0.45"),
           fee_usd=D("0.0495")),
    m.PositionRedeemed(envelope=ENV, market=CID, token_id=YES, shares=D("20"), payout_usd=D("20"),
                       transaction_hash="0x" + "78" * 32),
    m.KillSwitchChanged(envelope=ENV, active=True, reason="daily loss 51 > 50", actor="risk:auto"),
    m.CancelAllRequested(envelope=ENV, reason="kill switch"),
    m.KillSwitchCommand(envelope=ENV, active=True, reason="manual stop", actor="cli:ops@host"),
    m.ShutdownNotice(envelope=ENV, service="executor", reason="SIGTERM"),
    m.VerdictDecision(envelope=ENV, verdict_id="5f0c1d2e3a4b5c6d7e8f901234567891", approve=True,
                      actor="api:token-1a2b3c4d@127.0.0.1", reason="checked the news"),
    m.VerdictPending(envelope=ENV, verdict_id="5f0c1d2e3a4b5c6d7e8f901234567891", market=CID,
                     question="Will it rain?", token_id=YES, probability=D("0.7"), source="forecaster",
                     expires_at_ts=1764000900.0),
    m.VerdictDecided(envelope=ENV, verdict_id="5f0c1d2e3a4b5c6d7e8f901234567891", state=m.VerdictState.EXPIRED,
                     actor="strategy:expiry", reason="not decided in time"),
]


def golden_path(message: m.Message) -> Path:
    return GOLDEN_DIR / f"{message.TYPE}.v{message.VERSION}.json"


def golden_text(message: m.Message) -> str:
    return msgspec.json.format(m.to_json(message), indent=2).decode() + "\n"


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for sample in SAMPLES:
        golden_path(sample).write_text(golden_text(sample))
    print(f"wrote {len(SAMPLES)} golden files to {GOLDEN_DIR}")
