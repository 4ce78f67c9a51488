"""A running paper exchange (thread mode, admin on, fast settlement) shared by the tests of a module."""

from __future__ import annotations

import pytest

from paperexchange.server import PaperExchangeServer
from tests.paperexchange.helpers import Admin, Trader

SETTLEMENT_DELAY_SECS = 0.2


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=SETTLEMENT_DELAY_SECS) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server) -> Admin:
    return Admin(server.url)


@pytest.fixture
def market(admin) -> dict:
    """A fresh binary market with no liquidity and no fees."""
    return admin.create_market()


@pytest.fixture
def trader(server, admin) -> Trader:
    return Trader(server.url, admin)
