"""The text timeline: one row per work item or scheduled function, for a terminal.

Each row shows, per column of ``scale`` ms, what the item was doing: ``.`` waiting (pending),
``#`` running, ``r`` backing off before a retry, then one mark where it ended: ``✓``
succeeded, ``✗`` failed, ``C`` canceled, ``T`` timed out. A legend line under the picture
names the marks it uses. The picture is built from trace events alone, so it works the same
for the model's traces and for traces that other implementations recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs

from refmodel.trace import TraceEvent

_ENDS = {
    "succeeded": "✓",
    "failed": "✗",
    "canceled": "C",
    "timed_out": "T",
    "sched_succeeded": "✓",
    "sched_failed": "✗",
    "sched_canceled": "C",
}
_QUEUED = {"enqueued", "scheduled"}
_STARTS = {"started", "sched_started"}


@attrs.define
class _Row:
    label: str
    spans: list[tuple[int, int | None, str]] = attrs.field(factory=list)
    """(from, to, mark) painted in order; ``to`` None means up to the end of the picture."""
    end: tuple[int, str] | None = None

    def open(self, time: int, mark: str) -> None:
        self.close(time)
        self.spans.append((time, None, mark))

    def close(self, time: int) -> None:
        if self.spans and self.spans[-1][1] is None:
            begin, _, mark = self.spans[-1]
            self.spans[-1] = (begin, time, mark)


MEANINGS = {
    ".": "waiting",
    "#": "running",
    "r": "backing off before a retry",
    "✓": "succeeded",
    "✗": "failed",
    "C": "canceled",
    "T": "timed out",
}
"""Every mark of the picture and what it means, in legend order."""


def legend(marks: Iterable[str]) -> str:
    """The legend line for the ``marks`` a picture uses (in :data:`MEANINGS` order)."""
    used = set(marks)
    return "legend: " + "  ".join(
        f"{mark} {meaning}" for mark, meaning in MEANINGS.items() if mark in used
    )


def render(
    events: Iterable[TraceEvent],
    *,
    scale: int | None = None,
    width: int = 60,
    with_legend: bool = True,
    end: int | None = None,
) -> str:
    """Draw a timeline of the work items in ``events``.

    Args:
        events: trace events, in trace order.
        scale: ms per column; by default the span divided by ``width``, at least 1.
        width: the number of columns when ``scale`` is not given.
        with_legend: end with a line naming the marks used.
        end: draw up to this time (e.g. the world's clock); default the last event's.

    Returns:
        The picture, one line per item plus a header (and the legend), ending in a newline.
    """
    rows: dict[str, _Row] = {}
    last = 0
    for event in events:
        last = max(last, event.time)
        if event.id is None:
            continue
        if event.kind in _QUEUED:
            label = f"{event.id} {event.data.get('fn', '')}".strip()
            row = rows[event.id] = _Row(label=label)
            row.open(int(event.data.get("runAt", event.time)), ".")
        elif event.id in rows:
            row = rows[event.id]
            if event.kind in _STARTS:
                row.open(event.time, "#")
            elif event.kind == "retrying":
                row.open(event.time, "r")
                row.open(int(event.data["retryAt"]), ".")
            elif event.kind in _ENDS:
                row.close(event.time)
                row.end = (event.time, _ENDS[event.kind])
    if not rows:
        return "(no work in this trace)\n"
    if end is not None:
        last = max(last, end)
    step = scale if scale is not None else max(1, math.ceil((last + 1) / width))
    columns = last // step + 1
    label_width = max(len(row.label) for row in rows.values())
    header = f"{'':<{label_width}} |0 ms{'':<{max(0, columns - 4)}}| {columns * step} ms"
    lines = [header, f"{'':<{label_width}} |{'-' * columns}| {step} ms per column"]
    used: set[str] = set()
    for row in rows.values():
        cells = [" "] * columns
        for begin, finish, mark in row.spans:
            stop = columns if finish is None else min(finish // step, columns)
            for col in range(begin // step, stop):
                cells[col] = mark
        if row.end is not None and row.end[0] // step < columns:
            cells[row.end[0] // step] = row.end[1]
        lines.append(f"{row.label:<{label_width}} |{''.join(cells)}|")
        used.update(cells)
    if with_legend:
        lines.append(legend(used))
    return "\n".join(lines) + "\n"
