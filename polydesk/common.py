"""What several `polydesk` subcommands share: loading settings with a one-line error, reaching Redis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def settings_or_none(cls: type[SettingsT], prog: str) -> SettingsT | None:
    """The settings, or None after printing `prog: <what is wrong>` on stderr."""
    try:
        return load_settings(cls)
    except ConfigurationError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return None


def cli_redis(settings: ServiceSettings) -> tuple[str, str | None, str | None]:
    """The Redis (URL, password, ACL user) a command talks to: POLYDESK_REDIS_URL when set; else the Redis of
    a paper `polydesk up` still running from this state folder (its run.json: the `cli` user and its
    generated password); else the machine's or an embedded one, as the services find it."""
    from polydesk.runs import live_run

    if settings.redis_url is None:
        run = live_run(settings.state_dir)
        if run is not None:
            info = run.info()
            password_file = info.get("redis_password_file")
            password = settings.redis_password_value()
            username = settings.redis_username
            if password_file and password is None:
                password = Path(str(password_file)).read_text()
                username = username or (str(info["redis_username"]) if info.get("redis_username") else None)
            return str(info["redis_url"]), password, username
    from shared.lifecycle import find_redis_url

    return find_redis_url(settings), settings.redis_password_value(), settings.redis_username
