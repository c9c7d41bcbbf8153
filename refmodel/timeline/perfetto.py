"""A trace as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
``chrome://tracing`` open.

The file is the JSON Object Format of the Trace Event Format: ``{"traceEvents": [...],
"displayTimeUnit": "ms"}``. Each pool is a process (``pid``) and each of its slots a thread
(``tid``), named by metadata events (``ph: "M"``, ``process_name`` / ``thread_name``, with
sort indices so pools and slots keep their order). Every attempt is a complete event
(``ph: "X"``) on its slot with ``ts`` and ``dur`` in microseconds (virtual ms × 1000) and its
details in ``args`` (work id, function, attempt, start lag, outcome, result or error); a retry
scheduled and a cancel requested are thread-scoped instants (``ph: "i"``, ``s: "t"``) on the
slot; a cancel of waiting work and an ``onComplete`` call are process-scoped instants
(``s: "p"``); each pool's queue length is a counter (``ph: "C"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from refmodel.timeline.lanes import layout
from refmodel.trace import TraceEvent

US_PER_MS = 1000
"""Trace-event timestamps are microseconds; the model's clock is milliseconds."""


def to_perfetto(events: Iterable[TraceEvent], *, title: str = "refmodel") -> dict[str, Any]:
    """The trace-event JSON object of ``events`` (see the module doc)."""
    laid = layout(events)
    pids = {name: index + 1 for index, name in enumerate(laid.pools)}
    out: list[dict[str, Any]] = []
    for name, (slots, limit) in laid.pools.items():
        pid = pids[name]
        label = name if limit is None else f"{name} (max_parallelism {limit})"
        out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"name": label}})
        out.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"sort_index": pid}})
        for slot in range(slots):
            out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": slot + 1,
                        "args": {"name": f"slot {slot + 1}"}})
            out.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": slot + 1,
                        "args": {"sort_index": slot + 1}})
    for span in laid.spans:
        out.append({
            "name": f"{span.id} {span.fn}".strip(),
            "cat": span.outcome,
            "ph": "X",
            "ts": span.start * US_PER_MS,
            "dur": (span.end - span.start) * US_PER_MS,
            "pid": pids[span.pool],
            "tid": span.slot + 1,
            "args": dict(span.args),
        })
    for instant in laid.instants:
        mark: dict[str, Any] = {
            "name": instant.name,
            "cat": "instant",
            "ph": "i",
            "ts": instant.time * US_PER_MS,
            "pid": pids[instant.pool],
            "tid": 0 if instant.slot is None else instant.slot + 1,
            "s": "p" if instant.slot is None else "t",
            "args": dict(instant.args),
        }
        out.append(mark)
    for name, series in laid.queues.items():
        for time, waiting in series:
            out.append({"name": "queue", "ph": "C", "ts": time * US_PER_MS, "pid": pids[name],
                        "tid": 0, "args": {"waiting": waiting}})
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {"title": title, "clock": "virtual ms of a refmodel world, as µs × 1000"},
    }


def perfetto_json(events: Iterable[TraceEvent], *, title: str = "refmodel") -> str:
    """:func:`to_perfetto` as JSON text (keys in a fixed order, one event a line)."""
    obj = to_perfetto(events, title=title)
    lines = ",\n".join(json.dumps(event, ensure_ascii=False) for event in obj["traceEvents"])
    rest = json.dumps({k: v for k, v in obj.items() if k != "traceEvents"}, ensure_ascii=False)
    return '{"traceEvents": [\n' + lines + "\n], " + rest[1:] + "\n"
