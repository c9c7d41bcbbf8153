"""Behaviour of the current-profile features: pause, batches, run_at/run_after, queries as work,
retries with recorded jitter, NonRetryableError, on_complete, cancel that lets running work
finish, cancel_all and the current status; and the same options in the seed profile
(rules PAR-2, ENQ-5 to ENQ-7, RTY-1 to RTY-4, ONC-1 to ONC-3, CAN-6, CAN-7, STS-5).

Every scenario runs on the virtual clock. Where order matters the whole trace of the work is
compared as ``(time, kind, id)`` tuples or with its data; retry delays are recomputed from the
``rng`` events of the same trace.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    CallFailed,
    CurrentStatus,
    InvalidArgument,
    InvalidType,
    MutationCtx,
    NonRetryableError,
    QueryCtx,
    RefmodelError,
    RetryBehavior,
    UnknownFunction,
    UnknownWorkId,
    WorkEvicted,
    Workpool,
    World,
)
from refmodel.constants import YEAR_MS
from refmodel.workpool.profiles import CURRENT, Profile
from refmodel.workpool.retries import DecidedAt
from tests.spec import checks

Event = tuple[int, str, str | None]
NOISE = {"world_started", "pool_created", "call_started", "call_succeeded", "committed"}


def bad(value: object) -> Any:
    """Pass a deliberately ill-typed value past the type checker."""
    return value


def _events(world: World, *kinds: str) -> list[Event]:
    """The trace as ``(time, kind, id)`` without creation and plain-call noise, optionally
    only the given kinds."""
    return [
        (e.time, e.kind, e.id)
        for e in world.trace
        if (kinds and e.kind in kinds) or (not kinds and e.kind not in NOISE)
    ]


def _data(world: World, kind: str, work_id: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """``(time, data)`` of every event of ``kind`` (for ``work_id`` if given)."""
    return [
        (e.time, dict(e.data))
        for e in world.trace
        if e.kind == kind and (work_id is None or e.id == work_id)
    ]


def _snapshot(world: World) -> tuple[Any, ...]:
    """Everything a rejected call must leave as it was."""
    return (
        world.trace_jsonl(),
        world.now,
        world.peek(),
        [(pool.options, pool.statistics(), pool.work_ids()) for pool in world.pools.values()],
        world.store.all("completions"),
    )


def _completions(world: World) -> list[tuple[int, Any, Any, Any]]:
    """What the ``record`` on_complete mutation received: ``(time, work_id, context, result)``."""
    return [
        (row["_creationTime"], row["work_id"], row["context"], row["result"])
        for row in world.store.all("completions")
    ]


def _world(
    profile: str | Profile = "current", seed: int = 0, **options: Any
) -> tuple[World, Workpool]:
    """A world with one pool ``p`` and the functions the tests use:

    - ``job`` (action): sleeps ``ms`` (default 100); raises ``fail`` if given; returns ``out``.
    - ``flaky`` (action): sleeps ``ms`` (default 10); its first ``failures`` attempts (per
      ``key``) raise ``"attempt <n> failed"``; then returns ``"ok after <n>"``.
    - ``record`` (mutation): the on_complete that stores its args in ``completions``.
    - ``broken`` (mutation): an on_complete that throws.
    - ``double`` (query): returns ``n * 2``, or raises ``fail`` if given.
    - ``save`` (mutation, 30 ms): inserts a row; raises ``fail`` if given.
    """
    world = World(profile=profile, seed=seed)
    if profile == "seed":
        options.setdefault("max_parallelism", 10)
    pool = world.pool("p", **options)
    attempts: dict[str, int] = {}

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 100))
        if "fail" in args:
            raise RuntimeError(args["fail"])
        return args.get("out")

    @world.action("flaky")
    async def flaky(ctx: ActionCtx, args: dict[str, Any]) -> str:
        key = str(args.get("key", "k"))
        attempts[key] = attempts.get(key, 0) + 1
        await ctx.sleep(args.get("ms", 10))
        if attempts[key] <= args.get("failures", 0):
            raise RuntimeError(f"attempt {attempts[key]} failed")
        return f"ok after {attempts[key]}"

    @world.mutation("record")
    def record(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("completions", args)

    @world.mutation("broken")
    def broken(ctx: MutationCtx, args: dict[str, Any]) -> None:
        raise RuntimeError("callback broke")

    @world.query("double")
    def double(ctx: QueryCtx, args: dict[str, Any]) -> int:
        if "fail" in args:
            raise RuntimeError(args["fail"])
        return int(args["n"]) * 2

    @world.mutation("save", duration_ms=30)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> str:
        if "fail" in args:
            raise RuntimeError(args["fail"])
        return ctx.db.insert("docs", {"n": args.get("n", 0)})

    return world, pool


NO_BACKOFF = RetryBehavior(max_attempts=3, initial_backoff_ms=0, base=2)


# PAR-2: max_parallelism 0 pauses starts -------------------------------------------------------


@checks("PAR-2")
def test_zero_parallelism_starts_nothing() -> None:
    world, pool = _world(max_parallelism=0)
    first = pool.enqueue_action(world.client, "job")
    pool.enqueue_action(world.client, "job", run_at=500)

    world.run_until(10_000)

    assert _events(world, "started") == []
    assert pool.status(first) == CurrentStatus(state="pending", previous_attempts=0)
    stats = pool.statistics()
    assert (stats.running, stats.pending) == (0, 2)
    assert world.idle is False


@checks("PAR-2", "CFG-5", "ONC-1")
def test_pausing_lets_running_work_complete_and_raising_resumes_at_once() -> None:
    world, pool = _world(max_parallelism=2)
    for _ in range(3):
        pool.enqueue_action(world.client, "job", on_complete="record")
    late = pool.enqueue_action(world.client, "job", run_at=150, on_complete="record")
    world.run_until(50)

    pool.update_config(max_parallelism=0)
    world.run_until(400)
    paused = _events(world)
    pool.update_config(max_parallelism=1)
    world.run_until_idle()

    assert paused == [
        (0, "enqueued", "p/1"),
        (0, "enqueued", "p/2"),
        (0, "enqueued", "p/3"),
        (0, "enqueued", "p/4"),
        (0, "started", "p/1"),
        (0, "started", "p/2"),
        (50, "config_updated", None),
        (100, "succeeded", "p/1"),
        (100, "succeeded", "p/2"),
        (100, "on_complete", "p/1"),
        (100, "on_complete", "p/2"),
    ]
    assert _events(world)[len(paused):] == [
        (400, "config_updated", None),
        (400, "started", "p/3"),
        (500, "succeeded", "p/3"),
        (500, "on_complete", "p/3"),
        (500, "started", late),
        (600, "succeeded", late),
        (600, "on_complete", late),
    ]
    assert _data(world, "started", late) == [(500, {"attempt": 1, "lagMs": 350})]


@checks("PAR-2", "RTY-3")
def test_a_paused_pool_does_not_restart_a_retry_until_resumed() -> None:
    world, pool = _world(max_parallelism=1)
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 1}, retry=NO_BACKOFF)
    world.run_until(5)
    pool.update_config(max_parallelism=0)

    world.run_until(1_000)
    waiting = pool.status(work_id)
    pool.update_config(max_parallelism=1)
    world.run_until_idle()

    assert waiting == CurrentStatus(state="pending", previous_attempts=1)
    assert _events(world, "started", "retrying", "succeeded") == [
        (0, "started", work_id),
        (10, "retrying", work_id),
        (1_000, "started", work_id),
        (1_010, "succeeded", work_id),
    ]


# ENQ-5: batches -------------------------------------------------------------------------------


@checks("ENQ-5", "ORD-1")
def test_batch_returns_ids_in_input_order_and_they_start_fifo() -> None:
    world, pool = _world(max_parallelism=1)

    ids = pool.enqueue_action_batch(
        world.client, "job", [{"out": "a"}, {"out": "b"}, {"out": "c"}]
    )
    world.run_until_idle()

    assert ids == ["p/1", "p/2", "p/3"]
    assert _events(world, "enqueued", "started") == [
        (0, "enqueued", "p/1"),
        (0, "enqueued", "p/2"),
        (0, "enqueued", "p/3"),
        (0, "started", "p/1"),
        (100, "started", "p/2"),
        (200, "started", "p/3"),
    ]
    assert [data["result"] for _, data in _data(world, "succeeded")] == ["a", "b", "c"]


@checks("ENQ-5", "ONC-1", "ENQ-6")
def test_batch_options_apply_to_every_item() -> None:
    world, pool = _world()

    ids = pool.enqueue_action_batch(
        world.client,
        "job",
        [{"out": 1}, {"out": 2}],
        on_complete="record",
        context={"batch": 7},
        run_after=40,
    )
    world.run_until_idle()

    assert [data["runAt"] for _, data in _data(world, "enqueued")] == [40, 40]
    assert _completions(world) == [
        (140, ids[0], {"batch": 7}, {"kind": "success", "return_value": 1}),
        (140, ids[1], {"batch": 7}, {"kind": "success", "return_value": 2}),
    ]


@checks("ENQ-5", "ENQ-7")
def test_mutation_and_query_batches_run_each_item() -> None:
    world, pool = _world()

    saved = pool.enqueue_mutation_batch(world.client, "save", [{"n": 1}, {"n": 2}])
    doubled = pool.enqueue_query_batch(world.client, "double", [{"n": 3}, {"n": 4}])
    world.run_until_idle()

    assert (saved, doubled) == (["p/1", "p/2"], ["p/3", "p/4"])
    results = {e.id: e.data["result"] for e in world.trace if e.kind == "succeeded"}
    assert results == {"p/1": "docs:1", "p/2": "docs:2", "p/3": 6, "p/4": 8}


@checks("ENQ-5")
def test_empty_batch_returns_no_ids_and_changes_nothing() -> None:
    world, pool = _world()
    before = _snapshot(world)

    assert pool.enqueue_action_batch(world.client, "job", []) == []
    assert _snapshot(world) == before


@checks("ENQ-5", "ENQ-3")
def test_batch_from_a_mutation_appears_at_its_commit_or_not_at_all() -> None:
    world, pool = _world()
    issued: dict[str, list[str]] = {}

    @world.mutation("fan_out", duration_ms=20)
    def fan_out(ctx: MutationCtx, args: dict[str, Any]) -> None:
        issued[args["label"]] = pool.enqueue_action_batch(ctx, "job", [{}, {}])
        if args["label"] == "aborted":
            raise RuntimeError("no")

    world.run_mutation(fan_out, {"label": "aborted"})
    world.run_mutation(fan_out, {"label": "kept"})
    world.run_until(19)
    before_commit = _events(world, "enqueued")
    world.run_until(20)

    assert issued == {"aborted": ["p/1", "p/2"], "kept": ["p/3", "p/4"]}
    assert before_commit == []
    assert _events(world, "enqueued") == [(20, "enqueued", "p/3"), (20, "enqueued", "p/4")]
    with pytest.raises(UnknownWorkId):
        pool.status("p/1")


BATCH_CASES = [
    pytest.param("action", [{}, {"x": bad(object())}, {}], {}, InvalidType,
                 "args_list[1]['x'] must be JSON-like (None, bool, int, float, str, list, dict): "
                 "got object <object object>", id="bad-item-args"),
    pytest.param("action", [{}, bad(5)], {}, InvalidType,
                 "args_list[1] must be a dict with str keys (a JSON object), got int 5",
                 id="item-not-a-dict"),
    pytest.param("action", [{}], {"priority": 1}, InvalidArgument,
                 "unknown option 'priority' for an action batch: allowed are ['context', "
                 "'on_complete', 'retry', 'run_after', 'run_at']", id="unknown-option"),
    pytest.param("mutation", [{}], {"retry": True}, InvalidArgument,
                 "unknown option 'retry' for a mutation batch: allowed are ['context', "
                 "'on_complete', 'run_after', 'run_at']", id="retry-on-mutations"),
    pytest.param("query", [{"n": 1}], {"retry": False}, InvalidArgument,
                 "unknown option 'retry' for a query batch: allowed are ['context', "
                 "'on_complete', 'run_after', 'run_at']", id="retry-on-queries"),
    pytest.param("action", bad({"a": {}}), {}, InvalidArgument,
                 "args_list must be a list of args dicts, got dict", id="dict-not-list"),
    pytest.param("action", bad("abc"), {}, InvalidArgument,
                 "args_list must be a list of args dicts, got str", id="str-not-list"),
    pytest.param("action", [{}, {}], {"run_at": 5, "run_after": 5}, InvalidArgument,
                 "give run_at or run_after, not both (got run_at=5, run_after=5)",
                 id="run-at-and-after"),
    pytest.param("action", [{}], {"retry": {"max_attempts": 0}}, InvalidArgument,
                 "max_attempts must be >= 1 (attempts in all, the first included), got 0",
                 id="bad-retry"),
    pytest.param("action", [{}], {"on_complete": "job"}, InvalidArgument,
                 "'job' is an action, but a mutation is needed here", id="on-complete-action"),
]


@pytest.mark.parametrize(("kind", "args_list", "options", "error", "message"), BATCH_CASES)
@checks("ENQ-5", "ERR-1")
def test_a_bad_batch_is_rejected_whole_and_changes_nothing(
    kind: str,
    args_list: list[Any],
    options: dict[str, Any],
    error: type[RefmodelError],
    message: str,
) -> None:
    world, pool = _world(max_parallelism=1)
    pool.enqueue_action(world.client, "job")
    world.run_until(10)
    before = _snapshot(world)
    fn = {"action": "job", "mutation": "save", "query": "double"}[kind]
    method = {
        "action": pool.enqueue_action_batch,
        "mutation": pool.enqueue_mutation_batch,
        "query": pool.enqueue_query_batch,
    }[kind]

    with pytest.raises(RefmodelError) as raised:
        method(world.client, fn, args_list, **options)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before
    assert pool.enqueue_action(world.client, "job") == "p/2"  # No id was used up.


# ENQ-6: run_at / run_after --------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["current", "seed"])
@pytest.mark.parametrize("kind", ["action", "mutation", "query"])
@checks("ENQ-6", "ORD-2")
def test_every_enqueue_takes_run_at_and_run_after(profile: str, kind: str) -> None:
    world, pool = _world(profile)
    fn, args = {"action": ("job", {}), "mutation": ("save", {}), "query": ("double", {"n": 1})}[
        kind
    ]
    single = {
        "action": pool.enqueue_action,
        "mutation": pool.enqueue_mutation,
        "query": pool.enqueue_query,
    }[kind]
    batch = {
        "action": pool.enqueue_action_batch,
        "mutation": pool.enqueue_mutation_batch,
        "query": pool.enqueue_query_batch,
    }[kind]
    world.run_until(100)

    single(world.client, fn, args, run_at=300)
    single(world.client, fn, args, run_after=250)
    batch(world.client, fn, [args], run_at=400)
    batch(world.client, fn, [args], run_after=50)
    world.run_until_idle()

    assert [data["runAt"] for _, data in _data(world, "enqueued")] == [300, 350, 400, 150]
    assert _events(world, "started") == [
        (150, "started", "p/4"),
        (300, "started", "p/1"),
        (350, "started", "p/2"),
        (400, "started", "p/3"),
    ]


@pytest.mark.parametrize("kind", ["action", "mutation", "query"])
@checks("ENQ-6", "ERR-1")
def test_run_at_and_run_after_together_are_rejected_and_change_nothing(kind: str) -> None:
    world, pool = _world()
    pool.enqueue_action(world.client, "job")
    before = _snapshot(world)

    with pytest.raises(InvalidArgument) as raised:
        if kind == "action":
            pool.enqueue_action(world.client, "job", run_at=5, run_after=0)
        elif kind == "mutation":
            pool.enqueue_mutation(world.client, "save", run_at=5, run_after=0)
        else:
            pool.enqueue_query(world.client, "double", {"n": 1}, run_at=5, run_after=0)

    assert str(raised.value) == "give run_at or run_after, not both (got run_at=5, run_after=0)"
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"run_at": -1}, InvalidArgument, "run_at must be >= 0, got -1"),
        ({"run_after": -1}, InvalidArgument, "run_after must be >= 0, got -1"),
        ({"run_at": 1.5}, InvalidType, "run_at must be an integer number of ms, got 1.5 (float)"),
        ({"run_after": math.nan}, InvalidType,
         "run_after must be an integer number of ms, got NaN"),
        ({"run_after": "soon"}, InvalidType,
         "run_after must be an integer number of ms, got 'soon' (str)"),
    ],
)
@checks("ENQ-6", "ERR-1")
def test_bad_run_at_and_run_after_are_rejected_and_change_nothing(
    options: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    world, pool = _world()
    pool.enqueue_action(world.client, "job")
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.enqueue_action(world.client, "job", **options)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before


def _bounded(profile: str, offset: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Enqueue at ``now + offset`` with now = 2 years; return the enqueued data (times relative
    to now) and the warnings."""
    now = 2 * YEAR_MS
    world = World(profile=profile, epoch=now)
    pool = world.pool("p", max_parallelism=1)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    pool.enqueue_action(world.client, job, run_at=now + offset)
    enqueued = [
        {key: value - now if key in ("runAt", "requestedRunAt") else value
         for key, value in data.items()}
        for _, data in _data(world, "enqueued")
    ]
    warnings = [str(data["message"]) for _, data in _data(world, "warning")]
    return enqueued, warnings


