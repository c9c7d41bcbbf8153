"""Timelines drawn from trace events alone (:mod:`refmodel.timeline`).

The timeline is a picture, not a rule of the spec: these tests cite no rule.
"""

from __future__ import annotations

from typing import Any

from refmodel.timeline import legend, render
from refmodel.trace import TraceEvent
from tests.spec import checks

Row = tuple[int, str, str | None, dict[str, Any]]


def ev(time: int, kind: str, id: str | None = None, data: dict[str, Any] | None = None) -> Row:
    return (time, kind, id, data or {})


def trace(*rows: Row) -> list[TraceEvent]:
    """Trace events for ``rows``, numbered in order; work ids name their pool."""
    events = []
    for seq, (time, kind, id, data) in enumerate(rows, start=1):
        pool = None if id is None or id.startswith(("scheduled/", "call/")) else id.split("/")[0]
        events.append(TraceEvent(time=time, seq=seq, kind=kind, pool=pool, id=id, data=data))
    return events


def small_trace() -> list[TraceEvent]:
    return trace(
        ev(0, "world_started"),
        ev(0, "enqueued", "p/1", {"fn": "f", "kind": "action", "runAt": 0}),
        ev(0, "started", "p/1", {"attempt": 1, "lagMs": 0}),
        ev(0, "enqueued", "p/2", {"fn": "g", "kind": "action", "runAt": 0}),
        ev(0, "scheduled", "scheduled/1", {"fn": "h", "runAt": 50}),
        ev(0, "call_started", "call/1", {"fn": "x", "kind": "action"}),
        ev(10, "enqueued", "p/3", {"fn": "f", "kind": "action", "runAt": 10}),
        ev(20, "started", "p/2", {"attempt": 1, "lagMs": 20}),
        ev(30, "succeeded", "p/1", {"result": None}),
        ev(30, "canceled", "p/3", {"wasRunning": False}),
        ev(30, "enqueued", "p/5", {"fn": "f", "kind": "action", "runAt": 30}),
        ev(40, "enqueued", "p/4", {"fn": "g", "kind": "action", "runAt": 40}),
        ev(40, "started", "p/5", {"attempt": 1, "lagMs": 10}),
        ev(45, "failed", "p/2", {"error": "boom"}),
        ev(50, "sched_started", "scheduled/1"),
        ev(60, "sched_succeeded", "scheduled/1", {"result": 1}),
    )


@checks()
def test_render_draws_waiting_running_and_end_marks_per_item() -> None:
    assert render(small_trace(), scale=10) == (
        "              |0 ms   | 70 ms\n"
        "              |-------| 10 ms per column\n"
        "p/1 f         |###✓   |\n"
        "p/2 g         |..##✗  |\n"
        "scheduled/1 h |     #✓|\n"
        "p/3 f         | ..C   |\n"
        "p/5 f         |   .###|\n"
        "p/4 g         |    ...|\n"
        "legend: . waiting  # running  ✓ succeeded  ✗ failed  C canceled\n"
    )


@checks()
def test_render_marks_timeouts_and_scheduler_failures_and_cancels() -> None:
    events = trace(
        ev(0, "enqueued", "q/1", {"fn": "slow", "kind": "mutation", "runAt": 0}),
        ev(0, "started", "q/1", {"attempt": 1, "lagMs": 0}),
        ev(2, "timed_out", "q/1", {"timeoutMs": 2}),
        ev(0, "scheduled", "scheduled/1", {"fn": "a", "runAt": 1}),
        ev(1, "sched_started", "scheduled/1"),
        ev(3, "sched_failed", "scheduled/1", {"error": "x"}),
        ev(0, "scheduled", "scheduled/2", {"fn": "b", "runAt": 2}),
        ev(1, "sched_canceled", "scheduled/2"),
    )
    assert render(events, scale=1) == (
        "              |0 ms| 4 ms\n"
        "              |----| 1 ms per column\n"
        "q/1 slow      |##T |\n"
        "scheduled/1 a | ##✗|\n"
        "scheduled/2 b | C  |\n"
        "legend: # running  ✗ failed  C canceled  T timed out\n"
    )


@checks()
def test_render_marks_the_backoff_between_attempts() -> None:
    events = trace(
        ev(0, "enqueued", "r/1", {"fn": "send", "kind": "action", "runAt": 0}),
        ev(0, "started", "r/1", {"attempt": 1, "lagMs": 0}),
        ev(20, "retrying", "r/1", {"attempt": 1, "error": "x", "delayMs": 30, "retryAt": 50}),
        ev(50, "started", "r/1", {"attempt": 2, "lagMs": 0}),
        ev(70, "succeeded", "r/1", {"attempt": 2, "result": None}),
    )
    assert render(events, scale=10) == (
        "         |0 ms    | 80 ms\n"
        "         |--------| 10 ms per column\n"
        "r/1 send |##rrr##✓|\n"
        "legend: # running  r backing off before a retry  ✓ succeeded\n"
    )


@checks()
def test_render_of_a_trace_without_work() -> None:
    assert render([]) == "(no work in this trace)\n"
    no_work = trace(ev(0, "world_started"), ev(5, "rng", None, {"purpose": "x", "value": 0.5}))
    assert render(no_work) == (
        "(no work in this trace)\n"
    )


@checks()
def test_render_chooses_a_scale_that_fits_the_width() -> None:
    events = trace(
        ev(0, "enqueued", "p/1", {"fn": "f", "kind": "action", "runAt": 0}),
        ev(0, "started", "p/1", {"attempt": 1, "lagMs": 0}),
        ev(99, "succeeded", "p/1", {"result": None}),
    )
    picture = render(events, width=10)
    assert picture.splitlines()[1] == "      |----------| 10 ms per column"
    assert picture.splitlines()[2] == "p/1 f |#########✓|"


@checks()
def test_legend_names_only_the_marks_used_and_can_be_left_out() -> None:
    assert legend("#.✗") == "legend: . waiting  # running  ✗ failed"
    assert legend("") == "legend: "
    assert render(small_trace(), scale=10, with_legend=False).count("legend") == 0
