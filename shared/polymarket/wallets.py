"""Order signature types (the `signatureType` of a V2 order) and how a setting names them.

0 EOA: the signer's own address is the maker (funder). 1 POLY_PROXY and 2 GNOSIS_SAFE: a Polymarket proxy
wallet or Safe deployed for the signer is the maker; the signer EOA signs. 3 DEPOSIT_WALLET (the protocol's
POLY_1271): maker = signer = the deposit wallet, its owner EOA signs an ERC-1271 wrapper. The names are
polymarket-client's `WalletType` (polymarket-protocol.md §2.1).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class SignatureType(IntEnum):
    EOA = 0
    POLY_PROXY = 1
    GNOSIS_SAFE = 2
    DEPOSIT_WALLET = 3

    @property
    def needs_funder(self) -> bool:
        """A smart wallet: its address (the funder) cannot be derived from the key alone."""
        return self is not SignatureType.EOA


# Other spellings seen in the protocol docs and the older SDKs.
_ALIASES = {
    "POLY_GNOSIS_SAFE": SignatureType.GNOSIS_SAFE,
    "SAFE": SignatureType.GNOSIS_SAFE,
    "PROXY": SignatureType.POLY_PROXY,
    "POLY_1271": SignatureType.DEPOSIT_WALLET,
}


def parse_signature_type(value: Any) -> Any:
    """0-3 as an int or a string ("1", from the environment), or a name ("POLY_PROXY", "POLY_1271")."""
    if isinstance(value, SignatureType | bool):
        return value
    if isinstance(value, int):
        return _member(value)
    if isinstance(value, str):
        text = value.strip().upper()
        if text.isdigit():
            return _member(int(text))
        if text in SignatureType.__members__:
            return SignatureType[text]
        if text in _ALIASES:
            return _ALIASES[text]
        raise ValueError("must be 0 (EOA), 1 (POLY_PROXY), 2 (GNOSIS_SAFE) or 3 (DEPOSIT_WALLET / POLY_1271)")
    return value


def _member(number: int) -> SignatureType:
    try:
        return SignatureType(number)
    except ValueError:
        raise ValueError(
            "must be 0 (EOA), 1 (POLY_PROXY), 2 (GNOSIS_SAFE) or 3 (DEPOSIT_WALLET / POLY_1271)"
        ) from None


def is_address(text: str) -> bool:
    return bool(_ADDRESS.match(text))