TOO_OLD = "scheduled time is too old, defaulting to now"
TOO_FAR = "scheduled time is too far in the future, defaulting to 1 year from now"


@pytest.mark.parametrize(
    ("offset", "run_at", "requested", "warnings"),
    [
        pytest.param(-YEAR_MS - 1, 0, -YEAR_MS - 1, [TOO_OLD], id="older-than-a-year"),
        pytest.param(-YEAR_MS, 0, -YEAR_MS, [], id="exactly-a-year-old"),
        pytest.param(-5, 0, -5, [], id="just-past"),
        pytest.param(0, 0, None, [], id="now"),
        pytest.param(4 * YEAR_MS, 4 * YEAR_MS, None, [], id="exactly-four-years"),
        pytest.param(4 * YEAR_MS + 1, YEAR_MS, 4 * YEAR_MS + 1, [TOO_FAR],
                     id="beyond-four-years"),
    ],
)
@checks("ENQ-6")
def test_current_profile_bounds_the_scheduled_time(
    offset: int, run_at: int, requested: int | None, warnings: list[str]
) -> None:
    expected: dict[str, Any] = {"fn": "job", "kind": "action", "runAt": run_at}
    if requested is not None:
        expected["requestedRunAt"] = requested
    expected.update(retry=None, onComplete=None)

    assert _bounded("current", offset) == ([expected], warnings)


