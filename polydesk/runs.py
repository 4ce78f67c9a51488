"""Paper runs of `polydesk up`, each in its own folder: `<state_dir>/runs/<run id>/` holds that run's
embedded Redis (data and generated password), the services' SQLite files and a `run.json` saying where its
Redis and exchange listen. The paper exchange forgets everything when it stops, so a paper run never
continues an earlier one: nothing of the last run reaches the next one's state or summary.

`polydesk up --fresh` removes the earlier runs' folders (and the paper wallet's key) first;
`polydesk reset` removes them without starting anything. A folder whose run is still going is never removed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = "runs"
LOCK = "up.pid"


@dataclass
class RunDir:
    """One paper run's folder."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def redis_dir(self) -> Path:
        return self.path / "redis"

    def redis_password_file(self) -> Path:
        """A generated password for the run's embedded Redis (0600), created on first use."""
        path = self.redis_dir / "password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(32))
        return path

    def describe(self, **where: object) -> None:
        """`run.json`: where this run's Redis and exchange are, for `polydesk dash` and people (no secrets)."""
        write_private(
            self.path / "run.json", json.dumps({"run_id": self.run_id, "pid": os.getpid(), **where}, indent=2)
        )

    def info(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.path / "run.json").read_text()))
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        (self.path / LOCK).unlink(missing_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by us only (0600, its folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def runs_dir(state_dir: Path) -> Path:
    return Path(state_dir).resolve() / RUNS


def new_run(state_dir: Path) -> RunDir:
    """A new, empty run folder (0700) marked as in use by this process."""
    base = runs_dir(state_dir)
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = base / f"{stamp}-{os.getpid()}"
    path.mkdir(mode=0o700)
    (path / LOCK).write_text(str(os.getpid()))
    return RunDir(path)


def _in_use(path: Path) -> bool:
    try:
        pid = int((path / LOCK).read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_run(state_dir: Path) -> RunDir | None:
    """The newest run folder whose `polydesk up` is still going and has said where its Redis is."""
    base = runs_dir(state_dir)
    for path in sorted(base.iterdir(), reverse=True) if base.is_dir() else []:
        if path.is_dir() and _in_use(path) and RunDir(path).info().get("redis_url"):
            return RunDir(path)
    return None


def clear_runs(state_dir: Path, *, forget_wallet: bool = True) -> tuple[list[Path], list[Path]]:
    """Remove the earlier runs' folders (and the paper wallet's key); returns (removed, still in use)."""
    removed, busy = [], []
    base = runs_dir(state_dir)
    for path in sorted(base.iterdir()) if base.is_dir() else []:
        if not path.is_dir():
            continue
        if _in_use(path):
            busy.append(path)
            continue
        shutil.rmtree(path)
        removed.append(path)
    if forget_wallet and not busy:
        key = Path(state_dir).resolve() / "paper" / "executor.key"
        key.unlink(missing_ok=True)
    return removed, busy


def reset_main(argv: list[str]) -> int:
    """`polydesk reset`: remove every paper run's state (refused for a run still going)."""
    from polydesk.common import settings_or_none
    from shared.config import ServiceSettings

    parser = argparse.ArgumentParser(
        prog="polydesk reset", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk reset")
    if settings is None:
        return 2
    removed, busy = clear_runs(settings.state_dir)
    for path in busy:
        print(f"polydesk reset: {path} belongs to a run still going; stop it first", file=sys.stderr)
    print(f"polydesk reset: removed {len(removed)} paper run folder(s) under {runs_dir(settings.state_dir)}")
    return 1 if busy else 0
