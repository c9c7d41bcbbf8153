"""Actions declared as data (``World.declare_action``; :mod:`refmodel.engine.functions`): they
play exactly like the ``async def`` actions they stand for, without a coroutine per attempt."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    Ending,
    InvalidArgument,
    InvalidType,
    NonRetryableError,
    RefmodelError,
    RetryBehavior,
    World,
)
from refmodel.engine.runtime import PENDING, Request, Run, Runtime
from tests.spec import checks

Plan = dict[str, Any]
"""How each kind of job behaves: ``durations[attempt]``, ``endings[attempt]`` (last repeats)."""

JOBS: dict[str, Plan] = {
    "quick": {"durations": [5], "endings": [Ending.returns({"ok": True})]},
    "instant": {"durations": [0], "endings": [Ending.returns(7)]},
    "flaky": {
        "durations": [10, 20],
        "endings": [Ending.throws("down"), Ending.throws("down again"), Ending.returns("up")],
    },
    "fatal": {"durations": [3], "endings": [Ending.throws("no", retryable=False)]},
    "stuck": {"durations": [0, 50], "endings": [Ending.hangs()]},
    "slow": {"durations": [400], "endings": [Ending.returns(None)]},
}


def _pick(values: list[Any], attempt: int) -> Any:
    return values[min(attempt, len(values)) - 1]


def declare(world: World) -> None:
    """Register the jobs as declared actions."""
    for name, plan in JOBS.items():
        world.declare_action(
            name,
            duration_ms=lambda args, attempt, plan=plan: _pick(plan["durations"], attempt)
            + int(args.get("extra", 0)),
            ending=lambda args, attempt, plan=plan: _pick(plan["endings"], attempt),
        )


class _Forever(Request):
    """An await that never resumes: an attempt that hangs."""

    def handle(self, runtime: Runtime, run: Run) -> Any:
        return PENDING


def write(world: World) -> None:
    """Register the same jobs as the ``async def`` actions they stand for."""
    attempts: dict[str, int] = {}
    for name, plan in JOBS.items():

        async def job(ctx: ActionCtx, args: dict[str, Any], plan: Plan = plan) -> Any:
            key = str(args["key"])
            attempts[key] = attempts.get(key, 0) + 1
            attempt = attempts[key]
            duration = _pick(plan["durations"], attempt) + int(args.get("extra", 0))
            if duration:
                await ctx.sleep(duration)
            ending: Ending = _pick(plan["endings"], attempt)
            if ending.kind == "hangs":
                await _Forever()
            if ending.kind == "throws":
                raise (RuntimeError if ending.retryable else NonRetryableError)(ending.value)
            return ending.value

        world.action(name)(job)


def play(profile: str, register: Callable[[World], None]) -> tuple[str, list[Any]]:
    """One workload of both profiles' features; its trace and what statuses read meanwhile."""
    world = World(seed=11, profile=profile)
    seed = profile == "seed"
    options: dict[str, Any] = {"max_parallelism": 2, "retry_actions_by_default": True,
                               "default_retry_behavior": RetryBehavior(initial_backoff_ms=30)}
    if seed:
        options.update(action_timeout_ms=300, ttl_ms=1000)
    pool = world.pool("p", **options)
    other = world.pool("q", max_parallelism=1)
    register(world)

    @world.mutation("done", duration_ms=2)
    def done(ctx: Any, args: dict[str, Any]) -> None:
        ctx.db.insert("done", {"id": args["work_id"], "kind": args["result"]["kind"]})

    ids = []
    for i, name in enumerate(["quick", "flaky", "instant", "stuck", "fatal", "slow", "stuck"]):
        ids.append(pool.enqueue_action(world.client, name, {"key": f"p{i}", "extra": i},
                                       on_complete="done", context={"i": i}))
    ids.append(other.enqueue_action(world.client, "slow", {"key": "q0"}, run_after=15))
    ids.append(other.enqueue_action(world.client, "flaky", {"key": "q1"}, retry=False))
    seen: list[Any] = []
    for t in (1, 12, 40, 100, 250, 320, 700):
        world.run_until(t)
        seen.append([pool.status(i).to_json() if i.startswith("p/") else other.status(i)
                     .to_json() for i in ids])
        if t == 12:
            pool.cancel(world.client, ids[5])  # Pending by now.
        if t == 100:
            pool.cancel(world.client, pool.running_ids()[0])  # The profile decides.
    world.run_action("quick", {"key": "direct"})
    world.client.scheduler.run_after(5, "flaky", {"key": "sched"})
    world.run()
    return world.trace_jsonl(), seen


