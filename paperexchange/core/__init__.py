"""The venue's state and rules, no transport: markets, books, matching, ledger, funds, orders, settlement."""
