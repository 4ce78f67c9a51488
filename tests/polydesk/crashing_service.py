"""A stand-in service for the supervisor's tests: prints a log line, an error line, then exits 3."""

import sys

print("2026-01-01 00:00:00 fake INFO fake: starting", flush=True)
print("2026-01-01 00:00:00 fake ERROR fake: boom: the database is on fire", file=sys.stderr, flush=True)
print("2026-01-01 00:00:00 fake INFO fake: exiting", flush=True)
sys.exit(3)
