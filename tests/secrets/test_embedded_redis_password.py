"""`polydesk up` (resolve_redis) starts its embedded Redis with the configured password, so a password set in
POLYDESK_REDIS_PASSWORD never leaves an open Redis behind, and finds that server again with the password."""

from __future__ import annotations

import pytest
import redis

from shared.redis_conn import free_port, resolve_redis

pytestmark = pytest.mark.integration

PASSWORD = "emb-Redis-pw-8c1f-secret"


def test_the_embedded_redis_requires_the_configured_password(tmp_path):
    port = free_port()
    url, server = resolve_redis(None, PASSWORD, tmp_path, embedded_only=True, embedded_port=port)
    assert server is not None
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=3).ping()
        assert redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_timeout=3).ping()
        # A second `up` finds the running server with the password instead of starting another.
        again_url, again = resolve_redis(None, PASSWORD, tmp_path, embedded_only=True, embedded_port=port)
        assert (again_url, again) == (url, None)
        config = tmp_path / "redis" / "auth.conf"
        assert config.stat().st_mode & 0o077 == 0
        assert PASSWORD not in " ".join(server.process.args)
    finally:
        server.stop()
