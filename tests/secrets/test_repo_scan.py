"""No secret in the repository: every tracked file (`git ls-files`) outside tests/ is scanned for

  1. a private-key-looking 64-hex string (with or without 0x) on a line that names it as a secret
     (private key, secret, passphrase, password, mnemonic, signing key, `key =`);
  2. in env, compose, YAML, TOML, INI and Dockerfiles: a secret-named setting (PASSWORD, SECRET, PASSPHRASE,
     PRIVATE_KEY, API_KEY, TOKEN) given a literal value (not empty, not `${...}`, not a placeholder, not a
     `_FILE` path);
  3. a tracked file that is key material by its name (.env, *.key, *.pem, id_rsa, deploy/secrets/*).

Test fixtures may hold throwaway keys: tests/ is not scanned. Known public constants that would match
go in ALLOWED with the reason (none today: contract and wallet addresses are 40 hex digits, token ids are
decimal, condition ids are not named as secrets).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]

# (path, value) pairs that match but are public; value lowercased without 0x.
ALLOWED: dict[tuple[str, str], str] = {}

HEX64 = re.compile(r"(?<![0-9a-fA-Fx])(?:0x)?([0-9a-fA-F]{64})(?![0-9a-fA-F])")
SECRET_NAME = re.compile(
    r"(private[_ -]?key|privkey|secret|passphrase|password|passwd|mnemonic|signing[_ -]?key|\bkey\b)", re.IGNORECASE)
CONFIG_SUFFIXES = {".env", ".yml", ".yaml", ".toml", ".ini", ".conf", ".cfg"}
SECRET_SETTING = re.compile(
    r"""^\s*(?:-\s*)?(?:export\s+)?["']?([A-Za-z0-9_]*(?:PASSWORD|SECRET|PASSPHRASE|PRIVATE_KEY|API_KEY|TOKEN)"""
    r"""[A-Za-z0-9_]*)["']?\s*[:=]\s*(.*)$""", re.IGNORECASE)
PLACEHOLDER = re.compile(r"""^(?:|\.\.\.|<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_]\w*|changeme|null|none|~)$""", re.IGNORECASE)
KEY_MATERIAL_NAME = re.compile(r"(^|/)(\.env|[^/]*\.(key|pem|p12|pfx|keystore)|id_(rsa|ed25519|ecdsa)[^/]*)$")


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def is_config_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return (PurePosixPath(path).suffix in CONFIG_SUFFIXES or name.endswith(".env")
            or name.startswith((".env", "Dockerfile", "docker-compose")))


def hex_key_findings(path: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in HEX64.finditer(line):
            if not SECRET_NAME.search(line[: match.start()]):
                continue
            if (path, match.group(1).lower()) in ALLOWED:
                continue
            found.append(f"{path}:{number}: a 64-hex value named as a secret")
    return found


def config_literal_findings(path: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        match = SECRET_SETTING.match(line)
        if not match or match.group(1).upper().endswith(("_FILE", "_FILES")):
            continue
        value = match.group(2).split(" #")[0].strip().strip("\"'").strip()
        if PLACEHOLDER.match(value) or value.startswith(("${", "/", "./")) or value.endswith(">-"):
            continue
        found.append(f"{path}:{number}: {match.group(1)} has a literal value")
    return found


def test_scanner_rules_catch_what_they_are_for():
    key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    assert hex_key_findings("x.py", f'PRIVATE_KEY = "0x{key}"')
    assert hex_key_findings("x.py", f"signing_key: {key.upper()}")
    assert hex_key_findings("x.py", f"key = '{key}'")
    assert not hex_key_findings("x.py", f'condition_id = "0x{key}"')
    assert not hex_key_findings("x.py", f'tx = "0x{key}00"')  # 66 digits: not a key
    assert config_literal_findings("a.env", "POLYDESK_REDIS_PASSWORD=hunter2hunter2")
    assert config_literal_findings("docker-compose.yml", "      GF_SECURITY_ADMIN_PASSWORD: admin")
    assert config_literal_findings("b.yml", "  - POLYDESK_API_SECRET='c2VjcmV0'")
    for fine in ("POLYDESK_REDIS_PASSWORD=", "GRAFANA_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?set it}",
                 "POLYDESK_PRIVATE_KEY_FILE: /run/secrets/private_key", "# POLYDESK_API_KEY=abc123456",
                 "POLYDESK_API_KEY=...", "REDISCLI_AUTH: ${POLYDESK_REDIS_PASSWORD}"):
        assert not config_literal_findings("c.env", fine), fine
    assert KEY_MATERIAL_NAME.search("deploy/secrets/executor.key") and KEY_MATERIAL_NAME.search(".env")
    assert not KEY_MATERIAL_NAME.search(".env.example") and not KEY_MATERIAL_NAME.search("shared/keys.py")


@pytest.mark.timeout(60)
def test_no_secret_is_tracked_outside_tests():
    problems = []
    for path in tracked_files():
        if path.startswith("tests/"):
            continue
        if KEY_MATERIAL_NAME.search(path) or (path.startswith("deploy/secrets/") and not path.endswith(".gitignore")):
            problems.append(f"{path}: key material by its name")
        file = REPO / path
        if not file.is_file():
            continue  # deleted in the working tree
        raw = file.read_bytes()
        if b"\0" in raw[:8192]:
            continue
        text = raw.decode("utf-8", errors="replace")
        problems += hex_key_findings(path, text)
        if is_config_file(path):
            problems += config_literal_findings(path, text)
    assert not problems, "\n".join(problems)
