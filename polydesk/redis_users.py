"""`polydesk redis-users --out DIR`: create (or reset) the Redis ACL users of shared/acl.py, one per service
and `cli`, on the configured Redis, connecting as its admin (POLYDESK_REDIS_URL, POLYDESK_REDIS_PASSWORD).
Each user's password goes to DIR/<user> (0600; a password already there is kept, so rerunning changes no
service's password). A service then runs with POLYDESK_REDIS_USERNAME=<service> and
POLYDESK_REDIS_PASSWORD_FILE=DIR/<service> (and no POLYDESK_REDIS_PASSWORD, which would win over the file).

`--acl-file PATH` writes the same users (Redis 7 rules, passwords as SHA-256 hashes) and the default user as
the admin with POLYDESK_REDIS_PASSWORD into an ACL file instead, for `redis-server --aclfile PATH`: nothing
is sent to Redis, and the users survive a restart of Redis (docker compose does this before Redis starts).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from polydesk.common import settings_or_none
from polydesk.runs import write_private
from shared import acl
from shared.config import ServiceSettings
from shared.lifecycle import find_redis_url
from shared.redis_conn import connect_sync


def user_passwords(out: Path) -> dict[str, str]:
    """Every user's password: the one in `out/<user>` if there is one, else a new one written there."""
    passwords = {}
    for user in acl.users():
        path = out / user.name
        if path.is_file() and path.read_text().strip():
            passwords[user.name] = path.read_text().strip()
        else:
            passwords[user.name] = secrets.token_urlsafe(24)
            write_private(path, passwords[user.name])
    return passwords


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="polydesk redis-users", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the users' password files")
    parser.add_argument("--acl-file", type=Path, help="write a Redis 7 ACL file here instead of applying")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk redis-users")
    if settings is None:
        return 2
    passwords = user_passwords(args.out)
    if args.acl_file is not None:
        return write_acl_file(args.acl_file, settings, passwords)
    client = connect_sync(find_redis_url(settings), settings.redis_password_value(), settings.redis_username)
    try:
        acl.apply(client, settings.stream_prefix, passwords)
    except Exception as error:  # noqa: BLE001 - any refusal is reported in one line
        print(f"polydesk redis-users: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(
        f"polydesk redis-users: {', '.join(passwords)} on {settings.stream_prefix}*; passwords in {args.out}"
    )
    return 0


def write_acl_file(path: Path, settings: ServiceSettings, passwords: dict[str, str]) -> int:
    admin_password = settings.redis_password_value()
    if not admin_password:  # the default user would need no password: anyone on the network would be admin
        print("polydesk redis-users: redis_password: required with --acl-file (the admin's)", file=sys.stderr)
        return 2
    write_private(path, acl.acl_file(settings.stream_prefix, admin_password, passwords))
    print(
        f"polydesk redis-users: {', '.join(passwords)} and the admin on {settings.stream_prefix}* in {path}"
    )
    return 0
