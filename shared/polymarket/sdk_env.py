"""A polymarket-client Environment whose URLs point at another server (the paper exchange).

The SDK only ships PRODUCTION and builds environments through private API
(`polymarket.environments._create_environment`, `_EnvironmentConfig`): this is the one module that
touches it, and pyproject.toml pins polymarket-client==0.14.0 for that reason. Contract addresses and
chain stay PRODUCTION's, so orders are signed exactly as for the real venue.
"""

from __future__ import annotations

import dataclasses

from polymarket.environments import PRODUCTION, Environment, _create_environment


def paper_environment(base_url: str, ws_base_url: str | None = None, chain_id: int = 137) -> Environment:
    """An Environment with every HTTP and WebSocket base URL on `base_url` (e.g. http://127.0.0.1:8900).

    CLOB at the root, WebSockets at /ws/market and /ws/user, Gamma at /gamma, Data API at /data-api,
    Polygon RPC at /rpc; the relayer, RFQ and the other streams point at the server too, so nothing can
    reach the real venue by accident.
    """
    base = base_url.rstrip("/")
    ws_base = (ws_base_url or base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)).rstrip(
        "/"
    )
    config = dataclasses.replace(
        PRODUCTION._config,
        chain_id=chain_id,
        clob_url=base,
        clob_market_ws_url=f"{ws_base}/ws/market",
        clob_user_ws_url=f"{ws_base}/ws/user",
        gamma_url=f"{base}/gamma",
        data_url=f"{base}/data-api",
        rpc_url=f"{base}/rpc",
        relayer_url=f"{base}/relayer",
        rfq_url=f"{base}/rfq",
        rtds_ws_url=f"{ws_base}/ws/rtds",
        sports_ws_url=f"{ws_base}/ws/sports",
        rfq_quoter_ws_url=f"{ws_base}/ws/rfq",
        builder_gateway_url=f"{base}/builder-gateway",
        collateral_return_url=f"{base}/collateral-return",
        perps_url=f"{base}/perps",
        perps_ws_url=f"{ws_base}/ws/perps",
        realtime_ws_url=f"{ws_base}/ws/realtime",
    )
    return _create_environment(name="paper", config=config)


def wallet_type_of(environment: Environment, signer: str, wallet: str) -> str | None:
    """What the SDK will take `wallet` for when `signer` trades from it: EOA, POLY_PROXY, GNOSIS_SAFE or
    DEPOSIT_WALLET, or None when it is none of the signer's derived wallets (the SDK would then assume a
    deposit wallet driven by a session key, and try to deploy one when it is not deployed)."""
    from polymarket._internal.wallet import try_classify_wallet_type

    return try_classify_wallet_type(
        signer=signer, wallet=wallet, config=environment._config.wallet_derivation
    )


def rpc_url_of(environment: Environment) -> str:
    """The environment's Polygon JSON-RPC URL (production's public one, or the paper exchange's /rpc)."""
    return environment._config.rpc_url
