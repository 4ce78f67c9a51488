"""The only code that touches Redis Streams: publishing, consumer groups, crash-safe commit, reclaim, dead letters.

Delivery is at least once; effectively once because a handler's outputs and the acknowledgement of its
input are written by one Lua script that first checks the input is still pending for *this* consumer
(XACK alone does not check ownership, so a paused worker whose entries were reclaimed would duplicate).

Lifecycle of an entry for one group:
  read (`>` for new entries; on start `0` first, to finish this consumer's own pending entries)
  -> decode (failure: dead-lettered at once, with the reason)
  -> handler (exception: left pending, error remembered; retried when the reclaimer claims it again)
  -> commit (outputs XADDed + input XACKed atomically, or nothing).
The reclaimer XAUTOCLAIMs entries idle longer than `claim_min_idle_ms` from any consumer of the group,
which covers both a dead consumer and this consumer's own failed entries. An entry delivered more than
`max_deliveries` times is moved to `<stream>:dead` with its last error, and acknowledged.

Trimming policy: producers never trim (no MAXLEN on XADD). `trim_acknowledged` removes only entries that
every group of the stream has both received and acknowledged, and that are older than the retention,
computed and trimmed atomically in one script. An entry still pending anywhere, or not yet delivered to
some group, is never removed; a stream with no group is left alone, and so are dead-letter streams. A
consumer that stays down therefore makes its stream grow: that is what the lag and length metrics and
their alerts are for, never a reason to drop data.
"""

from shared.streams.base import (
    APPROVED_ORDERS,
    CONTROL,
    DEAD_SUFFIX,
    EVENTS,
    FILLS,
    INTENTS,
    SIGNALS,
    VERDICTS,
    DeadLetter,
    Delivery,
    GroupStats,
    Handler,
    Output,
    dead_letter_stream,
    events_stream,
)
from shared.streams.bus import Bus
from shared.streams.consumer import Consumer, ConsumerOptions

__all__ = [
    "APPROVED_ORDERS",
    "CONTROL",
    "DEAD_SUFFIX",
    "EVENTS",
    "FILLS",
    "INTENTS",
    "SIGNALS",
    "VERDICTS",
    "Bus",
    "Consumer",
    "ConsumerOptions",
    "DeadLetter",
    "Delivery",
    "GroupStats",
    "Handler",
    "Output",
    "dead_letter_stream",
    "events_stream",
]
