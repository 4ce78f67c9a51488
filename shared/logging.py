"""The JSONL event log (one event per line, one file per UTC day) and readable console logs.

Event names follow the seed where they fit (`signal_seen`, `order_intent`, `risk_reject`,
`order_submitted`, `fill`, `shutdown_clean`), so `jq 'select(.type=="risk_reject")' logs/events-*.jsonl`
works. `signal_seen`: strategy, one per message on `signals`, `action` acted or ignored and the `reason`.
`fill`: executor and risk, the same fields (fill_event_fields: our side, price and size).

Files are opened in append mode and each event is one write() call, so several processes can share a
day's file. Every registered secret is scrubbed from both outputs, whatever field it hides in.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec
import orjson
from pydantic import BaseModel, SecretStr

from shared.messages import Fill, to_builtins

REDACTED = "**********"
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | SecretStr | None) -> None:
    """Scrub `value` from every log line and event from now on (values under 4 characters are ignored)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by the redaction marker."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, msgspec.Struct):  # a bus message
        return msgspec.to_builtins(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path | set | frozenset):
        return str(value) if isinstance(value, Path) else sorted(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def event_log_path(log_dir: Path, when: dt.datetime) -> Path:
    return log_dir / f"events-{when:%Y-%m-%d}.jsonl"


class EventLog:
    """Appends events to `<log_dir>/events-YYYY-MM-DD.jsonl` (UTC day of each event)."""

    def __init__(self, log_dir: Path, service: str, *, clock: Callable[[], float] = time.time) -> None:
        self.log_dir = Path(log_dir)
        self.service = service
        self._clock = clock
        self._lock = threading.Lock()
        self._day: str | None = None
        self._fd: int | None = None
        self._watchers: dict[str, list[Callable[[dict[str, Any]], None]]] = {}

    def watch(self, event_types: Iterable[str], callback: Callable[[dict[str, Any]], None]) -> None:
        """Call `callback` with every later event of these types, as written (scrubbed): how a service keeps
        its recent errors at hand for its health key without a second place deciding what an error is."""
        for event_type in event_types:
            self._watchers.setdefault(event_type, []).append(callback)

    def emit(self, event_type: str, **fields: Any) -> None:
        """Write one event (scrubbed); watchers of its type get it as written."""
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        event = {
            "ts": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "type": event_type,
            "service": self.service,
            **fields,
        }
        line = scrub(orjson.dumps(event, default=_default).decode())
        with self._lock:
            fd = self._file_for(now)
            os.write(fd, (line + "\n").encode())
        watchers = self._watchers.get(event_type)
        if watchers:  # read back only when watched: the executor emits several events per order
            written: dict[str, Any] = orjson.loads(line)
            for callback in watchers:
                callback(written)

    def _file_for(self, now: dt.datetime) -> int:
        day = f"{now:%Y-%m-%d}"
        if day != self._day or self._fd is None:
            self.close()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                event_log_path(self.log_dir, now), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640
            )
            self._day = day
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def fill_event_fields(fill: Fill) -> dict[str, Any]:
    """The fields of a `fill` event, the same in every service that logs one: the Fill message's own (trade,
    order, status, market, token, and *our* side, price, size, fee, maker or taker), without its envelope.
    A service adds what only it knows (risk: how the fill moved its ledger, as `outcome`)."""
    fields = to_builtins(fill)
    del fields["envelope"]
    return fields


def read_events(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every event of the given JSONL files, in file order (for tests and tools)."""
    events: list[dict[str, Any]] = []
    for path in paths:
        with open(path, "rb") as handle:
            events.extend(orjson.loads(line) for line in handle if line.strip())
    return events


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_console(service: str, level: str = "INFO") -> None:
    """Readable console logs on stderr, secrets scrubbed, one line per record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that log request details at INFO would be noise at our INFO.
    for noisy in ("httpx", "httpcore", "websockets", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
