"""Tests of ``refmodel/scheduler.py``: the plain scheduler's states and timing, cancel, the
deployment concurrency limit, and scheduling from mutations (rules SCH-1 to SCH-3, ENQ-3,
ENQ-4)."""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    InvalidArgument,
    MutationCtx,
    QueryCtx,
    SchedState,
    ScheduledFunction,
    UnknownScheduledId,
    World,
)
from tests.helpers import events as _events
from tests.spec import checks


def _world(**options: Any) -> World:
    """A world with ``job`` (an action sleeping ``args['ms']``, default 100, returning
    ``args['out']``), ``fail`` (an action raising after 10 ms) and ``save`` (a 30 ms mutation)."""
    world = World(**options)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 100))
        return args.get("out")

    @world.action()
    async def fail(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10)
        raise RuntimeError("scrape failed")

    @world.mutation(duration_ms=30)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", {"n": 1})

    return world


@checks("SCH-1", "ENQ-4")
def test_scheduled_action_is_pending_then_in_progress_then_success() -> None:
    world = _world()

    scheduled_id = world.client.scheduler.run_after(50, "job", {"out": "done"})
    snapshots = [world.scheduler.get(scheduled_id)]
    world.run_until(50)
    snapshots.append(world.scheduler.get(scheduled_id))
    world.run_until(150)
    snapshots.append(world.scheduler.get(scheduled_id))

    pending = ScheduledFunction(
        id="scheduled/1", name="job", state=SchedState.PENDING, scheduled_time=50,
        completed_time=None,
    )
    assert scheduled_id == "scheduled/1"
    assert snapshots == [
        pending,
        ScheduledFunction(
            id="scheduled/1", name="job", state=SchedState.IN_PROGRESS, scheduled_time=50,
            completed_time=None,
        ),
        ScheduledFunction(
            id="scheduled/1", name="job", state=SchedState.SUCCESS, scheduled_time=50,
            completed_time=150, result="done",
        ),
    ]
    assert _events(world) == [
        (0, "scheduled", "scheduled/1"),
        (50, "sched_started", "scheduled/1"),
        (150, "sched_succeeded", "scheduled/1"),
    ]


@checks("SCH-1", "EXE-1")
def test_scheduled_function_that_throws_ends_failed_with_its_message() -> None:
    world = _world()

    scheduled_id = world.client.scheduler.run_at(20, "fail")
    world.run_until_idle()

    snapshot = world.scheduler.get(scheduled_id)
    assert (snapshot.state, snapshot.completed_time, snapshot.error) == (
        SchedState.FAILED,
        30,
        "scrape failed",
    )
    assert [dict(e.data) for e in world.trace if e.kind == "sched_failed"] == [
        {"error": "scrape failed"}
    ]


@checks("SCH-1", "EXE-2")
def test_scheduled_mutation_is_in_progress_until_its_commit() -> None:
    world = _world()

    scheduled_id = world.client.scheduler.run_after(0, "save")
    world.run_until(29)
    during = world.scheduler.get(scheduled_id).state
    world.run_until(30)

    assert during is SchedState.IN_PROGRESS
    assert world.scheduler.get(scheduled_id).state is SchedState.SUCCESS
    assert [doc["_id"] for doc in world.store.all("docs")] == ["docs:1"]


@checks("ENQ-4", "SCH-1")
def test_run_at_in_the_past_is_clamped_to_now() -> None:
    world = _world()

    world.run_until(500)
    scheduled_id = world.client.scheduler.run_at(100, "job")

    assert world.scheduler.get(scheduled_id).scheduled_time == 500
    world.run_until_idle()
    assert _events(world) == [
        (500, "scheduled", scheduled_id),
        (500, "sched_started", scheduled_id),
        (600, "sched_succeeded", scheduled_id),
    ]


@checks("ENQ-4", "ERR-1")
def test_negative_delay_is_rejected() -> None:
    world = _world()

    with pytest.raises(InvalidArgument) as raised:
        world.client.scheduler.run_after(-1, "job")

    assert str(raised.value) == "delay_ms must be >= 0, got -1"
    assert world.scheduler.ids() == []


