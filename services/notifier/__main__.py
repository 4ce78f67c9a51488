"""Wiring of the notifier: settings -> logging -> run_service."""

import sys

from services.notifier.config import NotifierSettings
from services.notifier.service import build_main
from shared.lifecycle import service_entry

if __name__ == "__main__":
    sys.exit(service_entry("notifier", NotifierSettings, build_main))
