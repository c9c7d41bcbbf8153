"""Step-through debugging: next_step, step and run_until_event (breakpoints)."""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import InvalidType, Phase, StepLimitExceeded, World
from refmodel.engine.runtime import ActionCtx
from tests.spec import checks


def _world_with_three_jobs() -> World:
    world = World(seed=3)
    pool = world.pool("p", max_parallelism=1)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> int:
        await ctx.sleep(10)
        return int(args["n"])

    for n in range(3):
        pool.enqueue_action(world.client, job, {"n": n})
    return world


@checks("CLK-3", "CLK-4")
def test_next_step_names_the_entry_that_step_then_processes() -> None:
    world = _world_with_three_jobs()
    assert world.next_step() == (0, Phase.START, "due work starts")
    step = world.step()
    assert (step.time, step.phase, step.action) == (0, Phase.START, "due work starts")
    assert [(e.kind, e.id) for e in step.events] == [("started", "p/1")]
    assert world.next_step() == (10, Phase.RESUME, "an action wakes from ctx.sleep")


@checks("CLK-3")
def test_next_step_says_in_words_what_every_kind_of_event_does() -> None:
    """No internal name (``TimerQueue._fire``) reaches a user: each event the model queues
    says what it does."""
    world = World(seed=1)
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=5, ttl_ms=50)
    seen: set[str] = set()

    @world.action()
    async def slow(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(100)

    @world.mutation(duration_ms=3)
    def write(ctx: Any, args: dict[str, Any]) -> None:
        return None

    pool.enqueue_action(world.client, slow, {})
    pool.enqueue_mutation(world.client, write, {})
    world.call_at(200, lambda: None)
    while world.next_step() is not None:
        seen.add(world.next_step()[2])  # type: ignore[index]
        world.step()
    assert seen == {"due work starts", "deadlines fall due (timeouts)", "a mutation commits "
                    "(or conflicts)", "results are evicted (ttl)", "a driver's call_at callback",
                    "an action wakes from ctx.sleep"}


@checks("CLK-4")
def test_breakpoint_stops_just_after_the_matching_transition() -> None:
    world = _world_with_three_jobs()
    event = world.run_until_event(lambda e: e.kind == "started" and e.id == "p/3")
    assert event is not None
    assert (event.time, event.kind, event.id) == (20, "started", "p/3")
    assert world.now == 20
    assert world.pools["p"].status("p/2").to_json() == {"kind": "success", "result": 1}
    assert world.pools["p"].status("p/3").to_json() == {"kind": "inProgress"}


@checks("CLK-4")
def test_breakpoint_that_never_matches_returns_none_when_the_queue_empties() -> None:
    world = _world_with_three_jobs()
    assert world.run_until_event(lambda e: e.kind == "timed_out") is None
    assert world.next_step() is None


@checks("CLK-4", "ERR-1")
def test_breakpoint_respects_max_steps_and_rejects_a_non_callable() -> None:
    world = _world_with_three_jobs()
    with pytest.raises(StepLimitExceeded, match="stopped after 2 events at 10 ms"):
        world.run_until_event(lambda e: e.kind == "evicted", max_steps=2)
    with pytest.raises(InvalidType, match="match must be a callable"):
        world.run_until_event("started")  # type: ignore[arg-type]