@checks("SCH-2")
def test_cancel_of_a_pending_scheduled_function_means_it_never_runs() -> None:
    world = _world()

    canceled = world.client.scheduler.run_after(100, "job")
    kept = world.client.scheduler.run_after(100, "job")
    world.run_until(40)
    world.client.scheduler.cancel(canceled)
    world.run_until_idle()

    snapshot = world.scheduler.get(canceled)
    assert (snapshot.state, snapshot.completed_time) == (SchedState.CANCELED, 40)
    assert _events(world) == [
        (0, "scheduled", canceled),
        (0, "scheduled", kept),
        (40, "sched_canceled", canceled),
        (100, "sched_started", kept),
        (200, "sched_succeeded", kept),
    ]


@checks("SCH-2")
def test_cancel_of_a_started_or_finished_scheduled_function_has_no_effect() -> None:
    world = _world()

    running = world.client.scheduler.run_after(0, "job", {"out": "ran anyway"})
    finished = world.client.scheduler.run_after(0, "job", {"ms": 5})
    world.run_until(50)
    world.client.scheduler.cancel(running)
    world.client.scheduler.cancel(finished)
    world.client.scheduler.cancel(finished)
    world.run_until_idle()

    assert world.scheduler.get(running).state is SchedState.SUCCESS
    assert world.scheduler.get(running).result == "ran anyway"
    assert world.scheduler.get(finished).state is SchedState.SUCCESS
    assert _events(world, "sched_canceled") == []


@checks("SCH-2", "ERR-1")
def test_cancel_of_an_id_the_scheduler_did_not_issue_raises() -> None:
    world = _world()
    world.client.scheduler.run_after(0, "job")

    messages = []
    for bad in ("scheduled/2", "scheduled/0", "p/1", "scheduled/x"):
        with pytest.raises(UnknownScheduledId) as raised:
            world.client.scheduler.cancel(bad)
        messages.append(str(raised.value))

    assert isinstance(UnknownScheduledId("x"), LookupError)
    assert messages == [
        f"{bad!r} is not a scheduled-function id this scheduler issued (it has issued "
        "scheduled/1 to scheduled/1)"
        for bad in ("scheduled/2", "scheduled/0", "p/1", "scheduled/x")
    ]


@checks("SCH-3", "WC-1", "ORD-1")
def test_scheduler_concurrency_starts_due_functions_fifo_into_free_slots() -> None:
    world = _world(scheduler_concurrency=2)

    first = world.client.scheduler.run_after(0, "job", {"ms": 100})
    later = world.client.scheduler.run_at(50, "job", {"ms": 100})
    second = world.client.scheduler.run_after(0, "job", {"ms": 30})
    third = world.client.scheduler.run_after(10, "save")
    in_progress = []
    while not world.idle:
        world.step()
        in_progress.append(world.scheduler.running)

    assert _events(world, "sched_started", "sched_succeeded") == [
        (0, "sched_started", first),
        (0, "sched_started", second),
        (30, "sched_succeeded", second),
        (30, "sched_started", third),
        (60, "sched_succeeded", third),
        (60, "sched_started", later),
        (100, "sched_succeeded", first),
        (160, "sched_succeeded", later),
    ]
    assert max(in_progress) == 2


@checks("SCH-3", "SCH-1")
def test_without_a_limit_every_due_function_starts_at_once() -> None:
    world = _world()

    ids = [world.client.scheduler.run_after(0, "job") for _ in range(5)]
    world.run_until(0)

    assert world.scheduler.running == 5
    assert _events(world, "sched_started") == [(0, "sched_started", i) for i in ids]


