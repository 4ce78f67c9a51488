"""The executor service's main loop (for now: connect, report healthy, stop cleanly on a signal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.executor.config import ExecutorSettings
from shared.lifecycle import ServiceContext, wait_stopped


def build_main(settings: ExecutorSettings) -> Callable[[ServiceContext], Awaitable[None]]:
    return wait_stopped
