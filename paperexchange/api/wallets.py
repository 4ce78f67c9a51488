"""Smart wallets the venue knows: where a proxy / Safe lives for a signer, and the relayer's `/deployed` check.

The exchange contract accepts a POLY_PROXY (1) or POLY_GNOSIS_SAFE (2) order only when its maker is the
wallet the proxy / Safe factory deploys for the signer (a CREATE2 address computed from the signer), so a
wallet can only be registered on the paper venue when it is that address. A deposit wallet (3, POLY_1271)
is validated by the wallet itself (ERC-1271, its owner's signature); the registration stands for its
deployment and records the owner. `GET /relayer/deployed?address=&type=PROXY|SAFE|WALLET` answers
`{"deployed": bool}` from the same registry, as polymarket-client asks before trading from a smart wallet.
"""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from eth_abi.packed import encode_packed
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.http import JSON
from paperexchange.core import errors
from paperexchange.core.errors import VenueError

EOA, POLY_PROXY, POLY_GNOSIS_SAFE, POLY_1271 = 0, 1, 2, 3

# Polygon factories (polymarket-client 0.14.0 PRODUCTION wallet derivation; tests/paperexchange checks they agree).
PROXY_FACTORY = "0xaB45c5A4B0c941a2F231C04C3f49182e1A254052"
PROXY_IMPLEMENTATION = "0x44e999d5c2F66Ef0861317f9A4805AC2e90aEB4f"
SAFE_FACTORY = "0xaacFeEa03eb1561C4e67d661e40682Bd20E3541b"
SAFE_INIT_CODE_HASH = "2bce2127ff07fb632d16c8347c4ebf501f4841168bed00d9e6ef715ddb6fcecf"
# The proxy factory's minimal-proxy creation code, with the factory and implementation spliced in.
_PROXY_CREATION_CODE = (
    "3d3d606380380380913d393d73{factory}5af4602a57600080fd5b602d8060366000396000f3363d3d373d3d3d363d73"
    "{implementation}5af43d82803e903d91602b57fd5bf352e831dd"
    + "0000000000000000000000000000000000000000000000000000000000000020"
    + "00" * 32
)
RELAYER_TYPES = {"PROXY": POLY_PROXY, "SAFE": POLY_GNOSIS_SAFE, "WALLET": POLY_1271}


def _create2(factory: str, salt: bytes, code_hash: bytes) -> str:
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + code_hash)
    return to_checksum_address("0x" + digest[12:].hex())


def proxy_wallet_of(signer: str) -> str:
    code = bytes.fromhex(
        _PROXY_CREATION_CODE.format(
            factory=PROXY_FACTORY[2:].lower(), implementation=PROXY_IMPLEMENTATION[2:].lower()
        )
    )
    return _create2(
        PROXY_FACTORY, keccak(encode_packed(["address"], [to_checksum_address(signer)])), keccak(code)
    )


def safe_wallet_of(signer: str) -> str:
    salt = keccak(abi_encode(["address"], [to_checksum_address(signer)]))
    return _create2(SAFE_FACTORY, salt, bytes.fromhex(SAFE_INIT_CODE_HASH))


def check_registration(wallet: str, owner: str, signature_type: int) -> None:
    """Refuse a wallet the venue could never accept orders from (VenueError, 400)."""
    derived = {POLY_PROXY: proxy_wallet_of, POLY_GNOSIS_SAFE: safe_wallet_of}.get(signature_type)
    if signature_type not in (POLY_PROXY, POLY_GNOSIS_SAFE, POLY_1271):
        raise VenueError(errors.UNSUPPORTED_SIG_TYPE.format(sig_type=signature_type))
    if derived is not None and derived(owner).lower() != wallet.lower():
        raise VenueError(errors.UNKNOWN_WALLET.format(maker=wallet, signer=owner, sig_type=signature_type))


async def deployed(request: Request) -> Response:
    params = request.query_params
    signature_type = RELAYER_TYPES.get(params.get("type", ""))
    address = params.get("address", "")
    if signature_type is None or not address:
        raise VenueError(errors.BAD_REQUEST)
    entry = request.app.state.exchange.wallets.get(address.lower())
    return JSON({"deployed": bool(entry and entry[1] == signature_type)})


ROUTES = [Route("/relayer/deployed", deployed, methods=["GET"])]
