"""Scenario files (YAML or JSON): markets, funded wallets, background flow and a timed schedule.

Validated by the pydantic models below; a bad file fails with `ScenarioError` naming the field path
(e.g. `markets.0.tick_size: ...`). Times are simulated seconds from the start of the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from paperexchange.core.markets import TICK_SIZES

SCENARIOS_DIR = Path(__file__).with_name("scenarios")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field path."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Book(_Model):
    """Initial house liquidity: `levels` on each side of fair, one tick apart, `size` growing with depth."""

    levels: int = Field(default=5, ge=0, le=50)
    size: float = Field(default=100, gt=0)


class MarketSpec(_Model):
    tick_size: str = "0.01"
    min_order_size: int = Field(default=5, ge=1)
    fee_rate: float = Field(default=0, ge=0, le=1)
    fee_exponent: float = Field(default=1, ge=0)
    end_date: str = "2027-12-31T00:00:00Z"
    tags: list[str] = []
    book: Book = Book()
    # Volume traded in the day before the scenario starts, so Gamma's volume24hr looks like a market with a
    # history (risk's MIN_LIQUIDITY_USD reads it) instead of 0 at start.
    prior_volume_24h: float = Field(default=0, ge=0)

    @field_validator("tick_size")
    @classmethod
    def _tick(cls, value: str) -> str:
        if value not in TICK_SIZES:
            raise ValueError(f"must be one of {TICK_SIZES}")
        return value


class Binary(MarketSpec):
    key: str
    question: str
    fair: float = Field(default=0.5, gt=0, lt=1)


class Outcome(_Model):
    name: str
    fair: float = Field(gt=0, lt=1)


class NegRiskEvent(MarketSpec):
    key: str
    title: str
    outcomes: list[Outcome] = Field(min_length=3)

    @model_validator(mode="after")
    def _fairs_sum_to_one(self) -> NegRiskEvent:
        total = sum(outcome.fair for outcome in self.outcomes)
        if abs(total - 1) > 0.02:
            raise ValueError(f"outcome fair values must sum to 1 (got {total:.3f})")
        return self


class Wallet(_Model):
    name: str
    address: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    collateral: float = Field(default=1000, ge=0)
    shares: float = Field(default=0, ge=0, description="of every outcome token, so the wallet can sell")
    whale: bool = False


class Range(_Model):
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: object) -> object:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return {"low": value[0], "high": value[1]}
        if isinstance(value, (int, float)):
            return {"low": value, "high": value}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self


class Noise(_Model):
    traders: int = Field(default=3, ge=0, le=50)
    interval_secs: Range = Range(low=1, high=4)
    size: Range = Range(low=5, high=20)
    drift: float = Field(
        default=0.004, ge=0, le=0.1, description="std dev of the fair value's step per action"
    )
    take_probability: float = Field(default=0.3, ge=0, le=1)
    cancel_probability: float = Field(default=0.3, ge=0, le=1)
    requote_secs: float = Field(
        default=5, gt=0, description="how often the house re-centres its quotes on fair"
    )


class Whale(_Model):
    wallet: str
    interval_secs: Range = Range(low=10, high=30)
    size: Range = Range(low=50, high=150)
    markets: list[str] | None = None


class Mispricing(_Model):
    interval_secs: Range = Range(low=30, high=60)
    edge: float = Field(default=0.04, gt=0, lt=0.5, description="sum of the event's YES asks is 1 - edge")
    size: float = Field(default=30, gt=0)
    lifetime_secs: float = Field(default=10, gt=0)
    events: list[str] | None = None


class Action(_Model):
    at: float = Field(ge=0)
    action: Literal["tick_size", "resolve", "fault"]
    market: str | None = None
    tick_size: str | None = None
    winner: Literal["yes", "no"] = "yes"
    kind: Literal["http", "delay", "restart", "ws"] | None = None
    body: dict = {}

    @model_validator(mode="after")
    def _complete(self) -> Action:
        if self.action in ("tick_size", "resolve") and not self.market:
            raise ValueError(f"{self.action} needs market")
        if self.action == "tick_size" and self.tick_size not in TICK_SIZES:
            raise ValueError(f"tick_size must be one of {TICK_SIZES}")
        if self.action == "fault" and self.kind is None:
            raise ValueError("fault needs kind")
        return self


class Scenario(_Model):
    name: str = "scenario"
    seed: int = 0
    markets: list[Binary] = []
    events: list[NegRiskEvent] = []
    wallets: list[Wallet] = []
    noise: Noise = Noise()
    whales: list[Whale] = []
    mispricing: Mispricing | None = None
    schedule: list[Action] = []

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        keys = {m.key for m in self.markets} | {f"{e.key}.{o.name}" for e in self.events for o in e.outcomes}
        wallets = {w.name for w in self.wallets}
        for index, whale in enumerate(self.whales):
            if whale.wallet not in wallets:
                raise ValueError(f"whales.{index}.wallet: unknown wallet {whale.wallet!r}")
            for key in whale.markets or []:
                if key not in keys:
                    raise ValueError(f"whales.{index}.markets: unknown market {key!r}")
        for index, action in enumerate(self.schedule):
            if action.market and action.market not in keys:
                raise ValueError(
                    f"schedule.{index}.market: unknown market {action.market!r} (known: {sorted(keys)})"
                )
        events = {e.key for e in self.events}
        for key in (self.mispricing.events or []) if self.mispricing else []:
            if key not in events:
                raise ValueError(f"mispricing.events: unknown event {key!r}")
        return self


def _location(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def parse(data: object, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(e)}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{source}: {problems}") from None


def load(name_or_path: str) -> Scenario:
    """A file path, or the name of a scenario shipped in paperexchange/sim/scenarios ("default")."""
    path = Path(name_or_path)
    if not path.exists():
        path = SCENARIOS_DIR / f"{name_or_path}.yaml"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{name_or_path}: cannot read scenario ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    return parse(data, str(path))