@checks("ENQ-6")
def test_a_bounds_warning_is_traced_just_before_the_enqueued_event() -> None:
    world = World(profile="current", epoch=2 * YEAR_MS)
    pool = world.pool("p")

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    pool.enqueue_action(world.client, job, run_at=0)
    pool.enqueue_action(world.client, job, run_at=7 * YEAR_MS)

    assert [(e.kind, e.pool, e.id) for e in world.trace[2:]] == [
        ("warning", "p", None),
        ("enqueued", "p", "p/1"),
        ("warning", "p", None),
        ("enqueued", "p", "p/2"),
    ]


@pytest.mark.parametrize(
    ("offset", "run_at", "requested"),
    [
        pytest.param(-YEAR_MS - 1, 0, -YEAR_MS - 1, id="older-than-a-year"),
        pytest.param(-5, 0, -5, id="just-past"),
        pytest.param(4 * YEAR_MS + 1, 4 * YEAR_MS + 1, None, id="beyond-four-years"),
    ],
)
@checks("ENQ-6", "ENQ-4")
def test_seed_profile_clamps_the_past_to_now_and_never_warns(
    offset: int, run_at: int, requested: int | None
) -> None:
    expected: dict[str, Any] = {"fn": "job", "kind": "action", "runAt": run_at}
    if requested is not None:
        expected["requestedRunAt"] = requested
    expected.update(retry=None, onComplete=None)

    assert _bounded("seed", offset) == ([expected], [])


# ENQ-7: queries as work -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["current", "seed"])
@checks("ENQ-7", "ONC-2")
def test_enqueue_query_runs_the_query_as_work(profile: str) -> None:
    world, pool = _world(profile, max_parallelism=1)

    ok = pool.enqueue_query(world.client, "double", {"n": 21}, on_complete="record")
    failed = pool.enqueue_query(world.client, "double", {"n": 1, "fail": "no n"},
                                on_complete="record", context="q2")
    world.run_until_idle()

    assert _events(world, "enqueued", "started", "succeeded", "failed") == [
        (0, "enqueued", ok),
        (0, "enqueued", failed),
        (0, "started", ok),
        (0, "succeeded", ok),
        (0, "started", failed),
        (0, "failed", failed),
    ]
    assert [e.data["kind"] for e in world.trace if e.kind == "enqueued"] == ["query", "query"]
    assert _completions(world) == [
        (0, ok, None, {"kind": "success", "return_value": 42}),
        (0, failed, "q2", {"kind": "failed", "error": "no n"}),
    ]


@checks("ENQ-7", "RTY-1")
def test_queries_are_never_retried_even_when_actions_retry_by_default() -> None:
    world, pool = _world(retry_actions_by_default=True, default_retry_behavior=NO_BACKOFF)

    work_id = pool.enqueue_query(world.client, "double", {"n": 1, "fail": "boom"})
    world.run_until_idle()

    assert _events(world, "started", "retrying", "failed") == [
        (0, "started", work_id),
        (0, "failed", work_id),
    ]


@checks("ENQ-7", "ERR-1")
def test_enqueue_query_refuses_a_function_that_is_not_a_query() -> None:
    world, pool = _world()
    before = _snapshot(world)

    with pytest.raises(InvalidArgument) as raised:
        pool.enqueue_query(world.client, "job")

    assert str(raised.value) == "'job' is an action, but a query is needed here"
    assert _snapshot(world) == before


# RTY-1: retry resolution ----------------------------------------------------------------------

DEFAULT_2 = RetryBehavior(max_attempts=2, initial_backoff_ms=0, base=2)


@pytest.mark.parametrize(
    ("by_default", "retry", "attempts"),
    [
        pytest.param(False, None, 1, id="unset-no-default"),
        pytest.param(False, True, 2, id="true-uses-pool-default"),
        pytest.param(False, False, 1, id="false"),
        pytest.param(False, RetryBehavior(max_attempts=3, initial_backoff_ms=0), 3,
                     id="behavior"),
        pytest.param(False, {"max_attempts": 4, "initial_backoff_ms": 0}, 4, id="dict"),
        pytest.param(True, None, 2, id="unset-retries-by-default"),
        pytest.param(True, True, 2, id="true-by-default"),
        pytest.param(True, False, 1, id="false-overrides-default"),
        pytest.param(True, RetryBehavior(max_attempts=3, initial_backoff_ms=0), 3,
                     id="behavior-overrides-default"),
    ],
)
@checks("RTY-1", "RTY-4")
def test_retry_option_resolves_against_the_pool_defaults(
    by_default: bool, retry: Any, attempts: int
) -> None:
    world, pool = _world(retry_actions_by_default=by_default, default_retry_behavior=DEFAULT_2)

    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 10}, retry=retry)
    world.run_until_idle()

    assert len(_events(world, "started")) == attempts
    assert _data(world, "failed", work_id) == [
        (10 * attempts, {"attempt": attempts, "error": f"attempt {attempts} failed"})
    ]


