"""`make test-compose`: docker-compose.yml, proven on this machine, in paper mode (issue 22).

Installs what it needs when missing (tests/compose/engine.py), starts the Docker daemon when none runs,
builds local stand-ins for the base images when no registry is reachable (tests/compose/standins.py), then:
`docker compose --env-file deploy/paper.env --env-file <generated> up -d` builds and starts Redis (AOF, ACL
users), the paper exchange, the four services and Prometheus (and Grafana where its image exists); every
healthcheck turns healthy; each service is refused what its Redis user may not do; an order of our wallet is
filled on the paper exchange; Prometheus scrapes the four services and loads every alert rule; the executor
comes back after `docker kill` (compose up: Docker takes a kill for a manual stop) and after a crash (its
restart policy), and no approval is posted twice; `docker compose down` leaves no open order. Each step prints what it checked and how long it took; the daemon, if started here, and
everything it started are stopped at the end.

    python -m tests.compose [--cache DIR]     (DIR: ~/.cache/polydesk-compose; POLYDESK_COMPOSE_CACHE)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import yaml
from eth_account import Account

from tests.compose import engine, standins
from tests.compose.stack import (
    OPEN_STATUSES,
    PIPELINE,
    ROOT,
    Failed,
    Stack,
    eventually,
    http_json,
    wallet_orders,
    wallet_trades,
)

PROJECT = "polydesk-compose-test"
GRAFANA_IMAGE = "grafana/grafana:11.1.0"
STRATEGIES = "POLYDESK_STRATEGIES=arbitrage,market_making"
ONE_SHOTS = ("redis-acl", "paper-fund")
LONG_RUNNING = ("redis", "paper-exchange", *PIPELINE, "prometheus")
# Inside strategy: what its Redis user may not do, each refused by Redis (and the default user without the
# admin password). Nothing is written: every attempt is refused before it reaches a key.
ACL_PROBE = """
import json, os, redis
from pathlib import Path
url = os.environ['POLYDESK_REDIS_URL']
me = redis.Redis.from_url(url, username=os.environ['POLYDESK_REDIS_USERNAME'],
                          password=Path(os.environ['POLYDESK_REDIS_PASSWORD_FILE']).read_text().strip())
out = {}
def attempt(name, call):
    try:
        call()
        out[name] = 'ALLOWED'
    except redis.exceptions.RedisError as error:
        out[name] = type(error).__name__ + ': ' + str(error)[:60]
