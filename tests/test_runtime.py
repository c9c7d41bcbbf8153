"""Tests of ``refmodel/runtime.py``: actions as coroutines on the virtual clock, nested calls,
error messages, return values, foreign awaitables, and which exceptions are the model's own
(rule EXE-4)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator
from typing import Any
from unittest import mock

import pytest

import refmodel.workpool.items
from refmodel import (
    ActionCtx,
    CallFailed,
    ConflictError,
    MutationCtx,
    QueryCtx,
    Workpool,
    World,
)
from tests.helpers import events as _events
from tests.spec import checks

# Actions as coroutines -------------------------------------------------------------------------


@checks("EXE-1", "CLK-1")
def test_action_sleeps_resume_after_exactly_their_virtual_duration() -> None:
    world = World(epoch=1000)
    seen: list[int] = []

    @world.action()
    async def sleeper(ctx: ActionCtx, args: dict[str, Any]) -> str:
        seen.append(ctx.now)
        await ctx.sleep(0)
        seen.append(ctx.now)
        await ctx.sleep(250)
        seen.append(ctx.now)
        await ctx.sleep(1)
        seen.append(ctx.now)
        return "awake"

    handle = world.run_action(sleeper)
    world.run_until_idle()

    assert seen == [1000, 1000, 1250, 1251]
    assert handle.result() == "awake"
    assert _events(world) == [(1000, "call_started", "call/1"), (1251, "call_succeeded", "call/1")]


@checks("EXE-1")
def test_action_that_awaits_nothing_ends_at_its_start_instant() -> None:
    world = World()

    @world.action()
    async def quick(ctx: ActionCtx, args: dict[str, Any]) -> int:
        return int(args["n"]) * 2

    handle = world.run_action(quick, {"n": 21})

    assert handle.done
    assert handle.result() == 42
    assert world.peek() == math.inf


@checks("EXE-1", "EXE-2")
def test_action_runs_nested_mutation_query_and_action_on_the_clock() -> None:
    world = World()

    @world.mutation(duration_ms=30)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", {"n": 1})

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return len(ctx.db.query("docs"))

    @world.action()
    async def child(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(40)
        return "child done"

    @world.action()
    async def parent(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        await ctx.sleep(10)
        out += [await ctx.run_mutation(save), ctx.now]
        out += [await ctx.run_query(count), ctx.now]
        out += [await ctx.run_action(child), ctx.now]
        return out

    handle = world.run_action(parent)
    world.run_until_idle()

    assert handle.result() == ["docs:1", 40, 1, 40, "child done", 80]
    assert _events(world) == [
        (0, "call_started", "call/1"),
        (10, "call_started", "call/2"),
        (40, "committed", None),
        (40, "call_succeeded", "call/2"),
        (40, "call_started", "call/3"),
        (40, "call_succeeded", "call/3"),
        (40, "call_started", "call/4"),
        (80, "call_succeeded", "call/4"),
        (80, "call_succeeded", "call/1"),
    ]


@checks("EXE-1")
def test_failing_child_raises_call_failed_with_its_message_at_its_end() -> None:
    world = World()

    @world.mutation(duration_ms=25)
    def refuse(ctx: MutationCtx, args: dict[str, Any]) -> None:
        raise PermissionError("not allowed")

    @world.query()
    def broken(ctx: QueryCtx, args: dict[str, Any]) -> None:
        raise LookupError("no index")

    @world.action()
    async def child(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(5)
        raise RuntimeError("child crashed")

    @world.action()
    async def parent(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for call in (ctx.run_mutation(refuse), ctx.run_query(broken), ctx.run_action(child)):
            try:
                await call
            except CallFailed as failure:
                out.append([ctx.now, str(failure)])
        return out

    handle = world.run_action(parent)
    world.run_until_idle()

    assert handle.result() == [[25, "not allowed"], [25, "no index"], [30, "child crashed"]]


@checks("EXE-1", "OCC-2")
def test_conflict_of_an_awaited_mutation_is_raised_into_the_action() -> None:
    world = World()

    @world.mutation()
    def create(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("counters", {"value": 0})

    @world.mutation(duration_ms=50)
    def slow_increment(ctx: MutationCtx, args: dict[str, Any]) -> None:
        doc = ctx.db.get(args["id"])
        assert doc is not None
        ctx.db.patch(args["id"], {"value": doc["value"] + 1})

    @world.mutation()
    def reset(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(args["id"], {"value": 100})

    @world.action()
    async def increment(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        try:
            await ctx.run_mutation(slow_increment, args)
        except CallFailed as failure:
            return [ctx.now, str(failure)]
        return []

    counter = world.run_mutation(create).result()
    handle = world.run_action(increment, {"id": counter})
    world.run_until(20)
    world.run_mutation(reset, {"id": counter})
    world.run_until_idle()

    assert handle.result() == [
        50,
        f"OCC conflict: {counter!r}, read by mutation 'slow_increment', was written by "
        "another commit while it ran",
    ]
    assert world.store.get(counter) == {"_id": counter, "_creationTime": 0, "value": 100}


# Error messages -------------------------------------------------------------------------------


class _Quiet(Exception):
    """An exception whose message is empty."""


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        (ValueError("bad value"), "bad value"),
        (ValueError(), "ValueError"),
        (_Quiet(), "_Quiet"),
        (KeyError("k"), "'k'"),
        (RuntimeError(""), "RuntimeError"),
        (ConflictError("from user code"), "from user code"),
    ],
)
@checks("EXE-1")
def test_error_message_is_str_of_the_exception_or_its_class_name(
    exception: Exception, message: str
) -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2)

    @world.action()
    async def fail(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(1)
        raise exception

    @world.mutation(duration_ms=3)
    def fail_mutation(ctx: MutationCtx, args: dict[str, Any]) -> None:
        raise exception

    action_id = pool.enqueue_action(world.client, fail)
    mutation_id = pool.enqueue_mutation(world.client, fail_mutation)
    world.run_until_idle()

    assert pool.status(action_id).to_json() == {"kind": "error", "error": message}
    assert pool.status(mutation_id).to_json() == {"kind": "error", "error": message}
    assert _events(world, "failed") == [(1, "failed", action_id), (3, "failed", mutation_id)]


@checks("ENQ-2", "EXE-1")
def test_non_json_return_value_fails_the_function_and_names_the_path() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3)

    @world.action()
    async def returns_set(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        return {"tags": [1, {2}]}

    @world.action()
    async def returns_nan(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        return [math.nan]

    @world.mutation(duration_ms=10)
    def returns_bad_keys(ctx: MutationCtx, args: dict[str, Any]) -> Any:
        ctx.db.insert("docs", {"n": 1})
        return {1: "one"}

    ids = [
        pool.enqueue_action(world.client, returns_set),
        pool.enqueue_action(world.client, returns_nan),
        pool.enqueue_mutation(world.client, returns_bad_keys),
    ]
    world.run_until_idle()

    assert [pool.status(i).to_json() for i in ids] == [
        {
            "kind": "error",
            "error": "return value['tags'][1] must be JSON-like (None, bool, int, float, str, "
            "list, dict): got set {2}",
        },
        {
            "kind": "error",
            "error": "return value[0] must be JSON-like: got nan, which is not finite",
        },
        {
            "kind": "error",
            "error": "return value must be JSON-like: object keys must be str, got 1 (int)",
        },
    ]
    assert _events(world, "failed") == [(0, "failed", "p/1"), (0, "failed", "p/2"),
                                        (10, "failed", "p/3")]
    assert world.store.all("docs") == []


class _Foreign:
    """An awaitable that is not refmodel's: it yields a plain value to the driver."""

    def __await__(self) -> Generator[Any, Any, None]:
        yield "a foreign future"