@checks("RTY-1", "RTY-2")
def test_retry_true_without_a_pool_default_uses_5_attempts_from_250_ms_doubling() -> None:
    world, pool = _world()

    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 10, "ms": 0}, retry=True)
    world.run_until_idle()

    draws = [float(data["value"]) for _, data in _data(world, "rng")]
    delays = [int(data["delayMs"]) for _, data in _data(world, "retrying", work_id)]
    assert len(_events(world, "started")) == 5
    assert delays == [
        math.floor(nominal * (0.5 + u)) for nominal, u in zip((250, 500, 1000, 2000), draws,
                                                              strict=True)
    ]


@pytest.mark.parametrize("profile", ["current", "seed"])
@checks("RTY-1")
def test_mutations_are_never_retried_even_when_actions_retry_by_default(profile: str) -> None:
    world, pool = _world(profile, retry_actions_by_default=True, default_retry_behavior=DEFAULT_2)

    work_id = pool.enqueue_mutation(world.client, "save", {"fail": "constraint"})
    world.run_until_idle()

    assert _events(world, "started", "retrying", "failed") == [
        (0, "started", work_id),
        (30, "failed", work_id),
    ]


@pytest.mark.parametrize("kind", ["mutation", "query"])
@checks("RTY-1", "ERR-1")
def test_single_mutation_and_query_enqueues_have_no_retry_option(kind: str) -> None:
    world, pool = _world()
    before = _snapshot(world)
    options: dict[str, Any] = {"retry": True}

    with pytest.raises(TypeError) as raised:
        if kind == "mutation":
            pool.enqueue_mutation(world.client, "save", **options)
        else:
            pool.enqueue_query(world.client, "double", {"n": 1}, **options)

    assert "unexpected keyword argument 'retry'" in str(raised.value)
    assert _snapshot(world) == before


# RTY-2: backoff with recorded jitter ----------------------------------------------------------


def _retry_story(world: World, work_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    """Every event about ``work_id``, with the rng draws made for it."""
    story = []
    for e in world.trace:
        if e.id == work_id or (e.kind == "rng" and work_id in str(e.data["purpose"])):
            story.append((e.time, e.kind, dict(e.data)))
    return story


@pytest.mark.parametrize("profile", ["current", "seed"])
@pytest.mark.parametrize(
    "behavior",
    [
        RetryBehavior(max_attempts=4, initial_backoff_ms=100, base=3),
        RetryBehavior(max_attempts=3, initial_backoff_ms=7, base=1.5),
        RetryBehavior(max_attempts=3, initial_backoff_ms=1000, base=0.5),
    ],
    ids=["base-3", "float-base", "shrinking"],
)
@checks("RTY-2", "DET-2")
def test_retry_delay_is_the_floor_of_backoff_times_the_recorded_jitter(
    profile: str, behavior: RetryBehavior
) -> None:
    world, pool = _world(profile, seed=11)
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 10}, retry=behavior)
    world.run_until_idle()

    expected: list[tuple[int, str, dict[str, Any]]] = [
        (0, "enqueued", {"fn": "flaky", "kind": "action", "runAt": 0,
                         "retry": behavior.to_json(), "onComplete": None}),
        (0, "started", {"attempt": 1, "lagMs": 0}),
    ]
    now = 10
    draws = iter(float(data["value"]) for _, data in _data(world, "rng"))
    for k in range(1, behavior.max_attempts):
        u = next(draws)
        delay = math.floor(behavior.initial_backoff_ms * behavior.base ** (k - 1) * (0.5 + u))
        expected += [
            (now, "rng", {"purpose": f"retry jitter {work_id} attempt {k}", "value": u}),
            (now, "retrying", {"attempt": k, "error": f"attempt {k} failed", "delayMs": delay,
                               "retryAt": now + delay}),
            (now + delay, "started", {"attempt": k + 1, "lagMs": 0}),
        ]
        now += delay + 10
    last = behavior.max_attempts
    expected.append((now, "failed", {"attempt": last, "error": f"attempt {last} failed"}))
    assert _retry_story(world, work_id) == expected


@checks("RTY-2", "DET-1")
def test_the_jitter_depends_on_the_seed_only() -> None:
    def delays(seed: int) -> list[int]:
        world, pool = _world(seed=seed)
        pool.enqueue_action(world.client, "flaky", {"failures": 3}, retry=True)
        world.run_until_idle()
        return [int(data["delayMs"]) for _, data in _data(world, "retrying")]

    assert delays(4) == delays(4)
    assert delays(4) != delays(5)


def _fifo_world(other_run_at: int | None) -> tuple[World, Workpool]:
    """One slot. ``p/1`` fails at 10 and retries; ``p/2`` holds the slot from 10 to 1010; if
    ``other_run_at`` is given, ``p/3`` was enqueued at 0 to become eligible then."""
    world, pool = _world(seed=3, max_parallelism=1)
    pool.enqueue_action(
        world.client, "flaky", {"failures": 1},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=100),
    )
    pool.enqueue_action(world.client, "job", {"ms": 1000})
    if other_run_at is not None:
        pool.enqueue_action(world.client, "job", {"ms": 1}, run_at=other_run_at)
    return world, pool


@checks("RTY-2", "ORD-1", "RTY-3")
def test_a_retry_queues_fifo_with_other_work_eligible_at_the_same_time() -> None:
    dry, _ = _fifo_world(None)
    dry.run_until_idle()
    retry_at = int(_data(dry, "retrying", "p/1")[0][1]["retryAt"])

    world, pool = _fifo_world(retry_at)
    world.run_until(10)
    later = pool.enqueue_action(world.client, "job", {"ms": 1}, run_at=retry_at)
    world.run_until_idle()

    assert int(_data(world, "retrying", "p/1")[0][1]["retryAt"]) == retry_at
    assert _events(world, "started") == [
        (0, "started", "p/1"),
        (10, "started", "p/2"),  # In the slot p/1 left for its backoff (RTY-3).
        (1010, "started", "p/3"),  # Enqueued before the retry, eligible at the same time.
        (1011, "started", "p/1"),
        (1021, "started", later),  # Enqueued after the retry.
    ]
    assert _data(world, "started", "p/1")[1] == (1011, {"attempt": 2, "lagMs": 1011 - retry_at})


@pytest.mark.parametrize("instant", [500, 5], ids=["later", "before-the-failure"])
@checks("RTY-2", "ORD-1")
def test_a_retry_policy_may_decide_a_retry_after_the_failure(instant: int) -> None:
    """A retry decided later (as an implementation's loop does, replayed by the conformance
    harness) is due at the decision + its delay, so work due before then starts first; an
    instant before the failure means the failure's."""
    decided = DecidedAt()
    world, pool = _world(CURRENT.evolve(name="current-decided", retries=decided),
                         seed=3, max_parallelism=1)
    first = pool.enqueue_action(world.client, "flaky", {"failures": 1},
                                retry=RetryBehavior(max_attempts=2, initial_backoff_ms=100))
    decided.instants[first] = {1: instant}
    other = pool.enqueue_action(world.client, "job", {"ms": 1}, run_at=300)
    world.run_until_idle()

    (failed_at, retry), = _data(world, "retrying", first)
    assert failed_at == 10
    if instant > failed_at:
        assert retry["decidedAt"] == instant
        assert retry["retryAt"] == instant + retry["delayMs"]
        assert _events(world, "started") == [(0, "started", first), (300, "started", other),
                                              (retry["retryAt"], "started", first)]
    else:
        assert "decidedAt" not in retry
        assert retry["retryAt"] == 10 + retry["delayMs"]
        assert _events(world, "started") == [(0, "started", first),
                                              (retry["retryAt"], "started", first),
                                              (300, "started", other)]