attempt('XADD approved_orders', lambda: me.xadd('polydesk:approved_orders', {'type': 'forged'}))
attempt('XADD control', lambda: me.xadd('polydesk:control', {'type': 'forged'}))
attempt('FLUSHALL', lambda: me.flushall())
attempt('default user, no password', lambda: redis.Redis.from_url(url, protocol=2).ping())
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step_started = self.started
        self.timings: list[tuple[str, float]] = []

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)
        self.step_started = time.monotonic()

    def done(self, title: str, *lines: str) -> None:
        took = time.monotonic() - self.step_started
        self.timings.append((title, took))
        for line in lines:
            print(f"   {line}", flush=True)
        print(f"   ok ({took:.0f}s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compose", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default_cache = os.environ.get("POLYDESK_COMPOSE_CACHE", str(Path.home() / ".cache" / "polydesk-compose"))
    parser.add_argument("--cache", type=Path, default=Path(default_cache))
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    log = args.cache / "last-run.log"
    log.write_text("")
    run = Run()
    daemon = engine.Daemon(args.cache / "dockerd.log")
    stack: Stack | None = None
    ok = False
    try:
        stack = prepare(run, args.cache, log, daemon)
        check_stack(run, stack)
        ok = True
    except Exception as error:  # noqa: BLE001 - reported, then everything is stopped
        print(f"\nFAILED: {type(error).__name__}: {error}", flush=True)
        print("".join(traceback.format_tb(error.__traceback__)[-2:]), flush=True)
        if stack is not None:
            logs = stack.run("logs", "--tail", "30", "--no-color", check=False, timeout=60)
            print(logs.stdout[-6000:], flush=True)
    finally:
        tear_down(run, stack, daemon)
    total = time.monotonic() - run.started
    print("\n== timings: " + ", ".join(f"{title} {secs:.0f}s" for title, secs in run.timings))
    print(f"== {'PASSED' if ok else 'FAILED'} in {total:.0f}s (log of every command: {log})", flush=True)
    return 0 if ok else 1


def prepare(run: Run, cache: Path, log: Path, daemon: engine.Daemon) -> Stack:
    run.step("Docker engine, Compose v2, debootstrap")
    installed = engine.ensure_packages(log)
    started = daemon.start_if_needed()
    compose, compose_version = engine.compose_command(cache, log)
    server = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True,
                            check=True).stdout.strip()
    run.done("engine", f"installed: {', '.join(installed) or 'nothing (all present)'}",
             f"daemon {server}: {'started by this run (stopped at the end)' if started else 'already running'}",
             f"compose: {compose_version}")

    run.step("base images (official, or local stand-ins from Debian packages)")
    run.done("base images", *standins.ensure(cache, log))

    work = Path(tempfile.mkdtemp(prefix="polydesk-compose-"))
    secrets = work / "secrets"
    subprocess.run([str(ROOT / "deploy" / "make-secrets.sh"), "--paper", str(secrets)], check=True,
                   capture_output=True)
    # The services read deploy/paper.env plus market making (resting quotes, so that the kill and the down
    # have open orders to deal with; the default arbitrage trades only fill-or-kill).
    venue_env = work / "paper.env"
    venue_env.write_text((ROOT / "deploy" / "paper.env").read_text() + f"\n{STRATEGIES}\n")
    env_file = work / "compose.env"
    ports = {"PROMETHEUS_PORT": free_port(), "GRAFANA_PORT": free_port()}
    env_file.write_text(
        f"SECRETS_DIR={secrets}\nPRIVATE_KEY_SECRET_FILE={secrets / 'private_key'}\nVENUE_ENV_FILE={venue_env}\n"
        + "".join(f"{name}={port}\n" for name, port in ports.items())
    )
    # The generated file last: its VENUE_ENV_FILE wins over deploy/paper.env's.
    stack = Stack(compose, PROJECT, [ROOT / "deploy" / "paper.env", env_file], log,
                  env={"work": str(work), **{k: str(v) for k, v in ports.items()}})
    stack.run("down", "-v", "--remove-orphans", check=False)  # a previous run's leftovers, if any
    return stack


