"""The garbage collector in a long-running service: the heap a service is set up with is frozen out of it.

Measured in the services at 1,000 book changes/s (gc.callbacks): a full collection walked the whole heap
(imported modules, polymarket-client, web3, pydantic schemas, the books) and paused the event loop for
55 ms (strategy), 59 ms (ingest), 66-74 ms (risk) and 150-220 ms (executor); a tick caught behind one
waited that long. `gc.freeze()` moves every object alive now to a permanent generation that collections
skip. Those objects are still freed by reference counting; only a reference cycle among them that later
becomes garbage is never collected, which is why this happens at two set-up points and not periodically.
"""

from __future__ import annotations

import gc

# By then a service has built what it keeps (ingest its books after discovery, the executor its client).
SETTLED_AFTER_SECS = 30.0


def freeze_start_up() -> None:
    """Before the service runs (nothing waits on it yet): collect, then freeze the imports and clients."""
    gc.collect()
    gc.freeze()


def freeze_settled() -> None:
    """Once the service is set up and serving: freeze without collecting first, a collection being the very
    pause this avoids (what garbage it would have found stays, once)."""
    gc.freeze()
