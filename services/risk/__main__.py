"""Wiring of the risk service: settings -> logging -> run_service."""

import sys

from services.risk.config import RiskSettings
from services.risk.service import build_main
from shared.lifecycle import service_entry

if __name__ == "__main__":
    sys.exit(service_entry("risk", RiskSettings, build_main))
