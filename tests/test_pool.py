"""Tests of ``refmodel/pool.py``: enqueue, status, order, slots, timeouts, cancel, TTL, results,
the ``pool.ctx(ctx)`` wrapper and work ids.

Every scenario runs on the virtual clock; whole traces are compared as ``(time, kind, id)``
tuples where order matters.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    ForeignWorkId,
    MutationCtx,
    NotInAction,
    PollTimeout,
    QueryCtx,
    UnknownWorkId,
    WorkEvicted,
    WorkFailed,
    WorkKind,
    World,
)
from tests.helpers import Event
from tests.helpers import events as _events
from tests.spec import checks


def _sleeper(world: World, name: str = "job") -> Any:
    """Register an action that sleeps ``args['ms']`` (default 100) and returns ``args['out']``."""

    @world.action(name)
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 100))
        return args.get("out")

    return job


# Enqueue and status ---------------------------------------------------------------------------


@checks("ENQ-1", "STS-1")
def test_enqueued_action_reads_pending_then_in_progress_then_success() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=5)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job, {"ms": 100, "out": "done"})
    seen = [(world.now, pool.status(work_id).to_json())]
    world.step()  # The START event at 0.
    seen.append((world.now, pool.status(work_id).to_json()))
    world.run_until(99)
    seen.append((world.now, pool.status(work_id).to_json()))
    world.run_until(100)
    seen.append((world.now, pool.status(work_id).to_json()))

    assert work_id == "p/1"
    assert seen == [
        (0, {"kind": "pending"}),
        (0, {"kind": "inProgress"}),
        (99, {"kind": "inProgress"}),
        (100, {"kind": "success", "result": "done"}),
    ]


@checks("STS-1", "EXE-1")
def test_failing_action_reads_error_with_its_message() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def fail(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10)
        raise RuntimeError("mail server down")

    work_id = pool.enqueue_action(world.client, fail)
    world.run_until_idle()

    assert pool.status(work_id).to_json() == {"kind": "error", "error": "mail server down"}
    assert _events(world) == [
        (0, "enqueued", "p/1"),
        (0, "started", "p/1"),
        (10, "failed", "p/1"),
    ]


@checks("ENQ-1", "STS-1")
def test_enqueued_mutation_reads_in_progress_until_its_commit() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    @world.mutation(duration_ms=30)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", {"n": 1})

    work_id = pool.enqueue_mutation(world.client, save)
    world.run_until(29)
    before = pool.status(work_id).to_json()
    world.run_until(30)

    assert before == {"kind": "inProgress"}
    assert pool.status(work_id).to_json() == {"kind": "success", "result": "docs:1"}
    assert [doc["_id"] for doc in world.store.all("docs")] == ["docs:1"]


@checks("ENQ-1", "CFG-3")
def test_ids_count_up_per_pool_across_kinds() -> None:
    world = World()
    emails = world.pool("emails", max_parallelism=1)
    other = world.pool("other", max_parallelism=1)
    job = _sleeper(world)

    @world.mutation()
    def noop(ctx: MutationCtx, args: dict[str, Any]) -> None:
        return None

    ids = [
        emails.enqueue_action(world.client, job),
        emails.enqueue_mutation(world.client, noop),
        other.enqueue_action(world.client, job),
        emails.enqueue_unknown(world.client, job, {}, 0),
    ]

    assert ids == ["emails/1", "emails/2", "other/1", "emails/3"]
    assert [emails.kind_of(i) for i in ("emails/1", "emails/2", "emails/3")] == [
        WorkKind.ACTION,
        WorkKind.MUTATION,
        WorkKind.UNKNOWN,
    ]


@checks("CFG-3", "PAR-1")
def test_pools_of_one_world_run_independently() -> None:
    world = World()
    first = world.pool("first", max_parallelism=1)
    second = world.pool("second", max_parallelism=1)
    job = _sleeper(world)

    first.enqueue_action(world.client, job)
    first.enqueue_action(world.client, job)
    second.enqueue_action(world.client, job)
    world.run_until_idle()

    assert _events(world, "started") == [
        (0, "started", "first/1"),
        (0, "started", "second/1"),
        (100, "started", "first/2"),
    ]


# Order and work conservation ------------------------------------------------------------------


@checks("ORD-1", "ORD-2", "ENQ-4")
def test_work_starts_fifo_by_eligibility_time_then_enqueue_order() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    late = pool.enqueue_unknown(world.client, job, {}, 250)  # E=250
    first = pool.enqueue_action(world.client, job)  # E=0
    soon = pool.enqueue_unknown(world.client, job, {}, 50)  # E=50
    second = pool.enqueue_action(world.client, job)  # E=0
    world.run_until(150)
    clamped = pool.enqueue_unknown(world.client, job, {}, 10)  # In the past: E=150.
    world.run_until_idle()

    assert [late, first, soon, second, clamped] == ["p/1", "p/2", "p/3", "p/4", "p/5"]
    assert _events(world, "started") == [
        (0, "started", first),
        (100, "started", second),
        (200, "started", soon),
        (300, "started", clamped),
        (400, "started", late),
    ]
    enqueued = [(e.id, dict(e.data)) for e in world.trace if e.kind == "enqueued"]
    assert enqueued[-1] == (
        clamped,
        {"fn": "job", "kind": "unknown", "runAt": 150, "requestedRunAt": 10, "retry": None,
         "onComplete": None},
    )


@checks("ORD-2", "ENQ-1")
def test_future_work_does_not_start_before_its_eligibility_time_even_with_free_slots() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3)
    job = _sleeper(world)

    work_id = pool.enqueue_unknown(world.client, job, {}, 70)
    world.run_until(69)
    before = pool.status(work_id).to_json()
    world.run_until(70)

    assert before == {"kind": "pending"}
    assert pool.status(work_id).to_json() == {"kind": "inProgress"}
    assert _events(world) == [(0, "enqueued", "p/1"), (70, "started", "p/1")]


@checks("WC-1", "PAR-1", "ORD-1")
def test_a_slot_freed_at_an_instant_is_refilled_at_that_instant() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2)
    job = _sleeper(world)

    for ms in (100, 150, 100, 100):
        pool.enqueue_action(world.client, job, {"ms": ms})
    running_counts = []
    while world.peek() < math.inf and not world.idle:
        world.step()
        running_counts.append(pool.statistics().running)
    world.run_until_idle()

    assert _events(world, "started", "succeeded") == [
        (0, "started", "p/1"),
        (0, "started", "p/2"),
        (100, "succeeded", "p/1"),
        (100, "started", "p/3"),
        (150, "succeeded", "p/2"),
        (150, "started", "p/4"),
        (200, "succeeded", "p/3"),
        (250, "succeeded", "p/4"),
    ]
    assert max(running_counts) == 2


# Timeouts -------------------------------------------------------------------------------------


@checks("TMO-1", "STS-1")
def test_action_times_out_at_exactly_its_start_plus_action_timeout() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=100)
    job = _sleeper(world)

    world.run_until(20)
    work_id = pool.enqueue_action(world.client, job, {"ms": 500})
    world.run_until(119)
    before = pool.status(work_id).to_json()
    world.run_until(120)

    assert before == {"kind": "inProgress"}
    assert pool.status(work_id).to_json() == {"kind": "error", "error": "Timeout"}
    timed_out = [(e.time, e.id, e.data["timeoutMs"]) for e in world.trace if e.kind == "timed_out"]
    assert timed_out == [(120, "p/1", 100)]


@checks("TMO-1", "TMO-2")
def test_mutation_times_out_at_its_start_plus_mutation_timeout_and_never_commits() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, mutation_timeout_ms=50, action_timeout_ms=10)

    @world.mutation(duration_ms=200)
    def slow(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("docs", {"n": 1})

    work_id = pool.enqueue_mutation(world.client, slow)
    world.run()

    assert pool.status(work_id).to_json() == {"kind": "evicted"}
    assert _events(world) == [
        (0, "enqueued", "p/1"),
        (0, "started", "p/1"),
        (50, "timed_out", "p/1"),
        (50 + 86_400_000, "evicted", "p/1"),
    ]
    assert world.store.all("docs") == []


@checks("TMO-1", "CTX-2")
def test_unknown_kind_work_times_out_after_unknown_timeout() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=1000, unknown_timeout_ms=70)
    job = _sleeper(world)

    work_id = pool.enqueue_unknown(world.client, job, {"ms": 500}, 0)
    world.run_until_idle()

    assert pool.status(work_id).to_json() == {"kind": "error", "error": "Timeout"}
    assert _events(world, "timed_out") == [(70, "timed_out", "p/1")]


@checks("TMO-1")
def test_completion_at_the_timeout_instant_wins() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2, action_timeout_ms=100, mutation_timeout_ms=40)
    job = _sleeper(world)

    @world.mutation(duration_ms=40)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", {"n": 1})

    action_id = pool.enqueue_action(world.client, job, {"ms": 100, "out": "in time"})
    mutation_id = pool.enqueue_mutation(world.client, save)
    world.run_until_idle()

    assert pool.status(action_id).to_json() == {"kind": "success", "result": "in time"}
    assert pool.status(mutation_id).to_json() == {"kind": "success", "result": "docs:1"}
    assert _events(world, "timed_out") == []


@checks("TMO-2", "WC-1", "PAR-1")
def test_timed_out_action_is_abandoned_and_its_slot_refilled_at_the_deadline() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, action_timeout_ms=100, ttl_ms=math.inf)
    job = _sleeper(world)
    cleanup_at: list[int] = []

    @world.mutation()
    def record(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("effects", {"at": ctx.now})

    @world.action()
    async def slow(ctx: ActionCtx, args: dict[str, Any]) -> str:
        try:
            await ctx.sleep(200)
            await ctx.run_mutation(record)
            return "finished"
        finally:
            cleanup_at.append(ctx.now)

    slow_id = pool.enqueue_action(world.client, slow)
    next_id = pool.enqueue_action(world.client, job, {"ms": 10})
    world.run()

    assert _events(world) == [
        (0, "enqueued", slow_id),
        (0, "enqueued", next_id),
        (0, "started", slow_id),
        (100, "timed_out", slow_id),
        (100, "started", next_id),
        (110, "succeeded", next_id),
    ]
    assert pool.status(slow_id).to_json() == {"kind": "error", "error": "Timeout"}
    assert world.store.all("effects") == []
    assert cleanup_at == [100]


# Cancel ---------------------------------------------------------------------------------------


@checks("CAN-1", "ORD-1")
def test_cancel_of_pending_work_means_it_never_starts() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    first = pool.enqueue_action(world.client, job)
    canceled = pool.enqueue_action(world.client, job)
    third = pool.enqueue_action(world.client, job)
    world.run_until(50)
    pool.cancel(world.client, canceled)
    status_at_cancel = pool.status(canceled).to_json()
    world.run_until_idle()

    assert status_at_cancel == {"kind": "error", "error": "Canceled"}
    assert _events(world) == [
        (0, "enqueued", first),
        (0, "enqueued", canceled),
        (0, "enqueued", third),
        (0, "started", first),
        (50, "canceled", canceled),
        (100, "succeeded", first),
        (100, "started", third),
        (200, "succeeded", third),
    ]
    assert pool.info(canceled).finished_at == 50
    assert pool.info(canceled).started_at is None


@checks("CAN-1", "ORD-2")
def test_cancel_before_the_start_event_of_the_same_instant_wins() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job)
    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert _events(world) == [(0, "enqueued", work_id), (0, "canceled", work_id)]
    assert [e.data["wasRunning"] for e in world.trace if e.kind == "canceled"] == [False]


@checks("CAN-2", "WC-1", "TMO-2")
def test_cancel_of_running_work_abandons_it_and_refills_the_slot_at_once() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=math.inf)
    job = _sleeper(world)

    @world.mutation()
    def record(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("effects", {"at": ctx.now})

    @world.action()
    async def slow(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(200)
        await ctx.run_mutation(record)

    slow_id = pool.enqueue_action(world.client, slow)
    next_id = pool.enqueue_action(world.client, job, {"ms": 10})
    world.run_until(50)
    pool.cancel(world.client, slow_id)
    running_after_cancel = pool.statistics().running
    world.run()

    assert running_after_cancel == 0
    assert [e.data["wasRunning"] for e in world.trace if e.kind == "canceled"] == [True]
    assert _events(world) == [
        (0, "enqueued", slow_id),
        (0, "enqueued", next_id),
        (0, "started", slow_id),
        (50, "canceled", slow_id),
        (50, "started", next_id),
        (60, "succeeded", next_id),
    ]
    assert pool.status(slow_id).to_json() == {"kind": "error", "error": "Canceled"}
    assert world.store.all("effects") == []


@checks("CAN-2", "CAN-3", "CLK-3")
def test_cancel_in_the_completion_instant_wins_only_in_the_call_phase() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2)
    job = _sleeper(world)

    early = pool.enqueue_action(world.client, job, {"out": "a"})
    late = pool.enqueue_action(world.client, job, {"out": "b"})
    world.call_at(100, lambda: pool.cancel(world.client, early))  # CALL: before the wake-up.
    world.run_until(100)
    pool.cancel(world.client, late)  # After the instant's completions.

    assert pool.status(early).to_json() == {"kind": "error", "error": "Canceled"}
    assert pool.status(late).to_json() == {"kind": "success", "result": "b"}
    assert _events(world, "canceled", "succeeded", "cancel_ignored") == [
        (100, "canceled", early),
        (100, "succeeded", late),
        (100, "cancel_ignored", late),
    ]


@checks("CAN-3", "TTL-2")
def test_cancel_of_finished_or_evicted_work_changes_nothing() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3, ttl_ms=1000, action_timeout_ms=300)
    job = _sleeper(world)

    done = pool.enqueue_action(world.client, job, {"out": 1})
    canceled = pool.enqueue_action(world.client, job, {"ms": 5000})
    evicted = pool.enqueue_action(world.client, job, {"ms": 0})
    timed_out = pool.enqueue_action(world.client, job, {"ms": 5000})
    world.run_until(200)
    pool.cancel(world.client, canceled)
    world.run_until(1000)  # `evicted` finished at 0: evicted at 1000; `timed_out` ended at 300.
    statistics = pool.statistics()
    statuses = [pool.status(i).to_json() for i in (done, canceled, evicted, timed_out)]
    trace_length = len(world.trace)
    for work_id in (done, canceled, evicted, timed_out):
        pool.cancel(world.client, work_id)

    assert pool.statistics() == statistics
    assert [pool.status(i).to_json() for i in (done, canceled, evicted, timed_out)] == statuses
    assert statuses == [
        {"kind": "success", "result": 1},
        {"kind": "error", "error": "Canceled"},
        {"kind": "evicted"},
        {"kind": "error", "error": "Timeout"},
    ]
    assert [(e.time, e.kind, e.id) for e in world.trace[trace_length:]] == [
        (1000, "cancel_ignored", done),
        (1000, "cancel_ignored", canceled),
        (1000, "cancel_ignored", evicted),
        (1000, "cancel_ignored", timed_out),
    ]
    ignored = [e.data["state"] for e in world.trace[trace_length:]]
    assert ignored[:2] + ignored[3:] == ["succeeded", "canceled", "timed_out"]


@checks("CAN-3", "STS-3")
def test_cancel_of_evicted_work_is_traced_with_state_evicted() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=10)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job, {"ms": 0})
    world.run_until(10)
    pool.cancel(world.client, work_id)

    assert [dict(e.data) for e in world.trace if e.kind == "cancel_ignored"] == [
        {"state": "evicted"}
    ]


@checks("CAN-1", "ENQ-3")
def test_cancel_inside_a_mutation_takes_effect_at_its_commit() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)
    blocker = pool.enqueue_action(world.client, job, {"ms": 500})
    target = pool.enqueue_action(world.client, job)

    @world.mutation(duration_ms=40)
    def cancel_it(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.cancel(ctx, args["id"])

    world.run_mutation(cancel_it, {"id": target})
    world.run_until(39)
    before = pool.status(target).to_json()
    world.run_until_idle()

    assert before == {"kind": "pending"}
    assert _events(world, "canceled", "started") == [
        (0, "started", blocker),
        (40, "canceled", target),
    ]


# Retention ------------------------------------------------------------------------------------


@checks("TTL-1", "STS-1", "STS-3", "CLK-4")
def test_eviction_happens_at_exactly_finished_at_plus_ttl() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=1000)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job, {"out": "kept"})
    world.run_until(1099)
    at_minus_one = pool.status(work_id).to_json()
    world.run_until(1100, inclusive=False)
    exclusive = pool.status(work_id).to_json()
    world.run_until(1100)
    inclusive = pool.status(work_id).to_json()

    assert at_minus_one == {"kind": "success", "result": "kept"}
    assert exclusive == {"kind": "success", "result": "kept"}
    assert inclusive == {"kind": "evicted"}
    assert _events(world, "succeeded", "evicted") == [
        (100, "succeeded", work_id),
        (1100, "evicted", work_id),
    ]
    assert pool.kind_of(work_id) is WorkKind.ACTION
    assert pool.statistics().retained == 0


@checks("TTL-1", "CLK-4")
def test_infinite_ttl_never_evicts_and_run_terminates() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=math.inf)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job, {"out": "forever"})
    world.run()

    assert world.peek() == math.inf
    assert pool.status(work_id).to_json() == {"kind": "success", "result": "forever"}
    assert _events(world, "evicted") == []
    assert pool.options.to_json()["ttl"] is None


# Results --------------------------------------------------------------------------------------


@checks("RES-1", "TTL-2")
def test_try_result_is_none_until_success_then_the_value_then_work_evicted() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=1000)
    job = _sleeper(world)

    ok = pool.enqueue_action(world.client, job, {"out": {"n": 1}})
    none = pool.enqueue_action(world.client, job)
    pending = pool.try_result(none)
    world.run_until(50)
    running = pool.try_result(ok)
    world.run_until(200)
    results = [pool.try_result(ok), pool.try_result(none), pool.status(none).to_json()]
    world.run_until(1100)
    with pytest.raises(WorkEvicted) as evicted:
        pool.try_result(ok)

    assert (pending, running) == (None, None)
    assert results == [{"n": 1}, None, {"kind": "success", "result": None}]
    assert str(evicted.value) == (
        "the result of work p/1 was evicted 1000 ms after it finished (the pool's ttl_ms)"
    )


@checks("RES-1")
def test_try_result_raises_work_failed_for_failed_canceled_and_timed_out_work() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3, action_timeout_ms=50)
    job = _sleeper(world)

    @world.action()
    async def fail(ctx: ActionCtx, args: dict[str, Any]) -> None:
        raise ValueError("bad input")

    failed = pool.enqueue_action(world.client, fail)
    canceled = pool.enqueue_action(world.client, job)
    timed_out = pool.enqueue_action(world.client, job)
    pool.cancel(world.client, canceled)
    world.run_until_idle()

    messages = []
    for work_id in (failed, canceled, timed_out):
        try:
            messages.append(f"returned {pool.try_result(work_id)!r}")
        except WorkFailed as failure:
            messages.append(str(failure))
    assert messages == ["bad input", "Canceled", "Timeout"]


@checks("RES-2", "RES-4")
def test_poll_result_resumes_at_the_terminal_instant_with_the_value() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=2)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        value = await pool.poll_result(ctx, args["id"], 1000)
        return [ctx.now, value, pool.status(args["id"]).to_json()]

    target = pool.enqueue_action(world.client, job, {"ms": 130, "out": "v"})
    handle = world.run_action(waiter, {"id": target})
    world.run_until_idle()

    assert handle.result() == [130, "v", {"kind": "success", "result": "v"}]


@checks("RES-2", "RES-4", "CAN-1")
def test_poll_result_raises_work_failed_at_the_terminal_instant() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        try:
            await pool.poll_result(ctx, args["id"], 1000)
        except WorkFailed as failure:
            return [ctx.now, str(failure), pool.status(args["id"]).to_json()]
        return []

    blocker = pool.enqueue_action(world.client, job)
    target = pool.enqueue_action(world.client, job)
    handle = world.run_action(waiter, {"id": target})
    world.call_at(60, lambda: pool.cancel(world.client, target))
    world.run_until_idle()

    assert blocker == "p/1"
    assert handle.result() == [60, "Canceled", {"kind": "error", "error": "Canceled"}]


@checks("RES-2")
def test_poll_result_of_finished_work_returns_at_the_call_instant() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        value = await pool.poll_result(ctx, args["id"], 0)
        return [ctx.now, value]

    target = pool.enqueue_action(world.client, job, {"out": 7})
    world.run_until(500)
    handle = world.run_action(waiter, {"id": target})

    assert handle.done
    assert handle.result() == [500, 7]


@checks("RES-3", "RES-4")
def test_poll_result_times_out_exactly_at_call_plus_timeout_and_the_work_runs_on() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        await ctx.sleep(10)
        try:
            await pool.poll_result(ctx, args["id"], 200)
        except PollTimeout as timeout:
            return [ctx.now, str(timeout), pool.status(args["id"]).to_json()]
        return []

    target = pool.enqueue_action(world.client, job, {"ms": 500, "out": "late"})
    handle = world.run_action(waiter, {"id": target})
    world.run_until_idle()

    assert handle.result() == [
        210,
        "Timeout waiting for result of work p/1",
        {"kind": "inProgress"},
    ]
    assert pool.status(target).to_json() == {"kind": "success", "result": "late"}


@checks("RES-3")
def test_poll_result_completion_at_the_deadline_instant_wins() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        value = await pool.poll_result(ctx, args["id"], 200)
        return [ctx.now, value]

    target = pool.enqueue_action(world.client, job, {"ms": 200, "out": "just in time"})
    handle = world.run_action(waiter, {"id": target})
    world.run_until_idle()

    assert handle.result() == [200, "just in time"]


@checks("RES-2", "TTL-2")
def test_poll_result_of_evicted_work_raises_work_evicted_at_the_call() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=100)
    job = _sleeper(world)

    @world.action()
    async def waiter(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        try:
            await pool.poll_result(ctx, args["id"], 1000)
        except WorkEvicted:
            return [ctx.now, "evicted"]
        return []

    target = pool.enqueue_action(world.client, job)
    world.run_until(300)
    handle = world.run_action(waiter, {"id": target})

    assert handle.result() == [300, "evicted"]


@checks("RES-2")
def test_poll_result_outside_an_action_raises_not_in_action() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)
    work_id = pool.enqueue_action(world.client, job)

    with pytest.raises(NotInAction):
        pool.poll_result(world.client, work_id, 100)  # type: ignore[arg-type]


# The ctx wrapper ------------------------------------------------------------------------------


@checks("CTX-1")
def test_pool_ctx_run_action_and_run_mutation_run_in_the_pool_and_return_results() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.mutation(duration_ms=20)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", args)

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        pool_ctx = pool.ctx(ctx)
        fetched = await pool_ctx.run_action(job, {"ms": 100, "out": "page"})
        at_fetch = ctx.now
        saved = await pool_ctx.run_mutation(save, {"text": fetched})
        return [fetched, at_fetch, saved, ctx.now]

    handle = world.run_action(main)
    world.run_until_idle()

    assert handle.result() == ["page", 100, "docs:1", 120]
    assert _events(world, "enqueued", "started", "succeeded") == [
        (0, "enqueued", "p/1"),
        (0, "started", "p/1"),
        (100, "succeeded", "p/1"),
        (100, "enqueued", "p/2"),
        (100, "started", "p/2"),
        (120, "succeeded", "p/2"),
    ]
    assert [pool.kind_of("p/1"), pool.kind_of("p/2")] == [WorkKind.ACTION, WorkKind.MUTATION]


@checks("CTX-1")
def test_pool_ctx_run_action_raises_work_failed_with_the_stored_error() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def fail(ctx: ActionCtx, args: dict[str, Any]) -> None:
        raise KeyError("missing")

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> str:
        try:
            await pool.ctx(ctx).run_action(fail)
        except WorkFailed as failure:
            return str(failure)
        return "no error"

    handle = world.run_action(main)
    world.run_until_idle()

    assert handle.result() == "'missing'"


@checks("CTX-1")
def test_pool_ctx_run_action_gives_up_after_30000_ms_and_the_work_runs_on() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> list[Any]:
        try:
            await pool.ctx(ctx).run_action(job, {"ms": 40_000, "out": "slow"})
        except PollTimeout as timeout:
            return [ctx.now, str(timeout)]
        return []

    handle = world.run_action(main)
    world.run_until_idle()

    assert handle.result() == [30_000, "Timeout waiting for result of work p/1"]
    assert pool.status("p/1").to_json() == {"kind": "success", "result": "slow"}
    assert _events(world, "succeeded") == [(40_000, "succeeded", "p/1")]


@checks("CTX-3")
def test_pool_ctx_run_query_runs_at_once_and_creates_no_work() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return len(ctx.db.query("docs"))

    @world.mutation()
    def add(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("docs", {})

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> list[int]:
        return [await pool.ctx(ctx).run_query(count), ctx.now]

    world.run_mutation(add)
    handle = world.run_action(main)

    assert handle.result() == [1, 0]
    assert pool.statistics().issued == 0


@checks("CTX-2", "ENQ-4", "ORD-1")
def test_pool_ctx_scheduler_enqueues_unknown_kind_work_eligible_per_run_after_and_run_at() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3)
    job = _sleeper(world)

    @world.mutation()
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("docs", {})

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> list[str]:
        await ctx.sleep(10)
        scheduler = pool.ctx(ctx).scheduler
        return [
            scheduler.run_after(100, job, {"out": "after"}),  # E=110
            scheduler.run_at(50, save),  # E=50
            scheduler.run_at(5, job, {"out": "past"}),  # E=10 (clamped)
        ]

    handle = world.run_action(main)
    world.run_until_idle()

    after, at, past = handle.result()
    assert [pool.kind_of(i) for i in (after, at, past)] == [WorkKind.UNKNOWN] * 3
    assert _events(world, "started") == [(10, "started", past), (50, "started", at),
                                         (110, "started", after)]
    assert [pool.status(i).to_json() for i in (after, at, past)] == [
        {"kind": "success", "result": "after"},
        {"kind": "success", "result": "docs:1"},
        {"kind": "success", "result": "past"},
    ]


@checks("CAN-4", "CAN-1")
def test_pool_ctx_scheduler_cancel_cancels_ids_it_issued() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> str:
        scheduler = pool.ctx(ctx).scheduler
        work_id = scheduler.run_after(1000, job)
        scheduler.cancel(work_id)
        return work_id

    handle = world.run_action(main)
    world.run_until_idle()

    assert pool.status(handle.result()).to_json() == {"kind": "error", "error": "Canceled"}
    assert _events(world, "enqueued", "canceled", "started") == [
        (0, "enqueued", "p/1"),
        (0, "canceled", "p/1"),
    ]


@checks("CAN-4")
def test_pool_ctx_scheduler_cancel_refuses_ids_from_enqueue_action() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)
    caught: list[str] = []

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> None:
        try:
            pool.ctx(ctx).scheduler.cancel(args["id"])
        except ForeignWorkId as refused:
            caught.append(str(refused))

    direct = pool.enqueue_action(world.client, job)
    world.run_action(main, {"id": direct})
    world.run_until_idle()

    assert caught == [
        "'p/1' was not issued by the scheduler of pool 'p': ctx(...).scheduler.cancel only "
        "takes ids from ctx(...).scheduler.run_at/run_after"
    ]
    assert pool.status(direct).to_json() == {"kind": "success", "result": None}
    assert _events(world, "canceled", "cancel_ignored") == []


@checks("CAN-4")
def test_pool_ctx_scheduler_cancel_refuses_ids_of_other_pools() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    other = world.pool("q", max_parallelism=1)
    job = _sleeper(world)
    caught: list[str] = []

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> None:
        foreign = other.ctx(ctx).scheduler.run_after(500, job)
        try:
            pool.ctx(ctx).scheduler.cancel(foreign)
        except ForeignWorkId as refused:
            caught.append(str(refused))

    world.run_action(main)
    world.run_until_idle()

    assert caught == [
        "'q/1' was not issued by the scheduler of pool 'p': 'q/1' was not issued by pool 'p'"
    ]
    assert other.status("q/1").to_json() == {"kind": "success", "result": None}


@checks("CTX-1")
def test_pool_ctx_outside_an_action_raises_not_in_action() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)

    with pytest.raises(NotInAction):
        pool.ctx(world.client)  # type: ignore[arg-type]


# Work ids -------------------------------------------------------------------------------------


@checks("STS-4", "CAN-5")
def test_ids_the_pool_did_not_issue_raise_unknown_work_id() -> None:
    world = World()
    pool = world.pool("emails", max_parallelism=1)
    other = world.pool("other", max_parallelism=1)
    job = _sleeper(world)
    for _ in range(3):
        pool.enqueue_action(world.client, job)
    foreign = other.enqueue_action(world.client, job)

    messages = []
    for bad in ("emails/9", foreign, "emails/x", "emails", "emails/0"):
        for call in (pool.status, pool.try_result, lambda i: pool.cancel(world.client, i)):
            with pytest.raises(UnknownWorkId) as raised:
                call(bad)
            messages.append(str(raised.value))

    assert sorted(set(messages)) == [
        "'emails' was not issued by pool 'emails'",
        "'emails/x' was not issued by pool 'emails'",
        "'other/1' was not issued by pool 'emails'",
        "unknown work id 'emails/0': pool 'emails' has issued ids up to emails/3",
        "unknown work id 'emails/9': pool 'emails' has issued ids up to emails/3",
    ]
    assert len(messages) == 15


@checks("STS-3", "STS-2")
def test_evicted_ids_stay_known_to_the_pool() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1, ttl_ms=10)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job)
    statuses = [pool.status(work_id).to_json()]
    for time in (0, 99, 100, 109, 110, 5000):
        world.run_until(time)
        statuses.append(pool.status(work_id).to_json())

    assert statuses == [
        {"kind": "pending"},
        {"kind": "inProgress"},
        {"kind": "inProgress"},
        {"kind": "success", "result": None},
        {"kind": "success", "result": None},
        {"kind": "evicted"},
        {"kind": "evicted"},
    ]
    assert pool.kind_of(work_id) is WorkKind.ACTION


# Enqueue from mutations -----------------------------------------------------------------------


@checks("ENQ-3", "ENQ-4", "STS-4")
def test_enqueue_inside_a_mutation_takes_effect_at_its_commit() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.mutation(duration_ms=50)
    def sign_up(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return pool.enqueue_action(ctx, job, {"out": "sent"})

    handle = world.run_mutation(sign_up)
    world.run_until(49)
    with pytest.raises(UnknownWorkId) as before_commit:
        pool.status("p/1")
    world.run_until(50, inclusive=False)
    world.step()  # The commit at 50.
    at_commit = pool.status("p/1").to_json()
    world.run_until_idle()

    assert str(before_commit.value) == (
        "unknown work id 'p/1': the mutation that enqueues it has not committed yet"
    )
    assert at_commit == {"kind": "pending"}
    assert handle.result() == "p/1"
    assert _events(world) == [
        (0, "call_started", "call/1"),
        (50, "enqueued", "p/1"),
        (50, "committed", None),
        (50, "call_succeeded", "call/1"),
        (50, "started", "p/1"),
        (150, "succeeded", "p/1"),
    ]


@checks("ENQ-3", "ENQ-1", "STS-4")
def test_enqueue_inside_a_throwing_mutation_never_takes_effect() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.mutation(duration_ms=20)
    def broken(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.enqueue_action(ctx, job)
        raise RuntimeError("validation failed")

    handle = world.run_mutation(broken)
    world.run_until_idle()
    later = pool.enqueue_action(world.client, job)

    assert handle.error == "validation failed"
    with pytest.raises(UnknownWorkId) as raised:
        pool.status("p/1")
    assert str(raised.value) == (
        "unknown work id 'p/1': the mutation that enqueued it did not commit"
    )
    assert later == "p/2"
    assert _events(world, "enqueued") == [(20, "enqueued", "p/2")]


@checks("ENQ-3", "OCC-2")
def test_enqueue_inside_a_conflicting_mutation_never_takes_effect() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    @world.mutation()
    def create(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return ctx.db.insert("counters", {"value": 0})

    @world.mutation(duration_ms=50)
    def read_then_enqueue(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.get(args["id"])
        pool.enqueue_action(ctx, job)

    @world.mutation()
    def bump(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.patch(args["id"], {"value": 1})

    counter = world.run_mutation(create).result()
    handle = world.run_mutation(read_then_enqueue, {"id": counter})
    world.run_until(10)
    world.run_mutation(bump, {"id": counter})
    world.run_until_idle()

    assert handle.error is not None and handle.error.startswith("OCC conflict")
    with pytest.raises(UnknownWorkId):
        pool.status("p/1")
    assert pool.statistics().issued == 1
    assert _events(world, "enqueued", "started") == []


# Values ---------------------------------------------------------------------------------------


@checks("ENQ-2")
def test_args_are_stored_by_value() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    received: list[Any] = []

    @world.action()
    async def show(ctx: ActionCtx, args: dict[str, Any]) -> None:
        received.append(args)

    args: dict[str, Any] = {"to": "a@example.com", "tags": ["x"], "meta": {"n": 1}}
    pool.enqueue_action(world.client, show, args)
    args["to"] = "changed"
    args["tags"].append("y")
    args["meta"]["n"] = 2
    world.run_until_idle()

    assert received == [{"to": "a@example.com", "tags": ["x"], "meta": {"n": 1}}]
    assert received[0] is not args


@checks("ENQ-2")
def test_results_handed_out_are_copies() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    job = _sleeper(world)

    work_id = pool.enqueue_action(world.client, job, {"out": {"items": [1]}})
    world.run_until_idle()
    trace_before = world.trace_jsonl()
    pool.try_result(work_id)["items"].append(2)
    pool.status(work_id).to_json()["result"]["items"].append(3)

    assert pool.try_result(work_id) == {"items": [1]}
    assert world.trace_jsonl() == trace_before


# OCC in pools ---------------------------------------------------------------------------------


@checks("EXE-3", "PAR-1")
def test_mutations_in_a_pool_of_one_never_conflict_while_a_wider_pool_does() -> None:
    def play(parallelism: int) -> tuple[list[Event], int]:
        world = World()
        pool = world.pool("counter", max_parallelism=parallelism)

        @world.mutation(duration_ms=20)
        def increment(ctx: MutationCtx, args: dict[str, Any]) -> int:
            rows = ctx.db.query("counters")
            if not rows:
                ctx.db.insert("counters", {"value": 1})
                return 1
            value = int(rows[0]["value"]) + 1
            ctx.db.patch(rows[0]["_id"], {"value": value})
            return value

        for _ in range(5):
            pool.enqueue_mutation(world.client, increment)
        world.run_until_idle()
        value = int(world.store.all("counters")[0]["value"])
        return _events(world, "conflict", "failed"), value

    assert play(1) == ([], 5)
    conflicts, value = play(5)
    assert value == 1
    assert conflicts == [
        (20, "conflict", None),
        (20, "failed", "counter/2"),
        (20, "conflict", None),
        (20, "failed", "counter/3"),
        (20, "conflict", None),
        (20, "failed", "counter/4"),
        (20, "conflict", None),
        (20, "failed", "counter/5"),
    ]


@checks("CTX-2")
def test_pool_ctx_scheduler_refuses_a_query() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=1)
    caught: list[str] = []

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return 0

    @world.action()
    async def main(ctx: ActionCtx, args: dict[str, Any]) -> None:
        try:
            pool.ctx(ctx).scheduler.run_after(0, count)
        except ValueError as refused:
            caught.append(type(refused).__name__)

    world.run_action(main)
    world.run_until_idle()

    assert caught == ["InvalidArgument"]
    assert pool.statistics().issued == 0
