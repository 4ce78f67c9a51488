"""Wallet balances, allowances and reservations for resting orders, all in 6-decimal base units.

Assets are "COLLATERAL" (pUSD) or a token id. Allowances are per spender (the exchange contract): pUSD
allowance amounts for BUYs, and an ERC-1155 approval-for-all for SELLs of outcome tokens.
"""

from __future__ import annotations

from collections import defaultdict

COLLATERAL = "COLLATERAL"
MAX_ALLOWANCE = 2**256 - 1


def _key(address: str) -> str:
    return address.lower()


class Ledger:
    def __init__(self) -> None:
        self._balances: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._reserved: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._allowances: dict[str, dict[str, int]] = defaultdict(dict)
        self._approved_for_all: dict[str, dict[str, bool]] = defaultdict(dict)

    def balance(self, address: str, asset: str) -> int:
        return self._balances[_key(address)][asset]

    def reserved(self, address: str, asset: str) -> int:
        return self._reserved[_key(address)][asset]

    def available(self, address: str, asset: str) -> int:
        key = _key(address)
        return self._balances[key][asset] - self._reserved[key][asset]

    def credit(self, address: str, asset: str, amount: int) -> None:
        self._balances[_key(address)][asset] += amount

    def debit(self, address: str, asset: str, amount: int) -> None:
        self._balances[_key(address)][asset] -= amount

    def set_balance(self, address: str, asset: str, amount: int) -> None:
        self._balances[_key(address)][asset] = amount

    def reserve(self, address: str, asset: str, delta: int) -> None:
        """Add (or with a negative delta, release) a reservation held by resting orders."""
        self._reserved[_key(address)][asset] += delta

    def allowance(self, address: str, spender: str) -> int:
        return self._allowances[_key(address)].get(spender.lower(), 0)

    def set_allowance(self, address: str, spender: str, amount: int) -> None:
        self._allowances[_key(address)][spender.lower()] = amount

    def spend_allowance(self, address: str, spender: str, amount: int) -> None:
        """What ERC-20 transferFrom does to the allowance; an unlimited (max uint) one is left alone."""
        current = self.allowance(address, spender)
        if current != MAX_ALLOWANCE:
            self.set_allowance(address, spender, max(0, current - amount))

    def approved_for_all(self, address: str, operator: str) -> bool:
        return self._approved_for_all[_key(address)].get(operator.lower(), False)

    def set_approval_for_all(self, address: str, operator: str, approved: bool) -> None:
        self._approved_for_all[_key(address)][operator.lower()] = approved

    def allowances_view(self, address: str, asset: str, spenders: list[str]) -> dict[str, str]:
        """The `allowances` map of GET /balance-allowance: base units per spender, as strings."""
        if asset == COLLATERAL:
            return {spender: str(self.allowance(address, spender)) for spender in spenders}
        return {
            spender: str(MAX_ALLOWANCE if self.approved_for_all(address, spender) else 0)
            for spender in spenders
        }

    def holdings(self, address: str) -> dict[str, int]:
        return {asset: amount for asset, amount in self._balances[_key(address)].items() if amount}

    def wallets(self) -> list[str]:
        return list(self._balances)