@checks("EXE-1", "CLK-1")
def test_awaiting_a_foreign_awaitable_fails_the_action_with_a_clear_message() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    caught: list[str] = []

    @world.action()
    async def uses_foreign(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await _Foreign()

    @world.action()
    async def catches_foreign(ctx: ActionCtx, args: dict[str, Any]) -> str:
        try:
            await _Foreign()
        except TypeError as error:
            caught.append(type(error).__name__)
        await ctx.sleep(5)
        return "recovered"

    failing = pool.enqueue_action(world.client, uses_foreign)
    recovering = world.run_action(catches_foreign)
    world.run_until_idle()

    assert pool.status(failing).to_json() == {
        "kind": "error",
        "error": "an action may only await what refmodel gives it (ctx.sleep, ctx.run_*, "
        "pool.poll_result, ...); it awaited 'a foreign future'",
    }
    assert caught == ["InvalidType"]
    assert recovering.result() == "recovered"
    assert world.now == 5


@checks("DET-1", "ERR-1")
def test_failure_messages_of_rejected_values_carry_no_memory_address() -> None:
    def play(marker: object) -> str:
        world = World(seed=7)
        pool = world.pool("p", max_parallelism=1)

        @world.action()
        async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
            return None

        @world.action()
        async def enqueue_object(ctx: ActionCtx, args: dict[str, Any]) -> None:
            pool.enqueue_action(ctx, job, {"payload": marker})

        world.run_action(enqueue_object)
        world.run_until_idle()
        return world.trace_jsonl()

    first, second = object(), object()  # Both alive: their addresses differ.

    assert play(first) == play(second)


# EXE-4: the model's own errors ----------------------------------------------------------------


def _enqueue_after_a_sleep(world: World, pool: Workpool) -> Any:
    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    @world.action()
    async def enqueue_later(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10)
        pool.enqueue_action(ctx, job)

    return enqueue_later


@checks("EXE-4")
def test_an_exception_raised_in_the_models_own_code_propagates_to_the_driver() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    enqueue_later = _enqueue_after_a_sleep(world, pool)
    handle = world.run_action(enqueue_later)

    with mock.patch.dict(refmodel.workpool.items._KIND_CODE, clear=True), pytest.raises(KeyError):
        world.run_until_idle()  # items.py looks the kind up in the emptied table: KeyError.

    assert not handle.done
    assert _events(world, "call_failed", "call_succeeded") == []


class _Halt(BaseException):
    """A BaseException that is not an Exception (like KeyboardInterrupt)."""


@checks("EXE-4", "EXE-1")
def test_base_exceptions_raised_by_user_code_are_not_captured() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def halt(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10)
        raise _Halt("stop the simulation")

    work_id = pool.enqueue_action(world.client, halt)

    with pytest.raises(_Halt):
        world.run_until_idle()
    assert world.now == 10
    assert pool.status(work_id).to_json() == {"kind": "inProgress"}


@checks("EXE-4", "RES-3")
def test_documented_errors_raised_into_user_code_become_the_functions_error() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2)

    @world.action()
    async def slow(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(1000)

    @world.action()
    async def impatient(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await pool.poll_result(ctx, args["id"], 10)

    @world.action()
    async def sloppy(ctx: ActionCtx, args: dict[str, Any]) -> None:
        pool.status("p/99")

    target = pool.enqueue_action(world.client, slow)
    waiter = pool.enqueue_action(world.client, impatient, {"id": target})
    world.run_until(10)
    prober = world.run_action(sloppy)

    assert pool.status(waiter).to_json() == {
        "kind": "error",
        "error": "Timeout waiting for result of work p/1",
    }
    assert prober.error == "unknown work id 'p/99': pool 'p' has issued ids up to p/2"


@checks("EXE-4", "TMO-2")
def test_an_exception_in_the_finally_block_of_an_abandoned_action_stays_inside() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=50)

    @world.action()
    async def messy(ctx: ActionCtx, args: dict[str, Any]) -> None:
        try:
            await ctx.sleep(100)
        finally:
            raise ValueError("cleanup failed")

    work_id = pool.enqueue_action(world.client, messy)
    with contextlib.suppress(ValueError):
        world.run_until_idle()

    assert pool.status(work_id).to_json() == {"kind": "error", "error": "Timeout"}
    assert pool.statistics().running == 0
