"""Turn pydantic validation errors into TOML key paths and messages that say how to fix them.

Pydantic reports ``loc`` tuples and generic texts ("Input should be 'defer' or
'strip'"); users wrote TOML. This module maps each error to the key path as
written and a message in the user's terms: did-you-mean for unknown keys and
choices, "expected an integer, got the string "182"" for wrong types. It finds
the allowed keys and choices by walking the model's annotations, so the messages
follow the model without a second list to keep in sync. Must not depend on aiohttp,
mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from proxy.policy.problems import did_you_mean
from proxy.policy.tomlpaths import KeyPath

__all__ = ["Findings", "describe_value", "explain", "node_type"]

# What to call a choice field in "... is not a <noun>".
_NOUNS = {
    "alg": "key algorithm",
    "allow": "vendor setting",
    "csp": "CSP setting",
    "access_log": "log format",
    "google_consent_mode": "Google consent mode",
}

_TYPES = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def describe_value(value: object) -> str:
    """A TOML value as a user would name it: 'the string "x"', 'the integer 3', 'a table'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # dates and times


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def node_type(root: type[BaseModel], path: KeyPath) -> Any:
    """The (unwrapped) type expected at ``path`` under ``root``, or None if the path leaves the model."""
    annotation: Any = root
    for part in path:
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif origin is list:
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return _unwrap(annotation)


def _quote(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else describe_value(value)


def explain(error: ErrorDetails, root: type[BaseModel]) -> tuple[KeyPath, str]:
    """The key path (relative to ``root``'s table) and the message for one pydantic error."""
    loc: KeyPath = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        # A dict key failed (e.g. a language code): report it at the key itself.
        loc = loc[:-1]
        value = loc[-1] if loc else value
    if kind == "extra_forbidden":
        parent = node_type(root, loc[:-1])
        known = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        key = str(loc[-1])
        if key == "aliases" and "upstream" in known:
            return loc, "aliases belong in a site's own table, not in [defaults]"
        hint = did_you_mean(key, known) or (f"; known keys: {', '.join(known)}" if known else "")
        return loc, f'unknown key "{key}"{hint}'
    if kind == "literal_error":
        expected = node_type(root, loc)
        choices = [str(c) for c in get_args(expected)] if get_origin(expected) is Literal else []
        field = str(next((p for p in reversed(loc) if isinstance(p, str)), "value"))
        noun = _NOUNS.get(field, field.replace("_", " "))
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        if not hint and choices:
            hint = "; use " + " or ".join(f'"{c}"' for c in choices)
        return loc, f"{_quote(value)} is not a {noun}{hint}"
    if kind == "missing":
        return loc, "missing; this key is required"
    if kind in _TYPES:
        return loc, f"expected {_TYPES[kind]}, got {describe_value(value)}"
    if kind == "greater_than":
        return loc, f"must be greater than {ctx.get('gt')}, got {_quote(value)}"
    if kind == "greater_than_equal":
        return loc, f"must be at least {ctx.get('ge')}, got {_quote(value)}"
    if kind == "less_than_equal":
        return loc, f"must be at most {ctx.get('le')}, got {_quote(value)}"
    if kind in ("string_too_short", "too_short"):
        return loc, "must not be empty"
    if kind == "value_error":
        return loc, str(error["msg"]).removeprefix("Value error, ")
    return loc, str(error["msg"])


class Findings:
    """Problems found so far as (key path, message) pairs; the loader locates and formats them at the end."""

    def __init__(self) -> None:
        self.found: list[tuple[KeyPath, str]] = []

    def add(self, path: KeyPath, message: str) -> None:
        # The same [defaults] problem is met once per inheriting site; report it once.
        if (path, message) not in self.found:
            self.found.append((path, message))

    def add_validation(self, error: ValidationError, root: type[BaseModel], prefix: KeyPath) -> None:
        for detail in error.errors():
            path, message = explain(detail, root)
            self.add(prefix + path, message)
