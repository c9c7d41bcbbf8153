"""Tests of ``refmodel/metrics.py``: the component's log events and its periodic reports, as
projections of a trace (rules MET-1, MET-2).

The log events are checked whole on model worlds; the report arithmetic is checked on a
hand-written trace whose counts and rates are computed by hand in the comments, and on a model
world.
"""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    RefmodelError,
    RetryBehavior,
    TraceEvent,
    Workpool,
    World,
)
from refmodel.metrics import component_events, reports, should_log
from refmodel.workpool.options import LOG_LEVELS
from tests.spec import checks


def _world(profile: str = "current", **options: Any) -> tuple[World, Workpool]:
    """A world with pool ``p``; ``job`` sleeps ``ms`` (default 100), raises ``fail`` if given."""
    world = World(profile=profile)
    pool = world.pool("p", **options)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 100))
        if "fail" in args:
            raise RuntimeError(args["fail"])
        return "ok"

    return world, pool


def _small_story(log_level: str) -> World:
    """One slot: p/1 succeeds, p/2 fails once and then succeeds, p/3 is canceled pending."""
    world, pool = _world(max_parallelism=1, log_level=log_level)
    pool.enqueue_action(world.client, "job")
    pool.enqueue_action(
        world.client, "job", {"fail": "flaky", "ms": 50},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=0),
    )
    pool.enqueue_action(world.client, "job", run_at=1_000)
    world.run_until(500)
    pool.cancel(world.client, "p/3")
    world.run_until_idle()
    return world


def _event(kind: str, work_id: str, fn: str = "job", **fields: Any) -> dict[str, Any]:
    return {"component": "workpool", "event": kind, "workId": work_id, "fnName": fn, **fields}


# MET-1: log events ----------------------------------------------------------------------------


@checks("MET-1")
def test_component_events_at_info_show_every_enqueue_start_and_completion() -> None:
    world = _small_story("INFO")

    assert component_events(world.trace, "p") == [
        _event("enqueued", "p/1", runAt=0, enqueuedAt=0),
        _event("enqueued", "p/2", runAt=0, enqueuedAt=0),
        _event("enqueued", "p/3", runAt=1_000, enqueuedAt=0),
        _event("started", "p/1", enqueuedAt=0, startedAt=0, startLag=0),
        _event("completed", "p/1", completedAt=100, attempts=1, status="success"),
        _event("started", "p/2", enqueuedAt=0, startedAt=100, startLag=100),
        _event("completed", "p/2", completedAt=150, attempts=1, status="retrying"),
        _event("started", "p/2", enqueuedAt=0, startedAt=150, startLag=0),
        _event("completed", "p/2", completedAt=200, attempts=2, status="failed"),
        _event("completed", "p/3", completedAt=500, attempts=0, status="canceled"),
    ]


@checks("MET-1", "CAN-6")
def test_cancel_of_running_work_logs_its_real_status() -> None:
    world, pool = _world(log_level="DEBUG")
    ok = pool.enqueue_action(world.client, "job")
    would_retry = pool.enqueue_action(
        world.client, "job", {"fail": "x"}, retry=RetryBehavior(initial_backoff_ms=0)
    )
    world.run_until(50)
    pool.cancel(world.client, ok)
    pool.cancel(world.client, would_retry)
    world.run_until_idle()

    completed = [
        (e["workId"], e["completedAt"], e["attempts"], e["status"])
        for e in component_events(world.trace, "p")
        if e["event"] == "completed"
    ]
    assert completed == [("p/1", 100, 1, "success"), ("p/2", 100, 1, "canceled")]


@checks("MET-1", "ENQ-6")
def test_started_lag_counts_from_the_retry_or_run_at_time() -> None:
    world, pool = _world(max_parallelism=1, log_level="INFO")
    pool.enqueue_action(world.client, "job", {"ms": 500})
    pool.enqueue_action(world.client, "job", run_at=200)
    world.run_until_idle()

    started = [
        (e["workId"], e["startedAt"], e["startLag"], e["enqueuedAt"])
        for e in component_events(world.trace, "p")
        if e["event"] == "started"
    ]
    assert started == [("p/1", 0, 0, 0), ("p/2", 500, 300, 0)]


