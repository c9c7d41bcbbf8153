"""Tests of ``refmodel/world.py``: stepping and running the clock, ``call_at``, same-instant
phase order, driver calls through :class:`CallHandle`, and worlds side by side (rules CLK-1,
CLK-3, CLK-4, DET-1, DET-2)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    CallFailed,
    EmptySchedule,
    InvalidArgument,
    MutationCtx,
    Phase,
    QueryCtx,
    Step,
    StepLimitExceeded,
    World,
)
from refmodel.engine.runtime import PENDING, Request, Run, Runtime
from tests.helpers import events as _events
from tests.spec import checks


def _world_with_job(**options: Any) -> World:
    """A world with ``job``: an action that sleeps ``args['ms']`` (default 100) and returns
    ``args['out']``."""
    world = World(**options)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 100))
        return args.get("out")

    return world


class _Never(Request):
    """A request that is never answered: the awaiting action waits forever."""

    __slots__ = ()

    def handle(self, runtime: Runtime, run: Run) -> Any:
        return PENDING


# Clock ----------------------------------------------------------------------------------------


@checks("CLK-1", "CLK-4")
def test_a_new_world_reads_its_epoch_and_has_nothing_queued() -> None:
    world = World(epoch=1234)

    assert (world.now, world.peek(), world.idle) == (1234, math.inf, True)
    assert [e.to_json() for e in world.trace] == [
        {"t": 1234, "seq": 1, "kind": "world_started", "pool": None, "id": None,
         "data": {"traceVersion": 2, "seed": 0, "epoch": 1234, "profile": "seed"}},
    ]


@checks("CLK-4", "CLK-1")
def test_step_processes_exactly_one_event_and_reports_it() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    pool.enqueue_action(world.client, "job", {"out": "x"})

    before = world.peek()
    first = world.step()
    middle = world.peek()
    second = world.step()

    assert (before, middle) == (0, 100)
    assert (first.time, first.phase, [(e.kind, e.id) for e in first.events]) == (
        0, Phase.START, [("started", "p/1")]
    )
    assert (second.time, second.phase, [(e.kind, e.id) for e in second.events]) == (
        100, Phase.RESUME, [("succeeded", "p/1")]
    )
    assert isinstance(second, Step)
    assert world.now == 100


@checks("CLK-4")
def test_step_with_nothing_queued_raises_empty_schedule_and_changes_nothing() -> None:
    world = World()
    world.run_until(120)
    trace = world.trace_jsonl()

    with pytest.raises(EmptySchedule) as raised:
        world.step()

    assert str(raised.value) == "nothing left to run at 120 ms"
    assert isinstance(raised.value, IndexError)
    assert (world.now, world.peek(), world.trace_jsonl()) == (120, math.inf, trace)


@checks("CLK-4", "CLK-1")
def test_run_until_is_inclusive_by_default_and_exclusive_on_request() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    pool.enqueue_action(world.client, "job")

    world.run_until(100, inclusive=False)
    exclusive = (world.now, pool.status("p/1").to_json(), world.peek())
    world.run_until(100)
    inclusive = (world.now, pool.status("p/1").to_json())

    assert exclusive == (100, {"kind": "inProgress"}, 100)
    assert inclusive == (100, {"kind": "success", "result": None})


@checks("CLK-4", "CLK-1")
def test_run_until_moves_the_clock_even_when_nothing_happens() -> None:
    world = World()

    world.run_until(0)
    world.run_until(500)
    at_500 = world.now
    world.run_until(500)

    assert (at_500, world.now, world.peek()) == (500, 500, math.inf)
    assert _events(world) == []


@checks("CLK-4")
def test_run_until_idle_stops_once_idle_and_leaves_evictions_queued() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1, ttl_ms=1000, action_timeout_ms=5000)
    pool.enqueue_action(world.client, "job")

    world.run_until_idle()
    idle_at = world.now
    world.run_until_idle()  # Already idle: unchanged.

    assert (idle_at, world.now, world.idle) == (100, 100, True)
    assert pool.status("p/1").to_json() == {"kind": "success", "result": None}
    assert _events(world, "evicted") == []
    world.run()
    assert _events(world, "evicted") == [(1100, "evicted", "p/1")]


@checks("CLK-4")
def test_run_until_idle_returns_when_the_queue_empties_before_the_world_is_idle() -> None:
    world = World()

    @world.action()
    async def waits_forever(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(30)
        await _Never()

    handle = world.run_action(waits_forever)
    world.run_until_idle()

    assert (world.now, world.peek(), world.idle, handle.done) == (30, math.inf, False, False)


@checks("CLK-4")
def test_run_drains_every_event_and_returns_at_once_when_nothing_is_queued() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1, ttl_ms=1000, action_timeout_ms=500)
    pool.enqueue_action(world.client, "job")

    world.run()
    drained = (world.peek(), pool.status("p/1").to_json())
    trace = world.trace_jsonl()
    now = world.now
    world.run()

    assert drained == (math.inf, {"kind": "evicted"})
    assert (world.now, world.trace_jsonl()) == (now, trace)


@checks("CLK-4")
def test_run_until_idle_raises_step_limit_exceeded_and_keeps_what_it_processed() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    for _ in range(3):
        pool.enqueue_action(world.client, "job")

    with pytest.raises(StepLimitExceeded) as raised:
        world.run_until_idle(max_steps=2)
    stopped = (world.now, _events(world, "started", "succeeded"))
    world.run_until_idle()

    assert str(raised.value) == "stopped after 2 events at 100 ms before becoming idle"
    assert isinstance(raised.value, RuntimeError)
    assert stopped == (100, [(0, "started", "p/1"), (100, "succeeded", "p/1")])
    assert world.now == 300


@checks("CLK-4")
def test_run_and_run_until_also_take_a_step_limit() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    pool.enqueue_action(world.client, "job")

    with pytest.raises(StepLimitExceeded) as by_run:
        world.run(max_steps=0)
    with pytest.raises(StepLimitExceeded) as by_run_until:
        world.run_until(1000, max_steps=1)

    assert str(by_run.value) == "stopped after 0 events at 0 ms before draining every event"
    assert str(by_run_until.value) == "stopped after 1 events at 0 ms before reaching 1000 ms"
    assert world.now == 0


# Same-instant order ---------------------------------------------------------------------------


@checks("CLK-3", "ORD-2")
def test_call_at_runs_first_in_its_instant() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    seen: list[Any] = []
    first = pool.enqueue_action(world.client, "job")
    second = pool.enqueue_action(world.client, "job")
    world.run_until(50)
    world.call_at(100, lambda: seen.append((world.now, pool.status(first).to_json())))
    world.call_at(100, lambda: seen.append((world.now, pool.status(second).to_json())))

    step = world.step()

    assert (step.time, step.phase, step.events) == (100, Phase.CALL, ())
    assert seen == [(100, {"kind": "inProgress"})]
    world.step()
    assert seen == [(100, {"kind": "inProgress"}), (100, {"kind": "pending"})]


@checks("CLK-3", "TMO-1", "TTL-1", "WC-1", "CAN-1")
def test_events_of_one_instant_run_call_resume_timer_start_evict() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=2, ttl_ms=100, action_timeout_ms=100)
    quick = pool.enqueue_action(world.client, "job", {"ms": 0})  # Ends at 0: evicted at 100.
    stuck = pool.enqueue_action(world.client, "job", {"ms": 500})  # Times out at 100.
    on_time = pool.enqueue_action(world.client, "job", {"ms": 100})  # Returns at 100.
    doomed = pool.enqueue_action(world.client, "job")  # Canceled at 100.
    waiting = pool.enqueue_action(world.client, "job", {"ms": 10})  # Starts at 100.
    world.run_until(50)
    world.call_at(100, lambda: pool.cancel(world.client, doomed))  # Queued last of all.

    phases = []
    while world.peek() == 100:
        step = world.step()
        if step.events:
            phases.append(step.phase)

    assert phases == [Phase.CALL, Phase.RESUME, Phase.TIMER, Phase.START, Phase.EVICT]
    assert _events(world) == [
        (0, "enqueued", quick),
        (0, "enqueued", stuck),
        (0, "enqueued", on_time),
        (0, "enqueued", doomed),
        (0, "enqueued", waiting),
        (0, "started", quick),
        (0, "started", stuck),
        (0, "succeeded", quick),  # Its sleep(0) wake-up (RESUME) comes before the next START.
        (0, "started", on_time),
        (100, "canceled", doomed),
        (100, "succeeded", on_time),
        (100, "timed_out", stuck),
        (100, "started", waiting),
        (100, "evicted", quick),
    ]


@checks("CLK-1", "CLK-4")
def test_call_at_callbacks_act_as_the_driver_at_their_instant() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    world.call_at(250, lambda: _ignore(pool.enqueue_action(world.client, "job")))

    world.run_until_idle()
    before = _events(world)
    world.run()

    assert before == []  # The CALL event is in the future: run_until_idle does not wait.
    assert _events(world) == [
        (250, "enqueued", "p/1"),
        (250, "started", "p/1"),
        (350, "succeeded", "p/1"),
        (350 + 86_400_000, "evicted", "p/1"),
    ]


def _ignore(_: object) -> None:
    return None


@checks("CLK-1")
def test_direct_driver_calls_act_at_the_current_instant_without_moving_the_clock() -> None:
    world = _world_with_job()
    pool = world.pool("p", max_parallelism=1)
    world.run_until(70)

    @world.action()
    async def instant(ctx: ActionCtx, args: dict[str, Any]) -> int:
        return 1

    pool.enqueue_action(world.client, "job")
    world.client.scheduler.run_after(5, "job")
    handle = world.run_action(instant)

    assert world.now == 70
    assert handle.result() == 1
    assert _events(world, "enqueued", "scheduled") == [
        (70, "enqueued", "p/1"),
        (70, "scheduled", "scheduled/1"),
    ]


# Driver calls ---------------------------------------------------------------------------------


@checks("CLK-4", "EXE-1")
def test_world_run_action_returns_a_call_handle_that_tracks_the_call() -> None:
    world = _world_with_job()

    @world.action()
    async def boom(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(5)
        raise RuntimeError("boom")

    ok = world.run_action("job", {"out": {"answer": 42}})
    failing = world.run_action(boom)
    with pytest.raises(InvalidArgument) as early:
        ok.result()
    running = (ok.done, ok.ok, ok.error, repr(ok))
    world.run_until_idle()

    assert str(early.value) == "'job' has not finished yet: run the world further"
    assert running == (False, False, None, "<CallHandle 'job' running>")
    assert (ok.done, ok.ok, ok.error, ok.result(), repr(ok)) == (
        True, True, None, {"answer": 42}, "<CallHandle 'job' ok>"
    )
    assert (failing.done, failing.ok, failing.error, repr(failing)) == (
        True, False, "boom", "<CallHandle 'boom' failed>"
    )
    with pytest.raises(CallFailed) as failed:
        failing.result()
    assert str(failed.value) == "boom"


@checks("EXE-2", "OCC-1")
def test_world_run_mutation_ends_at_its_duration_and_run_query_answers_at_once() -> None:
    world = World()

    @world.mutation(duration_ms=25)
    def add(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", args)

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return len(ctx.db.query("docs"))

    @world.query()
    def broken(ctx: QueryCtx, args: dict[str, Any]) -> int:
        raise ValueError("no such index")

    handle = world.run_mutation(add, {"n": 1})
    during = (handle.done, world.run_query(count), world.idle)
    world.run_until_idle()

    assert during == (False, 0, False)
    assert (handle.result(), world.run_query(count), world.now) == ("docs:1", 1, 25)
    with pytest.raises(CallFailed) as failed:
        world.run_query(broken)
    assert str(failed.value) == "no such index"


@checks("CLK-4", "TMO-2")
def test_run_until_idle_does_not_wait_for_calls_left_running_by_an_abandoned_action() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=50, ttl_ms=math.inf)

    @world.mutation(duration_ms=100)
    def record(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("effects", {"n": 1})

    @world.action()
    async def impatient(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.run_mutation(record)

    pool.enqueue_action(world.client, impatient)
    world.run_until_idle()
    at_idle = (world.now, world.idle, world.store.all("effects"))
    world.run()

    assert at_idle == (50, True, [])
    assert [doc["n"] for doc in world.store.all("effects")] == [1]
    assert _events(world, "timed_out", "committed", "call_succeeded") == [
        (50, "timed_out", "p/1"),
        (100, "committed", None),
        (100, "call_succeeded", "call/1"),
    ]


# Worlds side by side --------------------------------------------------------------------------


def _play(world: World, label: str) -> None:
    pool = world.pool("p", max_parallelism=2)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(int(args["ms"]))
        return f"{label}:{args['ms']}"

    for ms in (30, 10, 20):
        pool.enqueue_action(world.client, job, {"ms": ms})


@checks("DET-1", "CFG-3")
def test_worlds_side_by_side_share_nothing() -> None:
    first, second, other = World(seed=3), World(seed=3), World(seed=3)
    _play(first, "a")
    _play(second, "a")
    _play(other, "b")

    first.step()
    other.run_until_idle()
    second.run_until_idle()
    first.run_until_idle()

    assert first.trace_jsonl() == second.trace_jsonl()
    assert first.trace_jsonl() != other.trace_jsonl()
    assert other.trace_jsonl() == first.trace_jsonl().replace('"a:', '"b:')
    assert (first.now, second.now, other.now) == (30, 30, 30)
    assert first.pools["p"].status("p/3").to_json() == {"kind": "success", "result": "a:20"}


@checks("DET-2")
def test_draws_from_the_world_rng_are_recorded_in_the_trace() -> None:
    first, second = World(seed=11), World(seed=11)

    values = [first.draw("jitter"), first.draw("jitter")]

    assert values == [second.draw("jitter"), second.draw("jitter")]
    assert [(e.kind, dict(e.data)) for e in first.trace if e.kind == "rng"] == [
        ("rng", {"purpose": "jitter", "value": values[0]}),
        ("rng", {"purpose": "jitter", "value": values[1]}),
    ]
