"""Reading a py-spy profile (raw collapsed stacks) into the few lines results.md shows: where the time goes.

Samples outside the service's event loop (imports and start-up before it) are left out, and so is the
start-up inside it (the venue client's creation), so the shares are of the service at work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOOP = "run (asyncio/runners.py"
STARTUP = ("main (services/", "_find_and_load", "from_settings (")


def _frame(text: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (to/file.py)': one entry per function, whatever the line."""
    name, _, where = text.partition(" (")
    path = where.rsplit(":", 1)[0].removesuffix(")")
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if where else name


def _working_stacks(path: Path) -> Iterator[tuple[list[str], int, int]]:
    """(frames, index of the event loop's frame, samples) of each stack of the service at work."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if LOOP in f), None)
        if start is None or any(marker in f for f in frames[start:] for marker in STARTUP):
            continue
        yield frames, start, int(count)


def summary(path: Path, top: int = 12) -> list[tuple[float, str, str]]:
    """(share of the working samples, frame, what it sits under) for the frames with the most samples
    inclusive, skipping the event loop's own frames."""
    inclusive: Counter[str] = Counter()
    parent: dict[str, Counter[str]] = {}
    total = 0
    for frames, start, n in _working_stacks(path):
        total += n
        seen = set()
        names = [_frame(f) for f in frames]
        for i in range(start, len(frames)):
            frame = names[i]
            if "asyncio/" in frames[i] or "shared/runtime.py" in frames[i] or frame in seen:
                continue
            seen.add(frame)
            inclusive[frame] += n
            parent.setdefault(frame, Counter())[names[i - 1]] += n
    if not total:
        return []
    return [(n / total, frame, parent[frame].most_common(1)[0][0]) for frame, n in inclusive.most_common(top)]


def tasks(path: Path) -> list[tuple[float, str]]:
    """Share of the working samples per task of the service (the frame its runtime guard runs)."""
    counts: Counter[str] = Counter()
    for frames, _, n in _working_stacks(path):
        guard = next((i for i, f in enumerate(frames) if "_guard (shared/runtime.py" in f), None)
        task = _frame(frames[guard + 1]) if guard is not None and guard + 1 < len(frames) else "event loop, other"
        counts[task] += n
    total = sum(counts.values())
    return [(n / total, task) for task, n in counts.most_common(8)] if total else []


def section(profile: dict[str, Any]) -> str:
    rows = "\n".join(f"| {share:.0%} | `{frame}` | `{under}` |" for share, frame, under in profile["top"])
    return (f"## Profile of the slowest hop: {profile['hop']}\n\n"
            f"`{profile['service']}` restarted under py-spy (`{profile['path'].name}` in bench/profiles/, raw "
            f"collapsed stacks: `flamegraph.pl` or speedscope read them) for a run at {profile['rate']:,.0f} "
            f"changes/s. Share of its working samples (idle waits and start-up left out), inclusive:\n\n"
            "| share | frame | called from |\n|---|---|---|\n" + rows
            + "\n\nBy task: " + ", ".join(f"{task} {share:.0%}" for share, task in profile.get("tasks", [])))
