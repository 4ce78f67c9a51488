"""The systemd unit runs each service as its own Redis ACL user, as compose does."""

import configparser
from pathlib import Path

from shared import acl

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "polydesk@.service"
TARGET = UNIT.with_name("polydesk.target")


def _service_section() -> dict[str, list[str]]:
    section: dict[str, list[str]] = {}
    current = None
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            section.setdefault(key, []).append(value)
    return section


def test_each_unit_connects_as_the_acl_user_of_its_service_and_drops_the_admin_password():
    service = _service_section()
    environment = " ".join(service["Environment"]).split()
    assert "POLYDESK_REDIS_USERNAME=%i" in environment
    assert "POLYDESK_REDIS_PASSWORD_FILE=/etc/polydesk/redis-users/%i" in environment
    assert service["UnsetEnvironment"] == ["POLYDESK_REDIS_PASSWORD"]
    assert service["ExecStart"] == ["/opt/polydesk/.venv/bin/polydesk run %i"]


def test_the_target_starts_exactly_the_services_that_have_acl_users():
    target = configparser.ConfigParser()
    target.read_string(TARGET.read_text())
    wanted = {name.removeprefix("polydesk@").removesuffix(".service") for name in target["Unit"]["Wants"].split()}
    users = {user.name for user in acl.users()}
    assert wanted <= users, f"units without an ACL user: {wanted - users}"
    assert wanted == {"ingest", "strategy", "risk", "executor"}
