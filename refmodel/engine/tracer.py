"""The tracer: numbers the world's trace events and hands them to its sink (DESIGN §5).

Theory of operation. Every part of the world that makes an observable transition (the
runtime, the plain scheduler, the pools) calls :meth:`Tracer.emit` with the event's kind, pool,
id and data; the tracer gives it the clock's time and the next sequence number. Building an
event's data costs time, so callers build it only when :attr:`Tracer.tracing` is true, and the
tracer switches it on while someone listens: a sink (memory, a callable, a text stream), or a
:meth:`~refmodel.engine.deployment.Deployment.step` that collects its events.

Same seed, same inputs, same events: nothing here depends on the wall clock, ``id()``, hashing
or set order, so two runs give byte-identical traces (rule DET-1).

A text stream gets JSON Lines written directly, one line an event, byte for byte what
:meth:`refmodel.trace.TraceEvent.to_line` gives, without building a :class:`TraceEvent` per
event: that is what keeps a streamed trace cheap on long runs.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any, TextIO

from refmodel.engine.clock import Clock
from refmodel.trace import TraceEvent, TraceSink, unicode_safe

# The encoding of refmodel.trace (the same separators, ensure_ascii off): a streamed line must be
# byte-identical to TraceEvent.to_line(), which a test checks. JSONEncoder.encode builds a new C
# encoder for every call; one built once and kept does the same work at half the cost. Without
# the C accelerator, the encoder's own method is used.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_C_ENCODE: Any = getattr(json.encoder, "c_make_encoder", None)  # Not in the type stubs.
_CHUNKS: Callable[[Any, int], list[str]] | None = (
    None
    if _C_ENCODE is None
    else _C_ENCODE(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False,
        True,
    )
)


def _encode(value: Any) -> str:
    """``value`` as JSON, as ``refmodel.trace`` writes it."""
    if _CHUNKS is None:  # pragma: no cover - CPython has the C accelerator
        return _ENCODER.encode(value)
    return "".join(_CHUNKS(value, 0))


class Tracer:
    """Numbers events and delivers them.

    Args:
        clock: the world's clock (events carry its time).
        sink: a callable taking each :class:`TraceEvent`, or ``None``.
        stream: a text stream that receives JSON Lines, or ``None``.

    Attributes:
        tracing: whether anyone listens now; callers skip building event data when not.
    """

    __slots__ = ("_clock", "_collect", "_seq", "_sink", "_stream", "tracing")

    def __init__(
        self, clock: Clock, sink: TraceSink | None = None, stream: TextIO | None = None
    ) -> None:
        self._clock = clock
        self._sink = sink
        self._stream = stream
        self._seq = 0
        self._collect: list[TraceEvent] | None = None
        self.tracing = sink is not None or stream is not None

    @property
    def emitted(self) -> int:
        """How many events were emitted so far (the last one's ``seq``)."""
        return self._seq

    def emit(self, kind: str, pool: str | None, work_id: str | None, data: dict[str, Any]) -> None:
        """Record one event now. ``data`` must not change afterwards."""
        self._seq += 1
        stream = self._stream
        if stream is not None and self._collect is None:
            # Pool names and ids are built by the model from validated names
            # ([A-Za-z][A-Za-z0-9_]*), "/" and digits: they need no escaping.
            pool_json = "null" if pool is None else '"' + pool + '"'
            id_json = "null" if work_id is None else '"' + work_id + '"'
            chunks = _CHUNKS
            if not data:
                data_json = "{}"
            elif chunks is None:  # pragma: no cover - CPython has the C accelerator
                data_json = _encode(data)
            else:
                data_json = "".join(chunks(data, 0))
                if not data_json.isascii():  # User text: it may not be Unicode (a surrogate).
                    data_json = unicode_safe(data_json, data)
            stream.write(
                f'{{"t":{self._clock.now},"seq":{self._seq},"kind":"{kind}","pool":{pool_json},'
                f'"id":{id_json},"data":{data_json}}}\n'
            )
            return
        event = TraceEvent(
            time=self._clock.now, seq=self._seq, kind=kind, pool=pool, id=work_id, data=data
        )
        if stream is not None:
            stream.write(event.to_line() + "\n")
        if self._sink is not None:
            self._sink(event)
        if self._collect is not None:
            self._collect.append(event)

    def start_collecting(self) -> list[TraceEvent]:
        """Keep every event emitted from now on in the returned list (tracing is on until
        :meth:`stop_collecting`)."""
        collected: list[TraceEvent] = []
        self._collect = collected
        self.tracing = True
        return collected

    def stop_collecting(self) -> None:
        """Stop what :meth:`start_collecting` began."""
        self._collect = None
        self.tracing = self._sink is not None or self._stream is not None
