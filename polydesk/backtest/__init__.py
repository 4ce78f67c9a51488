"""`polydesk backtest TAPE`: the real ingest, strategy, risk and executor processes against a paper exchange
whose books replay a recorded tape, stepped in the tape's time; then a report (docs/backtest.md).

Modules: `pipeline` (Redis and the services as processes; the venue is paperexchange.replay, in this
process), `settle` (when a step is finished everywhere), `driver` (the loop), `collect`
(what the run produced, from Redis), `report` (numbers, CSV, JSON, Markdown, PNG), `cli` (the command).
"""
