"""Paper-exchange settings and the venue constants it signs against (chain, exchange contracts)."""

from __future__ import annotations

from dataclasses import dataclass

CHAIN_ID = 137

# Production contract addresses as in polymarket-client 0.14.0 PRODUCTION and py-clob-client-v2's
# get_contract_config(137); tests/paperexchange/test_signing.py checks both SDKs still agree.
STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
COLLATERAL_TOKEN = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
CONDITIONAL_TOKENS = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
# CLOB V2's collateral adapters (polymarket-client 0.14.0 PRODUCTION): split / merge / redeem into pUSD.
CTF_COLLATERAL_ADAPTER = "0xAdA100Db00Ca00073811820692005400218FcE1f"
NEG_RISK_CTF_COLLATERAL_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"

# EIP-712 domain version of CLOB V2 exchange orders; V1 ("1") and Exchange V3 ("3") are refused.
ORDER_DOMAIN_VERSION = "2"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything `polydesk paper-exchange` can be told; defaults are the venue's own numbers."""

    host: str = "127.0.0.1"
    port: int = 8900
    admin: bool = False
    default_markets: bool = True
    # Trade status walk, live-like by default: MINED tens of seconds after the match (the bought tokens or
    # the sale's pUSD reach the wallet then), CONFIRMED one to three minutes after the match.
    mined_delay_secs: float = 20.0  # MATCHED -> MINED (and MATCHED -> RETRYING -> FAILED steps)
    confirmed_delay_secs: float = 60.0  # MINED -> CONFIRMED
    # The fast setting for tests and scenarios: every step of the walk takes this long instead.
    settlement_delay_secs: float | None = None
    heartbeat_timeout_secs: float = 10.0
    # Markets with the taker delay (`itode`) hold a marketable order this long before matching it.
    taker_delay_secs: float = 0.25
    # L1/L2 headers older or newer than this (by POLY_TIMESTAMP) are refused with 401.
    auth_window_secs: int = 30
    # GTD orders must expire at least this far in the future (the venue's one-minute security threshold).
    gtd_min_lead_secs: int = 60
    # How often the background timer looks at heartbeats, GTD expiry and pending settlements.
    timer_tick_secs: float = 0.05
    log_level: str = "warning"
    # A scenario file or shipped scenario name ("default"); None = defaults.py markets (or none) and no flow.
    scenario: str | None = None
    seed: int | None = None  # overrides the scenario's seed
    speed: float = 1.0  # simulated seconds of scenario flow per real second
    record_tape: str | None = None  # JSONL file receiving every market-channel frame
    replay_tape: str | None = None  # serve this tape on /ws/market instead of the live book
    replay_speed: float = 1.0
    geoblock: str = (
        "ok"  # what GET /api/geoblock answers: ok, blocked or close_only (paperexchange/api/geoblock.py)
    )
    # Paper trading on live books (paperexchange/sim/live_mirror.py): the venue whose markets (Gamma) and
    # books (market channel) the exchange mirrors; both set or neither. Mirroring replaces scenario and
    # default markets.
    mirror_gamma_url: str | None = None
    mirror_market_ws_url: str | None = None
    mirror_condition_ids: tuple[str, ...] = ()  # the venue's markets to mirror; none named: by volume
    mirror_slugs: tuple[str, ...] = ()
    mirror_max_markets: int = 50

    @property
    def mirroring(self) -> bool:
        return self.mirror_market_ws_url is not None

    def settlement_delays(self) -> tuple[float, float]:
        """(MATCHED -> MINED, MINED -> CONFIRMED) in seconds."""
        if self.settlement_delay_secs is not None:
            return self.settlement_delay_secs, self.settlement_delay_secs
        return self.mined_delay_secs, self.confirmed_delay_secs
