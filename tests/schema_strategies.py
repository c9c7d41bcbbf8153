"""Hypothesis strategies that draw JSON values from a JSON Schema, and near misses of them.

hypothesis-jsonschema is the ready tool for this, but its released versions do not run on the
Hypothesis this project uses, so the tests carry this small generator: it reads the keywords
the two published schemas use and draws values that are mostly instances. Nothing here decides
validity: the tests ask a reference validator (jsonschema) and refmodel's reader, and compare.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=8),
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                   max_size=3),
    max_leaves=6,
)


class SchemaStrategies:
    """Strategies for one schema document (local ``$ref`` s resolved against it)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def _resolve(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def values(self, schema: Any = None, depth: int = 0) -> st.SearchStrategy[Any]:
        """Values drawn from ``schema`` (default: the whole document)."""
        return st.deferred(lambda: self._values(self.document if schema is None else schema,
                                                depth))

    def _values(self, schema: Any, depth: int) -> st.SearchStrategy[Any]:
        if schema is True or schema == {}:
            return ANY_JSON
        if schema is False:
            return st.nothing()
        if "$ref" in schema:
            merged = {**self._resolve(schema["$ref"]), **{k: v for k, v in schema.items()
                                                           if k != "$ref"}}
            return self._values(merged, depth)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("oneOf", "anyOf"):
            if key in schema:
                base = {k: v for k, v in schema.items() if k != key}
                return st.one_of([self._values({**base, **branch}, depth)
                                  for branch in schema[key]])
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
        if isinstance(kind, list):
            return st.one_of([self._values({**schema, "type": k}, depth) for k in kind])
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            items = schema.get("items", True)
            low = schema.get("minItems", 0)
            return st.lists(self.values(items, depth + 1), min_size=low,
                            max_size=max(low, 3 if depth < 3 else 1),
                            unique_by=(lambda v: repr(v)) if schema.get("uniqueItems") else None)
        if kind == "string":
            if "pattern" in schema:
                return st.from_regex(schema["pattern"], fullmatch=True).filter(
                    lambda s: len(s) < 20)
            return st.text(alphabet="abcp_/0123", max_size=6)
        if kind == "integer":
            low = schema.get("minimum", schema.get("exclusiveMinimum", -1001) + 1)
            high = schema.get("maximum", schema.get("exclusiveMaximum", 10**6) - 1)
            return st.integers(low, high)
        if kind == "number":
            if "exclusiveMinimum" in schema:
                low = schema["exclusiveMinimum"] + 1
            else:
                low = schema.get("minimum", 0)
            return st.integers(int(low), int(low) + 5) | st.floats(low + 0.5, low + 5)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return ANY_JSON

    def _object(self, schema: Any, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {key: self.values(sub, depth + 1) for key, sub in properties.items()
                 if key in required}
        optional = {key: self.values(sub, depth + 1) for key, sub in properties.items()
                    if key not in required}
        extra = schema.get("additionalProperties", True)
        strategy = st.fixed_dictionaries(fixed, optional=optional)
        if extra is not False and extra is not True and depth < 3:
            names = schema.get("propertyNames", {})
            keys = (st.from_regex(names["pattern"], fullmatch=True).filter(lambda s: len(s) < 8)
                    if "pattern" in names else st.sampled_from(["a", "b", "f", "g", "p", "q"]))
            more = st.dictionaries(keys, self.values(extra, depth + 1), min_size=1, max_size=2)
            strategy = st.tuples(strategy, more).map(lambda pair: {**pair[1], **pair[0]})
        return strategy


@st.composite
def near_miss(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing changed somewhere inside it: a field dropped, a value
    replaced by any JSON value, a field added, or an item removed."""
    def mutate(node: Any, depth: int) -> Any:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            how = draw(st.sampled_from(["drop", "replace", "add", "descend"] if depth < 6
                                       else ["drop", "replace", "add"]))
            out = dict(node)
            if how == "drop":
                del out[key]
            elif how == "replace":
                out[key] = draw(ANY_JSON)
            elif how == "add":
                out[draw(st.sampled_from(["extra", "x", "_ref", key + "s"]))] = draw(ANY_JSON)
            else:
                out[key] = mutate(node[key], depth + 1)
            return out
        if isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            how = draw(st.sampled_from(["remove", "replace", "descend"]))
            out_list = list(node)
            if how == "remove":
                del out_list[i]
            elif how == "replace":
                out_list[i] = draw(ANY_JSON)
            else:
                out_list[i] = mutate(node[i], depth + 1)
            return out_list
        return draw(ANY_JSON)

    return mutate(value, 0)
