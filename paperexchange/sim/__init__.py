"""The living market: scenarios, background flow, faults on demand, market-channel tapes, bench generator."""
