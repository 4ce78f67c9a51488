"""The risk service's main loop (for now: connect, report healthy, stop cleanly on a signal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.risk.config import RiskSettings
from shared.lifecycle import ServiceContext, wait_stopped


def build_main(settings: RiskSettings) -> Callable[[ServiceContext], Awaitable[None]]:
    return wait_stopped
