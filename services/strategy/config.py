"""Settings of the strategy layer (environment prefix POLYDESK_): the worker's shard, strategies and parameters.

Units are in the names. Prices moves and edges in basis points of the $1 a share pays (100 bps = 0.01).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.config import ServiceSettings, parse_list
from shared.errors import ConfigurationError

STRATEGY_NAMES = ("copy", "arbitrage", "market_making", "verdict", "bench")


class StrategySettings(ServiceSettings):
    """What one strategy worker serves and how its strategies are parameterised."""

    strategy_shard: str | None = Field(
        default=None, description="the one market set (of `shards`) this worker serves; unset: the first"
    )
    # Before `strategies`, whose check looks own strategies up in these folders.
    strategy_path: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="folders holding own strategies (<name>.py or a package <name>/ with "
        "build_strategy(params)), searched in order before installed entry points; comma list",
    )
    strategies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("arbitrage",),
        description=f"enabled strategies, comma list: built in {', '.join(STRATEGY_NAMES)}, or the name "
        "of an own strategy (POLYDESK_STRATEGY_PATH or an installed entry point; docs/strategies.md)",
    )
    strategy_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='own strategies\' parameters, a JSON object by name, e.g. {"wide_spread": {"size_usd": 5}}',
    )
    # copy trading
    copy_wallets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="leader wallets to follow"
    )
    copy_size_ratio: Decimal = Field(default=Decimal("0.1"), gt=0, description="own shares per leader share")
    copy_min_size_usd: Decimal = Field(
        default=Decimal(1), ge=0, description="a copied order worth less is skipped"
    )
    copy_max_size_usd: Decimal = Field(
        default=Decimal(100), gt=0, description="a copied order is capped at this"
    )
    copy_price_guard_bps: Decimal = Field(
        default=Decimal(200), ge=0, description="skip when the touch moved this far past the leader's price"
    )
    # arbitrage
    arb_min_edge_bps: Decimal = Field(
        default=Decimal(50), ge=0, description="payout minus cost and fees, at least"
    )
    arb_max_size_usd: Decimal = Field(default=Decimal(200), gt=0, description="cost of one basket, at most")
    # market making
    mm_markets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="condition ids; empty: all"
    )
    mm_half_spread_bps: Decimal = Field(
        default=Decimal(100), ge=0, description="quotes this far each side of the reference price"
    )
    mm_requote_interval_secs: float = Field(default=5.0, ge=0, description="quotes change at most this often")
    mm_quote_size_usd: Decimal = Field(default=Decimal(20), gt=0, description="value of each quote")
    mm_inventory_skew_bps_per_share: Decimal = Field(
        default=Decimal(1), ge=0, description="the fair price moves this far against each share held"
    )
    mm_reference: str = Field(
        default="mid",
        pattern="^(mid|microprice)$",
        description="reference price of the quotes: mid or microprice",
    )
    # external verdicts
    verdict_min_edge_bps: Decimal = Field(
        default=Decimal(300),
        ge=0,
        description="a verdict trades when its fair price beats the book by this much",
    )
    verdict_sizing: str = Field(
        default="kelly", pattern="^(fixed|kelly|volatility)$", description="how a verdict's order is sized"
    )
    verdict_fixed_usd: Decimal = Field(
        default=Decimal(10), gt=0, description="fixed mode; base of volatility mode"
    )
    verdict_bankroll_usd: Decimal = Field(default=Decimal(1000), gt=0, description="kelly mode")
    verdict_kelly_fraction: Decimal = Field(
        default=Decimal("0.25"), gt=0, le=1, description="kelly mode: this fraction of the full Kelly stake"
    )
    verdict_max_usd: Decimal = Field(default=Decimal(50), gt=0, description="cap of every sizing mode")
    verdict_vol_target: Decimal = Field(
        default=Decimal("0.01"), gt=0, description="per-update mid stdev aimed at"
    )
    verdict_approval: str = Field(
        default="auto",
        pattern="^(auto|manual)$",
        description="manual: hold each external verdict until a person approves it (API, CLI, Telegram)",
    )
    verdict_approval_window_secs: float = Field(
        default=900.0,
        gt=0,
        description="manual approval: a held verdict expires this long after it arrived (or at its own expiry)",
    )
    # bench (`polydesk bench` only): order at bench_order_price when a bid appears at bench_trigger_price
    bench_trigger_price: Decimal = Field(
        default=Decimal("0.02"), gt=0, lt=1, description="bench only: a bid at this price triggers an order"
    )
    bench_order_price: Decimal = Field(
        default=Decimal("0.01"), gt=0, lt=1, description="bench only: the price of that order"
    )

    @field_validator("strategies", "copy_wallets", "mm_markets", "strategy_path", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # Found, not imported: importing own code is the strategy service's start (services/strategy/plugins.py).
        from services.strategy import plugins

        folders = info.data.get("strategy_path", ())
        own = [name for name in value if name not in STRATEGY_NAMES]
        try:
            unknown = [name for name in own if plugins.find(name, folders) is None]
        except ConfigurationError as error:
            raise ValueError(str(error).removeprefix("POLYDESK_STRATEGIES: ")) from None
        if unknown:
            installed = plugins.installed_names()
            raise ValueError(
                f"unknown strategies {unknown}: not built in ({', '.join(STRATEGY_NAMES)}), not in "
                "POLYDESK_STRATEGY_PATH, not an installed entry point"
                + (f" (installed: {', '.join(installed)})" if installed else "")
            )
        return value

    @field_validator("strategy_params")
    @classmethod
    def _params_of_own_strategies(
        cls, value: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        enabled = info.data.get("strategies", ())
        stray = [name for name in value if name not in enabled or name in STRATEGY_NAMES]
        if stray:
            raise ValueError(f"names strategies that are not enabled own ones: {stray}")
        return value

    @model_validator(mode="after")
    def _shard_is_served(self) -> StrategySettings:
        if self.strategy_shard is not None and self.strategy_shard not in self.shards:
            raise ValueError(
                f"strategy_shard {self.strategy_shard!r} is not one of shards {list(self.shards)}"
            )
        if "copy" in self.strategies and not self.copy_wallets:
            raise ValueError("copy is enabled but copy_wallets is empty")
        if self.copy_min_size_usd > self.copy_max_size_usd:
            raise ValueError("copy_min_size_usd is above copy_max_size_usd")
        return self

    @property
    def shard(self) -> str:
        """The market set this worker serves."""
        return self.strategy_shard or self.shards[0]
