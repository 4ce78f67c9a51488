"""Order signing inside polymarket-client: the EIP-712 digest computed once, by hand, and signed with coincurve.

The SDK (0.14.0) signs an order through eth_account's typed-data encoder (about 60 % of the executor's
signing hop, measured with cProfile: 0.2 of 0.35 ms), and the executor then computed the digest a second time
and recovered the signer to learn which exchange's domain it was signed for (another 0.1 ms). Here the
client's `_sign_order` is replaced for EOA, proxy and Safe wallets: the SDK still builds the unsigned order
(amounts, rounding, salt, timestamp, exchange), order_hash.py computes its digest, coincurve signs that
digest (RFC 6979, the same signature eth_account makes), and the digest, which is the venue's order id, is
handed back beside the order. A deposit wallet (POLY_1271) signs a TypedDataSign wrapper: it keeps the
SDK's own path.

The SDK has no public hook for this, so this module is the one place that reaches into its signing
internals; tests/executor/test_sdk_signing.py fails when the SDK's own signature or digest differs from
ours (an upgrade that changes the order's fields, say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import coincurve
from polymarket._internal.actions.orders.orders import create_signed_order, create_unsigned_order
from polymarket._internal.actions.orders.typed_data import build_order_signature
from polymarket.types import HexString

from services.executor.order_hash import digest_of

POLY_1271 = 3
# The digest of the order the running task signed last; read by the venue right after its SDK call returns
# (an awaited coroutine shares its task's context, so no other task's order can interleave).
LAST_DIGEST: ContextVar[str | None] = ContextVar("polydesk_last_order_digest", default=None)

SignOrder = Callable[..., Awaitable[Any]]


def install(client: Any) -> None:
    """Make `client` sign orders with coincurve and publish each order's digest in LAST_DIGEST."""
    ctx = client._ctx
    sdk_sign_order: SignOrder = client._sign_order
    key = coincurve.PrivateKey(bytes(ctx.signer.key))

    async def sign_order(draft: Any, *, post_only: bool) -> Any:
        unsigned = create_unsigned_order(draft, wallet=ctx.wallet, wallet_type=ctx.wallet_type)
        if unsigned.signature_type == POLY_1271:
            LAST_DIGEST.set(None)
            return await sdk_sign_order(draft, post_only=post_only)
        digest = digest_of(
            unsigned,
            verifying_contract=unsigned.exchange_address,
            chain_id=unsigned.chain_id,
            version=unsigned.protocol_version,
        )
        recoverable = key.sign_recoverable(digest, hasher=None)  # r (32) s (32) recovery id (1)
        signature = HexString("0x" + (recoverable[:64] + bytes([recoverable[64] + 27])).hex())
        LAST_DIGEST.set("0x" + digest.hex())
        return create_signed_order(unsigned, build_order_signature(unsigned, signature), post_only=post_only)

    client._sign_order = sign_order
