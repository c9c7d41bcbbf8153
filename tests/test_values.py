"""JSON-like values and the scalar checks every entry point uses (:mod:`refmodel.values`)."""

from __future__ import annotations

import collections
import enum
import math
from typing import Any

import pytest

from refmodel.errors import InvalidArgument, InvalidType, RefmodelError
from refmodel.values import (
    article,
    check_args,
    check_int,
    check_name,
    check_positive_ms,
    check_time,
    copy_json,
    fresh,
    parse_number,
)
from tests.spec import checks

# copy_json -----------------------------------------------------------------------------------


@checks("ENQ-2")
@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**63 - 1, -(2**63), 1.5, -0.0, "",
                                   "héllo ✓"])
def test_copy_json_returns_scalars_as_they_are(value: Any) -> None:
    assert copy_json(value, "args") is value


@checks("ENQ-2")
def test_copy_json_copies_a_flat_object() -> None:
    original = {"a": 1, "b": "x", "c": None, "d": True}
    copied = copy_json(original, "args")
    assert copied == original
    assert copied is not original
    original["a"] = 2
    assert copied["a"] == 1


@checks("ENQ-2")
def test_copy_json_copies_nested_values_deeply() -> None:
    original: dict[str, Any] = {"list": [1, {"inner": [2, 3]}], "obj": {"k": [4.5]}}
    copied = copy_json(original, "args")
    assert copied == original
    assert copied["list"] is not original["list"]
    assert copied["list"][1] is not original["list"][1]
    assert copied["list"][1]["inner"] is not original["list"][1]["inner"]
    assert copied["obj"]["k"] is not original["obj"]["k"]
    original["list"][1]["inner"].append(99)
    original["obj"]["k"][0] = 0.0
    assert copied == {"list": [1, {"inner": [2, 3]}], "obj": {"k": [4.5]}}


@checks("ENQ-2")
def test_copy_json_stores_tuples_as_lists() -> None:
    assert copy_json({"t": (1, (2, "x"))}, "args") == {"t": [1, [2, "x"]]}
    assert copy_json((1, 2), "value") == [1, 2]


@checks("ENQ-2")
def test_copy_json_keeps_key_order() -> None:
    assert list(copy_json({"z": [1], "a": 2, "m": 3}, "args")) == ["z", "a", "m"]


class Colour(enum.IntEnum):
    RED = 1


@checks("ENQ-2", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"x": set()},
            "args['x'] must be JSON-like (None, bool, int, float, str, list, dict): got set set()",
        ),
        (
            {"x": {"y": b"z"}},
            "args['x']['y'] must be JSON-like (None, bool, int, float, str, list, dict): "
            "got bytes b'z'",
        ),
        (
            {"x": [1, 2, frozenset()]},
            "args['x'][2] must be JSON-like (None, bool, int, float, str, list, dict): "
            "got frozenset frozenset()",
        ),
        ({"x": math.nan}, "args['x'] must be JSON-like: got nan, which is not finite"),
        ({"x": [math.inf]}, "args['x'][0] must be JSON-like: got inf, which is not finite"),
        ({"x": -math.inf}, "args['x'] must be JSON-like: got -inf, which is not finite"),
        ({1: 2}, "args must be JSON-like: object keys must be str, got 1 (int)"),
        (
            {"a": {None: 2}},
            "args['a'] must be JSON-like: object keys must be str, got None (NoneType)",
        ),
        (
            {"c": Colour.RED},
            "args['c'] must be JSON-like (None, bool, int, float, str, list, dict): "
            "got Colour <Colour.RED: 1>",
        ),
        (
            collections.OrderedDict(a=1),
            "args must be JSON-like (None, bool, int, float, str, list, dict): "
            f"got OrderedDict {collections.OrderedDict(a=1)!r}",
        ),
    ],
)
def test_copy_json_rejects_what_is_not_json_like(value: Any, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        copy_json(value, "args")
    assert str(raised.value) == message


@checks("ENQ-2")
def test_copy_json_names_the_first_offending_path_depth_first() -> None:
    value = {"a": [1, {"b": set()}], "c": b"later"}
    with pytest.raises(InvalidType) as raised:
        copy_json(value, "args")
    assert str(raised.value).startswith("args['a'][1]['b'] must be JSON-like")


@checks("ERR-1")
def test_copy_json_shortens_long_reprs() -> None:
    long_bytes = b"x" * 100
    with pytest.raises(InvalidType) as raised:
        copy_json({"b": long_bytes}, "args")
    shown = repr(long_bytes)[:57] + "..."
    assert str(raised.value) == (
        f"args['b'] must be JSON-like (None, bool, int, float, str, list, dict): got bytes {shown}"
    )


@checks("ENQ-2", "ERR-1")
def test_copy_json_rejects_a_reference_cycle() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(InvalidType) as raised:
        copy_json({"x": {"y": cycle}}, "args")
    assert str(raised.value) == "args must be JSON-like: it is nested too deeply or contains itself"


@checks("ENQ-2", "ERR-1")
def test_copy_json_rejects_values_nested_deeper_than_it_can_check() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(InvalidType) as raised:
        copy_json({"x": deep}, "args")
    assert str(raised.value) == "args must be JSON-like: it is nested too deeply or contains itself"


@checks("ENQ-2")
def test_copy_json_accepts_moderately_deep_values() -> None:
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"d": [deep]}
    assert copy_json({"x": deep}, "args") == {"x": deep}


