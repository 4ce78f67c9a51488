"""`polydesk config`: the effective settings of every layer (secrets redacted) as JSON; `--describe` says what
each setting is; `--env-example` writes `.env.example` from the same descriptions."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap

from shared.config import SETTINGS_CLASSES, load_settings, redacted
from shared.config_docs import SettingDoc, layer_of, setting_docs
from shared.errors import ConfigurationError

LAYER_TITLES = {
    "shared": "shared: every service",
    "ingest": "ingest: market data and discovery",
    "strategy": "strategy: what to trade",
    "risk": "risk: limits and reconciliation",
    "executor": "executor: the venue, keys and orders",
    "polydesk": "polydesk up: the local supervisor and paper exchange",
}

# Hand-written: what docker compose reads beside the polydesk settings (compose-only knobs carry no prefix).
ENV_EXAMPLE_HEADER = """\
# GENERATED from the settings' own descriptions by `polydesk config --env-example > .env.example`: change a
# description in shared/config.py, services/*/config.py or polydesk/settings.py, not this file (a test fails
# when it is not current). `polydesk config --describe` shows the same list with types and units.
#
# Copy to .env and fill in: `cp .env.example .env` (docs/operations.md). docker compose reads it for its own
# variables and passes it to every polydesk container; `polydesk up` reads it too.
# Every polydesk setting is POLYDESK_<NAME>. A POLYDESK_ name that no layer declares stops the services at
# start, so the compose-only knobs below carry no prefix. Each setting below is commented out at its default.
# Secrets may instead come from files: POLYDESK_<NAME>_FILE=/run/secrets/<name>.

# ---- docker compose only -----------------------------------------------------------------------------------
# No secret goes in this file: it reaches every polydesk container. `deploy/make-secrets.sh` writes the Redis
# admin's and each service's Redis user's passwords and Grafana's admin password as files in deploy/secrets/
# (SECRETS_DIR moves the folder). Under docker compose never set POLYDESK_REDIS_PASSWORD here: it would win
# over each service's own Redis user's password file, and Redis would refuse the service.
# SECRETS_DIR=./deploy/secrets
# GRAFANA_ADMIN_USER=admin
# GRAFANA_PORT=3000
# PROMETHEUS_PORT=9090
# PROMETHEUS_RETENTION=30d
# Paper mode is not set here: `docker compose --env-file .env --env-file deploy/paper.env up -d` adds the
# paper exchange and points every service at it. The executor still needs a key (any fresh one):
# deploy/secrets/private_key.
# PAPER_SCENARIO=default
# PAPER_FUND_USD=1000
# Live: the signing key goes in deploy/secrets/private_key (a Docker secret), or as POLYDESK_PRIVATE_KEY in
# deploy/secrets/executor.env, which only the executor reads. Never in this file under docker compose: .env
# reaches every container.
# PRIVATE_KEY_SECRET_FILE=./deploy/secrets/private_key
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk config", description=__doc__)
    parser.add_argument("--layer", default=None, help="only this layer (e.g. risk)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--describe", action="store_true", help="every setting: type, default, unit and meaning"
    )
    what.add_argument(
        "--env-example", action="store_true", help="print .env.example (every setting at its default)"
    )
    args = parser.parse_args(argv)
    if args.env_example:
        sys.stdout.write(env_example())
        return 0
    if args.describe:
        docs = [d for d in setting_docs() if args.layer in (None, d.layer)]
        sys.stdout.write(describe(docs))
        return 0
    return _effective(args.layer)


def _effective(only_layer: str | None) -> int:
    out: dict[str, object] = {}
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        layer = layer_of(target)
        if only_layer and only_layer != layer:
            continue
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        try:
            out[layer] = redacted(load_settings(cls))
        except ConfigurationError as error:
            print(f"polydesk config: {error}", file=sys.stderr)
            return 2
    print(json.dumps(out, indent=2, default=str))
    return 0


def describe(docs: list[SettingDoc]) -> str:
    """One block per setting: name, type, default and unit on one line, its meaning on the next."""
    lines: list[str] = []
    for layer in dict.fromkeys(d.layer for d in docs):
        lines += ["", LAYER_TITLES.get(layer, layer)]
        for doc in (d for d in docs if d.layer == layer):
            unit = f"  [{doc.unit}]" if doc.unit else ""
            lines.append(f"  {doc.env_name}  {doc.type_text}  default: {doc.default_text}{unit}")
            lines += textwrap.wrap(doc.meaning, 100, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines).lstrip("\n") + "\n"


def env_example() -> str:
    """The text of `.env.example`: the compose header, then every setting commented out at its default. A
    name several layers read is written once, where it first appears, with each layer's meaning."""
    docs = setting_docs()
    by_name: dict[str, list[SettingDoc]] = {}
    for doc in docs:
        by_name.setdefault(doc.env_name, []).append(doc)
    out = [ENV_EXAMPLE_HEADER]
    for layer in dict.fromkeys(d.layer for d in docs):
        title = f"# ---- {LAYER_TITLES.get(layer, layer)} "
        out.append("\n" + title.ljust(111, "-") + "\n\n")
        for doc in (d for d in docs if d.layer == layer):
            readers = by_name[doc.env_name]
            if readers[0] is not doc:
                continue
            out.append(_env_entry(readers) + "\n")
    return "".join(out).rstrip("\n") + "\n"


def _env_entry(readers: list[SettingDoc]) -> str:
    first = readers[0]
    unit = f" [{first.unit}]" if first.unit else ""
    meanings = [first.meaning] if len(readers) == 1 else [f"{d.layer}: {d.meaning}" for d in readers]
    kind = f"{first.type_text}{unit}; default {first.default_text}"
    for doc in readers[1:]:
        if doc.default_text != first.default_text:
            kind += f" ({doc.layer}: {doc.default_text})"
    lines = [*meanings, f"({kind})"]
    text = "".join(
        "\n".join(textwrap.wrap(line, 108, initial_indent="# ", subsequent_indent="#   ")) + "\n"
        for line in lines
    )
    return text + f"# {first.env_name}={first.env_default}\n"
