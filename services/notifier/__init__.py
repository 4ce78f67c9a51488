"""The notifier service: fills, kill switch, daily-loss warnings, restarts, reconcile differences, a failed
preflight and pending verdicts, to Telegram and/or a webhook (docs/operations.md)."""