def _long_story(log_level: str) -> World:
    """A pool that works for more than a minute, so that one report falls due."""
    world, pool = _world(log_level=log_level)
    pool.enqueue_action(world.client, "job", {"ms": 70_000})
    pool.enqueue_action(world.client, "job", {"ms": 10})
    world.run_until_idle()
    return world


@pytest.mark.parametrize(
    ("level", "kinds"),
    [
        ("DEBUG", ["enqueued", "enqueued", "started", "started", "completed", "report",
                   "completed"]),
        ("TRACE", ["enqueued", "enqueued", "started", "started", "completed", "report",
                   "completed"]),
        ("INFO", ["enqueued", "enqueued", "started", "started", "completed", "report",
                  "completed"]),
        ("REPORT", ["report"]),
        ("WARN", []),
        ("ERROR", []),
    ],
)
@checks("MET-1", "CFG-4")
def test_events_are_gated_by_the_pools_log_level(level: str, kinds: list[str]) -> None:
    world = _long_story(level)

    assert [e["event"] for e in component_events(world.trace, "p")] == kinds


@pytest.mark.parametrize("level", LOG_LEVELS["current"])
@checks("MET-1")
def test_an_explicit_level_overrides_the_pools(level: str) -> None:
    world = _long_story("ERROR")

    assert component_events(world.trace, "p", log_level=level) == component_events(
        _long_story(level).trace, "p"
    )


@checks("MET-1", "CFG-5")
def test_the_level_follows_update_config_over_time() -> None:
    world, pool = _world(max_parallelism=1)
    pool.enqueue_action(world.client, "job")
    world.run_until(50)
    pool.update_config(log_level="INFO")
    pool.enqueue_action(world.client, "job")
    world.run_until(150)
    pool.update_config(log_level="WARN")
    world.run_until_idle()

    logged = [(e["event"], e["workId"]) for e in component_events(world.trace, "p")]
    assert logged == [("enqueued", "p/2"), ("completed", "p/1"), ("started", "p/2")]


@checks("MET-1")
def test_only_the_named_pools_events_are_projected() -> None:
    world, pool = _world(log_level="INFO")
    other = world.pool("q", log_level="INFO")
    other.enqueue_action(world.client, "job")
    pool.enqueue_action(world.client, "job")
    world.run_until_idle()

    assert {e["workId"] for e in component_events(world.trace, "p")} == {"p/1"}
    assert {e["workId"] for e in component_events(world.trace, "q")} == {"q/1"}
    assert component_events(world.trace, "nope") == []


@checks("MET-1", "CFG-4")
def test_should_log_follows_the_level_order() -> None:
    levels = LOG_LEVELS["current"]
    table = {
        (config, level): should_log(config, level) for config in levels for level in levels
    }

    assert table == {
        (config, level): levels.index(config) <= levels.index(level)
        for config in levels
        for level in levels
    }
    assert (should_log("REPORT", "REPORT"), should_log("REPORT", "INFO")) == (True, False)
    assert (should_log("WARN", "REPORT"), should_log("TRACE", "INFO")) == (False, True)
    assert should_log("INFO", "WARN") is True
    assert should_log("WARN", "INFO") is False


# MET-2: reports -------------------------------------------------------------------------------


def _ev(time: int, kind: str, pool: str | None, work_id: str | None, **data: Any) -> TraceEvent:
    return TraceEvent(time=time, seq=0, kind=kind, pool=pool, id=work_id, data=data)


