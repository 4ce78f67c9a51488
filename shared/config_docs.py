"""What each setting is, read from the settings classes themselves: type, default, unit and meaning.

`polydesk config --describe` and the generated `.env.example` both come from `setting_docs()`, so the
description written beside a field is the only place its meaning is written. Only class definitions are read,
never the environment: a secret's value cannot appear here.
"""

from __future__ import annotations

import importlib
import json
import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from shared.config import ENV_PREFIX, SETTINGS_CLASSES

# The unit a setting's name ends with (longest suffix first). Mappings are data.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_bps_per_share", "basis points per share"),
    ("_secs", "seconds"),
    ("_ms", "milliseconds"),
    ("_usd", "USD"),
    ("_bps", "basis points (100 = 1 cent a share)"),
    ("_days", "days"),
    ("_ticks", "ticks"),
    ("_price", "USD a share (0-1)"),
    ("_port", "TCP port"),
)

_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "<="),
)
_CHOICES = re.compile(r"^\^\(([A-Za-z0-9_|]+)\)\$$")


@dataclass(frozen=True)
class SettingDoc:
    """One setting as a person reads it. `env_default` is the default as it would be written in `.env`."""

    layer: str
    name: str  # the field name
    env_name: str  # POLYDESK_<NAME>
    type_text: str
    default_text: str
    env_default: str
    unit: str
    meaning: str
    secret: bool


def layer_of(target: str) -> str:
    """The layer a SETTINGS_CLASSES entry belongs to: shared, ingest, strategy, risk, executor, polydesk."""
    module_name = target.split(":")[0]
    parts = module_name.split(".")
    return parts[-2] if len(parts) > 2 else parts[0]


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    """(layer, class) for every settings class that can be imported, in SETTINGS_CLASSES order."""
    out = []
    for target in SETTINGS_CLASSES:
        module_name, class_name = target.split(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue  # a layer not built yet declares nothing
        out.append((layer_of(target), cls))
    return out


def setting_docs() -> list[SettingDoc]:
    """Every setting, grouped by the layer that declares it (a field a layer inherits unchanged is listed once,
    under the class that declares it; one redeclared with its own default or meaning is listed again)."""
    docs: list[SettingDoc] = []
    seen: dict[str, FieldInfo] = {}
    for layer, cls in settings_classes():
        secrets = set(getattr(cls, "SECRET_FIELDS", ()))
        for name, field in cls.model_fields.items():
            if seen.get(name) is field or _same_field(seen.get(name), field):
                continue
            seen[name] = field
            docs.append(_doc(layer, name, field, secret=name in secrets or _holds(field, SecretStr)))
    return docs


def _same_field(earlier: FieldInfo | None, field: FieldInfo) -> bool:
    if earlier is None:
        return False
    return earlier.description == field.description and repr(earlier.default) == repr(field.default)


def _doc(layer: str, name: str, field: FieldInfo, *, secret: bool) -> SettingDoc:
    env_name = ENV_PREFIX + name.upper()
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    type_text = _type_text(field)
    if secret:
        type_text = f"secret (or {env_name}_FILE: a file holding it)"
    env_default = "" if secret else _env_value(field)
    default_text = str(extra.get("default_text") or env_default or _nothing(field))
    if secret and field.default is not None:
        default_text = "secret"
    unit = str(extra.get("unit") or _unit(name))
    return SettingDoc(
        layer=layer,
        name=name,
        env_name=env_name,
        type_text=type_text,
        default_text=default_text,
        env_default=env_default if "default_text" not in extra else "",
        unit=unit,
        meaning=(field.description or "").strip(),
        secret=secret,
    )


def _nothing(field: FieldInfo) -> str:
    return "empty" if field.default == () or field.default_factory is not None else "unset"


def _unit(name: str) -> str:
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def _holds(field: FieldInfo, kind: type) -> bool:
    return kind in _members(field.annotation)


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _type_text(field: FieldInfo) -> str:
    members = _members(field.annotation)
    optional = type(None) in typing.get_args(field.annotation)
    text = " or ".join(_one_type(m, field) for m in members)
    bounds = [
        f"{symbol} {getattr(meta, attr)}"
        for meta in field.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(meta, kind)
    ]
    if bounds:
        text += " " + ", ".join(bounds)
    return text + (", optional" if optional else "")


def _one_type(annotation: Any, field: FieldInfo) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + "|".join(str(a) for a in typing.get_args(annotation))
    if origin is tuple or annotation is tuple:
        return "list (comma-separated or JSON array)"
    if origin is dict or annotation is dict:
        return "JSON object"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + "|".join(
            f"{m.value} {m.name}" if isinstance(m.value, int) else str(m.value) for m in annotation
        )
    if annotation is str:
        pattern = next(
            (getattr(m, "pattern", None) for m in field.metadata if getattr(m, "pattern", None)), None
        )
        if pattern:
            choices = _CHOICES.match(pattern)
            return "one of " + choices.group(1) if choices else f"text matching {pattern}"
        return "text"
    names = {bool: "true|false", int: "integer", float: "number", Decimal: "decimal", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _env_value(field: FieldInfo) -> str:
    """The default as `.env` would spell it ('' for none)."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
