"""Wiring of the strategy service: settings -> logging -> run_service."""

import sys

from services.strategy.config import StrategySettings
from services.strategy.service import build_main
from shared.lifecycle import service_entry

if __name__ == "__main__":
    sys.exit(service_entry("strategy", StrategySettings, build_main))
