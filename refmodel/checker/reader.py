"""Reading a trace: lines of JSON into validated events, or one clear error.

Each line is parsed with orjson when it is installed (``pip install 'refmodel[fast]'``), else
with the standard json module, and checked by a few type tests (:func:`valid_data`). A line
that fails them, or that orjson refuses (it is stricter: ``NaN``, integers beyond 64 bits),
is read again by :func:`parse_line` with the json module, which accepts exactly the events
of ``specs/trace.schema.json`` and names what is wrong with any other line: such a line makes
the trace unreadable (:class:`TraceUnreadable`, naming the line). A rule's violation is never
reported here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, NoReturn, TypeGuard

from refmodel.errors import InvalidArgument
from refmodel.schema import validator
from refmodel.trace import KINDS
from refmodel.values import short


class TraceUnreadable(InvalidArgument):
    """The trace cannot be checked: a file cannot be read, a line is not JSON or not an event
    of ``specs/trace.schema.json``, events are out of order, or there are none. The message
    names the line."""


def lines_of(path: str) -> Iterator[str]:
    """The lines of a UTF-8 text file (``-``: standard input), read as they are needed."""
    if path == "-":
        stream: BinaryIO = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below; read lazily
        except OSError as error:
            raise TraceUnreadable(f"cannot read the file: {error.strerror or error}") from None
    with stream:
        number = 0
        try:
            for raw in stream:
                number += 1
                yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise unreadable(number, "not UTF-8 text") from None
        except OSError as error:
            raise TraceUnreadable(f"cannot read the file: {error.strerror or error}") from None


# Reading lines ----------------------------------------------------------------------------------

fast_loads: Callable[[str], Any]
"""Parses one line: orjson's ``loads`` when orjson is installed (several times as fast as
json's, and it reads the same events), else json's."""
try:
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is an optional extra
    fast_loads = json.loads
else:
    fast_loads = _orjson_loads

_EVENT_KEYS = ("t", "seq", "kind", "pool", "id", "data")

WORK_KINDS = frozenset(
    ("enqueued", "started", "succeeded", "failed", "canceled", "timed_out", "evicted",
     "cancel_ignored", "cancel_called", "status_read")
)
"""The kinds whose ``pool`` and ``id`` the schema requires to be strings."""

_ENQUEUED_KINDS = ("action", "mutation", "unknown", "query")

_DATA_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "enqueued": (("fn", "string"), ("kind", "work kind"), ("runAt", "integer")),
    "started": (("attempt", "integer >= 1"), ("lagMs", "integer")),
    "succeeded": (("result", "any"),),
    "failed": (("error", "string"),),
    "canceled": (("wasRunning", "boolean"),),
    "timed_out": (("timeoutMs", "integer >= 1"),),
}
"""Per kind, the data fields ``specs/trace.schema.json`` requires, and what each must be."""

_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _number(value: Any) -> TypeGuard[float]:
    return type(value) is int or type(value) is float


def valid_data(kind: str, data: dict[str, Any]) -> bool:
    """Whether ``data`` is what the schema allows of ``kind``, in its plain form (an integer
    as an ``int``): the fast check of the common case, exact for what it accepts. ``False``
    sends the line to :func:`parse_line`, which accepts the other spellings (``3.0``) and
    names what is wrong."""
    get = data.get
    if kind == "started":
        attempt = get("attempt")
        return type(attempt) is int and attempt >= 1 and type(get("lagMs")) is int
    if kind == "succeeded":
        return "result" in data
    if kind == "enqueued":
        return (type(get("fn")) is str and get("kind") in _ENQUEUED_KINDS
                and type(get("runAt")) is int
                and (get("onComplete") is None or type(get("onComplete")) is str))
    if kind == "failed":
        return type(get("error")) is str and type(get("nonRetryable", False)) is bool
    if kind == "canceled":
        return type(get("wasRunning")) is bool
    if kind == "timed_out":
        timeout = get("timeoutMs")
        return type(timeout) is int and timeout >= 1
    if kind == "rng":
        value = get("value")
        return type(get("purpose")) is str and _number(value) and 0 <= value < 1
    if kind == "retrying":
        attempt = get("attempt", 1)
        delay = get("delayMs", 0)
        return (type(attempt) is int and attempt >= 1 and _number(delay) and delay >= 0
                and _number(get("retryAt", 0)))
    if kind == "status_read":
        return ("status" in data) != ("error" in data)
    return kind in KINDS


def parse_line(
    number: int, line: str
) -> tuple[int, int, int, str, str | None, str | None, dict[str, Any]]:
    """Parse and validate one line: ``(number, t, seq, kind, pool, id, data)``.

    Raises:
        TraceUnreadable: the line is not JSON, or not an event of the schema.
    """
    try:
        event, end = _scan(line, 0)
    except (StopIteration, json.JSONDecodeError) as error:
        raise unreadable(number, f"invalid JSON: {_why(line, error)}") from None
    except RecursionError:
        raise unreadable(number, "JSON nested too deeply to read") from None
    except ValueError:  # Python's limit on int digits: no implementation writes such a number.
        raise unreadable(
            number, f"a number of more than {sys.get_int_max_str_digits():,} digits"
        ) from None
    rest = line[end:]
    if rest.strip():
        column = end + len(rest) - len(rest.lstrip()) + 1
        raise unreadable(number, f"invalid JSON: extra data at column {column}")
    if type(event) is not dict:
        raise unreadable(number, f"an event is a JSON object, got {describe(event)}")
    for key in _EVENT_KEYS:
        if key not in event:
            raise unreadable(number, f"the event has no {key!r}")
    for key in event:
        if key not in _EVENT_KEYS:
            raise unreadable(
                number, f"unknown field {key!r}: an event has exactly {', '.join(_EVENT_KEYS)}"
            )
    t = _integer(event["t"])
    seq = _integer(event["seq"])
    kind = event["kind"]
    data = event["data"]
    if t is None or t < 0:
        raise unreadable(number, f"t must be an integer >= 0, got {describe(event['t'])}")
    if seq is None or seq < 1:
        raise unreadable(number, f"seq must be an integer >= 1, got {describe(event['seq'])}")
    if type(kind) is not str or kind not in KINDS:
        raise unreadable(number, f"unknown kind {describe(kind)}")
    if type(data) is not dict:
        raise unreadable(number, f"data must be an object, got {describe(data)}")
    check_names(number, kind, event["pool"], event["id"])
    _check_data(number, kind, data)
    problem = validator("trace").first_error(event, "event")
    if problem is not None:  # The schema is the judge of what its own checks above let by.
        raise unreadable(number, problem)
    return number, t, seq, kind, event["pool"], event["id"], data


def check_names(number: int, kind: str, pool: Any, work_id: Any) -> None:
    for field, value in (("pool", pool), ("id", work_id)):
        if kind in WORK_KINDS and type(value) is not str:
            raise unreadable(
                number, f"{kind} events need a string {field}, got {describe(value)}"
            )
        if value is not None and type(value) is not str:
            raise unreadable(
                number, f"{field} must be a string or null, got {describe(value)}"
            )


def _check_data(number: int, kind: str, data: dict[str, Any]) -> None:
    """Check the data fields the schema requires of ``kind``; integers are made plain."""
    if kind == "rng":
        purpose = data.get("purpose")
        value = data.get("value")
        if type(purpose) is not str:
            raise unreadable(
                number, f"rng data.purpose must be a string, got {describe(purpose)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise unreadable(
                number, f"rng data.value must be a number in [0, 1), got {describe(value)}"
            )
        return
    for field, what in _DATA_FIELDS.get(kind, ()):
        if field not in data:
            raise unreadable(number, f"a {kind} event's data needs {field!r}")
        value = data[field]
        if what == "any":
            continue
        if what == "string":
            ok = type(value) is str
        elif what == "boolean":
            ok = type(value) is bool
        elif what == "work kind":
            ok = type(value) is str and value in _ENQUEUED_KINDS
        else:
            whole = _integer(value)
            low = 1 if what.endswith(">= 1") else 0 if what.endswith(">= 0") else None
            ok = whole is not None and (low is None or whole >= low)
            if ok:
                data[field] = whole
        if not ok:
            if what == "work kind":
                allowed = "one of " + ", ".join(_ENQUEUED_KINDS)
            else:
                allowed = ("an " if what[0] in "aeiou" else "a ") + what
            raise unreadable(
                number, f"{kind} data.{field} must be {allowed}, got {describe(value)}"
            )


def _integer(value: Any) -> int | None:
    """A JSON integer (``3`` or ``3.0``, as JSON Schema counts them) as an ``int``."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def bad_seq(number: int, seq: int) -> NoReturn:
    raise unreadable(
        number, f"seq is {seq}, expected {number}: seq counts the events from 1, one a line"
    )


def unreadable(number: int, problem: str) -> TraceUnreadable:
    return TraceUnreadable(f"line {number}: {problem}")


def _why(line: str, error: Exception) -> str:
    if not line.strip():
        return "empty line (each line holds one event)"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"
    return "expecting a value at column 1"


def describe(value: Any) -> str:
    try:
        return json.dumps(value)[:60]
    except ValueError:  # Beyond Python's int digit limit.
        return short(value)