def check_stack(run: Run, stack: Stack) -> None:
    secrets = Path(stack.env["work"]) / "secrets"
    inspect = subprocess.run(["docker", "image", "inspect", GRAFANA_IMAGE], check=False, capture_output=True)
    grafana = inspect.returncode == 0
    services = [*ONE_SHOTS, *LONG_RUNNING, *(("grafana",) if grafana else ())]

    run.step("docker compose --env-file deploy/paper.env --env-file <generated> build, up -d; all healthy")
    build_started = time.monotonic()
    stack.run("build", timeout=900)
    build_secs = time.monotonic() - build_started
    stack.run("up", "-d", *services, timeout=400)
    up_started = time.monotonic()
    lines = [f"built polydesk:local in {build_secs:.0f}s"]
    seen: dict[str, list[str]] = {service: [] for service in services}

    def settled(service: str) -> bool:
        state = stack.container(service)["State"]
        status = state["Status"] if service in ONE_SHOTS else state.get("Health", {}).get("Status", "none")
        if not seen[service] or seen[service][-1] != status:
            seen[service].append(status)
        if service in ONE_SHOTS:
            if status == "exited" and state["ExitCode"] != 0:
                raise Failed(f"{service} failed: exit {state['ExitCode']}")
            return status == "exited"
        return status == "healthy"

    ready: dict[str, float] = {}

    def all_settled() -> bool:
        for service in services:
            if service not in ready and settled(service):
                ready[service] = time.monotonic() - up_started
        return len(ready) == len(services)

    eventually(all_settled, 300, "every one-shot done and every healthcheck healthy", interval=2)
    for service in services:
        how = "ran once, exit 0" if service in ONE_SHOTS else "healthy"
        path = " -> ".join(seen[service])
        lines.append(f"{service}: {how} after {ready[service]:.0f}s ({path})")
    lines.append(f"grafana: {'started' if grafana else f'NOT started: no {GRAFANA_IMAGE} image here (no registry)'}")
    run.done("up", *lines)

    run.step("Redis: one ACL user per service, the admin password only where it is needed")
    admin_password = (secrets / "redis_password").read_text().strip()
    refusals = stack.json("strategy", ACL_PROBE)
    for attempt in ("XADD approved_orders", "XADD control", "FLUSHALL"):
        assert refusals[attempt].startswith("NoPermissionError"), (attempt, refusals[attempt])
    assert refusals["default user, no password"].startswith("AuthenticationError"), refusals
    lines = [f"strategy's user: {name} refused ({outcome})" for name, outcome in refusals.items()]
    for service in PIPELINE:
        config = stack.container(service)["Config"]
        env = dict(item.split("=", 1) for item in config["Env"])
        assert env["POLYDESK_REDIS_USERNAME"] == service, env.get("POLYDESK_REDIS_USERNAME")
        assert admin_password not in " ".join(config["Env"]) and "POLYDESK_REDIS_PASSWORD" not in env
        mounted = {m["Destination"] for m in stack.container(service)["Mounts"]}
        assert "/run/secrets/redis_password" not in mounted
    redis_config = stack.container("redis")
    config = redis_config["Config"]
    assert admin_password not in " ".join([*(config["Env"] or []), *(config["Entrypoint"] or []), *(config["Cmd"] or [])])
    appendonly = stack.run("exec", "-T", "redis", "sh", "-c",
                           'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli config get appendonly').stdout
    assert appendonly.split() == ["appendonly", "yes"], appendonly
    status = stack.run("run", "--rm", "-T", "cli", "kill-switch", "status", timeout=120)
    lines.append(f"`docker compose run --rm cli kill-switch status`, as the cli user: {status.stdout.strip()[:80]!r}")
    run.done("acl", *lines, "each service connects as its own user; no service has the admin password",
             "Redis: AOF on, no password in its command line or environment")

    run.step("an order of our wallet filled on the paper exchange")
    key = (secrets / "private_key").read_text().strip()
    wallet = Account.from_key(key).address

    def traded() -> dict | None:
        state = stack.exchange()
        return state if wallet_trades(state, wallet) else None

    state = eventually(traded, 240, "a trade of our wallet on the paper exchange", interval=3)
    trade = wallet_trades(state, wallet)[0]
    run.done("trade", f"wallet {wallet}: {len(wallet_orders(state, wallet))} orders, "
             f"{len(wallet_trades(state, wallet))} trades; first trade {trade['id']} {trade['side']} "
             f"{trade['size']} @ {trade['price']} ({trade['status']})")

    run.step("Prometheus (in its container) scrapes the four services and loads every alert rule")
    base = f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}"

    def targets_up() -> dict[str, str] | None:
        targets = http_json(f"{base}/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if all(health.get(s) == "up" for s in PIPELINE) else None

    health = eventually(targets_up, 90, "every service scraped (up)", interval=2)
    expected = {rule["alert"] for group in yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())["groups"]
                for rule in group["rules"]}
    groups = http_json(f"{base}/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"]: rule.get("health") for group in groups for rule in group["rules"]}
    assert set(loaded) == expected, (sorted(expected - set(loaded)), sorted(set(loaded) - expected))
    assert not [name for name, h in loaded.items() if h == "err"], loaded
    build = http_json(f"{base}/api/v1/status/buildinfo")["data"]["version"]
    run.done("prometheus", f"Prometheus {build}: targets {', '.join(f'{j}={h}' for j, h in sorted(health.items()))}",
             f"{len(loaded)} of {len(expected)} alert rules of prometheus/alerts.yml loaded, none in error")

    if grafana:
        run.step("Grafana provisioned from grafana/")
        grafana_base = f"http://127.0.0.1:{stack.env['GRAFANA_PORT']}"
        auth = ("admin", (secrets / "grafana_admin_password").read_text().strip())
        sources = http_json(f"{grafana_base}/api/datasources", auth)
        assert [s["uid"] for s in sources] == ["prometheus"], sources
        boards = http_json(f"{grafana_base}/api/search?query=polydesk", auth)
        assert boards, "no polydesk dashboard"
        run.done("grafana", f"datasource prometheus, dashboards: {[b['title'] for b in boards]}")

    run.step("docker kill of the executor, then a crash of it: back each time, no approval posted twice")
    # Docker takes `docker kill` for a manual stop (moby: killWithSignal marks HasBeenManuallyStopped and
    # cancels the restart manager), so no restart policy acts on it: compose up brings it back. A crash (the
    # process killed from outside, as the OOM killer does) is what `restart: unless-stopped` restarts.
    killed = stack.container("executor")
    subprocess.run(["docker", "kill", killed["Id"]], check=True, capture_output=True)
    time.sleep(5)
    after_kill = stack.container("executor")
    assert after_kill["State"]["Status"] == "exited", after_kill["State"]
    stack.run("up", "-d", "--wait", "--wait-timeout", "180", "executor", timeout=240)
    lines = [
        (f"docker kill: exited and not restarted by the policy (a manual stop for Docker); compose up: "
         f"healthy again {time.monotonic() - run.step_started:.0f}s after the kill"),
        no_order_twice(stack, wallet),
    ]
    before = stack.container("executor")
    os.kill(before["State"]["Pid"], signal.SIGKILL)  # pid 1 of the container, seen from the host
    crashed = time.monotonic()

    def restarted_and_healthy() -> bool:
        now = stack.container("executor")
        return now["RestartCount"] > before["RestartCount"] and now["State"].get("Health", {}).get("Status") == "healthy"

    eventually(restarted_and_healthy, 180, "the executor restarted by its restart policy and healthy", interval=2)
    lines += [
        (f"crash (kill -9 of its process): restarted by the policy (restart count {before['RestartCount']} -> "
         f"{stack.container('executor')['RestartCount']}), healthy again {time.monotonic() - crashed:.0f}s later"),
        no_order_twice(stack, wallet),
    ]
    run.done("kill", *lines)

    run.step("docker compose down: the pipeline first (as down stops it), then the rest; no open order left")
    def resting() -> list[dict]:
        return [o for o in wallet_orders(stack.exchange(), wallet) if o["status"] in OPEN_STATUSES]

    open_before = eventually(resting, 120, "a resting order of our wallet (market making's quotes)", interval=2)
    stack.run("down", *PIPELINE, timeout=180)
    state = stack.exchange()
    still_open = [(o["id"], o["status"]) for o in wallet_orders(state, wallet) if o["status"] in OPEN_STATUSES]
    assert not still_open, f"open orders left on the exchange: {still_open}"
    stack.run("down", "-v", "--remove-orphans", timeout=180)
    left = stack.project_containers()
    assert not left, f"containers left: {left}"
    run.done("down", f"before: {len(open_before)} open orders of our wallet; after the pipeline stopped: 0 open "
             f"of {len(wallet_orders(state, wallet))}", "after down: no container of the project left")


