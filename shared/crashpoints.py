"""TEST HOOK ONLY: kills aimed at a named point of a service (the chaos run's "after sign", "after save"...).

A service started with POLYDESK_CRASH_POINTS_DIR reads `<dir>/<service>` whenever it passes a named point;
if a line of that file is the point's name, it removes the line and SIGKILLs itself there and then. The
chaos harness writes a point name to aim the next kill. Unarmed (the default), `hit()` costs a None check.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

# The points the services pass, for the harness to aim at (executor; any consumer before its commit).
EXECUTOR_POINTS = ("after_sign", "after_save", "after_post", "before_ack")

_file: Path | None = None


def arm(directory: Path | None, service: str) -> None:
    """Watch `<directory>/<service>` for point names (None: disarm)."""
    global _file
    _file = None if directory is None else Path(directory) / service


def hit(point: str) -> None:
    """SIGKILL this process if `point` is listed in the armed file (the line is consumed first)."""
    if _file is None:
        return
    try:
        lines = _file.read_text().splitlines()
    except OSError:
        return
    if point not in lines:
        return
    lines.remove(point)
    _file.write_text("".join(line + "\n" for line in lines))
    os.kill(os.getpid(), signal.SIGKILL)
