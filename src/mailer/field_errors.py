"""Turn pydantic's validation errors into messages a comms officer can act on."""

from __future__ import annotations

import difflib
import types
import typing
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:  # the type of ValidationError.errors(), from the core pydantic is built on
    from pydantic_core import ErrorDetails

FieldPath = tuple[str | int, ...]

_MISSING_HINTS = {
    "alt": "missing alt text (write alt: \"\" if the image is only decorative)",
}


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> list[tuple[FieldPath, str]]:
    """One (field path, plain message) per error, most useful first."""
    described = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        described.append((loc, _message(error, loc, model)))
    # An unknown key is the likeliest root cause (a typo), so it goes first.
    described.sort(key=lambda pair: 0 if pair[1].startswith("unknown field") else 1)
    return described


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _message(error: ErrorDetails, loc: FieldPath, model: type[BaseModel]) -> str:
    kind = error["type"]
    field = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        known = _known_fields(model, loc[:-1])
        guess = difflib.get_close_matches(str(field), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        if not guess and known:
            hint = f" (expected one of: {', '.join(sorted(known))})"
        return f"unknown field '{field}'{hint}"
    if kind == "missing":
        return _MISSING_HINTS.get(str(field), f"missing required field '{field}'")
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        return f"{message} (got {error['input']!r})"
    return message[0].lower() + message[1:] if message else kind


def _known_fields(model: type[BaseModel], loc: FieldPath) -> list[str]:
    """The field names allowed at ``loc`` inside ``model``."""
    current: typing.Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        if typing.get_origin(current) is dict:  # a table of tables, such as [footer.tr]
            current = typing.get_args(current)[1]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = field.annotation
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: typing.Any) -> typing.Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