@checks("EXE-1", "RTY-1", "RTY-4", "TMO-1", "CAN-2", "CAN-6", "ONC-1", "DET-1")
@pytest.mark.parametrize("profile", ["seed", "current"])
def test_a_declared_action_plays_exactly_like_the_async_def_it_stands_for(profile: str) -> None:
    declared = play(profile, declare)
    written = play(profile, write)
    assert declared == written
    kinds = {line.split('"kind":"')[1].split('"')[0] for line in declared[0].splitlines()}
    assert {"retrying", "succeeded", "failed", "canceled" if profile == "seed"
            else "cancel_requested"} <= kinds
    if profile == "seed":
        assert "timed_out" in kinds


@checks("EXE-1")
def test_a_declared_action_runs_directly_from_an_action_and_from_the_scheduler() -> None:
    world = World()
    twice = world.declare_action(
        "twice", duration_ms=lambda args, attempt: 10,
        ending=lambda args, attempt: Ending.returns(2 * args["n"]),
    )

    @world.action("caller")
    async def caller(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        return await ctx.run_action(twice, {"n": 21})

    handle = world.run_action(caller)
    scheduled = world.client.scheduler.run_after(5, twice, {"n": 1})
    world.run()
    assert handle.result() == 42
    assert world.scheduler.get(scheduled).result == 2
    assert world.now == 15


@checks("EXE-1", "EXE-4")
@pytest.mark.parametrize(
    ("duration", "ending", "error"),
    [
        (lambda args, attempt: -1, Ending.returns(1), "duration_ms must be >= 0, got -1"),
        (lambda args, attempt: 1.5, Ending.returns(1),
         "duration_ms must be an integer number of ms, got 1.5 (float)"),
        (lambda args, attempt: args["missing"], Ending.returns(1), "'missing'"),
        (5, lambda args, attempt: "not an ending", "ending must be an Ending, got 'not an ending'"),
        (5, lambda args, attempt: Ending.returns({1, 2}),
         "return value must be JSON-like (None, bool, int, float, str, list, dict): got set "
         "{1, 2}"),
        (5, lambda args, attempt: Ending(kind="vanishes"),
         "ending: kind must be one of returns, throws, hangs, got 'vanishes'"),
    ],
)
def test_what_a_declared_action_gives_wrongly_fails_its_attempt_like_user_code(
    duration: Any, ending: Any, error: str
) -> None:
    world = World(profile="current")
    pool = world.pool("p")
    job = world.declare_action("job", duration_ms=duration, ending=ending)
    work_id = pool.enqueue_action(world.client, job, {"n": 1})
    world.run_until_idle()
    failed = [e for e in world.trace if e.kind == "failed"]
    assert [(e.id, e.data["error"]) for e in failed] == [(work_id, error)]


BAD_DECLARATIONS = [
    (dict(name=None), InvalidType, "function name must be a non-empty str, got None"),
    (dict(name=""), InvalidArgument, "function name must be a non-empty str, got ''"),
    (dict(name="taken"), InvalidArgument, "a function named 'taken' is already registered"),
    (dict(duration_ms=-5), InvalidArgument, "duration_ms must be >= 0, got -5"),
    (dict(duration_ms=math.inf), InvalidType,
     "duration_ms must be an integer number of ms, got inf"),
    (dict(duration_ms=True), InvalidType,
     "duration_ms must be an integer number of ms, got True (bool)"),
    (dict(ending="ok"), InvalidType,
     "ending must be an Ending (Ending.returns(...), Ending.throws(...), Ending.hangs()) or a "
     "function of (args, attempt) giving one; got 'ok'"),
    (dict(ending=Ending(kind="throws", value=3)), InvalidType,
     "ending: the message of a throws ending must be a str"),
]


@checks("ERR-1")
@pytest.mark.parametrize(("change", "error", "message"), BAD_DECLARATIONS)
def test_a_bad_declaration_is_refused_and_registers_nothing(
    change: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    world = World()
    world.declare_action("taken")
    arguments: dict[str, Any] = {"name": "job", "duration_ms": 0, "ending": Ending.returns(None)}
    arguments.update(change)
    with pytest.raises(RefmodelError) as raised:
        world.declare_action(arguments.pop("name"), **arguments)
    assert (type(raised.value), str(raised.value)) == (error, message)
    assert world.registry.names() == ["taken"]
