"""Lanes: a trace's attempts laid out on pool slots, for the pictures that need geometry.

:func:`layout` reads trace events (alone, so it works for any implementation's trace) and
gives each attempt of a work item a *slot* of its pool: the lowest slot free when it started,
held until the attempt ends. It also keeps the instants worth marking (a retry scheduled, a
cancel asked for or made while waiting, an ``onComplete`` call) and each pool's queue length
(items waiting to start or to retry) over time. Plain-scheduler functions get lanes of a
pseudo-pool named ``scheduler``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from refmodel.trace import TraceEvent

SCHEDULER = "scheduler"
"""The lanes of the plain scheduler's functions."""

OUTCOMES = ("succeeded", "failed", "retrying", "timed_out", "canceled", "running")
"""How an attempt span ends: ``retrying`` failed and will be retried; ``running`` had not
ended when the trace did."""

_ENDS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "timed_out": "timed_out",
    "retrying": "retrying",
    "sched_succeeded": "succeeded",
    "sched_failed": "failed",
}


@attrs.frozen(kw_only=True)
class Span:
    """One attempt on one slot, from ``start`` to ``end`` (ms)."""

    pool: str
    slot: int
    id: str
    fn: str
    attempt: int
    start: int
    end: int
    outcome: str
    args: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Instant:
    """A moment worth marking: ``slot`` is ``None`` for one that concerns the whole pool."""

    pool: str
    slot: int | None
    id: str
    time: int
    name: str
    args: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Layout:
    """Everything :func:`layout` found.

    Attributes:
        pools: pool names in the order they appear, with their slot count and limit
            (``None`` where the trace does not say).
        spans: attempts, in the order they started.
        instants: marked moments, in trace order.
        queues: per pool, ``(time, waiting)`` after each change of its queue length.
        end: the last time in the trace.
    """

    pools: Mapping[str, tuple[int, int | None]]
    spans: tuple[Span, ...]
    instants: tuple[Instant, ...]
    queues: Mapping[str, tuple[tuple[int, int], ...]]
    end: int


@attrs.define
class _Pool:
    limit: int | None = None
    busy: list[bool] = attrs.field(factory=list)
    waiting: int = 0
    queue: list[tuple[int, int]] = attrs.field(factory=list)

    def take(self) -> int:
        for slot, used in enumerate(self.busy):
            if not used:
                self.busy[slot] = True
                return slot
        self.busy.append(True)
        return len(self.busy) - 1

    def wait(self, time: int, delta: int) -> None:
        self.waiting = max(0, self.waiting + delta)
        if self.queue and self.queue[-1][0] == time:
            self.queue[-1] = (time, self.waiting)
        else:
            self.queue.append((time, self.waiting))


def layout(events: Iterable[TraceEvent]) -> Layout:
    """Lay the attempts in ``events`` out on slots (see the module doc)."""
    pools: dict[str, _Pool] = {}
    fns: dict[str, str] = {}
    running: dict[str, tuple[str, int, int, int, dict[str, Any]]] = {}
    spans: list[Span] = []
    instants: list[Instant] = []
    end = 0

    def pool_of(event: TraceEvent) -> str:
        return event.pool or SCHEDULER

    def close(event: TraceEvent, outcome: str, details: Mapping[str, Any]) -> int:
        pool, slot, start, attempt, args = running.pop(str(event.id))
        pools[pool].busy[slot] = False
        spans.append(Span(pool=pool, slot=slot, id=str(event.id), fn=fns.get(str(event.id), ""),
                          attempt=attempt, start=start, end=event.time, outcome=outcome,
                          args={**args, **details, "outcome": outcome}))
        return slot

    for event in events:
        end = max(end, event.time)
        kind = event.kind
        if kind == "pool_created" and event.pool is not None:
            pools.setdefault(event.pool, _Pool()).limit = event.data.get("maxParallelism")
            continue
        if kind == "config_updated" and event.pool in pools:
            pools[event.pool].limit = event.data.get("maxParallelism")
            continue
        if event.id is None or kind.startswith("call_"):
            continue
        work_id = event.id
        name = pool_of(event)
        state = pools.setdefault(name, _Pool())
        if kind in ("enqueued", "scheduled"):
            fns[work_id] = str(event.data.get("fn", ""))
            state.wait(event.time, +1)
        elif kind in ("started", "sched_started"):
            slot = state.take()
            attempt = int(event.data.get("attempt", 1))
            running[work_id] = (name, slot, event.time, attempt, {
                "id": work_id, "fn": fns.get(work_id, ""), "attempt": attempt,
                "lagMs": event.data.get("lagMs"),
            })
            state.wait(event.time, -1)
        elif kind in _ENDS and work_id in running:
            details = {key: value for key, value in event.data.items() if key != "attempt"}
            slot = close(event, _ENDS[kind], details)
            if kind == "retrying":
                state.wait(event.time, +1)
                instants.append(Instant(pool=name, slot=slot, id=work_id, time=event.time,
                                        name=f"retry {work_id}", args=dict(event.data)))
        elif kind in ("canceled", "sched_canceled"):
            if work_id in running:
                close(event, "canceled", dict(event.data))
            else:
                state.wait(event.time, -1)
                instants.append(Instant(pool=name, slot=None, id=work_id, time=event.time,
                                        name=f"canceled {work_id}", args=dict(event.data)))
        elif kind == "cancel_requested" and work_id in running:
            instants.append(Instant(pool=name, slot=running[work_id][1], id=work_id,
                                    time=event.time, name=f"cancel requested {work_id}",
                                    args=dict(event.data)))
        elif kind == "on_complete":
            instants.append(Instant(pool=name, slot=None, id=work_id, time=event.time,
                                    name=f"onComplete {work_id}", args=dict(event.data)))
    for work_id in list(running):
        pool, slot, start, attempt, args = running.pop(work_id)
        spans.append(Span(pool=pool, slot=slot, id=work_id, fn=fns.get(work_id, ""),
                          attempt=attempt, start=start, end=end, outcome="running",
                          args={**args, "outcome": "running"}))
    spans.sort(key=lambda span: (span.start, span.pool, span.slot))
    return Layout(
        pools={name: (len(state.busy), state.limit) for name, state in pools.items()},
        spans=tuple(spans),
        instants=tuple(instants),
        queues={name: tuple(state.queue) for name, state in pools.items()},
        end=end,
    )