@checks("SCH-3", "SCH-1")
def test_pool_work_and_scheduled_functions_do_not_share_slots() -> None:
    world = _world(scheduler_concurrency=1)
    pool = world.pool("p", max_parallelism=1)

    scheduled = [world.client.scheduler.run_after(0, "job") for _ in range(2)]
    work = [pool.enqueue_action(world.client, "job") for _ in range(2)]
    world.run_until_idle()

    assert _events(world, "started", "sched_started") == [
        (0, "sched_started", scheduled[0]),
        (0, "started", work[0]),
        (100, "sched_started", scheduled[1]),
        (100, "started", work[1]),
    ]


@checks("SCH-1")
def test_the_scheduler_refuses_queries() -> None:
    world = _world()

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return 0

    with pytest.raises(InvalidArgument) as raised:
        world.client.scheduler.run_after(0, count)

    assert str(raised.value) == "'count' is a query: the scheduler runs actions and mutations only"
    assert world.scheduler.ids() == []


@checks("ENQ-3", "ENQ-4", "SCH-1")
def test_scheduling_from_a_mutation_takes_effect_at_its_commit() -> None:
    world = _world()
    issued: list[str] = []

    @world.mutation(duration_ms=40)
    def plan(ctx: MutationCtx, args: dict[str, Any]) -> None:
        issued.append(ctx.scheduler.run_after(0, "job"))  # Due max(0 + 0, 40) = 40.
        issued.append(ctx.scheduler.run_after(100, "job"))  # Due max(0 + 100, 40) = 100.
        issued.append(ctx.scheduler.run_at(10, "job"))  # Due max(10, 40) = 40.

    world.run_mutation(plan)
    world.run_until(39)
    before = world.scheduler.ids()
    world.run_until_idle()

    assert before == []
    assert issued == ["scheduled/1", "scheduled/2", "scheduled/3"]
    assert [world.scheduler.get(i).scheduled_time for i in issued] == [40, 100, 40]
    assert _events(world, "scheduled", "sched_started") == [
        (40, "scheduled", "scheduled/1"),
        (40, "scheduled", "scheduled/2"),
        (40, "scheduled", "scheduled/3"),
        (40, "sched_started", "scheduled/1"),
        (40, "sched_started", "scheduled/3"),
        (100, "sched_started", "scheduled/2"),
    ]


@checks("ENQ-3", "SCH-1")
def test_functions_scheduled_by_a_failing_mutation_never_run() -> None:
    world = _world()
    issued: list[str] = []

    @world.mutation(duration_ms=40)
    def plan_then_fail(ctx: MutationCtx, args: dict[str, Any]) -> None:
        issued.append(ctx.scheduler.run_after(0, "job"))
        raise RuntimeError("abort")

    world.run_mutation(plan_then_fail)
    world.run_until_idle()
    later = world.client.scheduler.run_after(0, "job")

    assert issued == ["scheduled/1"]
    assert later == "scheduled/2"
    assert world.scheduler.ids() == ["scheduled/2"]
    with pytest.raises(UnknownScheduledId):
        world.scheduler.get("scheduled/1")


@checks("SCH-2", "ENQ-3")
def test_cancel_from_a_mutation_takes_effect_at_its_commit() -> None:
    world = _world()
    target = world.client.scheduler.run_after(100, "job")

    @world.mutation(duration_ms=40)
    def call_off(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.scheduler.cancel(args["id"])

    world.run_mutation(call_off, {"id": target})
    world.run_until(39)
    before = world.scheduler.get(target).state
    world.run_until_idle()

    assert before is SchedState.PENDING
    assert _events(world, "sched_canceled", "sched_started") == [(40, "sched_canceled", target)]


@checks("SCH-2", "ENQ-3")
def test_cancel_of_an_id_whose_mutation_has_not_committed_raises() -> None:
    world = _world()
    issued: list[str] = []

    @world.mutation(duration_ms=40)
    def plan(ctx: MutationCtx, args: dict[str, Any]) -> None:
        issued.append(ctx.scheduler.run_after(0, "job"))

    world.run_mutation(plan)
    refused = False
    try:
        world.client.scheduler.cancel(issued[0])
    except LookupError:
        refused = True
    world.run_until_idle()

    assert refused
    assert world.scheduler.get(issued[0]).state is SchedState.SUCCESS