@checks("DET-1", "ERR-1")
def test_messages_never_show_memory_addresses() -> None:
    with pytest.raises(InvalidType) as raised:
        copy_json({"o": object()}, "args")
    assert str(raised.value) == (
        "args['o'] must be JSON-like (None, bool, int, float, str, list, dict): "
        "got object <object object>"
    )
    with pytest.raises(InvalidType) as type_error:
        check_time(lambda: 0, "delay_ms")
    assert str(type_error.value) == (
        "delay_ms must be an integer number of ms, got <function object> (function)"
    )


# fresh, article, parse_number ----------------------------------------------------------------


@checks("ENQ-2")
def test_fresh_shares_scalars_and_copies_containers() -> None:
    for scalar in [None, True, 3, 2.5, "x"]:
        assert fresh(scalar) is scalar
    stored = {"a": [1, {"b": 2}]}
    handed_out = fresh(stored)
    assert handed_out == stored
    handed_out["a"][1]["b"] = 99
    assert stored == {"a": [1, {"b": 2}]}


@checks("ERR-1")
@pytest.mark.parametrize(
    ("word", "expected"),
    [("action", "an action"), ("unknown", "an unknown"), ("mutation", "a mutation"),
     ("query", "a query")],
)
def test_article(word: str, expected: str) -> None:
    assert article(word) == expected


@checks("STS-4", "SCH-2")
@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("0", 0), ("42", 42), ("01", None), ("00", None), ("", None), ("-1", None),
     (" 1", None), ("1 ", None), ("+1", None), ("١", None), ("²", None), ("1_0", None)],
)
def test_parse_number_reads_plain_ascii_numbers_only(text: str, number: int | None) -> None:
    assert parse_number(text) == number


# check_args ----------------------------------------------------------------------------------


@checks("ENQ-2")
def test_check_args_copies_an_object() -> None:
    original = {"to": ["a@example.com"]}
    copied = check_args(original)
    assert copied == original
    assert copied["to"] is not original["to"]


