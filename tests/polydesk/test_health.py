"""`polydesk health` as a container's healthcheck runs it: with the service's own Redis user, exactly the ACL
`polydesk redis-users` creates for it (shared/acl.py), which may not SCAN. The health keys are read by their
names (shared/topology.py): the environment's process slot and the slot `polydesk up` gives the service."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import uuid

import pytest
import redis

from polydesk import health
from shared import acl

pytestmark = pytest.mark.integration

@pytest.fixture
def ingest_user(redis_url, prefix):
    """A uniquely named Redis user with the ingest user's ACL (on this test's prefix); deleted after."""
    admin = redis.Redis.from_url(redis_url)
    name, password = f"test-health-{uuid.uuid4().hex[:10]}", secrets.token_hex(16)
    spec = next(user for user in acl.users() if user.name == "ingest")
    selectors = int(str(admin.info("server")["redis_version"]).split(".")[0]) >= 7  # as `redis-users` does
    admin.execute_command(*acl.setuser_args(dataclasses.replace(spec, name=name), prefix, password,
                                            selectors=selectors))
    try:
        yield name, password
    finally:
        admin.execute_command("ACL", "DELUSER", name)
        admin.close()


def _health(capsys, *args: str) -> tuple[int, str]:
    code = health.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_health_reads_its_keys_by_name_as_the_services_own_redis_user(redis_url, prefix, ingest_user, tmp_path,
                                                                      monkeypatch, capsys):
    name, password = ingest_user
    as_ingest = redis.Redis.from_url(redis_url, username=name, password=password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_ingest.scan(match=prefix + "health:*")  # why health may not look for its keys
    as_ingest.close()
    for variable in [k for k in os.environ if k.startswith("POLYDESK_")]:
        monkeypatch.delenv(variable)
    settings = {"REDIS_URL": redis_url, "REDIS_USERNAME": name, "REDIS_PASSWORD": password, "STREAM_PREFIX": prefix,
                "INSTANCE": "ingest", "ENV_FILE": str(tmp_path / "none"), "LOG_DIR": str(tmp_path / "logs"),
                "STATE_DIR": str(tmp_path / "state")}
    for variable, value in settings.items():
        monkeypatch.setenv(f"POLYDESK_{variable}", value)
    admin = redis.Redis.from_url(redis_url)
    try:
        code, said = _health(capsys, "ingest")
        assert code == 1 and "no live ingest instance" in said, said  # asked, not refused

        admin.set(f"{prefix}health:ingest:ingest", json.dumps({"instance": "ingest"}), px=30_000)  # compose's slot
        code, said = _health(capsys, "ingest")
        assert code == 0 and "healthy: ingest (ingest)" in said, said

        admin.delete(f"{prefix}health:ingest:ingest")
        admin.set(f"{prefix}health:ingest:local-ingest", json.dumps({"instance": "local-ingest"}), px=30_000)
        assert _health(capsys, "ingest")[0] == 0  # the slot `polydesk up` runs it in
        assert _health(capsys, "ingest", "--instance", "other")[0] == 1
        code, said = _health(capsys, "strategy")  # another service's key: not this user's to read
        assert code == 1 and "NoPermissionError" in said, said
    finally:
        admin.close()
