"""Property: whatever the books, trades, fills and verdicts, no strategy emits a price off the tick grid, a
price outside [tick, 1 - tick], or a size below the market's minimum (checked on the strategies' own
output, before the engine's last check)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.strategy.state import WorldState, apply_event, apply_fill
from services.strategy.strategies.arbitrage import Arbitrage, ArbParams
from services.strategy.strategies.copy import CopyParams, CopyTrading
from services.strategy.strategies.market_making import MarketMaking, MMParams
from services.strategy.strategies.verdict import ExternalVerdict, SizingParams, VerdictParams
from shared.messages import ExternalSignal, Fill, OrderIntent, Side
from tests.strategy.scenario import delta, discovered, fill, info, signal, snapshot, trade

TICKS = ["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"]
MARKETS = ["n0", "n1", "n2", "b"]  # three of one neg-risk event, and a plain binary market

ticks = st.sampled_from(TICKS)
sides = st.sampled_from([Side.BUY, Side.SELL])
sizes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000), places=2)
probabilities = st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=3)
bps = st.decimals(min_value=Decimal(0), max_value=Decimal(2000), places=0)


@st.composite
def grid_price(draw: st.DrawFn, tick: str) -> str:
    steps = int(1 / Decimal(tick))
    return str(Decimal(draw(st.integers(1, steps - 1))) * Decimal(tick))


@st.composite
def book_side(draw: st.DrawFn, tick: str) -> list[tuple[str, str]]:
    prices = draw(st.lists(grid_price(tick), max_size=4, unique=True))
    return [(p, str(draw(sizes))) for p in prices]


@st.composite
def scenario(draw: st.DrawFn) -> list:
    infos = {m: info(m, tick=draw(ticks), min_size=str(draw(st.sampled_from([1, 5, 15]))),
                     neg_risk_id=None if m == "b" else "E", fee_rate=str(draw(st.sampled_from(["0", "0.07"]))),
                     fee_exponent="1") for m in MARKETS}
    messages: list = [discovered(m) for m in infos.values()]
    for _ in range(draw(st.integers(1, 40))):
        m = infos[draw(st.sampled_from(MARKETS))]
        tick = str(m.tick_size)
        token = draw(st.sampled_from([t.token_id for t in m.tokens]))
        kind = draw(st.sampled_from(["snapshot", "snapshot", "delta", "trade", "signal", "fill"]))
        if kind == "snapshot":
            messages.append(snapshot(m, token, draw(book_side(tick)), draw(book_side(tick))))
        elif kind == "delta":
            size = draw(st.one_of(st.just(Decimal(0)), sizes))
            messages.append(delta(m, token, draw(sides), draw(grid_price(tick)), str(size)))
        elif kind == "trade":
            messages.append(trade(m, token, draw(sides), str(draw(sizes)), draw(grid_price(tick)),
                                  key=str(len(messages))))
        elif kind == "signal":
            messages.append(signal(m, str(draw(probabilities)), token=draw(st.sampled_from([None, token]))))
        else:
            messages.append(fill(m, token, draw(sides), str(draw(sizes)), trade_id=str(len(messages))))
    return messages


@st.composite
def strategy_set(draw: st.DrawFn) -> list:
    return [
        CopyTrading(CopyParams(wallets=frozenset({"0xleader"}), size_ratio=draw(st.sampled_from(
            [Decimal("0.01"), Decimal("0.5"), Decimal(3)])), min_size_usd=Decimal(draw(st.integers(0, 5))),
            max_size_usd=Decimal(draw(st.integers(5, 500))), price_guard_bps=draw(bps))),
        Arbitrage(ArbParams(min_edge_bps=draw(bps), max_size_usd=Decimal(draw(st.integers(1, 1000))))),
        MarketMaking(MMParams(half_spread_bps=draw(bps), requote_interval_secs=draw(st.sampled_from([0.0, 5.0])),
                              quote_size_usd=Decimal(draw(st.integers(1, 200))),
                              inventory_skew_bps_per_share=draw(bps),
                              reference=draw(st.sampled_from(["mid", "microprice"])))),
        ExternalVerdict(VerdictParams(min_edge_bps=draw(bps), sizing=SizingParams(
            mode=draw(st.sampled_from(["fixed", "kelly", "volatility"])), max_usd=Decimal(draw(st.integers(1, 500)))))),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=scenario(), strategies=strategy_set())
def test_no_strategy_emits_an_off_grid_price_or_a_size_below_the_minimum(messages, strategies):
    state = WorldState()
    for message in messages:
        if isinstance(message, Fill):
            apply_fill(state.portfolio, message)
            continue
        if not isinstance(message, ExternalSignal):
            apply_event(state, message)
        for strategy in strategies:
            for intent in strategy.on_event(state, message, message.envelope.created_ts_ns / 1e9):
                if not isinstance(intent, OrderIntent):
                    continue
                market = state.markets[intent.market]
                tick = market.tick_size
                assert intent.price % tick == 0, (strategy.name, intent.price, tick)
                assert tick <= intent.price <= 1 - tick, (strategy.name, intent.price, tick)
                assert intent.size >= market.min_size and intent.size > 0, (strategy.name, intent.size)
                assert intent.size == intent.size.quantize(Decimal("0.01")), (strategy.name, intent.size)