@checks("ENQ-2", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "args must be a dict with str keys (a JSON object), got list [1]"),
        (None, "args must be a dict with str keys (a JSON object), got NoneType None"),
        ("x", "args must be a dict with str keys (a JSON object), got str 'x'"),
    ],
)
def test_check_args_requires_a_dict(value: Any, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        check_args(value)
    assert str(raised.value) == message


# check_int -----------------------------------------------------------------------------------


@checks("CFG-1")
def test_check_int_returns_an_int() -> None:
    assert check_int(5, "max_parallelism") == 5
    assert check_int(-5, "max_parallelism") == -5


@checks("CFG-1", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "max_parallelism must be an int, got True (bool)"),
        (False, "max_parallelism must be an int, got False (bool)"),
        (2.0, "max_parallelism must be an int, got 2.0 (float)"),
        ("ten", "max_parallelism must be an int, got 'ten' (str)"),
        (None, "max_parallelism must be an int, got None (NoneType)"),
        (Colour.RED, "max_parallelism must be an int, got <Colour.RED: 1> (Colour)"),
    ],
)
def test_check_int_rejects_everything_but_int(value: Any, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        check_int(value, "max_parallelism")
    assert str(raised.value) == message


# check_time ----------------------------------------------------------------------------------


@checks("CLK-2")
@pytest.mark.parametrize("value", [0, 1, 10**12])
def test_check_time_returns_a_non_negative_int(value: int) -> None:
    assert check_time(value) == value


@checks("CLK-2", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "time must be an integer number of ms, got 1.5 (float)"),
        (5.0, "time must be an integer number of ms, got 5.0 (float)"),
        (math.nan, "time must be an integer number of ms, got NaN"),
        (math.inf, "time must be an integer number of ms, got inf"),
        (-math.inf, "time must be an integer number of ms, got -inf"),
        (True, "time must be an integer number of ms, got True (bool)"),
        ("5", "time must be an integer number of ms, got '5' (str)"),
        (None, "time must be an integer number of ms, got None (NoneType)"),
    ],
)
def test_check_time_rejects_non_integers_with_invalid_type(value: Any, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        check_time(value)
    assert str(raised.value) == message


@checks("CLK-2", "ERR-1")
def test_check_time_rejects_negative_values_with_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_time(-1)
    assert str(raised.value) == "time must be >= 0, got -1"


@checks("CLK-2")
def test_check_time_names_the_parameter() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_time(-1, "delay_ms")
    assert str(raised.value) == "delay_ms must be >= 0, got -1"
    with pytest.raises(InvalidType) as type_error:
        check_time(True, "delay_ms")
    assert str(type_error.value) == "delay_ms must be an integer number of ms, got True (bool)"


# check_positive_ms ---------------------------------------------------------------------------


@checks("CFG-2")
def test_check_positive_ms_accepts_positive_ints_and_inf_where_allowed() -> None:
    assert check_positive_ms(1, "action_timeout_ms") == 1
    assert check_positive_ms(30_000, "mutation_timeout_ms") == 30_000
    assert check_positive_ms(math.inf, "ttl_ms", allow_inf=True) == math.inf
    assert check_positive_ms(5, "ttl_ms", allow_inf=True) == 5


@checks("CFG-2", "ERR-1")
@pytest.mark.parametrize(
    ("value", "allow_inf", "error", "message"),
    [
        (0, False, InvalidArgument, "t must be a positive integer number of ms, got 0"),
        (-5, False, InvalidArgument, "t must be a positive integer number of ms, got -5"),
        (True, False, InvalidType, "t must be a positive integer number of ms, got True (bool)"),
        (1.5, False, InvalidType, "t must be a positive integer number of ms, got 1.5 (float)"),
        (
            math.inf,
            False,
            InvalidType,
            "t must be a positive integer number of ms, got inf (float)",
        ),
        (
            0,
            True,
            InvalidArgument,
            "t must be a positive integer number of ms or math.inf, got 0",
        ),
        (
            -math.inf,
            True,
            InvalidType,
            "t must be a positive integer number of ms or math.inf, got -inf (float)",
        ),
        (
            math.nan,
            True,
            InvalidType,
            "t must be a positive integer number of ms or math.inf, got nan (float)",
        ),
    ],
)
def test_check_positive_ms_rejections(
    value: Any, allow_inf: bool, error: type[RefmodelError], message: str
) -> None:
    with pytest.raises(error) as raised:
        check_positive_ms(value, "t", allow_inf=allow_inf)
    assert str(raised.value) == message


# check_name ----------------------------------------------------------------------------------


@checks("CFG-3")
@pytest.mark.parametrize("name", ["a", "emails", "Emails_2", "x_", "A1b2"])
def test_check_name_accepts_identifiers(name: str) -> None:
    assert check_name(name, "pool name") == name


@checks("CFG-3", "ERR-1")
@pytest.mark.parametrize("name", ["", "1x", "_x", "a-b", "a b", "é", "emails\n", "a.b"])
def test_check_name_rejects_other_strings(name: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_name(name, "pool name")
    assert str(raised.value) == (
        f"pool name must match [A-Za-z][A-Za-z0-9_]* (letters, digits, underscores), got {name!r}"
    )


@checks("CFG-3", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "pool name must be a str, got 5 (int)"),
        (None, "pool name must be a str, got None (NoneType)"),
        (b"x", "pool name must be a str, got b'x' (bytes)"),
    ],
)
def test_check_name_rejects_non_strings(value: Any, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        check_name(value, "pool name")
    assert str(raised.value) == message


@checks("ERR-1")
def test_input_errors_subclass_the_matching_builtins() -> None:
    assert issubclass(InvalidType, TypeError)
    assert issubclass(InvalidType, RefmodelError)
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(InvalidArgument, RefmodelError)
