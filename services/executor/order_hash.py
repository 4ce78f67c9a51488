"""The venue's order id computed locally: the EIP-712 digest of a signed V2 order, and who signed it.

The words are packed by hand (every field is a uint, an address or a bytes32) and the domain separator is
computed once per (exchange, chain, version): through eth_abi this was ~40 % of the executor's signing
hop. tests/executor/test_units.py checks the digest against eth_abi's encoding. The signer is recovered
with coincurve (the project depends on it; eth_keys' wrapper cost several times more per order).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import coincurve
from eth_utils.crypto import keccak

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_ORDER_TYPE_HASH = keccak(ORDER_TYPE.encode())


def _uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    return bytes(12) + bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


@lru_cache(maxsize=16)
def domain_separator(verifying_contract: str, chain_id: int, version: str) -> bytes:
    return keccak(
        keccak(DOMAIN_TYPE.encode())
        + keccak(b"Polymarket CTF Exchange")
        + keccak(version.encode())
        + _uint(chain_id)
        + _address(verifying_contract)
    )


def digest_of(order: Any, *, verifying_contract: str, chain_id: int, version: str = "2") -> bytes:
    """The EIP-712 digest of a V2 order (an SDK SignedOrder or UnsignedOrder): what is signed."""
    struct = keccak(
        _ORDER_TYPE_HASH
        + _uint(order.salt)
        + _address(order.maker)
        + _address(order.signer)
        + _uint(int(order.token_id))
        + _uint(order.maker_amount)
        + _uint(order.taker_amount)
        + _uint(0 if order.side == "BUY" else 1)
        + _uint(order.signature_type)
        + _uint(order.timestamp)
        + _bytes32(order.metadata)
        + _bytes32(order.builder)
    )
    return keccak(b"\x19\x01" + domain_separator(verifying_contract, chain_id, version) + struct)


def order_hash(order: Any, *, verifying_contract: str, chain_id: int, version: str = "2") -> str:
    """The venue's order id of a V2 order: its EIP-712 digest as 0x-hex."""
    return (
        "0x"
        + digest_of(order, verifying_contract=verifying_contract, chain_id=chain_id, version=version).hex()
    )


def recovers_to(digest_hex: str, signature_hex: str, address: str) -> bool:
    """Whether the 65-byte (r, s, v) signature over the digest was made by `address`."""
    signature = bytes.fromhex(signature_hex.removeprefix("0x"))
    if len(signature) != 65:
        return False
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1):
        return False
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), bytes.fromhex(digest_hex[2:]), hasher=None
        ).format(compressed=False)[1:]
    except ValueError:
        return False
    return "0x" + keccak(public)[-20:].hex() == address.lower()
