"""The wire: CLOB REST, WebSockets, Gamma, Data API, JSON-RPC, admin API, and the Starlette app mounting them."""
