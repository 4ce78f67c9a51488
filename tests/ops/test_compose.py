"""docker-compose.yml is a valid Compose file (compose-spec) and keeps the deployment's promises."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose

from shared import acl
from shared.config import known_setting_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
RUN_SERVICES = ("ingest", "strategy", "risk", "executor")
REQUIRED_ENV: dict[str, str] = {}  # no variable is required: every secret is a file (deploy/make-secrets.sh)
ONE_SHOTS = {"redis-acl", "paper-fund", "cli"}
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(ValueError):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation over the parsed file: ${V}, ${V:-default}, ${V-d}, ${V:?err}, ${V?e}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1) or match.group(4), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            return current if (current if op == ":-" else current is not None) else arg
        if op in (":?", "?"):
            if not current if op == ":?" else current is None:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _VARIABLE.sub(substitute, value)


def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<` merge keys


def resolved(env: dict[str, str] | None = None) -> dict:
    return interpolate(raw(), REQUIRED_ENV if env is None else env)


def variables(value) -> set[str]:
    text = json.dumps(value)
    return {m.group(1) or m.group(4) for m in _VARIABLE.finditer(text) if m.group(0) != "$$"}


SERVICES = resolved()["services"]


def test_compose_file_validates_against_the_compose_specification():
    PyCompose.from_json(json.dumps(resolved())).validate()


def test_paper_mode_env_file_validates_too():
    env = dict(REQUIRED_ENV)
    env.update(line.split("=", 1) for line in (ROOT / "deploy" / "paper.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert env["COMPOSE_PROFILES"] == "paper" and env["VENUE_ENV_FILE"] == "deploy/paper.env"
    compose = resolved(env)
    PyCompose.from_json(json.dumps(compose)).validate()
    assert all("deploy/paper.env" in [f["path"] for f in compose["services"][s]["env_file"]] for s in RUN_SERVICES)


def test_no_secret_comes_from_a_variable():
    """.env reaches every polydesk container, so no password may live there: each secret is a file."""
    names = variables(raw())
    assert not [n for n in names if any(w in n for w in ("PASSWORD", "SECRET", "KEY", "TOKEN"))
                and n not in ("PRIVATE_KEY_SECRET_FILE", "SECRETS_DIR")], sorted(names)
    for name, secret in resolved()["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./deploy/secrets/"), name


def test_grafana_admin_password_is_a_secret_file():
    grafana = SERVICES["grafana"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana["environment"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert grafana["secrets"] == ["grafana_admin_password"]


def test_redis_has_aof_acl_users_and_no_published_port():
    redis = SERVICES["redis"]
    assert "ports" not in redis
    command = " ".join(redis["entrypoint"] + redis["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    # No password on argv or in the environment: the users and the admin's password hash are in the ACL file
    # redis-acl writes on the shared volume before Redis starts.
    assert "pass" not in command and not redis.get("environment")
    assert "--aclfile /acl/users.acl" in command and "redis-acl:/acl:ro" in redis["volumes"]
    assert redis["depends_on"]["redis-acl"]["condition"] == "service_completed_successfully"
    writer = SERVICES["redis-acl"]
    assert writer["command"][:1] == ["redis-users"] and "/data/redis-acl/users.acl" in writer["command"]
    assert "redis-acl:/data/redis-acl" in writer["volumes"]
    # Only Redis's healthcheck and redis-acl know the admin password.
    holders = {name for name, spec in SERVICES.items() if "redis_password" in _secret_sources(spec)}
    assert holders == {"redis", "redis-acl"}
    assert "/run/secrets/redis_password" in " ".join(redis["healthcheck"]["test"])


def _secret_sources(spec: dict) -> list[str]:
    return [s if isinstance(s, str) else s["source"] for s in spec.get("secrets", [])]


def test_every_acl_user_has_its_own_password_file_and_redis_acl_gets_them_all():
    names = [user.name for user in acl.users()]
    assert {f"redis_user_{n}" for n in names} <= set(resolved()["secrets"])
    mounted = {s["source"]: s["target"] for s in SERVICES["redis-acl"]["secrets"] if isinstance(s, dict)}
    assert mounted == {f"redis_user_{n}": f"redis-users/{n}" for n in names}
    script = (ROOT / "deploy" / "make-secrets.sh").read_text()
    assert re.search(r"for user in ([a-z ]+); do", script).group(1).split() == names


@pytest.mark.parametrize("service", [*RUN_SERVICES, "cli"])
def test_each_service_connects_as_its_own_redis_user_only(service):
    spec = SERVICES[service]
    assert spec["environment"]["POLYDESK_REDIS_USERNAME"] == service
    assert spec["environment"]["POLYDESK_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_user"
    assert "POLYDESK_REDIS_PASSWORD" not in spec["environment"]
    own = [s for s in spec["secrets"] if isinstance(s, dict)]
    assert own == [{"source": f"redis_user_{service}", "target": "redis_user"}]


def test_make_secrets_creates_each_file_once_readable_by_the_containers(tmp_path):
    script = ROOT / "deploy" / "make-secrets.sh"
    first = subprocess.run([str(script), "--paper", str(tmp_path / "s")], capture_output=True, text=True, check=True)
    files = sorted(p for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert len(files) == 4 + len(acl.users()) and first.stdout.count("created") == len(files)  # + api_token
    assert oct((tmp_path / "s").stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o444"}
    key = (tmp_path / "s" / "private_key").read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    second = subprocess.run([str(script), str(tmp_path / "s")], capture_output=True, text=True, check=True)
    assert "created" not in second.stdout and (tmp_path / "s" / "private_key").read_text() == key


def test_published_ports_are_bound_to_loopback():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_depends_on_names_defined_services():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on undefined {dependency}"


def test_dependencies_on_profiled_services_are_optional():
    """A live run (no `paper` profile) must not need the paper exchange: those dependencies say required: false."""
    for name, service in SERVICES.items():
        if service.get("profiles"):
            continue
        for dependency, condition in service.get("depends_on", {}).items():
            if SERVICES[dependency].get("profiles"):
                assert condition.get("required") is False, f"{name} requires the profiled {dependency}"


def test_named_volumes_and_secrets_are_declared():
    compose = resolved()
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name} mounts undeclared volume {source}"
            else:
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        for secret in service.get("secrets", []):
            assert (secret if isinstance(secret, str) else secret["source"]) in compose["secrets"]


@pytest.mark.parametrize("service", RUN_SERVICES)
def test_each_service_runs_polydesk_with_a_health_check_and_restarts(service):
    spec = SERVICES[service]
    assert spec["command"] == ["run", service]
    # Its own instance: EXISTS on its health key, which its Redis user may read (SCAN it may not).
    assert spec["healthcheck"]["test"] == ["CMD", "polydesk", "health", service, "--instance", service]
    assert spec["restart"] == "unless-stopped"
    assert not spec.get("profiles"), "the pipeline runs in every mode"
    assert spec["environment"]["POLYDESK_METRICS_PORT"] == "9100"
    assert spec["environment"]["POLYDESK_REDIS_URL"].startswith("redis://redis:")
    assert spec["hostname"] == service, "a stable host name is the stable consumer name (POLYDESK_INSTANCE)"


def test_long_running_services_restart_unless_stopped_and_check_health():
    for name, spec in SERVICES.items():
        if name in ONE_SHOTS:
            assert spec["restart"] == "no"  # one shot
            continue
        assert spec["restart"] == "unless-stopped", name
        assert spec["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_one_dockerfile_builds_every_polydesk_container():
    built = {name: spec for name, spec in SERVICES.items() if "build" in spec}
    assert set(RUN_SERVICES) | {"paper-exchange", "paper-fund", "redis-acl", "cli"} <= set(built)
    assert {spec["build"] for spec in built.values()} == {"."}
    assert {spec["image"] for spec in built.values()} == {"polydesk:local"}
    assert (ROOT / "Dockerfile").is_file()


def test_risk_and_executor_state_is_on_volumes():
    for service in ("risk", "executor", "ingest"):
        assert any(m.endswith(":/data/state") for m in SERVICES[service]["volumes"]), service


def test_only_the_executor_gets_the_signing_key():
    executor = SERVICES["executor"]
    assert "private_key" in _secret_sources(executor)
    assert executor["environment"]["POLYDESK_PRIVATE_KEY_FILE"] == "/run/secrets/private_key"
    assert "deploy/secrets/executor.env" in [f["path"] for f in executor["env_file"]]
    for name in RUN_SERVICES:
        if name != "executor":
            assert "private_key" not in _secret_sources(SERVICES[name])
            assert "POLYDESK_PRIVATE_KEY_FILE" not in SERVICES[name]["environment"]
    secret_file = resolved()["secrets"]["private_key"]["file"]
    assert secret_file.startswith("./deploy/secrets/")
    ignore = (ROOT / "deploy" / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignore and "!.gitignore" in ignore


def test_paper_exchange_is_in_the_paper_profile_and_the_paper_urls_reach_it():
    assert SERVICES["paper-exchange"]["profiles"] == ["paper"]
    assert SERVICES["paper-fund"]["profiles"] == ["paper"]
    command = SERVICES["paper-exchange"]["command"]
    assert command[0] == "paper-exchange" and command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    urls = {k: v for k, v in (line.split("=", 1) for line in (ROOT / "deploy" / "paper.env").read_text().splitlines()
                              if line and not line.startswith("#")) if k.endswith("_URL")}
    assert set(urls) == {"POLYDESK_CLOB_URL", "POLYDESK_MARKET_WS_URL", "POLYDESK_USER_WS_URL",
                         "POLYDESK_GAMMA_URL", "POLYDESK_DATA_API_URL", "POLYDESK_RPC_URL"}
    assert all(re.match(rf"(http|ws)://paper-exchange:{port}(/|$)", url) for url in urls.values()), urls


def test_monitoring_services():
    prometheus, grafana = SERVICES["prometheus"], SERVICES["grafana"]
    assert all(m.endswith(":ro") for m in prometheus["volumes"] if m.startswith("./"))
    assert all(m.endswith(":ro") for m in grafana["volumes"] if m.startswith("./"))
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_polydesk_names_are_settings_and_compose_knobs_are_not():
    """An unknown POLYDESK_ name stops every service at start, so none may reach a container by mistake."""
    known = known_setting_names()
    names = variables(raw()) | {k for s in SERVICES.values() for k in (s.get("environment") or {})}
    for path in (ROOT / ".env.example", ROOT / "deploy" / "paper.env"):
        names |= {m.group(1) for m in re.finditer(r"^#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE)}
    polydesk = {n for n in names if n.startswith("POLYDESK_")}
    assert polydesk and polydesk <= known, sorted(polydesk - known)
