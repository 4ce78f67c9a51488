"""The hand-packed order digest equals eth_abi's EIP-712 encoding (the previous implementation, kept here as
the reference), and coincurve's recovery names the signer (and nobody else)."""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from polymarket.models.clob.orders import SignedOrder

from services.executor.order_hash import DOMAIN_TYPE, ORDER_TYPE, order_hash, recovers_to
from services.executor.venue import EXCHANGE_V3, NEG_RISK_EXCHANGE, STANDARD_EXCHANGE

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
WORDS = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
UINT = st.integers(min_value=0, max_value=2**256 - 1)


def reference(order: SignedOrder, contract: str, chain_id: int, version: str) -> str:
    domain = keccak(abi_encode(["bytes32", "bytes32", "bytes32", "uint256", "address"], [
        keccak(DOMAIN_TYPE.encode()), keccak(b"Polymarket CTF Exchange"), keccak(version.encode()), chain_id,
        contract]))
    struct = keccak(abi_encode(
        ["bytes32", "uint256", "address", "address", "uint256", "uint256", "uint256", "uint8", "uint8", "uint256",
         "bytes32", "bytes32"],
        [keccak(ORDER_TYPE.encode()), order.salt, order.maker, order.signer, int(order.token_id),
         order.maker_amount, order.taker_amount, 0 if order.side == "BUY" else 1, order.signature_type,
         order.timestamp, bytes.fromhex(order.metadata[2:]), bytes.fromhex(order.builder[2:])]))
    return "0x" + keccak(b"\x19\x01" + domain + struct).hex()


def _order(salt, maker, signer, token, making, taking, side, sig_type, ts, metadata, builder) -> SignedOrder:
    return SignedOrder(salt=salt, maker=maker, signer=signer, token_id=str(token), maker_amount=making,
                       taker_amount=taking, side=side, expiration=0, signature_type=sig_type, timestamp=ts,
                       metadata=metadata, builder=builder, signature="0x" + "00" * 65, order_type="GTC",
                       post_only=False)


@settings(max_examples=60, deadline=None)
@given(UINT, ADDRESSES, ADDRESSES, UINT, UINT, UINT, st.sampled_from(["BUY", "SELL"]), st.integers(0, 3),
       st.integers(0, 2**64), WORDS, WORDS, st.sampled_from([STANDARD_EXCHANGE, NEG_RISK_EXCHANGE, EXCHANGE_V3]),
       st.sampled_from([(137, "2"), (80002, "2"), (137, "3")]))
def test_the_packed_digest_is_eth_abis(salt, maker, signer, token, making, taking, side, sig_type, ts, metadata,
                                       builder, contract, chain) -> None:
    order = _order(salt, maker, signer, token, making, taking, side, sig_type, ts, metadata, builder)
    chain_id, version = chain
    assert order_hash(order, verifying_contract=contract, chain_id=chain_id, version=version) == reference(
        order, contract, chain_id, version)


def test_recovery_names_the_signer_only() -> None:
    account, other = Account.create(), Account.create()
    digest = "0x" + keccak(b"an order").hex()
    signature = account.unsafe_sign_hash(bytes.fromhex(digest[2:])).signature.hex()
    assert recovers_to(digest, signature, account.address)
    assert recovers_to(digest, "0x" + signature.removeprefix("0x"), account.address.lower())
    assert not recovers_to(digest, signature, other.address)
    assert not recovers_to("0x" + keccak(b"another").hex(), signature, account.address)
    assert not recovers_to(digest, "0x1234", account.address)
