"""Wiring of the ingest service: settings -> logging -> run_service."""

import sys

from services.ingest.config import IngestSettings
from services.ingest.service import build_main
from shared.lifecycle import service_entry

if __name__ == "__main__":
    sys.exit(service_entry("ingest", IngestSettings, build_main))