def _hand_trace() -> list[TraceEvent]:
    """A trace written by hand; the windows' numbers are worked out in the comments."""
    events = [
        _ev(0, "world_started", None, None, profile="current"),
        _ev(0, "pool_created", "p", None, logLevel="REPORT"),
        _ev(0, "pool_created", "q", None, logLevel="REPORT"),
    ]
    for name in "abcd":
        events.append(_ev(0, "enqueued", "p", f"p/{name}", fn="job", runAt=0))
    events += [
        _ev(0, "enqueued", "p", "p/e", fn="job", runAt=90_000),  # Not due before 90 s.
        _ev(0, "started", "p", "p/a", attempt=1),
        _ev(0, "started", "p", "p/b", attempt=1),
        _ev(1_000, "succeeded", "p", "p/a", attempt=1),  # completed 1, succeeded 1
        _ev(1_000, "retrying", "p", "p/b", attempt=1, retryAt=2_000),  # completed 2, retries 1
        _ev(1_000, "started", "p", "p/c", attempt=1),
        _ev(2_000, "started", "p", "p/b", attempt=2),
        _ev(3_000, "failed", "p", "p/b", attempt=2),  # completed 3, failed 1
        _ev(3_000, "started", "p", "p/d", attempt=1),
        _ev(4_000, "succeeded", "p", "p/c", attempt=1),  # completed 4, succeeded 2
        _ev(5_000, "enqueued", "p", "p/f", fn="job", runAt=5_000),
        _ev(5_000, "canceled", "p", "p/f", attempt=0),  # canceled 1; never ran: not completed
        _ev(59_999, "started", "q", "q/1", attempt=1),  # Another pool: no report for p.
        _ev(60_500, "rng", None, None, value=0.5),  # Not a pool event.
        _ev(60_700, "warning", "p", None, message="w"),  # No work id: no report.
        # Report 1 at 61 s: completed 4, succeeded 2, failed 1, retries 1, canceled 1,
        # running 1 (p/d), backlog 0 (p/e not due), failureRate (1 + 1) / 4 = 0.5,
        # permanentFailureRate 1 / (4 - 1) = 0.3333; next lastReportTs = 0 + 60 s, since
        # 61 s is not more than 30 s past it.
        _ev(61_000, "cancel_requested", "p", "p/d", attempt=1),
        _ev(62_000, "succeeded", "p", "p/d", attempt=1),  # completed 1, succeeded 1
        _ev(90_000, "started", "p", "p/e", attempt=1),
        _ev(95_000, "enqueued", "p", "p/g", fn="job", runAt=95_000),
        # Report 2 at 200 s: completed 1, succeeded 1, running 1 (p/e), backlog 1 (p/g),
        # failureRate 0 / 1 = 0, permanentFailureRate 0 / (1 - 0) = 0; 60 s + 60 s = 120 s is
        # 80 s behind, more than 30 s, so the next lastReportTs is 200 s.
        _ev(200_000, "cancel_requested", "p", "p/e", attempt=1),
        _ev(259_999, "cancel_ignored", "p", "p/a", state="finished"),  # Not yet 60 s.
        # Report 3 at 260 s: an empty window; both rates 0 (no completions).
        _ev(260_000, "cancel_ignored", "p", "p/b", state="finished"),
    ]
    return events


def _report(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "component": "workpool", "event": "report", "completed": 0, "succeeded": 0, "failed": 0,
        "retries": 0, "canceled": 0, "lastReportTs": 0, "running": 0, "backlog": 0,
        "failureRate": 0, "permanentFailureRate": 0,
    }
    return {**base, **fields}


@checks("MET-2")
def test_reports_of_a_hand_written_trace() -> None:
    assert reports(_hand_trace(), "p") == [
        _report(completed=4, succeeded=2, failed=1, retries=1, canceled=1, lastReportTs=0,
                running=1, backlog=0, failureRate=0.5, permanentFailureRate=0.3333),
        _report(completed=1, succeeded=1, lastReportTs=60_000, running=1, backlog=1,
                failureRate=0.0, permanentFailureRate=0.0),
        _report(lastReportTs=200_000, running=1, backlog=1),
    ]
    assert reports(_hand_trace(), "q") == []


