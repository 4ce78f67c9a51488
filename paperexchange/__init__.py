"""polydesk's local Polymarket CLOB V2: REST + WebSocket, faithful enough that the official clients work unchanged."""
