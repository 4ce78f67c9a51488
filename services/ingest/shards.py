"""Market sets: which shard (events:<shard>) each market's events go to. Pure.

Rules per shard, tried in the settings' shard order: "*" (any market), a condition id, a market slug,
"tag:<tag>", "event:<event slug>". A market no rule matches goes to the first shard. The markets of one
neg-risk event always share a shard (the first shard any of them matches), so a strategy worker sees
the whole event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from shared.messages import MarketInfo


def _matches(rule: str, market: MarketInfo) -> bool:
    if rule == "*":
        return True
    kind, _, value = rule.partition(":")
    if kind == "tag" and value:
        return value.lower() in {t.lower() for t in market.tags}
    if kind == "event" and value:
        return market.event_slug == value
    return rule in (market.condition_id, market.slug)


def group_key(market: MarketInfo) -> str:
    """Markets with the same key stay together: a neg-risk event, else the market alone."""
    if market.neg_risk and (market.neg_risk_market_id or market.event_slug):
        return f"negrisk:{market.neg_risk_market_id or market.event_slug}"
    return f"market:{market.condition_id}"


class ShardMap:
    """Rules from settings -> shard per market; remembers assignments so a market never moves shards
    while the process runs (its strategy worker holds its state)."""

    def __init__(self, shards: Sequence[str], market_sets: Mapping[str, Iterable[str]]) -> None:
        if not shards:
            raise ValueError("at least one shard")
        self.shards = tuple(shards)
        self.rules = {shard: tuple(market_sets.get(shard, ())) for shard in self.shards}
        self._by_market: dict[str, str] = {}
        self._by_group: dict[str, str] = {}

    def _wildcard_shard(self) -> str | None:
        return next((shard for shard in self.shards if "*" in self.rules[shard]), None)

    def assign(self, markets: Iterable[MarketInfo]) -> dict[str, str]:
        """Shard of every given market (condition id -> shard), groups kept together."""
        groups: dict[str, list[MarketInfo]] = {}
        for market in markets:
            groups.setdefault(group_key(market), []).append(market)
        out: dict[str, str] = {}
        for key, members in groups.items():
            shard = self._by_group.get(key)
            if shard is None:
                known = [
                    self._by_market[m.condition_id] for m in members if m.condition_id in self._by_market
                ]
                explicit = [s for s in (self._rule_shard_explicit(m) for m in members) if s]
                shard = (known or explicit or [self._wildcard_shard() or self.shards[0]])[0]
                self._by_group[key] = shard
            for market in members:
                self._by_market[market.condition_id] = shard
                out[market.condition_id] = shard
        return out

    def _rule_shard_explicit(self, market: MarketInfo) -> str | None:
        for shard in self.shards:
            if any(_matches(rule, market) for rule in self.rules[shard] if rule != "*"):
                return shard
        return None

    def shard_of(self, condition_id: str) -> str:
        """The shard of a known market, else the first shard."""
        return self._by_market.get(condition_id, self.shards[0])
