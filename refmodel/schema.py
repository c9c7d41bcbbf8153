"""The published JSON Schemas as the one source of truth for input shapes (rule ERR-2).

Theory of operation. ``specs/scenario.schema.json`` and ``specs/trace.schema.json`` say what a
scenario and a trace line are, for every implementation. refmodel reads its inputs against
those same files, so that the loader accepts exactly what the schema accepts (a property test
compares them with a reference validator on generated instances and near misses). The files
ship inside the package as ``refmodel/schemas/`` (links to ``specs/``, so there is one copy in
the repository).

Only the keywords the two schemas use are interpreted, each as JSON Schema draft 2020-12 says:
``type``, ``const``, ``enum``, ``properties``, ``required``, ``additionalProperties``,
``propertyNames``, ``pattern``, ``items``, ``minItems``, ``uniqueItems``, ``minimum``,
``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``allOf``, ``anyOf``, ``oneOf``,
``not``, ``if``/``then``/``else`` and local ``$ref``. Any other keyword in a schema is refused
when the schema is loaded, so a schema edit can never be silently half-read. A dependency
(jsonschema) would do the same work, but refmodel's core stays attrs and Hypothesis.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from refmodel.values import short

_ANNOTATIONS = frozenset(
    ("$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs")
)
_KEYWORDS = frozenset(
    ("type", "const", "enum", "properties", "required", "additionalProperties", "propertyNames",
     "pattern", "items", "minItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref")
)


class SchemaError(Exception):
    """A schema uses a keyword this reader does not interpret (a bug of refmodel's files)."""


def _is_type(value: Any, name: str) -> bool:
    kind = type(value)
    if name == "object":
        return kind is dict
    if name == "array":
        return kind is list
    if name == "string":
        return kind is str
    if name == "boolean":
        return kind is bool
    if name == "null":
        return value is None
    if name == "integer":
        return kind is int or (kind is float and math.isfinite(value) and value.is_integer())
    if name == "number":
        return kind is int or kind is float
    raise SchemaError(f"unknown type {name!r}")


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema counts it: ``1 == 1.0``, but ``true`` is not ``1``."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _where(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else (
        f"{path}[{json.dumps(key)}]")


