"""Conformance cases run once per client (`client` is parametrized): a fresh funded wallet per case on a
shared paper exchange with the fast settlement setting."""

from __future__ import annotations

import pytest

from paperexchange.server import PaperExchangeServer
from tests.paperexchange.conformance.clients import CLIENTS, NotOffered, new_account
from tests.paperexchange.helpers import Admin


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server) -> Admin:
    return Admin(server.url)


@pytest.fixture
def market(admin) -> dict:
    return admin.create_market(min_order_size=5)


@pytest.fixture
def account(admin):
    account = new_account()
    admin.fund(account.address, "1000")
    return account


@pytest.fixture(params=sorted(CLIENTS))
def client(request, server, account):
    made = CLIENTS[request.param](server.url, account)
    yield made
    made.close()


def offered(call, *args):
    """Run a client call; skip the case for a client that has no such call."""
    try:
        return call(*args)
    except NotOffered as reason:
        pytest.skip(str(reason))
