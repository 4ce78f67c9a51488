"""The one shape every benchmark reports a goal in, so `polydesk bench` can print and record them alike.

A goal is a ratio to a baseline measured in the same run (bare redis-py, parse-only, the bare chain),
compared with a limit; `at_least` says which side of the limit is good. Absolute numbers go in `measured`
and `detail` as context only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GoalResult:
    name: str  # what the goal is, e.g. "bus throughput vs bare redis-py"
    measured: str  # the absolute figure with its unit, e.g. "61,200 msgs/s" (context, not the goal)
    ratio: float  # measured / baseline from the same run
    limit: float  # the ratio the goal asks for
    met: bool
    detail: str = ""  # baseline figure, load, anything a reader needs to judge the ratio
    at_least: bool = True  # True: ratio >= limit is met (throughput); False: ratio <= limit (latency)

    @classmethod
    def judge(
        cls, name: str, measured: str, ratio: float, limit: float, *, at_least: bool = True, detail: str = ""
    ) -> GoalResult:
        met = ratio >= limit if at_least else ratio <= limit
        return cls(
            name=name, measured=measured, ratio=ratio, limit=limit, met=met, detail=detail, at_least=at_least
        )

    def line(self) -> str:
        """One printable line: name, ratio against its limit, met / NOT met, then the context."""
        sign = ">=" if self.at_least else "<="
        verdict = "met" if self.met else "NOT met"
        tail = f"; {self.detail}" if self.detail else ""
        return f"{self.name}: {self.ratio:.2f}x ({sign} {self.limit:.2f}x) {verdict} [{self.measured}{tail}]"
