"""One way to check structured values: recipes, server settings, reader options and model metadata are pydantic
models, and a value they refuse becomes one line naming the key and what it accepts.

Strict throughout: a bool is not an int, "3" is not a number (numbers written as text that Python reads as a float,
such as YAML 1.1's `1e-3`, are taken as floats where a float is expected), and an unknown key is an error.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo


class Checked(BaseModel):
    """A record whose every field is checked on creation and on assignment; unknown keys are refused. A value
    refused on creation is a ValueError of one line that starts with the record's name (see one_line)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ValueError(one_line(error, type(self), type(self).__name__)) from error


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


def _item(annotation: object) -> tuple[object, list]:
    """(item type, its constraints) of a list field."""
    (item,) = typing.get_args(annotation)
    if typing.get_origin(item) is Annotated:
        base, *extras = typing.get_args(item)
        constraints = [c for extra in extras for c in (extra.metadata if isinstance(extra, FieldInfo) else [extra])]
        return base, constraints
    return item, []


def _allowed(constraints: list) -> str:
    words = [f"{BOUND_WORDS[type(c)][1]} {getattr(c, BOUND_WORDS[type(c)][0])}" for c in constraints
             if type(c) in BOUND_WORDS]
    return " and ".join(words)


def one_line(error: ValidationError, model: type[BaseModel], origin: str, prefix: str = "") -> str:
    """The first problem of `error` as one line: "{origin}: {prefix}{key} ..." naming what the field accepts."""
    problem = error.errors()[0]
    name = str(problem["loc"][0]) if problem["loc"] else ""
    key, value, kind = f"{prefix}{name}", problem.get("input"), problem["type"]
    field = model.model_fields.get(name)
    if kind == "extra_forbidden":
        return f"{origin}: unknown key {key!r}; allowed keys: {', '.join(model.model_fields)}"
    if field is None:
        return f"{origin}: {problem['msg']}"
    annotation = field.annotation
    if kind == "missing":
        return f"{origin}: {key} is missing"
    if (choices := choices_of(annotation)) is not None:
        return f"{origin}: {key} is {value!r}; allowed values: {', '.join(map(str, choices))}"
    if typing.get_origin(annotation) is list:
        item, constraints = _item(annotation)
        if kind in ("too_short", "too_long") or len(problem["loc"]) > 1 and not _allowed(constraints):
            size = next((c.min_length for c in field.metadata if isinstance(c, annotated_types.MinLen)), None)
            items = f"{size} {type_name(item)}" if size else type_name(item)
            return f"{origin}: {key} expects a list of {items} values, got {value!r}"
        if len(problem["loc"]) > 1:
            return f"{origin}: {key} is {value!r}; allowed: {_allowed(constraints)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{origin}: {key} is {value!r}; allowed: {_allowed(field.metadata)}"
    return f"{origin}: {key} expects {type_name(annotation)}, got {value!r} ({type(value).__name__})"
