"""Local stand-ins for the base images the Dockerfile and docker-compose.yml name, for machines that reach no
image registry: a Debian bookworm root filesystem (debootstrap, from the machine's Debian mirror) with the
program from Debian's package, imported with the name compose expects and the official image's entry point.

The filesystems are cached under the cache folder, keyed by everything that goes into them (suite, mirror,
packages, the machine's extra CA certificates, the import's settings), so a second run only imports (or
finds the image already imported, by its label). Each stand-in is labelled `org.polydesk.stand-in` with the
Debian package it runs, and the run prints it: a stand-in is not the official image (Debian's Redis 7.0 for
`redis:7-bookworm`, Debian's Prometheus 2.42 for `prom/prometheus:v2.53.0`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
BASE_PACKAGES = ("ca-certificates",)
LABEL = "org.polydesk.stand-in"
# The machine's own extra CAs (a TLS-inspecting proxy's, say): the python stand-in must reach PyPI the way
# this machine does. Debian's pip uses the system store.
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


@dataclass(frozen=True)
class StandIn:
    image: str  # the name compose and the Dockerfile use
    packages: tuple[str, ...]  # Debian packages
    program: str  # the package whose version the label shows
    changes: tuple[str, ...]  # `docker import --change` lines: the official image's entry point and user
    owned_dirs: tuple[tuple[str, int], ...] = ()  # folders to create, with their owner (uid = gid)


STAND_INS = (
    StandIn(
        "python:3.11-slim-bookworm",
        ("python3", "python3-venv"),
        "python3.11",
        ("ENV LANG=C.UTF-8", 'CMD ["python3"]'),
    ),
    StandIn(
        "redis:7-bookworm",
        ("redis-server", "redis-tools"),
        "redis-server",
        ("WORKDIR /data", 'CMD ["redis-server"]'),
        (("data", 0),),
    ),
    StandIn(
        "prom/prometheus:v2.53.0",
        ("prometheus", "wget"),
        "prometheus",
        ("USER nobody", "WORKDIR /prometheus", 'ENTRYPOINT ["/bin/prometheus"]',
         'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'),
        (("prometheus", 65534),),
    ),
)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _local_cas() -> list[tuple[str, str]]:
    return sorted((p.name, p.read_text()) for p in LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []


def _run(args: list[str], log: Path, **kwargs) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        subprocess.run(args, check=True, stdout=out, stderr=subprocess.STDOUT, **kwargs)


def _tar(root: Path, target: Path) -> None:
    partial = target.with_suffix(".partial")
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*", "-cf", str(partial), "."], check=True)
    partial.rename(target)


def _untar(source: Path, root: Path) -> None:
    root.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(source)], check=True)


def base_rootfs(cache: Path, log: Path) -> tuple[Path, str]:
    """The debootstrapped minimal bookworm (with the machine's extra CAs), as a cached tar."""
    key = _digest(SUITE, MIRROR, SECURITY_MIRROR, BASE_PACKAGES, _local_cas())
    target = cache / f"base-{SUITE}-{key}.tar"
    if target.exists():
        return target, key
    with tempfile.TemporaryDirectory(dir=cache) as work:
        root = Path(work) / "root"
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(root),
              MIRROR], log)
        (root / "etc/apt/sources.list").write_text(
            f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\n"
            f"deb {SECURITY_MIRROR} {SUITE}-security main\n"
        )
        for name, text in _local_cas():
            (root / "usr/local/share/ca-certificates" / name).write_text(text)
        _run(["chroot", str(root), "update-ca-certificates"], log)
        _tar(root, target)
    return target, key


def _image_rootfs(stand_in: StandIn, base: Path, base_key: str, cache: Path, log: Path) -> tuple[Path, str]:
    key = _digest(base_key, stand_in)
    target = cache / f"{stand_in.image.replace('/', '_').replace(':', '_')}-{key}.tar"
    if target.exists():
        return target, key
    with tempfile.TemporaryDirectory(dir=cache) as work:
        root = Path(work) / "root"
        _untar(base, root)
        policy = root / "usr/sbin/policy-rc.d"  # no service starts inside the chroot
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        _run(["chroot", str(root), "apt-get", "update", "-q"], log, env=env)
        _run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
              *stand_in.packages], log, env=env)
        version = subprocess.run(["chroot", str(root), "dpkg-query", "-W", "-f=${Version}", stand_in.program],
                                 check=True, capture_output=True, text=True).stdout
        _run(["chroot", str(root), "apt-get", "clean"], log, env=env)
        policy.unlink()
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        for folder, owner in stand_in.owned_dirs:
            (root / folder).mkdir(parents=True, exist_ok=True)
            shutil.chown(root / folder, owner, owner)
        target.with_suffix(".version").write_text(f"{stand_in.program} {version}")
        _tar(root, target)
    return target, key


def _label(image: str) -> str | None:
    """The stand-in label of a local image, "" for an image without one, None when there is no such image."""
    result = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{LABEL}"}}}}',
                             image], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return result.stdout.strip().replace("<no value>", "")


def _pull(image: str, log: Path) -> bool:
    try:
        _run(["docker", "pull", "-q", image], log, timeout=300)
        return True
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False


def ensure(cache: Path, log: Path) -> list[str]:
    """Every base image present locally: the official one if it is here or can be pulled, else the stand-in
    (built, or reused from the cache). Returns one line per image saying which it is."""
    cache.mkdir(parents=True, exist_ok=True)
    said = []
    for stand_in in STAND_INS:
        label = _label(stand_in.image)
        if label == "":
            said.append(f"{stand_in.image}: the official image, already here")
            continue
        if label is None and _pull(stand_in.image, log):
            said.append(f"{stand_in.image}: the official image, pulled")
            continue
        base, base_key = base_rootfs(cache, log)
        rootfs, key = _image_rootfs(stand_in, base, base_key, cache, log)
        what = rootfs.with_suffix(".version").read_text()
        value = f"{key} debian {SUITE} {what}"
        if label != value:
            changes = [arg for change in (*stand_in.changes, f'LABEL {LABEL}="{value}"') for arg in ("--change",
                                                                                                     change)]
            _run(["docker", "import", *changes, str(rootfs), stand_in.image], log)
        said.append(f"{stand_in.image}: local stand-in ({'imported' if label != value else 'already imported'}),"
                    f" Debian {SUITE} {what}")
    return said