@checks("RTY-2", "EXE-4")
def test_a_valid_retry_behavior_with_a_huge_base_does_not_crash_the_simulation() -> None:
    world, pool = _world()
    pool.enqueue_action(
        world.client, "flaky", {"failures": 10, "ms": 0},
        retry=RetryBehavior(max_attempts=4, initial_backoff_ms=0, base=1e300),
    )

    crashed = None
    try:
        world.run_until_idle()
    except OverflowError as exc:
        crashed = repr(exc)

    assert crashed is None
    assert [data["attempt"] for _, data in _data(world, "retrying")] == [1, 2, 3]


# RTY-3: a retrying item holds no slot ---------------------------------------------------------


@pytest.mark.parametrize("profile", ["current", "seed"])
@checks("RTY-3", "PAR-1")
def test_another_item_takes_the_slot_during_the_backoff(profile: str) -> None:
    world, pool = _world(profile, max_parallelism=1)
    retried = pool.enqueue_action(
        world.client, "flaky", {"failures": 1},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=5_000),
    )
    other = pool.enqueue_action(world.client, "job", {"ms": 100})

    world.run_until(10)

    assert _events(world, "retrying", "started") == [
        (0, "started", retried),
        (10, "retrying", retried),
        (10, "started", other),
    ]
    stats = pool.statistics()
    assert (stats.running, stats.pending) == (1, 1)
    assert pool.running_ids() == [other]
    assert pool.pending_ids() == [retried]


# RTY-4: attempt limits and NonRetryableError ---------------------------------------------------


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
@checks("RTY-4")
def test_attempts_never_exceed_max_attempts(max_attempts: int) -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 100},
        retry=RetryBehavior(max_attempts=max_attempts, initial_backoff_ms=0),
    )
    world.run_until_idle()

    attempts = [int(data["attempt"]) for _, data in _data(world, "started", work_id)]
    assert attempts == list(range(1, max_attempts + 1))
    assert len(_data(world, "retrying")) == max_attempts - 1
    assert [data["attempt"] for _, data in _data(world, "failed")] == [max_attempts]


@checks("RTY-4")
def test_success_on_the_last_allowed_attempt_succeeds() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 2}, retry=NO_BACKOFF)
    world.run_until_idle()

    assert _data(world, "succeeded", work_id) == [(30, {"attempt": 3, "result": "ok after 3"})]


def _non_retryable_world() -> tuple[World, list[tuple[str, str]]]:
    """A world whose ``checkout`` action records what its nested ``charge`` raised in it."""
    world, _ = _world()
    seen: list[tuple[str, str]] = []

    @world.action("declines")
    async def declines(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10)
        raise NonRetryableError("card declined")

    @world.mutation("charge", duration_ms=5)
    def charge(ctx: MutationCtx, args: dict[str, Any]) -> None:
        if args["how"] == "plain":
            raise RuntimeError("db busy")
        raise NonRetryableError("card declined")

    @world.action("checkout")
    async def checkout(ctx: ActionCtx, args: dict[str, Any]) -> str:
        try:
            await ctx.run_mutation(charge, {"how": args["how"]})
        except Exception as exc:
            seen.append((type(exc).__name__, str(exc)))
            if args.get("swallow"):
                return "recovered"
            if args.get("wrap"):
                raise RuntimeError(f"wrapped: {exc}") from exc
            raise
        return "charged"

    @world.query("lookup")
    def lookup(ctx: QueryCtx, args: dict[str, Any]) -> None:
        raise NonRetryableError("no such card")

    @world.action("reader")
    async def reader(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.run_query(lookup)

    @world.action("inner")
    async def inner(ctx: ActionCtx, args: dict[str, Any]) -> None:
        raise NonRetryableError("inner refuses")

    @world.action("outer")
    async def outer(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.run_action(inner)

    return world, seen


@checks("RTY-4", "ONC-2")
def test_non_retryable_error_ends_the_work_on_that_attempt() -> None:
    world, _ = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(
        world.client, "declines", retry=NO_BACKOFF, on_complete="record"
    )
    world.run_until_idle()

    assert _events(world) == [
        (0, "enqueued", work_id),
        (0, "started", work_id),
        (10, "failed", work_id),
        (10, "on_complete", work_id),
    ]
    assert _completions(world) == [
        (10, work_id, None, {"kind": "failed", "error": "card declined"})
    ]


@checks("RTY-4")
def test_non_retryable_error_from_a_nested_mutation_is_still_non_retryable() -> None:
    world, seen = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(world.client, "checkout", {"how": "refuse"}, retry=NO_BACKOFF)
    world.run_until_idle()

    assert _events(world, "started", "retrying", "failed") == [
        (0, "started", work_id),
        (5, "failed", work_id),
    ]
    assert _data(world, "failed", work_id) == [
        (5, {"attempt": 1, "error": "card declined", "nonRetryable": True})
    ]
    assert seen == [(NonRetryableError.__name__, "card declined")]


@checks("RTY-4")
def test_non_retryable_error_from_a_nested_action_is_still_non_retryable() -> None:
    world, _ = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(world.client, "outer", retry=NO_BACKOFF)
    world.run_until_idle()

    assert _data(world, "failed", work_id) == [
        (0, {"attempt": 1, "error": "inner refuses", "nonRetryable": True})
    ]
    assert _data(world, "retrying") == []


@checks("RTY-4")
def test_a_plain_error_in_a_nested_mutation_arrives_as_call_failed_and_is_retried() -> None:
    world, seen = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(world.client, "checkout", {"how": "plain"}, retry=NO_BACKOFF)
    world.run_until_idle()

    assert seen == [(CallFailed.__name__, "db busy")] * 3
    assert [data["attempt"] for _, data in _data(world, "retrying", work_id)] == [1, 2]
    assert _data(world, "failed", work_id) == [(15, {"attempt": 3, "error": "db busy"})]


@checks("RTY-4")
def test_non_retryable_error_from_a_nested_query_is_still_non_retryable() -> None:
    world, _ = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(world.client, "reader", retry=NO_BACKOFF)
    world.run_until_idle()

    assert _data(world, "failed", work_id) == [
        (0, {"attempt": 1, "error": "no such card", "nonRetryable": True})
    ]
    assert _data(world, "retrying") == []


@checks("RTY-4")
def test_a_non_retryable_error_caught_and_replaced_by_another_error_is_retried() -> None:
    world, seen = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(
        world.client, "checkout", {"how": "refuse", "wrap": True}, retry=NO_BACKOFF
    )
    world.run_until_idle()

    assert seen == [(NonRetryableError.__name__, "card declined")] * 3
    assert [data["attempt"] for _, data in _data(world, "retrying", work_id)] == [1, 2]
    assert _data(world, "failed", work_id) == [
        (15, {"attempt": 3, "error": "wrapped: card declined"})
    ]


@checks("RTY-4")
def test_a_caught_non_retryable_error_does_not_fail_the_work() -> None:
    world, _ = _non_retryable_world()
    pool = world.pools["p"]

    work_id = pool.enqueue_action(
        world.client, "checkout", {"how": "refuse", "swallow": True}, retry=NO_BACKOFF
    )
    world.run_until_idle()

    assert _data(world, "succeeded", work_id) == [(5, {"attempt": 1, "result": "recovered"})]


@checks("RTY-4")
def test_non_retryable_error_ends_a_seed_profile_retry_too() -> None:
    world, pool = _world("seed")

    @world.action("declines")
    async def declines(ctx: ActionCtx, args: dict[str, Any]) -> None:
        raise NonRetryableError("no")

    work_id = pool.enqueue_action(world.client, declines, retry=NO_BACKOFF)
    world.run_until_idle()

    assert _events(world, "started", "retrying", "failed") == [
        (0, "started", work_id),
        (0, "failed", work_id),
    ]
    assert pool.status(work_id).to_json() == {"kind": "error", "error": "no"}


# ONC-1 / ONC-2 / ONC-3: on_complete -----------------------------------------------------------


@pytest.mark.parametrize("profile", ["current", "seed"])
@checks("ONC-1", "ONC-2", "RTY-2")
def test_on_complete_runs_once_at_the_terminal_instant_and_never_for_retried_attempts(
    profile: str,
) -> None:
    world, pool = _world(profile)

    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 2},
        retry=RetryBehavior(max_attempts=5, initial_backoff_ms=50),
        on_complete="record", context={"user": "ada", "tags": ["a", 1]},
    )
    world.run_until_idle()

    succeeded = _data(world, "succeeded", work_id)
    assert len(succeeded) == 1
    end = succeeded[0][0]
    assert _data(world, "on_complete", work_id) == [
        (end, {"fn": "record", "context": {"user": "ada", "tags": ["a", 1]},
               "result": {"kind": "success", "returnValue": "ok after 3"}})
    ]
    assert _completions(world) == [
        (end, work_id, {"user": "ada", "tags": ["a", 1]},
         {"kind": "success", "return_value": "ok after 3"})
    ]
    kinds = [kind for _, kind, id_ in _events(world) if id_ == work_id]
    assert kinds == ["enqueued", "started", "retrying", "started", "retrying", "started",
                     "succeeded", "on_complete"]


