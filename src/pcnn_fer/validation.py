"""One way to check structured values: recipes, server settings, reader options and model metadata are pydantic
models, and a value they refuse becomes one line naming the key and what it accepts.

Strict throughout: a bool is not an int, "3" is not a number (numbers written as text that Python reads as a float,
such as YAML 1.1's `1e-3`, are taken as floats where a float is expected), and an unknown key is an error.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, ClassVar, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo


class Checked(BaseModel):
    """A record whose every field is checked on creation and on assignment; unknown keys are refused. A value
    refused on creation is a ValueError of one line that starts with the record's name (see one_line)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)
    what: ClassVar[str] = ""  # how messages name the record (default: its class name)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ValueError(one_line(error, type(self), type(self).what or type(self).__name__)) from error


def _as_float(value: object) -> object:
    """`value` as a float when it is text Python reads as one (YAML 1.1 leaves `5e-4` a string)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Float = Annotated[float, BeforeValidator(_as_float)]
"""A float field: ints and float-spelling text taken, bools refused."""

BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
BOUND_WORDS = {annotated_types.Ge: ("ge", "at least"), annotated_types.Gt: ("gt", "more than"),
               annotated_types.Le: ("le", "at most"), annotated_types.Lt: ("lt", "less than")}


def choices_of(annotation: object) -> tuple[str, ...] | None:
    """The allowed values of a Literal field, else None."""
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else None


def type_name(annotation: object) -> str:
    """What a message says a field expects: int, float, str, bool, list, dict."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        names = [type_name(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return " or ".join(names)
    return getattr(origin, "__name__", str(origin))


def _unwrap(item: object) -> tuple[object, list]:
    """(base type, its constraints) of an item annotation."""
    if typing.get_origin(item) is Annotated:
        base, *extras = typing.get_args(item)
        constraints = [c for extra in extras for c in (extra.metadata if isinstance(extra, FieldInfo) else [extra])]
        return base, constraints
    return item, []


def _sequence(field: FieldInfo, index: object) -> tuple[str, object, list]:
    """(what a list or tuple field holds, as words; the type of item `index`; that item's constraints)."""
    annotation = field.annotation
    args = typing.get_args(annotation)
    fixed = typing.get_origin(annotation) is tuple and args and args[-1] is not Ellipsis
    if fixed:
        item = args[index] if isinstance(index, int) and index < len(args) else args[0]
        base, constraints = _unwrap(item)
        return f"a {typing.get_origin(annotation).__name__} of {len(args)} {type_name(base)} values", base, constraints
    base, constraints = _unwrap(args[0])
    lengths = {type(c): c for c in field.metadata if isinstance(c, annotated_types.MinLen | annotated_types.MaxLen)}
    least, most = lengths.get(annotated_types.MinLen), lengths.get(annotated_types.MaxLen)
    if least and most and least.min_length == most.max_length:
        size = f"{least.min_length} "
    elif least:
        size = f"at least {least.min_length} "
    else:
        size = ""
    return f"a {typing.get_origin(annotation).__name__} of {size}{type_name(base)} values", base, constraints


def _allowed(constraints: list) -> str:
    words = [f"{BOUND_WORDS[type(c)][1]} {getattr(c, BOUND_WORDS[type(c)][0])}" for c in constraints
             if type(c) in BOUND_WORDS]
    return " and ".join(words)


def _nested_model(annotation: object) -> type[BaseModel] | None:
    """The record type a field holds (itself, or inside `X | None`), else None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _locate(model: type[BaseModel], loc: tuple) -> tuple[type[BaseModel], str, tuple]:
    """(the record holding the field at fault, its dotted key, what is left of `loc`: list indices)."""
    names: list[str] = []
    while loc and isinstance(loc[0], str):
        names.append(loc[0])
        field = model.model_fields.get(loc[0])
        inner = _nested_model(field.annotation) if field is not None else None
        if inner is None or len(loc) == 1 or not isinstance(loc[1], str):
            break
        model, loc = inner, loc[1:]
    return model, ".".join(names), loc[1:]


def one_line(error: ValidationError, model: type[BaseModel], origin: str, prefix: str = "") -> str:
    """The first problem of `error` as one line: "{origin}: {prefix}{key} ..." naming what the field accepts."""
    problem = error.errors()[0]
    model, dotted, rest = _locate(model, tuple(problem["loc"]))
    name = dotted.rsplit(".", 1)[-1]
    key, value, kind = f"{prefix}{dotted}", problem.get("input"), problem["type"]
    field = model.model_fields.get(name)
    if kind == "value_error" and isinstance(problem.get("ctx", {}).get("error"), ValueError):
        inner = str(problem["ctx"]["error"])  # a section's own one line: "Section: key ..." -> "section.key ..."
        head, sep, rest = inner.partition(": ")
        if not key:  # the record as a whole
            return f"{origin}: {inner}"
        return f"{origin}: {key}.{rest}" if sep and " " not in head else f"{origin}: {key}: {inner}"
    if kind == "extra_forbidden":
        return f"{origin}: unknown key {key!r}; allowed keys: {', '.join(model.model_fields)}"
    if field is None:
        return f"{origin}: {problem['msg']}"
    annotation = field.annotation
    if kind == "missing" and not rest:
        return f"{origin}: {key} is missing"
    if (choices := choices_of(annotation)) is not None:
        return f"{origin}: {key} is {value!r}; allowed values: {', '.join(map(str, choices))}"
    if typing.get_origin(annotation) in (list, tuple):
        holds, _, constraints = _sequence(field, rest[0] if rest else None)
        if rest and kind in BOUND_ERRORS:
            return f"{origin}: {key} is {value!r}; allowed: {_allowed(constraints)}"
        return f"{origin}: {key} expects {holds}, got {value!r}"
    if kind in BOUND_ERRORS:
        return f"{origin}: {key} is {value!r}; allowed: {_allowed(field.metadata)}"
    return f"{origin}: {key} expects {type_name(annotation)}, got {value!r} ({type(value).__name__})"
