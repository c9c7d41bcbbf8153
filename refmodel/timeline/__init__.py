"""Pictures of a trace, from its events alone (so any implementation's trace works):

- :func:`render` (:mod:`refmodel.timeline.text`): a text timeline for a terminal, one row per
  work item, with a legend of its marks;
- :func:`to_perfetto` / :func:`perfetto_json` (:mod:`refmodel.timeline.perfetto`): Chrome
  trace-event JSON that Perfetto and ``chrome://tracing`` open, one lane per pool slot;
- :func:`to_svg` (:mod:`refmodel.timeline.svg`): a self-contained SVG with lanes per pool and
  each pool's queue length over time;
- :func:`read_trace`: a JSON Lines trace file back into events.

``python -m refmodel timeline TRACE.jsonl --format text|perfetto|svg -o FILE`` draws a trace
file (:mod:`refmodel.cli.timeline`).
"""

from __future__ import annotations

from refmodel.errors import InvalidArgument
from refmodel.timeline.perfetto import perfetto_json, to_perfetto
from refmodel.timeline.svg import to_svg
from refmodel.timeline.text import legend, render
from refmodel.trace import TraceEvent
from refmodel.values import JsonProblem, parse_json


class TraceFileError(InvalidArgument):
    """A trace file cannot be read or a line is not a trace event; the message names the file
    and the line."""


def read_trace(path: str) -> list[TraceEvent]:
    """The events of a JSON Lines trace file (``specs/trace.schema.json``), in file order.

    Raises:
        TraceFileError: the file cannot be read, or a line is not a trace event.
    """
    try:
        with open(path, encoding="utf-8") as source:
            lines = source.readlines()
    except OSError as error:
        raise TraceFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise TraceFileError(f"{path}: not UTF-8 text") from None
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
        except JsonProblem as problem:
            raise TraceFileError(f"{path} line {number}: {problem}") from None
        if not (
            isinstance(obj, dict)
            and type(obj.get("t")) is int
            and type(obj.get("seq")) is int
            and isinstance(obj.get("kind"), str)
            and all(isinstance(obj.get(key), str | None) for key in ("pool", "id"))
            and isinstance(obj.get("data", {}), dict)
        ):
            raise TraceFileError(
                f"{path} line {number}: not a trace event (expected an object with an int t "
                "and seq, a str kind, str-or-null pool and id, and an object data)"
            )
        events.append(TraceEvent.from_json(obj))
    return events


__all__ = [
    "TraceFileError",
    "legend",
    "perfetto_json",
    "read_trace",
    "render",
    "to_perfetto",
    "to_svg",
]