@checks("ONC-1", "ENQ-2")
def test_on_complete_context_is_stored_by_value_at_enqueue() -> None:
    world, pool = _world()
    context: dict[str, Any] = {"items": [1]}

    work_id = pool.enqueue_action(world.client, "job", on_complete="record", context=context)
    context["items"].append(2)
    world.run_until_idle()

    assert _completions(world) == [
        (100, work_id, {"items": [1]}, {"kind": "success", "return_value": None})
    ]


@pytest.mark.parametrize("profile", ["current", "seed"])
@checks("ONC-1")
def test_a_failing_on_complete_is_not_retried_and_does_not_affect_the_work(profile: str) -> None:
    world, pool = _world(profile, max_parallelism=1)

    first = pool.enqueue_action(world.client, "job", {"out": "v"}, on_complete="broken",
                                retry=True)
    second = pool.enqueue_action(world.client, "job", {"out": "w"}, on_complete="record")
    world.run_until_idle()

    calls = [(e.time, e.kind, dict(e.data)) for e in world.trace
             if e.kind in ("call_started", "call_failed")]
    assert calls == [
        (100, "call_started", {"fn": "broken", "kind": "mutation"}),
        (100, "call_failed", {"fn": "broken", "error": "callback broke"}),
        (200, "call_started", {"fn": "record", "kind": "mutation"}),
    ]
    assert _data(world, "succeeded", first) == [(100, {"attempt": 1, "result": "v"})]
    assert _data(world, "retrying") == []
    assert _completions(world) == [
        (200, second, None, {"kind": "success", "return_value": "w"})
    ]
    if profile == "seed":
        assert pool.status(first).to_json() == {"kind": "success", "result": "v"}
    else:
        assert pool.status(first).to_json() == {"state": "finished"}


@checks("ONC-2", "ONC-3", "CAN-6")
def test_on_complete_result_shapes_match_the_terminal_outcome() -> None:
    world, pool = _world(max_parallelism=5)

    ok = pool.enqueue_action(world.client, "job", {"out": {"n": [1, 2]}}, on_complete="record")
    none = pool.enqueue_action(world.client, "job", on_complete="record")
    failed = pool.enqueue_action(world.client, "job", {"fail": "nope"}, on_complete="record")
    canceled = pool.enqueue_action(world.client, "job", on_complete="record", run_at=50)
    saved = pool.enqueue_mutation(world.client, "save", on_complete="record")
    pool.cancel(world.client, canceled)
    world.run_until_idle()

    [doc_id] = [doc["_id"] for doc in world.store.all("docs")]
    results = {work_id: result for _, work_id, _, result in _completions(world)}
    assert results == {
        ok: {"kind": "success", "return_value": {"n": [1, 2]}},
        none: {"kind": "success", "return_value": None},
        failed: {"kind": "failed", "error": "nope"},
        canceled: {"kind": "canceled"},
        saved: {"kind": "success", "return_value": doc_id},
    }
    traced = {e.id: e.data["result"] for e in world.trace if e.kind == "on_complete"}
    assert traced == {
        ok: {"kind": "success", "returnValue": {"n": [1, 2]}},
        none: {"kind": "success", "returnValue": None},
        failed: {"kind": "failed", "error": "nope"},
        canceled: {"kind": "canceled"},
        saved: {"kind": "success", "returnValue": doc_id},
    }
    terminal = {e.id: e.kind for e in world.trace
                if e.kind in ("succeeded", "failed", "canceled")}
    outcome = {"succeeded": "success", "failed": "failed", "canceled": "canceled"}
    assert {work_id: outcome[kind] for work_id, kind in terminal.items()} == {
        work_id: result["kind"] for work_id, result in results.items()
    }


@checks("ONC-3", "STS-1")
def test_seed_status_agrees_with_the_on_complete_outcome() -> None:
    world, pool = _world("seed", max_parallelism=1)

    ok = pool.enqueue_action(world.client, "job", {"out": 3}, on_complete="record")
    failed = pool.enqueue_action(world.client, "job", {"fail": "x"}, on_complete="record")
    canceled = pool.enqueue_action(world.client, "job", on_complete="record")
    world.run_until(150)
    pool.cancel(world.client, failed)
    pool.cancel(world.client, canceled)
    world.run_until_idle()

    statuses = {work_id: pool.status(work_id).to_json() for work_id in (ok, failed, canceled)}
    assert statuses == {
        ok: {"kind": "success", "result": 3},
        failed: {"kind": "error", "error": "Canceled"},
        canceled: {"kind": "error", "error": "Canceled"},
    }
    results = {work_id: result for _, work_id, _, result in _completions(world)}
    assert results == {
        ok: {"kind": "success", "return_value": 3},
        failed: {"kind": "canceled"},
        canceled: {"kind": "canceled"},
    }


@pytest.mark.parametrize(
    ("on_complete", "error", "message"),
    [
        ("job", InvalidArgument, "'job' is an action, but a mutation is needed here"),
        ("double", InvalidArgument, "'double' is a query, but a mutation is needed here"),
        ("nowhere", UnknownFunction, "no function named 'nowhere' is registered"),
        (bad(42), InvalidType,
         "a function reference must be a FunctionRef or a registered name, got 42"),
    ],
)
@checks("ONC-1", "ERR-1")
def test_on_complete_must_be_a_registered_mutation(
    on_complete: Any, error: type[RefmodelError], message: str
) -> None:
    world, pool = _world()
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.enqueue_action(world.client, "job", on_complete=on_complete)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before


# CAN-6: cancel in the current profile ---------------------------------------------------------


@checks("CAN-6", "STS-5", "ONC-1")
def test_cancel_of_running_work_lets_it_finish_and_its_success_stands() -> None:
    world, pool = _world(max_parallelism=1)
    work_id = pool.enqueue_action(world.client, "job", {"out": "done"}, on_complete="record")
    queued = pool.enqueue_action(world.client, "job")
    world.run_until(40)

    pool.cancel(world.client, work_id)
    during = pool.status(work_id)
    seed_view = pool.seed_status(work_id).to_json()
    world.run_until_idle()

    assert during == CurrentStatus(state="running", previous_attempts=0)
    assert seed_view == {"kind": "inProgress"}
    assert _events(world) == [
        (0, "enqueued", work_id),
        (0, "enqueued", queued),
        (0, "started", work_id),
        (40, "cancel_requested", work_id),
        (100, "succeeded", work_id),
        (100, "on_complete", work_id),
        (100, "started", queued),
        (200, "succeeded", queued),
    ]
    assert _data(world, "cancel_requested") == [(40, {"attempt": 1})]
    assert _completions(world) == [
        (100, work_id, None, {"kind": "success", "return_value": "done"})
    ]