def no_order_twice(stack: Stack, wallet: str) -> str:
    """Each exchange order of our wallet is in the executor's records, and no approval phase has two."""
    # The exchange first: the executor commits an order (PENDING, with its hash) before it posts it, so every
    # order the exchange has by then is in the records read after (read the other way round, an order posted
    # in between would look unexplained).
    orders = wallet_orders(stack.exchange(), wallet)
    records = {r["order_hash"]: r for r in stack.executor_records()}
    unexplained = [o["id"] for o in orders if o["id"] not in records]
    assert not unexplained, f"exchange orders the executor has no record of: {unexplained}"
    per_phase = Counter((records[o["id"]]["client_order_id"], records[o["id"]]["phase"]) for o in orders
                        if records[o["id"]]["client_order_id"])
    doubled = {key: n for key, n in per_phase.items() if n > 1}
    assert not doubled, f"approvals posted more than once: {doubled}"
    return (f"{len(orders)} exchange orders of our wallet, each in the executor's records; "
            f"{len(per_phase)} approval phases, one order each")


def tear_down(run: Run, stack: Stack | None, daemon: engine.Daemon) -> None:
    run.step("tear down")
    lines = []
    if stack is not None:
        stack.run("down", "-v", "--remove-orphans", check=False, timeout=180)
        lines.append(f"compose project {stack.project}: down, volumes removed")
        shutil.rmtree(stack.env["work"], ignore_errors=True)  # the generated env and secrets
    if daemon.process is not None:
        daemon.stop()
        lines.append(f"dockerd (started by this run): stopped, exit {daemon.process.returncode}")
    else:
        lines.append("dockerd: left running (it was running before)")
    run.done("tear down", *lines)


if __name__ == "__main__":
    sys.exit(main())
