"""API keys and the two auth levels: L1 (EIP-712 ClobAuth signature) and L2 (HMAC-SHA256 of the request).

L2 signs `f"{timestamp}{METHOD}{path}{body}"` with the base64url-decoded secret, path without query.
Secrets live only here and are never logged (ApiKey's repr is redacted).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from paperexchange.core import errors, signing
from paperexchange.core.errors import VenueError


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    address: str
    nonce: int
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    def creds(self) -> dict[str, str]:
        """The body of POST /auth/api-key and GET /auth/derive-api-key."""
        return {"apiKey": self.key, "secret": self.secret, "passphrase": self.passphrase}


class KeyStore:
    def __init__(self) -> None:
        self._by_key: dict[str, ApiKey] = {}
        self._by_owner: dict[tuple[str, int], ApiKey] = {}

    def create(self, address: str, nonce: int) -> ApiKey:
        if (address.lower(), nonce) in self._by_owner:
            raise VenueError(errors.CANNOT_CREATE_KEY, 400)
        key = ApiKey(
            key=str(uuid.uuid4()),
            address=address,
            nonce=nonce,
            secret=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            passphrase=os.urandom(32).hex(),
        )
        self._by_key[key.key] = key
        self._by_owner[(address.lower(), nonce)] = key
        return key

    def derive(self, address: str, nonce: int) -> ApiKey:
        key = self._by_owner.get((address.lower(), nonce))
        if key is None:
            raise VenueError(errors.CANNOT_DERIVE_KEY, 400)
        return key

    def get(self, api_key: str) -> ApiKey | None:
        return self._by_key.get(api_key)

    def keys_of(self, address: str) -> list[str]:
        return [key.key for key in self._by_key.values() if key.address.lower() == address.lower()]

    def delete(self, api_key: str) -> None:
        key = self._by_key.pop(api_key, None)
        if key is not None:
            self._by_owner.pop((key.address.lower(), key.nonce), None)


def _fresh(timestamp: str, window_secs: int) -> bool:
    try:
        return abs(time.time() - int(timestamp)) <= window_secs
    except ValueError:
        return False


def verify_l1(headers: Mapping[str, str], window_secs: int) -> tuple[str, int]:
    """(address, nonce) proven by the L1 headers; VenueError 401 otherwise."""
    try:
        address = headers["poly_address"]
        timestamp = headers["poly_timestamp"]
        nonce = int(headers.get("poly_nonce") or 0)
        digest = signing.clob_auth_digest(address, timestamp, nonce)
        recovered = signing.recover_signer(digest, signing.hex_bytes(headers["poly_signature"]))
    except (KeyError, ValueError):
        raise VenueError(errors.INVALID_L1, 401) from None
    if recovered.lower() != address.lower() or not _fresh(timestamp, window_secs):
        raise VenueError(errors.INVALID_L1, 401)
    return recovered, nonce


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    raw_secret = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    message = f"{timestamp}{method}{path}{body}".encode()
    return base64.urlsafe_b64encode(hmac.new(raw_secret, message, hashlib.sha256).digest()).decode()


def verify_l2(
    keys: KeyStore, headers: Mapping[str, str], method: str, path: str, body: str, window_secs: int
) -> ApiKey:
    """The API key that signed this request; VenueError 401 on any mismatch or a stale timestamp."""
    try:
        key = keys.get(headers["poly_api_key"])
        address, timestamp = headers["poly_address"], headers["poly_timestamp"]
        passphrase, signature = headers["poly_passphrase"], headers["poly_signature"]
    except KeyError:
        raise VenueError(errors.UNAUTHORIZED, 401) from None
    if key is None or key.address.lower() != address.lower() or not _fresh(timestamp, window_secs):
        raise VenueError(errors.UNAUTHORIZED, 401)
    expected = hmac_signature(key.secret, timestamp, method, path, body)
    if not (hmac.compare_digest(passphrase, key.passphrase) and hmac.compare_digest(signature, expected)):
        raise VenueError(errors.UNAUTHORIZED, 401)
    return key