class Validator:
    """Checks JSON values against one schema document.

    Args:
        document: the schema (a decoded JSON object).

    Raises:
        SchemaError: the document uses a keyword this reader does not interpret.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._patterns: dict[str, re.Pattern[str]] = {}
        for schema in self._subschemas(document):
            unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
            if unknown:
                raise SchemaError(f"schema keywords not interpreted: {sorted(unknown)}")

    def _subschemas(self, schema: Any) -> Iterator[dict[str, Any]]:
        if type(schema) is not dict:
            return
        yield schema
        for key in ("additionalProperties", "propertyNames", "items", "not", "if", "then",
                    "else"):
            if key in schema:
                yield from self._subschemas(schema[key])
        for key in ("properties", "$defs"):
            for sub in schema.get(key, {}).values():
                yield from self._subschemas(sub)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                yield from self._subschemas(sub)

    def first_error(self, value: Any, where: str) -> str | None:
        """The first problem of ``value``, as ``"<path>: <what>"``, or ``None`` if valid.

        The order is deterministic: keywords in a fixed order, properties in the schema's
        order, then the value's own keys and items in their order.
        """
        try:
            return self._check(self.document, value, where)
        except RecursionError:
            return f"{where}: nested too deeply to read"

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` is an instance of the schema."""
        return self.first_error(value, "$") is None

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SchemaError(f"only local $refs are read, got {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def _pattern(self, text: str) -> re.Pattern[str]:
        found = self._patterns.get(text)
        if found is None:
            found = self._patterns[text] = re.compile(text)
        return found

    def _check(self, schema: Any, value: Any, path: str) -> str | None:
        if schema is True:
            return None
        if schema is False:
            return f"{path}: not allowed here"
        if "$ref" in schema:
            problem = self._check(self._resolve(schema["$ref"]), value, path)
            if problem:
                return problem
        if "type" in schema:
            types = schema["type"] if type(schema["type"]) is list else [schema["type"]]
            if not any(_is_type(value, name) for name in types):
                return f"{path}: expected {' or '.join(types)}, got {_show(value)}"
        if "const" in schema and not json_equal(value, schema["const"]):
            return f"{path}: expected {_show(schema['const'])}, got {_show(value)}"
        if "enum" in schema and not any(json_equal(value, v) for v in schema["enum"]):
            return f"{path}: expected one of {_show(schema['enum'])}, got {_show(value)}"
        if type(value) is dict:
            problem = self._check_object(schema, value, path)
            if problem:
                return problem
        elif type(value) is list:
            problem = self._check_array(schema, value, path)
            if problem:
                return problem
        elif type(value) is str:
            if "pattern" in schema and not self._pattern(schema["pattern"]).search(value):
                return f"{path}: {_show(value)} does not match {schema['pattern']}"
        elif type(value) in (int, float):
            problem = _check_number(schema, value, path)
            if problem:
                return problem
        for sub in schema.get("allOf", ()):
            problem = self._check(sub, value, path)
            if problem:
                return problem
        if "anyOf" in schema and not any(
            self._check(sub, value, path) is None for sub in schema["anyOf"]
        ):
            return self._closest(schema["anyOf"], value, path, "none of the allowed forms")
        if "oneOf" in schema:
            matching = sum(self._check(sub, value, path) is None for sub in schema["oneOf"])
            if matching == 0:
                return self._closest(schema["oneOf"], value, path, "none of the allowed forms")
            if matching > 1:
                return f"{path}: matches more than one of the allowed forms"
        if "not" in schema and self._check(schema["not"], value, path) is None:
            return f"{path}: {_show(value)} is a form that is not allowed here"
        if "if" in schema:
            branch = "then" if self._check(schema["if"], value, path) is None else "else"
            if branch in schema:
                problem = self._check(schema[branch], value, path)
                if problem:
                    return problem
        return None

    def _closest(self, choices: list[Any], value: Any, path: str, fallback: str) -> str:
        """The problem of the alternative that got furthest (the longest path), so that a
        message names the field that is wrong rather than only "no form matched"."""
        problems = [p for p in (self._check(sub, value, path) for sub in choices) if p]
        deepest = max(problems, key=lambda p: len(p.split(":", 1)[0]), default=None)
        if deepest is not None and len(deepest.split(":", 1)[0]) > len(path):
            return deepest
        return f"{path}: {fallback} ({deepest.split(': ', 1)[1] if deepest else 'no match'})"

    def _check_object(self, schema: Any, value: dict[str, Any], path: str) -> str | None:
        for key in schema.get("required", ()):
            if key not in value:
                return f"{path}: missing required field {key!r}"
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            if key in value:
                problem = self._check(sub, value[key], _where(path, key))
                if problem:
                    return problem
        names = schema.get("propertyNames")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if names is not None:
                problem = self._check(names, key, _where(path, key))
                if problem:
                    return f"{_where(path, key)}: the name {_show(key)} is not allowed"
            if key in properties:
                continue
            if extra is False:
                return (f"{_where(path, key)}: unknown field; allowed are "
                        f"{sorted(properties)}")
            problem = self._check(extra, item, _where(path, key))
            if problem:
                return problem
        return None

    def _check_array(self, schema: Any, value: list[Any], path: str) -> str | None:
        if len(value) < schema.get("minItems", 0):
            return f"{path}: expected at least {schema['minItems']} items, got {len(value)}"
        if schema.get("uniqueItems"):
            for i, item in enumerate(value):
                if any(json_equal(item, other) for other in value[:i]):
                    return f"{_where(path, i)}: repeats an earlier item"
        items = schema.get("items")
        if items is not None:
            for i, item in enumerate(value):
                problem = self._check(items, item, _where(path, i))
                if problem:
                    return problem
        return None


def _check_number(schema: Any, value: float, path: str) -> str | None:
    checks: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
        ("minimum", lambda v, b: v >= b, ">="),
        ("maximum", lambda v, b: v <= b, "<="),
        ("exclusiveMinimum", lambda v, b: v > b, ">"),
        ("exclusiveMaximum", lambda v, b: v < b, "<"),
    )
    for keyword, holds, sign in checks:
        if keyword in schema and not holds(value, schema[keyword]):
            return f"{path}: expected {sign} {schema[keyword]}, got {_show(value)}"
    return None


def _show(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        return short(value)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def validator(name: str) -> Validator:
    """The validator of a published schema: ``"scenario"`` or ``"trace"``."""
    if name not in ("scenario", "trace"):
        raise ValueError(f"no schema named {name!r}: scenario or trace")
    text = resources.files("refmodel").joinpath("schemas", f"{name}.schema.json").read_text(
        encoding="utf-8"
    )
    document: dict[str, Any] = json.loads(text)
    return Validator(document)