@checks("CAN-6", "RTY-4", "ONC-1")
def test_cancel_of_running_work_that_would_retry_ends_canceled_without_retrying() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 5, "ms": 100}, retry=NO_BACKOFF,
        on_complete="record",
    )
    world.run_until(40)

    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert _events(world) == [
        (0, "enqueued", work_id),
        (0, "started", work_id),
        (40, "cancel_requested", work_id),
        (100, "canceled", work_id),
        (100, "on_complete", work_id),
    ]
    assert _data(world, "canceled") == [
        (100, {"attempt": 1, "wasRunning": True, "error": "attempt 1 failed"})
    ]
    assert _completions(world) == [(100, work_id, None, {"kind": "canceled"})]


@checks("CAN-6", "RTY-2")
def test_cancel_of_a_later_attempt_that_fails_ends_canceled() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 5}, retry=NO_BACKOFF,
                                  on_complete="record")
    world.run_until(15)  # The second attempt runs from 10 to 20.

    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert _events(world, "started", "retrying", "cancel_requested", "canceled") == [
        (0, "started", work_id),
        (10, "retrying", work_id),
        (10, "started", work_id),
        (15, "cancel_requested", work_id),
        (20, "canceled", work_id),
    ]
    assert _data(world, "cancel_requested") == [(15, {"attempt": 2})]


@pytest.mark.parametrize(
    ("args", "retry", "error"),
    [
        pytest.param({"fail": "fatal"}, None, "fatal", id="no-retry-policy"),
        pytest.param({"fail": "fatal"}, RetryBehavior(max_attempts=1), "fatal",
                     id="no-attempts-left"),
    ],
)
@checks("CAN-6", "ONC-2")
def test_cancel_of_running_work_whose_failure_is_final_reports_the_failure(
    args: dict[str, Any], retry: RetryBehavior | None, error: str
) -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "job", args, retry=retry, on_complete="record")
    world.run_until(40)

    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert _data(world, "failed", work_id) == [(100, {"attempt": 1, "error": error})]
    assert _completions(world) == [(100, work_id, None, {"kind": "failed", "error": error})]


@checks("CAN-6", "ONC-1", "STS-5")
def test_cancel_of_pending_work_ends_it_canceled_at_once() -> None:
    world, pool = _world(max_parallelism=1)
    running = pool.enqueue_action(world.client, "job")
    waiting = pool.enqueue_action(world.client, "job", on_complete="record", context=1)
    future = pool.enqueue_action(world.client, "job", run_at=5_000, on_complete="record")
    world.run_until(30)

    pool.cancel(world.client, waiting)
    pool.cancel(world.client, future)
    statuses = [pool.status(waiting), pool.status(future)]
    world.run_until_idle()

    assert statuses == [CurrentStatus(state="finished")] * 2
    assert _events(world, "canceled", "on_complete", "started") == [
        (0, "started", running),
        (30, "canceled", waiting),
        (30, "canceled", future),
        (30, "on_complete", waiting),
        (30, "on_complete", future),
    ]
    assert _data(world, "canceled") == [(30, {"attempt": 0, "wasRunning": False})] * 2
    assert _completions(world) == [
        (30, waiting, 1, {"kind": "canceled"}),
        (30, future, None, {"kind": "canceled"}),
    ]


@checks("CAN-6", "RTY-3")
def test_cancel_of_retrying_work_ends_it_canceled_at_once() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 1},
        retry=RetryBehavior(max_attempts=3, initial_backoff_ms=1_000), on_complete="record",
    )
    world.run_until(100)
    waiting = pool.status(work_id)

    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert waiting == CurrentStatus(state="pending", previous_attempts=1)
    assert _events(world, "started", "retrying", "canceled") == [
        (0, "started", work_id),
        (10, "retrying", work_id),
        (100, "canceled", work_id),
    ]
    assert _data(world, "canceled") == [(100, {"attempt": 1, "wasRunning": False})]
    assert _completions(world) == [(100, work_id, None, {"kind": "canceled"})]


@checks("CAN-6", "CAN-3")
def test_a_second_cancel_and_a_cancel_of_finished_work_are_ignored() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "job", on_complete="record")
    world.run_until(10)

    pool.cancel(world.client, work_id)
    pool.cancel(world.client, work_id)
    world.run_until_idle()
    pool.cancel(world.client, work_id)

    assert _data(world, "cancel_ignored") == [
        (10, {"state": "canceling"}),
        (100, {"state": "finished"}),
    ]
    assert len(_completions(world)) == 1


@checks("CAN-6", "ENQ-3")
def test_cancel_from_a_mutation_happens_at_its_commit() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "job", run_at=50)

    @world.mutation("stop", duration_ms=20)
    def stop(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.cancel(ctx, work_id)

    world.run_until(40)
    world.run_mutation(stop)
    world.run_until_idle()

    assert _events(world, "started", "cancel_requested", "succeeded", "canceled") == [
        (50, "started", work_id),
        (60, "cancel_requested", work_id),
        (150, "succeeded", work_id),
    ]


@checks("CAN-6", "CAN-2", "ONC-1")
def test_seed_profile_cancel_of_running_work_abandons_it_and_on_complete_gets_canceled() -> None:
    world, pool = _world("seed", max_parallelism=1)
    work_id = pool.enqueue_action(world.client, "job", {"out": "never"}, on_complete="record",
                                  context="c")
    queued = pool.enqueue_action(world.client, "job")
    world.run_until(40)

    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert _events(world, "started", "canceled", "succeeded", "on_complete") == [
        (0, "started", work_id),
        (40, "canceled", work_id),
        (40, "on_complete", work_id),
        (40, "started", queued),
        (140, "succeeded", queued),
    ]
    assert _data(world, "canceled") == [(40, {"attempt": 1, "wasRunning": True})]
    assert _completions(world) == [(40, work_id, "c", {"kind": "canceled"})]
    assert pool.status(work_id).to_json() == {"kind": "error", "error": "Canceled"}


@checks("CAN-6", "RTY-2")
def test_seed_profile_retries_and_cancel_of_a_retrying_item() -> None:
    world, pool = _world("seed", max_parallelism=1)
    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 3},
        retry=RetryBehavior(max_attempts=5, initial_backoff_ms=100), on_complete="record",
    )
    world.run_until_event(lambda e: e.kind == "retrying" and e.data["attempt"] == 2)
    now = world.now

    status = pool.status(work_id)
    pool.cancel(world.client, work_id)
    world.run_until_idle()

    assert status.to_json() == {"kind": "pending"}
    assert _data(world, "canceled") == [(now, {"attempt": 2, "wasRunning": False})]
    assert _completions(world) == [(now, work_id, None, {"kind": "canceled"})]


# CAN-7: cancel_all ----------------------------------------------------------------------------


