"""The venue's error strings as data, and the exception that carries one to the HTTP layer.

Sources: strings the official SDKs match verbatim (polymarket-client 0.14.0 `order_response.py`,
py-clob-client-v2), ../shared/polymarket-protocol.md §1.4, and user reports quoted there. Strings marked
`# paper` are ours where the venue's exact wording is not documented.
"""

from __future__ import annotations

# Authentication (HTTP 401).
UNAUTHORIZED = "Unauthorized/Invalid api key"
INVALID_L1 = "Invalid L1 Request headers"
# The SDKs fall back from create to derive on HTTP 400.
CANNOT_CREATE_KEY = "Could not create api key"  # paper
CANNOT_DERIVE_KEY = "Could not derive api key!"  # paper

# Order placement, matched verbatim by polymarket-client.
MARKET_NOT_READY = "the market is not yet ready to process new orders"
INVALID_EXPIRATION = "invalid expiration"
POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
POST_ONLY_TYPE = "invalid post-only order: only GTC and GTD orders can be post-only"  # paper
FOK_NOT_FILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_NOT_FILLED = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
# Both start with the prefix the SDK maps to `not_enough_balance`; the second carries the token its
# allowance-recovery path looks for ("allowance is not enough").
NOT_ENOUGH_BALANCE = (
    "not enough balance / allowance: the balance is not enough -> balance: {balance}, order amount: {amount}"
)
NOT_ENOUGH_ALLOWANCE = "not enough balance / allowance: the allowance is not enough -> allowance: {allowance}, order amount: {amount}"
ORDER_VERSION_MISMATCH = "order_version_mismatch"  # py-clob-client-v2 re-reads /version on this

# Order validation (legacy constant names kept as the message prefix, as the venue did).
INVALID_SIGNATURE = "invalid signature"  # paper
# "order 0x… is invalid. Size (1.08) lower than the minimum: 5" is verbatim in py-clob-client issue #301; the tick
# message follows the same pattern (issue 14 quotes "Price (0.555) breaks minimum tick size rule: 0.01").
INVALID_TICK = "order {order_id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"
INVALID_PRICE_RANGE = "invalid price ({price}), min: {low} - max: {high}"  # as the SDKs word it
INVALID_MIN_SIZE = "order {order_id} is invalid. Size ({size}) lower than the minimum: {min_size}"
# Verbatim in user reports (py-clob-client #305 "buy", rs-clob-client #114 "market buy"); kind is
# "buy", "sell", "market buy" or "market sell".
INVALID_AMOUNTS = (
    "invalid amounts, the {kind} orders maker amount supports a max accuracy of {maker} decimals, "
    "taker amount a max of {taker} decimals"
)
MARKETABLE_MIN = "invalid amount for a marketable {side} order (${amount}), min size: $1"  # as users quote it
DUPLICATED = "INVALID_ORDER_DUPLICATED: order {order_id} is invalid. Duplicated."  # paper
INVALID_ORDER = "INVALID_ORDER_ERROR: {reason}"  # paper
UNKNOWN_TOKEN = "INVALID_ORDER_ERROR: market not found for token {token_id}"  # paper
OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"  # paper
SIGNER_NOT_API_KEY = "the order signer address has to be the address of the API KEY"  # user report, May 2026
EOA_MAKER_MISMATCH = (
    "INVALID_ORDER_ERROR: for signature type 0 (EOA) maker and signer must be the same address"  # paper
)
UNKNOWN_WALLET = "INVALID_ORDER_ERROR: maker {maker} is not a wallet of signer {signer} for signature type {sig_type}"  # paper
UNSUPPORTED_SIG_TYPE = "INVALID_ORDER_ERROR: unsupported signature type {sig_type}"  # paper
TOO_MANY_ORDERS = "Too many orders in payload: max allowed is {limit}"  # paper
INVALID_PAYLOAD = "Invalid order payload"  # paper
ORDER_NOT_FOUND = "order not found"  # paper
CANCEL_NOT_FOUND = "order can't be found - already canceled or matched"  # paper
CANCEL_ALREADY_DONE = "already canceled or matched"  # http_cancel_response_failed.json
HEARTBEAT_MISMATCH = "Invalid Heartbeat ID"  # polymarket-client OrderHeartbeatMismatchResponse
NOT_FOUND = "not found"  # paper
BAD_REQUEST = "Invalid payload"  # paper
INVALID_SIDE = "Invalid side"  # paper


class VenueError(Exception):
    """A refusal to be sent as `{"error": message}` with an HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
