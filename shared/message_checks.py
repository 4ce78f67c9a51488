"""The checks every bus message passes, built or decoded: types (with pydantic's few safe conversions) and
domain bounds, compiled once per message class into one plain function.

msgspec (the bus codec, see shared/messages.py) validates types when it decodes, but runs no check when a
message is built in code, and cannot bound a Decimal. Both paths call the struct's `__post_init__`, so that
is where the checks live: one definition of a message, one set of checks, whichever way it is made.
A failed check raises MessageError (a ValueError) naming the field; msgspec reports it from a decode as a
ValidationError with the path, which shared.messages.decode turns into a DecodeError with the reason.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NoReturn, get_args, get_origin, get_type_hints

import msgspec
from msgspec.structs import force_setattr


class MessageError(ValueError):
    """A message field outside its type or bounds; the text starts with the field's name."""


@dataclass(frozen=True)
class Bounds:
    """Inclusive (ge/le) or exclusive (gt/lt) limits of a Decimal field; a Decimal field is always finite."""

    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None
    lt: Decimal | None = None


@dataclass(frozen=True)
class OneOf:
    """A Decimal that must be one of a few values (the venue's tick sizes)."""

    values: frozenset[Decimal]
    what: str  # e.g. "tick size"
    whose: str  # e.g. "the venue's"


@dataclass(frozen=True)
class Length:
    """How many items a tuple field may hold."""

    min: int = 0
    max: int | None = None


class _Compiler:
    """Writes the source of one check function; `env` holds the objects the source refers to."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.env: dict[str, Any] = {
            "Decimal": Decimal,
            "MessageError": MessageError,
            "_set": force_setattr,
            "_decimal": _to_decimal,
            "_int": _to_int,
            "_float": _to_float,
            "_enum": _to_enum,
            "_struct": _to_struct,
            "_tuple": _to_tuple,
            "_dict": _to_dict,
            "_type_error": _type_error,
        }

    def ref(self, value: object) -> str:
        name = f"_c{len(self.env)}"
        self.env[name] = value
        return name

    def value(self, tp: Any, var: str, path: str, indent: str) -> list[str]:
        """Lines that check `var` against `tp`, rebinding it to a converted value where one is allowed."""
        metas: tuple[Any, ...] = ()
        if get_origin(tp) is Annotated:
            tp, *extra = get_args(tp)
            metas = tuple(extra)
        origin, args = get_origin(tp), get_args(tp)
        p = repr(path)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if len(inner) != 1 or len(args) != 2:
                raise TypeError(f"{self.owner}.{path}: only `X | None` unions are supported")
            return [f"{indent}if {var} is not None:", *self.value(inner[0], var, path, indent + "    ")]
        if tp is Decimal:
            lines = [
                f"{indent}if {var}.__class__ is not Decimal: {var} = _decimal({var}, {p})",
                f"{indent}if not {var}.is_finite(): raise MessageError({p} + ': Input should be a finite number')",
            ]
            return lines + [line for meta in metas for line in self._decimal_meta(meta, var, p, indent)]
        if tp is bool:
            return [f"{indent}if {var}.__class__ is not bool: _type_error({p}, 'a boolean', {var})"]
        if tp is int:
            return [f"{indent}if {var}.__class__ is not int: {var} = _int({var}, {p})"]
        if tp is float:
            return [f"{indent}if {var}.__class__ is not float: {var} = _float({var}, {p})"]
        if tp is str:
            return [f"{indent}if not isinstance({var}, str): _type_error({p}, 'a string', {var})"]
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return [
                f"{indent}if {var}.__class__ is not {self.ref(tp)}: {var} = _enum({self.ref(tp)}, {var}, {p})"
            ]
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            cls = self.ref(tp)
            return [f"{indent}if not isinstance({var}, {cls}): {var} = _struct({cls}, {var}, {p})"]
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            lines = [f"{indent}if {var}.__class__ is not tuple: {var} = _tuple({var}, {p})"]
            for meta in metas:
                if isinstance(meta, Length):
                    lines += self._length(meta, var, p, indent)
            each = self.element(args[0], path + ".item")
            return lines + [f"{indent}{var} = {each}({var})"]
        if origin is dict and args[0] is str:
            each = self.element(args[1], path + ".value", mapping=True)
            return [
                f"{indent}if {var}.__class__ is not dict: {var} = _dict({var}, {p})",
                f"{indent}{var} = {each}({var})",
            ]
        raise TypeError(f"{self.owner}.{path}: no check for type {tp!r}")

    def element(self, tp: Any, path: str, *, mapping: bool = False) -> str:
        """A function checking every item of a tuple or value of a dict; returns it, converted if need be."""
        body = self.value(tp, "item", path, "        ")
        if mapping:
            head = ["def _each(items):", "    out = None", "    for key, item in items.items():"]
            tail = [
                "            out = out or dict(items)",
                "            out[key] = item",
                "    return items if out is None else out",
            ]
        else:
            head = ["def _each(items):", "    out = None", "    for key, item in enumerate(items):"]
            tail = [
                "            out = out or list(items)",
                "            out[key] = item",
                "    return items if out is None else tuple(out)",
            ]
        source = "\n".join([*head, "        was = item", *body, "        if item is not was:", *tail])
        scope: dict[str, Any] = {}
        exec(source, self.env, scope)  # noqa: S102 - source built here from type hints, no outside text
        return self.ref(scope["_each"])

    def _decimal_meta(self, meta: object, var: str, p: str, indent: str) -> list[str]:
        if isinstance(meta, Bounds):
            checks = [("ge", ">=", "greater than or equal to"), ("gt", ">", "greater than"),
                      ("le", "<=", "less than or equal to"), ("lt", "<", "less than")]  # fmt: skip
            lines = []
            for attr, op, words in checks:
                limit = getattr(meta, attr)
                if limit is not None:
                    text = repr(f": Input should be {words} {limit}")
                    lines.append(
                        f"{indent}if not {var} {op} {self.ref(limit)}: raise MessageError({p} + {text})"
                    )
            return lines
        if isinstance(meta, OneOf):
            known = ", ".join(map(str, sorted(meta.values)))
            tail = repr(f" is not one of {meta.whose} ({known})")
            return [
                f"{indent}if {var} not in {self.ref(meta.values)}:",
                f"{indent}    raise MessageError({p} + ': ' + {meta.what!r} + ' ' + str({var}) + {tail})",
            ]
        return []

    def _length(self, meta: Length, var: str, p: str, indent: str) -> list[str]:
        lines = []
        if meta.min:
            text = repr(f": should have at least {meta.min} items")
            lines.append(f"{indent}if len({var}) < {meta.min}: raise MessageError({p} + {text})")
        if meta.max is not None:
            text = repr(f": should have at most {meta.max} items")
            lines.append(f"{indent}if len({var}) > {meta.max}: raise MessageError({p} + {text})")
        return lines


def compile_checks(cls: type[msgspec.Struct]) -> Callable[[Any], None]:
    """The check function of one struct class, from its fields' type hints and their Annotated limits."""
    hints = get_type_hints(cls, include_extras=True)  # each class's hints in its own module's names
    compiler = _Compiler(cls.__name__)
    lines = ["def check(self):"]
    for name in cls.__struct_fields__:
        lines += [f"    v = was = self.{name}", *compiler.value(hints[name], "v", name, "    ")]
        lines.append(f"    if v is not was: _set(self, {name!r}, v)")
    if len(lines) == 1:
        lines.append("    pass")
    scope: dict[str, Any] = {}
    exec("\n".join(lines), compiler.env, scope)  # noqa: S102 - source built here from type hints
    check: Callable[[Any], None] = scope["check"]
    return check