@checks("CAN-7", "CAN-6")
def test_cancel_all_cancels_every_unfinished_item_newest_first_and_spares_later_ones() -> None:
    world, pool = _world(max_parallelism=2)
    done = pool.enqueue_action(world.client, "job", {"ms": 10})
    running = pool.enqueue_action(world.client, "job", {"ms": 1_000})
    retrying = pool.enqueue_action(
        world.client, "flaky", {"failures": 1},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=5_000),
    )
    pending = pool.enqueue_action(world.client, "job", run_at=10_000)
    world.run_until(100)

    pool.cancel_all(world.client)
    later = pool.enqueue_action(world.client, "job", {"ms": 10})
    world.run_until_idle()

    assert _events(world, "succeeded", "canceled", "cancel_requested", "started") == [
        (0, "started", done),
        (0, "started", running),
        (10, "succeeded", done),
        (10, "started", retrying),
        (100, "canceled", pending),
        (100, "canceled", retrying),
        (100, "cancel_requested", running),
        (100, "started", later),
        (110, "succeeded", later),
        (1_000, "succeeded", running),
    ]


@pytest.mark.parametrize("limit", [None, 1, 64, 10_000])
@checks("CAN-7")
def test_cancel_all_limit_changes_nothing_observable(limit: int | None) -> None:
    world, pool = _world(max_parallelism=1)
    ids = [pool.enqueue_action(world.client, "job") for _ in range(4)]

    pool.cancel_all(world.client, limit=limit)
    world.run_until_idle()

    assert _events(world, "canceled") == [(0, "canceled", work_id) for work_id in ids[::-1]]


@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        (0, InvalidArgument, "limit must be >= 1, got 0"),
        (-5, InvalidArgument, "limit must be >= 1, got -5"),
        (1.5, InvalidType, "limit must be an int, got 1.5 (float)"),
        (True, InvalidType, "limit must be an int, got True (bool)"),
        ("64", InvalidType, "limit must be an int, got '64' (str)"),
    ],
)
@checks("CAN-7", "ERR-1")
def test_cancel_all_rejects_a_bad_limit_and_changes_nothing(
    limit: Any, error: type[RefmodelError], message: str
) -> None:
    world, pool = _world(max_parallelism=1)
    pool.enqueue_action(world.client, "job")
    pool.enqueue_action(world.client, "job")
    world.run_until(10)
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.cancel_all(world.client, limit=limit)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before


@checks("CAN-7", "ENQ-3")
def test_cancel_all_from_a_mutation_cancels_what_exists_at_its_commit() -> None:
    world, pool = _world(max_parallelism=1)
    first = pool.enqueue_action(world.client, "job", run_at=1_000)

    @world.mutation("reset", duration_ms=20)
    def reset(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.enqueue_action(ctx, "job", run_at=1_000)
        pool.cancel_all(ctx)
        pool.enqueue_action(ctx, "job", run_at=1_000)

    world.run_mutation(reset)
    world.run_until(19)
    before_commit = _events(world, "canceled")
    world.run_until(30)
    after = pool.enqueue_action(world.client, "job", run_at=1_000)
    world.run_until_idle()

    assert before_commit == []
    assert _events(world, "enqueued", "canceled", "started") == [
        (0, "enqueued", first),
        (20, "enqueued", "p/2"),
        (20, "canceled", "p/2"),
        (20, "canceled", first),
        (20, "enqueued", "p/3"),
        (30, "enqueued", after),
        (1_000, "started", "p/3"),
        (1_100, "started", after),
    ]


@checks("CAN-7", "ENQ-3")
def test_cancel_all_goes_by_decreasing_id_number() -> None:
    world, pool = _world(max_parallelism=1)
    first = pool.enqueue_action(world.client, "job", run_at=1_000)

    @world.mutation("slow_enqueue", duration_ms=50)
    def slow_enqueue(ctx: MutationCtx, args: dict[str, Any]) -> str:
        return pool.enqueue_action(ctx, "job", run_at=1_000)

    handle = world.run_mutation(slow_enqueue)  # Its id is issued at 0, its item is real at 50.
    world.run_until(10)
    meanwhile = pool.enqueue_action(world.client, "job", run_at=1_000)
    world.run_until(60)
    pool.cancel_all(world.client)

    slow = handle.result()
    assert (first, slow, meanwhile) == ("p/1", "p/2", "p/3")
    assert _events(world, "enqueued", "canceled") == [
        (0, "enqueued", first),
        (10, "enqueued", meanwhile),
        (50, "enqueued", slow),
        (60, "canceled", meanwhile),
        (60, "canceled", slow),
        (60, "canceled", first),
    ]


@checks("CAN-7", "CAN-2")
def test_seed_profile_cancel_all_abandons_running_work() -> None:
    world, pool = _world("seed", max_parallelism=1)
    running = pool.enqueue_action(world.client, "job")
    waiting = pool.enqueue_action(world.client, "job")
    world.run_until(50)

    pool.cancel_all(world.client)
    world.run_until_idle()

    assert _data(world, "canceled") == [
        (50, {"attempt": 0, "wasRunning": False}),
        (50, {"attempt": 1, "wasRunning": True}),
    ]
    assert _events(world, "canceled") == [(50, "canceled", waiting), (50, "canceled", running)]


# STS-5: the current status --------------------------------------------------------------------


@checks("STS-5")
def test_current_status_through_retries_to_finished() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(
        world.client, "flaky", {"failures": 1, "ms": 100},
        retry=RetryBehavior(max_attempts=2, initial_backoff_ms=1_000),
    )
    seen = [pool.status(work_id).to_json()]
    for time in (0, 99, 100):
        world.run_until(time)
        seen.append(pool.status(work_id).to_json())
    retry_at = int(_data(world, "retrying", work_id)[0][1]["retryAt"])
    world.run_until(retry_at)
    seen.append(pool.status(work_id).to_json())
    world.run_until(retry_at + 100)
    seen.append(pool.status(work_id).to_json())

    assert seen == [
        {"state": "pending", "previousAttempts": 0},
        {"state": "running", "previousAttempts": 0},
        {"state": "running", "previousAttempts": 0},
        {"state": "pending", "previousAttempts": 1},
        {"state": "running", "previousAttempts": 1},
        {"state": "finished"},
    ]


@checks("STS-5", "CAN-6")
def test_current_status_of_canceling_work_reads_running_with_previous_attempts() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 1}, retry=NO_BACKOFF)
    world.run_until(15)

    pool.cancel(world.client, work_id)

    assert pool.status(work_id) == CurrentStatus(state="running", previous_attempts=1)
    assert pool.status(work_id).to_json() == {"state": "running", "previousAttempts": 1}


@checks("STS-5", "STS-4")
def test_finished_work_is_forgotten_and_reads_finished() -> None:
    world, pool = _world()
    work_id = pool.enqueue_action(world.client, "job", {"out": 1})
    world.run_until_idle()

    assert pool.status(work_id) == CurrentStatus(state="finished")
    assert pool.status(work_id).to_json() == {"state": "finished"}
    assert pool.work_ids() == []
    assert pool.statistics().retained == 0
    with pytest.raises(WorkEvicted) as evicted:
        pool.try_result(work_id)
    assert str(evicted.value) == (
        "work p/1 has finished and the current profile keeps no results: use on_complete to "
        "receive them"
    )
    assert pool.seed_status(work_id).to_json() == {"kind": "evicted"}
    with pytest.raises(WorkEvicted):
        pool.info(work_id)
    assert pool.kind_of(work_id).value == "action"
    with pytest.raises(UnknownWorkId):
        pool.status("p/2")


@checks("STS-5")
def test_seed_profile_can_read_the_current_status_view_too() -> None:
    world, pool = _world("seed")
    work_id = pool.enqueue_action(world.client, "flaky", {"failures": 1}, retry=NO_BACKOFF)

    seen = [pool.current_status(work_id).to_json()]
    world.run_until(10)
    seen.append(pool.current_status(work_id).to_json())
    world.run_until_idle()
    seen.append(pool.current_status(work_id).to_json())

    assert seen == [
        {"state": "pending", "previousAttempts": 0},
        {"state": "running", "previousAttempts": 1},
        {"state": "finished"},
    ]
    assert pool.status(work_id).to_json() == {"kind": "success", "result": "ok after 2"}
