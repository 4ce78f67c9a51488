"""Own strategies: found by name in a folder (POLYDESK_STRATEGY_PATH) or as an installed entry point.

A name in POLYDESK_STRATEGIES that is not built in is looked up, like a command on PATH, first in each folder
of POLYDESK_STRATEGY_PATH in order (`<name>.py` or a package `<name>/`), then among the entry points of the
group `polydesk.strategies` (an installed distribution declares `<name> = "module:factory"`). A folder module
exposes the factory as `build_strategy`. The factory is called with the strategy's parameters (its entry of
POLYDESK_STRATEGY_PARAMS, a dict) and returns a Strategy (services/strategy/intents.py) whose `name` is the
name it was loaded by. Anything else (not found, an import error, a factory that raises, an object that is
not a Strategy) is a ConfigurationError naming the strategy and where it came from: the service stops at
start with that line, no traceback. How-to: docs/strategies.md.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from services.strategy.intents import Strategy
from shared.errors import ConfigurationError

ENTRY_POINT_GROUP = "polydesk.strategies"
FOLDER_FACTORY = "build_strategy"
# A strategy's name is a metric label, a signal-key prefix and (for a folder) a module name.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Found:
    """Where a strategy would be loaded from; nothing is imported until `load()`."""

    name: str
    origin: str  # for messages: "folder /x/name.py" or "entry point module:factory (distribution d)"
    load: Callable[[], Any]  # returns the factory


def find(name: str, folders: Sequence[Path]) -> Found | None:
    """Where `name` comes from (folders first, in order; then entry points); None when nowhere. Raises
    ConfigurationError when two installed distributions declare the same name."""
    for folder in folders:
        for path in (Path(folder) / f"{name}.py", Path(folder) / name / "__init__.py"):
            if path.is_file():
                return Found(name, f"folder {path}", functools.partial(_from_file, name, path))
    declared = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if len(declared) > 1:
        where = ", ".join(f"{ep.value} ({_distribution(ep)})" for ep in declared)
        raise ConfigurationError(
            f"POLYDESK_STRATEGIES: strategy {name!r} is declared by more than one installed package: {where}"
        )
    if declared:
        ep = declared[0]
        return Found(name, f"entry point {ep.value} ({_distribution(ep)})", ep.load)
    return None


def installed_names() -> list[str]:
    """The names the installed distributions declare in the entry point group."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load(name: str, folders: Sequence[Path], params: Mapping[str, Any]) -> Strategy:
    """The strategy `name`, built with `params`; ConfigurationError (one line, naming it) on any problem."""
    if not NAME_PATTERN.match(name):
        raise ConfigurationError(
            f"POLYDESK_STRATEGIES: {name!r} is not a strategy name (lower-case letters, digits and '_')"
        )
    found = find(name, folders)
    if found is None:
        raise ConfigurationError(
            f"POLYDESK_STRATEGIES: no strategy named {name!r}: not built in, not in POLYDESK_STRATEGY_PATH, "
            f"and no installed package declares it in the entry point group {ENTRY_POINT_GROUP}"
        )
    where = f"strategy {name!r} ({found.origin})"
    try:
        factory = found.load()
    except Exception as error:  # noqa: BLE001  (an import error, or anything the module raises loading)
        raise ConfigurationError(
            f"POLYDESK_STRATEGIES: {where} failed to import: {_one_line(error)}"
        ) from None
    if not callable(factory):
        raise ConfigurationError(f"POLYDESK_STRATEGIES: {where} is not a factory (not callable)")
    try:
        strategy = factory(dict(params))
    except Exception as error:  # noqa: BLE001  (bad parameters, most often)
        raise ConfigurationError(
            f"POLYDESK_STRATEGIES: {where} failed to build: {_one_line(error)}"
        ) from None
    problem = not_a_strategy(strategy, name)
    if problem:
        raise ConfigurationError(f"POLYDESK_STRATEGIES: {where} did not return a Strategy: {problem}")
    return strategy


def not_a_strategy(candidate: object, name: str) -> str | None:
    """Why `candidate` is not a Strategy called `name` (None when it is one)."""
    missing = [m for m in ("relevant", "on_event") if not callable(getattr(candidate, m, None))]
    if missing:
        return f"{type(candidate).__name__} has no {' or '.join(missing)} method"
    own = getattr(candidate, "name", None)
    if own != name:
        return f"its name is {own!r}, not {name!r} (intents, risk's rules and metrics go by the name)"
    return None


def _from_file(name: str, path: Path) -> Any:
    """Import a folder's module under a private name (a file called json.py must not shadow json)."""
    module_name = f"_polydesk_strategy_{name}"
    package = [str(path.parent)] if path.name == "__init__.py" else None
    spec = importlib.util.spec_from_file_location(module_name, path, submodule_search_locations=package)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before running it: dataclasses and relative imports look it up
    try:
        spec.loader.exec_module(module)
        if not hasattr(module, FOLDER_FACTORY):
            raise ImportError(f"{path} defines no {FOLDER_FACTORY}(params) function")
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return getattr(module, FOLDER_FACTORY)


def _distribution(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return f"distribution {dist.name}" if dist is not None else "distribution unknown"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