# ---- the conversions pydantic made, kept so that code building messages behaves as before -------------


def _type_error(path: str, expected: str, value: object) -> NoReturn:
    raise MessageError(f"{path}: Input should be {expected}, not {type(value).__name__}")


def _to_decimal(value: object, path: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise MessageError(f"{path}: Input should be a valid decimal, not {value!r:.40}") from None
    if isinstance(value, float):
        return Decimal(str(value))
    return _type_error(path, "a decimal", value)


def _to_int(value: object, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | Decimal) and not math.isnan(value) and int(value) == value:
        return int(value)
    return _type_error(path, "an integer", value)


def _to_float(value: object, path: str) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    return _type_error(path, "a number", value)


def _to_enum(enum_type: type[enum.Enum], value: object, path: str) -> enum.Enum:
    try:
        return enum_type(value)
    except ValueError:
        known = ", ".join(repr(member.value) for member in enum_type)
        raise MessageError(f"{path}: Input should be one of {known}, not {value!r:.40}") from None


def _to_struct(struct_type: type[msgspec.Struct], value: object, path: str) -> msgspec.Struct:
    if isinstance(value, dict):
        try:
            return msgspec.convert(value, struct_type)
        except msgspec.ValidationError as error:
            raise MessageError(f"{path}: {error}") from None
    return _type_error(path, struct_type.__name__, value)


def _to_tuple(value: object, path: str) -> tuple[Any, ...]:
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return tuple(value)
    return _type_error(path, "a sequence", value)


def _to_dict(value: object, path: str) -> dict[Any, Any]:
    if isinstance(value, dict):
        return dict(value)
    return _type_error(path, "a mapping", value)


@typing.dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(msgspec.field,))
class CheckedMeta(msgspec.StructMeta):
    """Makes every bus struct frozen, keyword-only and strict about unknown fields, and gives it its checks."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any) -> Any:
        options.setdefault("kw_only", True)
        options.setdefault("frozen", True)
        cls: Any = super().__new__(mcls, name, bases, namespace, **options)
        cls._check = compile_checks(cls)  # called by the struct's __post_init__
        return cls
