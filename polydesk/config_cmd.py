"""`polydesk config`: the effective settings of every layer, secrets redacted, as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from shared.config import SETTINGS_CLASSES, load_settings, redacted
from shared.errors import ConfigurationError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polydesk config", description=__doc__)
    parser.add_argument("--layer", default=None, help="only this layer (e.g. risk)")
    args = parser.parse_args(argv)
    out: dict[str, object] = {}
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        layer = module_name.split(".")[-2] if module_name.count(".") > 1 else module_name.split(".")[0]
        if args.layer and args.layer != layer:
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
