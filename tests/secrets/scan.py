"""Needles (a secret in every encoding it could leak in) and a byte-level search over collected texts."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")


@dataclass(frozen=True)
class Needle:
    secret: str  # the secret's name, for messages (never the value)
    encoding: str
    value: bytes
    case_insensitive: bool = False


def _b64_variants(raw: bytes) -> dict[str, bytes]:
    out = {}
    for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        text = enc(raw)
        out[name] = text
        out[name + " unpadded"] = text.rstrip(b"=")
    return out


def needles(name: str, secret: str, *, base64_secret: bool = False) -> list[Needle]:
    """`secret` as is, URL-encoded, base64'd; hex secrets without 0x in any case and as raw bytes; base64
    secrets also as their decoded bytes and those bytes' hex."""
    found: dict[tuple[str, bytes], Needle] = {}

    def add(encoding: str, value: bytes, ci: bool = False) -> None:
        if len(value) >= 6:
            found.setdefault((encoding, value), Needle(name, encoding, value, ci))

    add("as is", secret.encode())
    add("url-encoded", quote(secret, safe="").encode())
    add("url-encoded (plus)", quote_plus(secret).encode())
    for encoding, value in _b64_variants(secret.encode()).items():
        add(f"{encoding} of the text", value)
    if HEX.match(secret) and len(secret.removeprefix("0x")) % 2 == 0:
        digits = secret.removeprefix("0x")
        add("hex, any case", digits.lower().encode(), ci=True)
        raw = bytes.fromhex(digits)
        add("raw bytes", raw)
        for encoding, value in _b64_variants(raw).items():
            add(f"{encoding} of the bytes", value)
    elif base64_secret:
        try:
            raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) >= 16:  # the API secret: its bytes, their hex, the other alphabet
            add("decoded bytes", raw)
            add("hex of the decoded bytes", raw.hex().encode(), ci=True)
            for encoding, value in _b64_variants(raw).items():
                add(f"re-encoded {encoding}", value)
    return list(found.values())


def find(needle_list: list[Needle], blob: bytes) -> list[Needle]:
    lowered = None
    hits = []
    for needle in needle_list:
        if needle.case_insensitive:
            lowered = blob.lower() if lowered is None else lowered
            if needle.value.lower() in lowered:
                hits.append(needle)
        elif needle.value in blob:
            hits.append(needle)
    return hits


def leaks(needle_list: list[Needle], sources: dict[str, bytes]) -> list[str]:
    """'<source>: <secret> (<encoding>)' for every needle found in a source; the value is never printed."""
    return [f"{where}: {n.secret} ({n.encoding})" for where, blob in sources.items() for n in find(needle_list, blob)]


def files_under(root: Path, exclude: set[Path]) -> dict[str, bytes]:
    """Every regular file under `root` (raw bytes), except `exclude` (the secret files themselves)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.resolve() not in exclude:
            out[str(path.relative_to(root))] = path.read_bytes()
    return out
