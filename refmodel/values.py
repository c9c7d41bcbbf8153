"""JSON-like values and the validation of the small scalar inputs every API takes.

Convex passes arguments, return values and documents as serialised values; the model keeps that
promise by validating every such value at the boundary and storing a private copy (rule ENQ-2),
so that a caller mutating its object afterwards changes nothing inside the world. The helpers
for times, durations and names live here too, so that every entry point words its errors the
same way (rule ERR-1).
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any, TypeAlias

from refmodel.errors import InvalidArgument, InvalidType

JSONValue: TypeAlias = (
    bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
)

_SCALARS = (str, int, bool, type(None))
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
"""The integers a JSON-like value may hold: Convex's 64-bit integers (rule ENQ-2). Beyond them a
value is not a Convex value, and no implementation in another language could hold it."""

MAX_TIME_MS = 2**53 - 1
"""The largest virtual time or duration, in ms (rule CLK-2): the largest integer a JSON number
keeps exactly in every language (JavaScript's ``Number.MAX_SAFE_INTEGER``), about 285,000
years."""


def plain_entry(key: Any, item: Any) -> bool:
    """Whether ``key: item`` is an entry of a JSON-like object that needs no closer look: a
    str key in ASCII and a scalar value (None, bool, an int in range, an ASCII str). The
    common case of args, kept cheap; anything else goes to the full check."""
    kind = type(item)
    if type(key) is not str or kind not in _SCALARS or not key.isascii():
        return False
    if kind is int:
        return bool(MIN_INT <= item <= MAX_INT)
    return kind is not str or item.isascii()


def _bad_scalar(value: Any, where: str) -> InvalidType | None:
    """Why a str or int cannot be part of a JSON-like value, or ``None`` if it can."""
    if type(value) is int:
        if MIN_INT <= value <= MAX_INT:
            return None
        return InvalidType(
            f"{where} must be JSON-like: the int {short(value)} is outside the 64-bit range "
            f"Convex values have ({MIN_INT} to {MAX_INT})"
        )
    if type(value) is str and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return InvalidType(
                f"{where} must be JSON-like: the str {short(value)} is not Unicode text (it "
                "holds a lone surrogate)"
            )
    return None


def copy_json(value: Any, where: str) -> Any:
    """Return a private deep copy of ``value`` after checking that it is JSON-like.

    Args:
        value: the value to check: ``None``, ``bool``, ``int``, finite ``float``, ``str``,
            ``list`` of such values, or ``dict`` with ``str`` keys and such values.
        where: how to name the value in an error, e.g. ``"args"``.

    Raises:
        InvalidType: naming the path of the first offending part and its type.
    """
    kind = type(value)
    if kind is dict:
        # The common case, a flat object of small scalars, stays on this short path.
        for key, item in value.items():
            if not plain_entry(key, item):
                return _copy_checked(value, where)
        return dict(value)
    if kind in _SCALARS:
        bad = _bad_scalar(value, where)
        if bad is not None:
            raise bad
        return value
    return _copy_checked(value, where)


def _copy_checked(value: Any, where: str) -> Any:
    try:
        return _copy_deep(value, where)
    except RecursionError:
        raise InvalidType(
            f"{where} must be JSON-like: it is nested too deeply or contains itself"
        ) from None


def _copy_deep(value: Any, where: str) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        bad = _bad_scalar(value, where)
        if bad is not None:
            raise bad
        return value
    if kind is float:
        if not math.isfinite(value):
            raise InvalidType(f"{where} must be JSON-like: got {value!r}, which is not finite")
        return value
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise InvalidType(
                    f"{where} must be JSON-like: object keys must be str, got {short(key)} "
                    f"({type(key).__name__})"
                )
            bad = _bad_scalar(key, where)
            if bad is not None:
                raise bad
            out[key] = _copy_deep(item, f"{where}[{key!r}]")
        return out
    if kind is list or kind is tuple:
        return [_copy_deep(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidType(
        f"{where} must be JSON-like (None, bool, int, float, str, list, dict): "
        f"got {type(value).__name__} {short(value)}"
    )


def fresh(value: Any) -> Any:
    """A copy of a stored JSON-like value to hand out, so that callers cannot change what the
    world keeps (rule ENQ-2); scalars are shared, being immutable."""
    if type(value) in _SCALARS or type(value) is float:
        return value
    return copy.deepcopy(value)


def check_args(value: Any, where: str = "args") -> dict[str, Any]:
    """Return a private copy of a function's arguments, which must be a JSON-like object."""
    if type(value) is not dict:
        raise InvalidType(
            f"{where} must be a dict with str keys (a JSON object), got {type(value).__name__} "
            f"{short(value)}"
        )
    result: dict[str, Any] = copy_json(value, where)
    return result


def check_int(value: Any, name: str) -> int:
    """Check that ``value`` is an ``int`` (not a ``bool``) and return it."""
    if type(value) is not int:
        raise InvalidType(f"{name} must be an int, got {short(value)} ({type(value).__name__})")
    result: int = value
    return result


def check_time(value: Any, name: str = "time") -> int:
    """Check a virtual time or duration: a non-negative integer number of ms (rule CLK-2)."""
    if type(value) is not int:
        if type(value) is float and math.isnan(value):
            raise InvalidType(f"{name} must be an integer number of ms, got NaN")
        if type(value) is float and math.isinf(value):
            raise InvalidType(f"{name} must be an integer number of ms, got {value!r}")
        raise InvalidType(
            f"{name} must be an integer number of ms, got {short(value)} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise InvalidArgument(f"{name} must be >= 0, got {short(value)}")
    if value > MAX_TIME_MS:
        raise InvalidArgument(f"{name} must be at most {MAX_TIME_MS} ms, got {short(value)}")
    result: int = value
    return result


def check_seed(value: Any) -> int:
    """Check an RNG seed: an int in the 64-bit range (rule DET-2), so that every
    implementation can hold it."""
    if type(value) is not int:
        raise InvalidType(f"seed must be an int, got {short(value)}")
    if not MIN_INT <= value <= MAX_INT:
        raise InvalidArgument(f"seed must be from {MIN_INT} to {MAX_INT}, got {short(value)}")
    result: int = value
    return result


def check_positive_ms(value: Any, name: str, *, allow_inf: bool = False) -> int | float:
    """Check a positive duration in ms; ``math.inf`` is allowed where ``allow_inf`` says so."""
    if allow_inf and type(value) is float and value == math.inf:
        return math.inf
    allowed = "a positive integer number of ms" + (" or math.inf" if allow_inf else "")
    if type(value) is not int:
        raise InvalidType(f"{name} must be {allowed}, got {short(value)} ({type(value).__name__})")
    if value <= 0:
        raise InvalidArgument(f"{name} must be {allowed}, got {short(value)}")
    if value > MAX_TIME_MS:
        raise InvalidArgument(f"{name} must be at most {MAX_TIME_MS} ms, got {short(value)}")
    result: int = value
    return result


def check_name(value: Any, what: str) -> str:
    """Check an identifier-like name (pools, tables): ``[A-Za-z][A-Za-z0-9_]*``."""
    if type(value) is not str:
        raise InvalidType(f"{what} must be a str, got {short(value)} ({type(value).__name__})")
    if not _NAME.match(value):
        raise InvalidArgument(
            f"{what} must match [A-Za-z][A-Za-z0-9_]* (letters, digits, underscores), "
            f"got {value!r}"
        )
    result: str = value
    return result


def short(value: Any) -> str:
    """A short, deterministic rendering of a value for an error message: its repr, unless
    that shows a memory address, which would make traces differ between runs (DET-1)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} that contains itself>"
    except ValueError:  # An int beyond Python's int-to-str limit (4,300 digits), or holding one.
        if type(value) is int:
            digits = int(abs(value).bit_length() * 0.30103) + 1
            text = f"<int of about {digits} digits>"
        else:
            text = f"<{type(value).__name__} holding an int too long to print>"
    if " at 0x" in text:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 60 else text[:57] + "..."


def article(word: str) -> str:
    """``word`` with "a" or "an" before it."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def parse_number(text: str) -> int | None:
    """The number that ``text`` spells in plain ASCII digits without a leading zero, or
    ``None``; ids use it so that ``"p/01"`` or ``"p/١"`` never alias ``"p/1"``."""
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None  # More than 19 digits is beyond any id (and Python's int-to-str limit).
    if text[0] == "0" and text != "0":
        return None
    return int(text)


class JsonProblem(ValueError):
    """Text that is not JSON refmodel can read; the message says where and why."""


def parse_json(text: str) -> Any:
    """``json.loads(text)``, with every way it can fail turned into :class:`JsonProblem`:
    invalid JSON (``"invalid JSON at line L column C: <why>"``), nesting too deep for the
    reader, or a number beyond Python's limit on int digits."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise JsonProblem(
            f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise JsonProblem("invalid JSON: nested too deeply to read") from None
    except ValueError:
        raise JsonProblem("invalid JSON: a number too long to read") from None
