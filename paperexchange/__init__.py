"""polydesk's local Polymarket CLOB V2: REST + WebSocket, faithful enough that the official clients work unchanged.

Three parts, each a sub-package:
- `core/`: the venue's state and rules without transport: markets, books and matching (`engine`), the
  ledger, funds, order validation and signing, L1/L2 keys (`auth`), trades and settlement, the paper chain.
- `api/`: the wire: CLOB REST (public and private), the market and user WebSockets, Gamma, the Data API,
  Polygon JSON-RPC, the admin API and fault middleware, and `api.app` that mounts them.
- `sim/`: what makes the venue move on its own: scenarios (and the shipped `sim/scenarios/` files), the
  background flow, faults on demand, market-channel tapes and the bench generator.
`venue.py` assembles the three into one object and `server.py` runs it; `replay.py` runs it with its books
following a recorded tape (sim/external_book.py, sim/tape_source.py), stepped by `polydesk backtest`.

Code outside this package imports only what this module exports, `paperexchange.server` and
`paperexchange.replay` (`python -m paperexchange` is `paperexchange.__main__`); tests/unit/test_paperexchange_boundary.py keeps it so.
"""

from paperexchange.core import config, signing
from paperexchange.core.clock import ManualClock
from paperexchange.core.config import Settings

__all__ = ["ManualClock", "Settings", "config", "signing"]