@checks("MET-2", "MET-1")
def test_reports_are_logged_at_report_level_among_the_other_events() -> None:
    logged = component_events(_hand_trace(), "p")

    assert [e["event"] for e in logged] == ["report"] * 3
    assert logged == reports(_hand_trace(), "p")


@checks("MET-2", "RTY-2", "CAN-6")
def test_report_of_a_model_world_with_retries_failures_and_a_cancel() -> None:
    world, pool = _world(max_parallelism=2)
    pool.enqueue_action(world.client, "job", {"ms": 1_000})  # succeeds at 1 s
    pool.enqueue_action(  # retried once, then fails for good
        world.client, "job", {"ms": 1_000, "fail": "bad"},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=1_000),
    )
    long_one = pool.enqueue_action(world.client, "job", {"ms": 100_000})  # runs from 1 s
    pool.enqueue_action(world.client, "job", {"ms": 1_000}, run_at=50_000)  # succeeds at 51 s
    doomed = pool.enqueue_action(world.client, "job", run_at=55_000)
    world.run_until(54_000)
    pool.cancel(world.client, doomed)  # canceled while pending
    world.run_until(61_000)
    pool.cancel(world.client, long_one)  # its cancel_requested is the first event after 60 s
    world.run_until_idle()

    assert reports(world.trace, "p") == [
        _report(completed=4, succeeded=2, failed=1, retries=1, canceled=1, lastReportTs=0,
                running=1, backlog=0, failureRate=0.5, permanentFailureRate=0.3333),
    ]


@checks("MET-2")
def test_an_idle_pool_reports_nothing() -> None:
    world, pool = _world()
    pool.enqueue_action(world.client, "job")
    world.run_until_idle()
    world.run_until(600_000)

    assert reports(world.trace, "p") == []


@checks("MET-2")
def test_a_completion_that_triggers_the_report_counts_in_the_next_window() -> None:
    world, pool = _world(max_parallelism=2)
    pool.enqueue_action(world.client, "job", {"ms": 1_000})
    pool.enqueue_action(
        world.client, "job", {"ms": 1_000, "fail": "bad"},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=1_000),
    )
    pool.enqueue_action(world.client, "job", {"ms": 70_000})  # succeeds at 71 s
    pool.enqueue_action(world.client, "job", {"ms": 1_000}, run_at=50_000)
    doomed = pool.enqueue_action(world.client, "job", run_at=55_000)
    world.run_until(54_000)
    pool.cancel(world.client, doomed)
    world.run_until_idle()

    # The report is emitted before the 71 s completion is counted: that item still runs.
    assert reports(world.trace, "p") == [
        _report(completed=4, succeeded=2, failed=1, retries=1, canceled=1, lastReportTs=0,
                running=1, backlog=0, failureRate=0.5, permanentFailureRate=0.3333),
    ]
    logged = [(e["event"], e.get("workId")) for e in component_events(world.trace, "p",
                                                                        log_level="INFO")]
    assert logged[-2:] == [("report", None), ("completed", "p/3")]


@checks("MET-2", "MET-1")
def test_projecting_a_seed_profile_trace_does_not_crash() -> None:
    world, pool = _world("seed", max_parallelism=1)
    pool.enqueue_action(world.client, "job", {"ms": 70_000})
    pool.enqueue_action(world.client, "job", {"ms": 10})
    world.run_until_idle()

    outcome: str
    try:
        reports(world.trace, "p")
        component_events(world.trace, "p")
        outcome = "projected"
    except RefmodelError as exc:  # A deliberate refusal would be fine too.
        outcome = f"refused: {exc}"
    except ValueError as exc:
        outcome = f"crashed: {exc}"

    assert not outcome.startswith("crashed"), outcome
