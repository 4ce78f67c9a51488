"""The strategies: each a small class whose methods are pure (state, event, now) -> intents."""
