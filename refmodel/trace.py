"""The trace: the immutable record of every observable transition (DESIGN §5).

Every event has a virtual time, a sequence number (its position in the trace, from 1), a kind
from :data:`KINDS`, the pool and id it concerns (``None`` where it concerns none) and a small
JSON-like ``data`` object. A trace serialises to JSON Lines, one event a line, keys in a fixed
order, so that two runs with the same seed and inputs give byte-identical files (rule DET-1);
``specs/trace.schema.json`` describes one line.

A trace goes to a *sink*: :class:`MemoryTrace` keeps the events (the default, for debugging and
tests), :class:`JsonlWriter` streams them to a text file so that memory stays bounded on long
runs, and any callable taking a :class:`TraceEvent` works too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TextIO

import attrs

TRACE_VERSION = 2

# One encoder for every line: json.dumps with options would build a new one per event.
_ENCODE_TEXT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ENCODE_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


_LINE_BREAKS = ("\x85", "\u2028", "\u2029")
"""Characters JSON leaves unescaped that ``str.splitlines`` (and many editors) take for line
breaks; a trace line holding one is written in ASCII, so that one event stays one line."""


def unicode_safe(text: str, value: Any) -> str:
    """``text``, the JSON of ``value``, if it is Unicode text that stays one line; else
    ``value`` as ASCII JSON.

    Strings from user code can hold lone surrogates (an error message built from bytes, say),
    which JSON can carry only as ``\\ud800`` escapes and UTF-8 cannot encode at all, or line
    separators (U+0085, U+2028, U+2029) that split a line for ``str.splitlines``: such a line is
    written with every non-ASCII character escaped, so it still reads back the same.
    """
    if not text.isascii():
        if any(mark in text for mark in _LINE_BREAKS):
            return _ENCODE_ASCII(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _ENCODE_ASCII(value)
    return text


def _encode_line(value: Any) -> str:
    return unicode_safe(_ENCODE_TEXT(value), value)

KINDS: dict[str, str] = {
    "world_started": "A world was created: data {traceVersion, seed, epoch, profile}.",
    "pool_created": "A pool was created with its options (JSON spelling).",
    "enqueued": "Work was enqueued: data {fn, kind, runAt, retry, onComplete, context}; runAt is "
    "its eligibility time, retry its retry behaviour or null, onComplete the callback or null, "
    "context (with an onComplete) what the callback will be given.",
    "started": "An attempt started into a slot: data {attempt, lagMs} (lag since eligibility).",
    "succeeded": "Work ended with a return value: data {attempt, result}.",
    "failed": "Work ended with an error: data {attempt, error} (+ nonRetryable: true when a "
    "NonRetryableError ended it).",
    "retrying": "An attempt failed and will be retried: data {attempt, error, delayMs, retryAt}.",
    "canceled": "Work was canceled: data {attempt, wasRunning} (+ error if an attempt failed).",
    "cancel_requested": "Running work was asked to cancel (current profile): data {attempt}.",
    "timed_out": "Running work reached its timeout: data {attempt, timeoutMs}.",
    "evicted": "A finished result was evicted after the pool's ttl.",
    "cancel_ignored": "A cancel changed nothing: data {state} (finished, or already canceling).",
    "on_complete": "A finished item's onComplete was called: data {fn, context, result}.",
    "cancel_called": "A cancel of this id was asked for (recorded by an adapter): data {}.",
    "status_read": "A status of this id was read (recorded by an adapter): data {status} or "
    "{error} when the read was refused.",
    "config_updated": "A pool's configuration changed at runtime: data = its options.",
    "warning": "A pool warned (as the component logs): data {message}.",
    "scheduled": "The plain scheduler accepted a function: data {fn, runAt}.",
    "sched_started": "A scheduled function started.",
    "sched_succeeded": "A scheduled function returned: data {result}.",
    "sched_failed": "A scheduled function threw: data {error}.",
    "sched_canceled": "A pending scheduled function was canceled.",
    "call_started": "A function call outside any pool started: data {fn, kind}.",
    "call_succeeded": "That call returned: data {fn, result}.",
    "call_failed": "That call threw: data {fn, error}.",
    "committed": "A mutation committed: data {fn, writes}.",
    "conflict": "A mutation's commit conflicted and was discarded: data {fn, doc}.",
    "rng": "A draw from the world's RNG that affects behaviour: data {purpose, value}.",
}
"""The vocabulary of trace events: kind -> meaning."""


@attrs.frozen(kw_only=True)
class TraceEvent:
    """One observable transition.

    Attributes:
        time: virtual time in ms.
        seq: position in the trace, from 1.
        kind: one of :data:`KINDS`.
        pool: the pool concerned, or ``None``.
        id: the work id or scheduled-function id concerned, or ``None``.
        data: kind-specific JSON-like details; treat as read-only.
    """

    time: int
    seq: int
    kind: str
    pool: str | None = None
    id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def t(self) -> int:
        """The event's virtual time in ms, as trace lines name it (``"t"``); the same as
        :attr:`time`."""
        return self.time

    def to_json(self) -> dict[str, Any]:
        """The event as the JSON object of one trace line (keys in schema order)."""
        return {
            "t": self.time,
            "seq": self.seq,
            "kind": self.kind,
            "pool": self.pool,
            "id": self.id,
            "data": dict(self.data),
        }

    def to_line(self) -> str:
        """The event as one JSON Lines line, without the newline."""
        return _encode_line(self.to_json())

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TraceEvent:
        """Build an event from its JSON object (no validation beyond field access)."""
        return cls(
            time=obj["t"],
            seq=obj["seq"],
            kind=obj["kind"],
            pool=obj.get("pool"),
            id=obj.get("id"),
            data=obj.get("data") or {},
        )

    def __str__(self) -> str:
        parts = [f"{self.time:>8} ms #{self.seq:<5} {self.kind:<14}"]
        parts += [part for part in (self.pool, self.id) if part]
        parts += [f"{key}={value!r}" for key, value in self.data.items()]
        return " ".join(parts)


TraceSink = Callable[[TraceEvent], None]


class MemoryTrace:
    """A sink that keeps every event in order."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def to_jsonl(self) -> str:
        """All events as JSON Lines text (one line an event, each ending in a newline)."""
        return "".join(event.to_line() + "\n" for event in self.events)


class JsonlWriter:
    """A sink that streams each event as one JSON line to a text file."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, event: TraceEvent) -> None:
        self._stream.write(event.to_line() + "\n")


def to_jsonl(events: Iterable[TraceEvent]) -> str:
    """Serialise events as JSON Lines text."""
    return "".join(event.to_line() + "\n" for event in events)
