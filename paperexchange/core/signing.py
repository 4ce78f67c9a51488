"""EIP-712 hashes the venue checks: V2 exchange orders (standard / neg-risk, plain or POLY_1271) and ClobAuth.

Digests are built by hand from 32-byte words (the same bytes eth_account would hash) and signers are
recovered with coincurve when it is installed, which is what makes >1,000 verified posts/s possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

from paperexchange.core import config

try:
    import coincurve

    COINCURVE = True
except ImportError:  # pragma: no cover - the project installs coincurve; this keeps the fallback honest
    COINCURVE = False
    from eth_keys import keys as _eth_keys

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_ORDER_TYPE_HASH = keccak(text=ORDER_TYPE)
_DOMAIN_TYPE_HASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_EXCHANGE_NAME_HASH = keccak(text="Polymarket CTF Exchange")
# POLY_1271 (deposit wallet): the EOA signs an ERC-7739 TypedDataSign wrapper of the order.
_TYPED_DATA_SIGN_HASH = keccak(
    text="TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
    + ORDER_TYPE
)
_DEPOSIT_WALLET_NAME_HASH = keccak(text="DepositWallet")
_DEPOSIT_WALLET_VERSION_HASH = keccak(text="1")

_CLOB_AUTH_TYPE_HASH = keccak(text="ClobAuth(address address,string timestamp,uint256 nonce,string message)")
_CLOB_AUTH_DOMAIN_TYPE_HASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId)")
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:] if address.startswith(("0x", "0X")) else address)


def _bytes32(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)
    if len(raw) != 32:
        raise ValueError("expected 32 bytes")
    return raw


def exchange_domain_separator(
    verifying_contract: str, version: str = config.ORDER_DOMAIN_VERSION, chain_id: int = config.CHAIN_ID
) -> bytes:
    return keccak(
        _DOMAIN_TYPE_HASH
        + _EXCHANGE_NAME_HASH
        + keccak(text=version)
        + _word(chain_id)
        + _address_word(verifying_contract)
    )


@dataclass(frozen=True, slots=True)
class OrderStruct:
    """The eleven signed fields of a V2 order (expiration travels in the JSON but is not signed)."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int
    metadata: str
    builder: str


def order_struct_hash(order: OrderStruct) -> bytes:
    return keccak(
        _ORDER_TYPE_HASH
        + _word(order.salt)
        + _address_word(order.maker)
        + _address_word(order.signer)
        + _word(order.token_id)
        + _word(order.maker_amount)
        + _word(order.taker_amount)
        + _word(order.side)
        + _word(order.signature_type)
        + _word(order.timestamp)
        + _bytes32(order.metadata)
        + _bytes32(order.builder)
    )


def order_digest(order: OrderStruct, domain_separator: bytes) -> bytes:
    """The EIP-712 hash of the order: also its id on the venue (`orderID`)."""
    return keccak(b"\x19\x01" + domain_separator + order_struct_hash(order))


def poly1271_digest(order: OrderStruct, domain_separator: bytes, chain_id: int = config.CHAIN_ID) -> bytes:
    """What the deposit wallet's owner signs for a type-3 order (Solady ERC-7739 TypedDataSign)."""
    wrapper = keccak(
        _TYPED_DATA_SIGN_HASH
        + order_struct_hash(order)
        + _DEPOSIT_WALLET_NAME_HASH
        + _DEPOSIT_WALLET_VERSION_HASH
        + _word(chain_id)
        + _address_word(order.signer)
        + bytes(32)
    )
    return keccak(b"\x19\x01" + domain_separator + wrapper)


def recover_signer(digest: bytes, signature: bytes) -> str:
    """Checksummed address that produced the 65-byte (r, s, v) signature over digest; ValueError if none."""
    if len(signature) != 65:
        raise ValueError("signature must be 65 bytes")
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        raise ValueError("bad recovery id")
    if COINCURVE:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), digest, hasher=None
        ).format(compressed=False)[1:]
    else:
        public_key = (
            _eth_keys.Signature(signature[:64] + bytes([v]))
            .recover_public_key_from_msg_hash(digest)
            .to_bytes()
        )
    return to_checksum_address(keccak(public_key)[-20:])


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int = config.CHAIN_ID) -> bytes:
    domain = keccak(
        _CLOB_AUTH_DOMAIN_TYPE_HASH + keccak(text="ClobAuthDomain") + keccak(text="1") + _word(chain_id)
    )
    struct = keccak(
        _CLOB_AUTH_TYPE_HASH
        + _address_word(address)
        + keccak(text=timestamp)
        + _word(nonce)
        + keccak(text=CLOB_AUTH_MESSAGE)
    )
    return keccak(b"\x19\x01" + domain + struct)


def hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)
