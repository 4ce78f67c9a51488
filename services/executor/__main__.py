"""Wiring of the executor service: settings -> logging -> run_service."""

import sys

from services.executor.config import ExecutorSettings
from services.executor.service import build_main
from shared.lifecycle import service_entry

if __name__ == "__main__":
    sys.exit(service_entry("executor", ExecutorSettings, build_main))
