"""The control API: `polydesk api` (and a child of `polydesk up`), a small HTTP API over the same control paths
the `polydesk` commands use (app.py routes, auth.py the bearer token, schema.py the OpenAPI document)."""
