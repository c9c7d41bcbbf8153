"""Every public entry point rejects bad input with the exact error class and message, and a
rejected call leaves the world unchanged (rules ERR-1, CLK-2, CFG-1 to CFG-3, ENQ-2, ENQ-4).

Each case runs on a fresh world with work in flight (running, pending and future items in two
pools, a scheduled function, a captured action ctx). The world's trace, clock, next event,
pool statistics, registry, scheduled functions and tables are captured before and after the
call and compared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    ForeignWorkId,
    InvalidArgument,
    InvalidType,
    MutationCtx,
    NotInAction,
    QueryCtx,
    RefmodelError,
    UnknownFunction,
    UnknownScheduledId,
    UnknownWorkId,
    Workpool,
    World,
)
from tests.spec import checks

BUILTIN: dict[type[RefmodelError], type[Exception]] = {
    InvalidArgument: ValueError,
    InvalidType: TypeError,
    UnknownFunction: LookupError,
    UnknownWorkId: LookupError,
    UnknownScheduledId: LookupError,
    ForeignWorkId: ValueError,
    NotInAction: RuntimeError,
}
"""The built-in exception each input error also subclasses (spec section 5)."""

NAN = math.nan
INF = math.inf
VALUE_KINDS = "(None, bool, int, float, str, list, dict)"


def bad(value: object) -> Any:
    """Pass a deliberately ill-typed value past the type checker."""
    return value


class _Thing:
    """An object that is not JSON-like, with a repr that carries no memory address."""

    def __repr__(self) -> str:
        return "_Thing()"


class _Doc(dict[str, Any]):
    """A dict subclass: not JSON-like, because types are checked exactly."""

    def __repr__(self) -> str:
        return "_Doc(...)"


@dataclass(frozen=True)
class Env:
    """A world with work in flight, and the handles the cases use."""

    world: World
    pool: Workpool
    other: Workpool
    action_ctx: ActionCtx


def _env() -> Env:
    world = World(seed=5)
    pool = world.pool("p", max_parallelism=2, ttl_ms=10_000)
    other = world.pool("q", max_parallelism=1)
    captured: list[ActionCtx] = []

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(500)

    @world.action()
    async def grab(ctx: ActionCtx, args: dict[str, Any]) -> None:
        captured.append(ctx)

    @world.mutation(duration_ms=10)
    def save(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("docs", {"n": 1})

    @world.query()
    def count(ctx: QueryCtx, args: dict[str, Any]) -> int:
        return len(ctx.db.query("docs"))

    world.run_mutation(save)
    pool.enqueue_action(world.client, job)  # p/1: running.
    pool.enqueue_action(world.client, job)  # p/2: running.
    pool.enqueue_mutation(world.client, save)  # p/3: pending.
    pool.enqueue_unknown(world.client, job, {}, 300)  # p/4: pending until 300.
    other.enqueue_action(world.client, job)  # q/1: running.
    world.client.scheduler.run_after(1000, job)  # scheduled/1: pending.
    world.run_action(grab)
    world.run_until(100)
    return Env(world=world, pool=pool, other=other, action_ctx=captured[0])


def _snapshot(world: World) -> tuple[Any, ...]:
    return (
        world.trace_jsonl(),
        world.now,
        world.peek(),
        world.idle,
        [(name, pool.statistics()) for name, pool in world.pools.items()],
        world.registry.names(),
        world.scheduler.ids(),
        world.store.tables(),
    )


def _assert_rejected(
    call: Callable[[Env], object], error: type[RefmodelError], message: str
) -> None:
    env = _env()
    before = _snapshot(env.world)

    with pytest.raises(RefmodelError) as raised:
        call(env)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert isinstance(raised.value, BUILTIN[error])
    assert _snapshot(env.world) == before


def _noop() -> None:
    return None


Case = Any  # One pytest.param(...) of a parametrize list.


# World(...) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"seed": "1"}, InvalidType, "seed must be an int, got '1'", id="seed-str"),
        pytest.param({"seed": True}, InvalidType, "seed must be an int, got True", id="seed-bool"),
        pytest.param({"seed": 1.5}, InvalidType, "seed must be an int, got 1.5", id="seed-float"),
        pytest.param({"epoch": -1}, InvalidArgument, "epoch must be >= 0, got -1",
                     id="epoch-negative"),
        pytest.param({"epoch": 1.5}, InvalidType,
                     "epoch must be an integer number of ms, got 1.5 (float)", id="epoch-float"),
        pytest.param({"epoch": 10.0}, InvalidType,
                     "epoch must be an integer number of ms, got 10.0 (float)",
                     id="epoch-integral-float"),
        pytest.param({"epoch": True}, InvalidType,
                     "epoch must be an integer number of ms, got True (bool)", id="epoch-bool"),
        pytest.param({"epoch": NAN}, InvalidType,
                     "epoch must be an integer number of ms, got NaN", id="epoch-nan"),
        pytest.param({"epoch": INF}, InvalidType,
                     "epoch must be an integer number of ms, got inf", id="epoch-inf"),
        pytest.param({"trace": "trace.jsonl"}, InvalidType,
                     "trace must be True, False, a callable sink or a text stream, got "
                     "'trace.jsonl'", id="trace-str"),
        pytest.param({"trace": 5}, InvalidType,
                     "trace must be True, False, a callable sink or a text stream, got 5",
                     id="trace-int"),
        pytest.param({"scheduler_concurrency": 0}, InvalidArgument,
                     "scheduler_concurrency must be >= 1 or None (no limit), got 0",
                     id="concurrency-zero"),
        pytest.param({"scheduler_concurrency": -3}, InvalidArgument,
                     "scheduler_concurrency must be >= 1 or None (no limit), got -3",
                     id="concurrency-negative"),
        pytest.param({"scheduler_concurrency": True}, InvalidType,
                     "scheduler_concurrency must be an int, got True (bool)",
                     id="concurrency-bool"),
        pytest.param({"scheduler_concurrency": 2.0}, InvalidType,
                     "scheduler_concurrency must be an int, got 2.0 (float)",
                     id="concurrency-float"),
        pytest.param({"profile": "nope"}, InvalidArgument,
                     "unknown profile 'nope': choose one of ['seed', 'current', "
                     "'current-bucketed']",
                     id="profile-unknown"),
    ],
)
@checks("ERR-1", "CLK-2", "CLK-1")
def test_world_rejects_bad_arguments(
    options: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    with pytest.raises(RefmodelError) as raised:
        World(**options)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert isinstance(raised.value, BUILTIN[error])


# world.pool(...) ------------------------------------------------------------------------------

ALLOWED_OPTIONS = (
    "['action_timeout_ms', 'default_retry_behavior', 'log_level', 'max_parallelism', "
    "'mutation_timeout_ms', 'retry_actions_by_default', 'ttl_ms', 'unknown_timeout_ms']"
)
NAME_RULE = "must match [A-Za-z][A-Za-z0-9_]* (letters, digits, underscores)"

POOL_CASES: list[Case] = [
    pytest.param("new", {"max_parallelism": 0}, InvalidArgument,
                 "max_parallelism must be >= 1, got 0", id="parallelism-0"),
    pytest.param("new", {"max_parallelism": -1}, InvalidArgument,
                 "max_parallelism must be >= 1, got -1", id="parallelism-negative"),
    pytest.param("new", {"max_parallelism": 301}, InvalidArgument,
                 "max_parallelism must be <= 300, got 301", id="parallelism-301"),
    pytest.param("new", {"max_parallelism": True}, InvalidType,
                 "max_parallelism must be an int, got True (bool)", id="parallelism-bool"),
    pytest.param("new", {"max_parallelism": 2.5}, InvalidType,
                 "max_parallelism must be an int, got 2.5 (float)", id="parallelism-float"),
    pytest.param("new", {"max_parallelism": 2.0}, InvalidType,
                 "max_parallelism must be an int, got 2.0 (float)",
                 id="parallelism-integral-float"),
    pytest.param("new", {"max_parallelism": "ten"}, InvalidType,
                 "max_parallelism must be an int, got 'ten' (str)", id="parallelism-str"),
    pytest.param("new", {"max_parallelism": None}, InvalidType,
                 "max_parallelism must be an int, got None (NoneType)", id="parallelism-none"),
    pytest.param("new", {}, InvalidArgument,
                 "max_parallelism is required (an int in 1..300)", id="parallelism-missing"),
    pytest.param("new", {"max_parallelism": 1, "parallelism": 3}, InvalidArgument,
                 f"unknown pool option 'parallelism': allowed are {ALLOWED_OPTIONS}",
                 id="unknown-option"),
    pytest.param("new", {"max_parallelism": 1, "maxParallelism": 3}, InvalidArgument,
                 f"unknown pool option 'maxParallelism': allowed are {ALLOWED_OPTIONS}",
                 id="json-spelling"),
    pytest.param("new", {"max_parallelism": 1, "action_timeout_ms": 0}, InvalidArgument,
                 "action_timeout_ms must be a positive integer number of ms, got 0",
                 id="action-timeout-0"),
    pytest.param("new", {"max_parallelism": 1, "action_timeout_ms": -5}, InvalidArgument,
                 "action_timeout_ms must be a positive integer number of ms, got -5",
                 id="action-timeout-negative"),
    pytest.param("new", {"max_parallelism": 1, "action_timeout_ms": 1.5}, InvalidType,
                 "action_timeout_ms must be a positive integer number of ms, got 1.5 (float)",
                 id="action-timeout-float"),
    pytest.param("new", {"max_parallelism": 1, "action_timeout_ms": INF}, InvalidType,
                 "action_timeout_ms must be a positive integer number of ms, got inf (float)",
                 id="action-timeout-inf"),
    pytest.param("new", {"max_parallelism": 1, "action_timeout_ms": True}, InvalidType,
                 "action_timeout_ms must be a positive integer number of ms, got True (bool)",
                 id="action-timeout-bool"),
    pytest.param("new", {"max_parallelism": 1, "mutation_timeout_ms": 0}, InvalidArgument,
                 "mutation_timeout_ms must be a positive integer number of ms, got 0",
                 id="mutation-timeout-0"),
    pytest.param("new", {"max_parallelism": 1, "mutation_timeout_ms": NAN}, InvalidType,
                 "mutation_timeout_ms must be a positive integer number of ms, got nan (float)",
                 id="mutation-timeout-nan"),
    pytest.param("new", {"max_parallelism": 1, "unknown_timeout_ms": 0}, InvalidArgument,
                 "unknown_timeout_ms must be a positive integer number of ms, got 0",
                 id="unknown-timeout-0"),
    pytest.param("new", {"max_parallelism": 1, "unknown_timeout_ms": "1s"}, InvalidType,
                 "unknown_timeout_ms must be a positive integer number of ms, got '1s' (str)",
                 id="unknown-timeout-str"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": 0}, InvalidArgument,
                 "ttl_ms must be a positive integer number of ms or math.inf, got 0",
                 id="ttl-0"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": -1}, InvalidArgument,
                 "ttl_ms must be a positive integer number of ms or math.inf, got -1",
                 id="ttl-negative"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": -INF}, InvalidType,
                 "ttl_ms must be a positive integer number of ms or math.inf, got -inf (float)",
                 id="ttl-minus-inf"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": NAN}, InvalidType,
                 "ttl_ms must be a positive integer number of ms or math.inf, got nan (float)",
                 id="ttl-nan"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": 1.5}, InvalidType,
                 "ttl_ms must be a positive integer number of ms or math.inf, got 1.5 (float)",
                 id="ttl-float"),
    pytest.param("new", {"max_parallelism": 1, "ttl_ms": True}, InvalidType,
                 "ttl_ms must be a positive integer number of ms or math.inf, got True (bool)",
                 id="ttl-bool"),
    pytest.param("p", {"max_parallelism": 1}, InvalidArgument,
                 "a pool named 'p' already exists in this world", id="duplicate-name"),
    pytest.param(1, {"max_parallelism": 1}, InvalidType, "pool name must be a str, got 1 (int)",
                 id="name-int"),
    pytest.param(None, {"max_parallelism": 1}, InvalidType,
                 "pool name must be a str, got None (NoneType)", id="name-none"),
    pytest.param("", {"max_parallelism": 1}, InvalidArgument, f"pool name {NAME_RULE}, got ''",
                 id="name-empty"),
    pytest.param("1pool", {"max_parallelism": 1}, InvalidArgument,
                 f"pool name {NAME_RULE}, got '1pool'", id="name-digit-first"),
    pytest.param("e-mails", {"max_parallelism": 1}, InvalidArgument,
                 f"pool name {NAME_RULE}, got 'e-mails'", id="name-dash"),
    pytest.param("my pool", {"max_parallelism": 1}, InvalidArgument,
                 f"pool name {NAME_RULE}, got 'my pool'", id="name-space"),
    pytest.param("pool\n", {"max_parallelism": 1}, InvalidArgument,
                 f"pool name {NAME_RULE}, got 'pool\\n'", id="name-newline"),
    pytest.param("p/1", {"max_parallelism": 1}, InvalidArgument,
                 f"pool name {NAME_RULE}, got 'p/1'", id="name-slash"),
]


@pytest.mark.parametrize(("name", "options", "error", "message"), POOL_CASES)
@checks("CFG-1", "CFG-2", "CFG-3", "ERR-1", "CLK-2")
def test_pool_rejects_bad_names_and_options_and_creates_nothing(
    name: Any, options: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    _assert_rejected(lambda e: e.world.pool(name, **options), error, message)


@checks("CFG-2", "CFG-1")
def test_pool_accepts_the_bounds_and_fills_in_defaults() -> None:
    world = World()

    low = world.pool("low", max_parallelism=1, action_timeout_ms=1, mutation_timeout_ms=1,
                     unknown_timeout_ms=1, ttl_ms=1)
    high = world.pool("high", max_parallelism=300, ttl_ms=math.inf)

    def seed_options(pool: Workpool) -> tuple[Any, ...]:
        o = pool.options
        return (o.max_parallelism, o.action_timeout_ms, o.mutation_timeout_ms,
                o.unknown_timeout_ms, o.ttl_ms)

    assert seed_options(low) == (1, 1, 1, 1, 1)
    assert seed_options(high) == (300, 900_000, 30_000, 900_000, math.inf)
    assert high.options.to_json()["ttl"] is None


# Registration ---------------------------------------------------------------------------------


def _sync_handler(ctx: Any, args: Any) -> None:
    return None


async def _async_handler(ctx: Any, args: Any) -> None:
    return None


REGISTRATION_CASES: list[Case] = [
    pytest.param(lambda e: e.world.action()(_sync_handler), InvalidType,
                 "action '_sync_handler' must be an 'async def' function", id="action-sync"),
    pytest.param(lambda e: e.world.mutation()(_async_handler), InvalidType,
                 "mutation '_async_handler' must be a plain 'def' function", id="mutation-async"),
    pytest.param(lambda e: e.world.query()(_async_handler), InvalidType,
                 "query '_async_handler' must be a plain 'def' function", id="query-async"),
    pytest.param(lambda e: e.world.action()(bad(5)), InvalidType,
                 "an action handler must be callable, got 5", id="not-callable"),
    pytest.param(lambda e: e.world.action("")(_async_handler), InvalidArgument,
                 "function name must be a non-empty str, got ''", id="name-empty"),
    pytest.param(lambda e: e.world.action(bad(5))(_async_handler), InvalidType,
                 "function name must be a non-empty str, got 5", id="name-int"),
    pytest.param(lambda e: e.world.action("job")(_async_handler), InvalidArgument,
                 "a function named 'job' is already registered", id="name-taken"),
    pytest.param(lambda e: e.world.query("job")(_sync_handler), InvalidArgument,
                 "a function named 'job' is already registered", id="name-taken-other-kind"),
    pytest.param(lambda e: e.world.mutation(duration_ms=-1)(_sync_handler), InvalidArgument,
                 "duration_ms must be >= 0, got -1", id="duration-negative"),
    pytest.param(lambda e: e.world.mutation(duration_ms=bad(1.5))(_sync_handler), InvalidType,
                 "duration_ms must be an integer number of ms, got 1.5 (float)",
                 id="duration-float"),
    pytest.param(lambda e: e.world.mutation(duration_ms=bad(True))(_sync_handler), InvalidType,
                 "duration_ms must be an integer number of ms, got True (bool)",
                 id="duration-bool"),
]


@pytest.mark.parametrize(("call", "error", "message"), REGISTRATION_CASES)
@checks("ERR-1", "CLK-2")
def test_registration_rejects_bad_handlers_names_and_durations(
    call: Callable[[Env], object], error: type[RefmodelError], message: str
) -> None:
    _assert_rejected(call, error, message)


# Times: run_until, call_at, max_steps, run_at, run_after, sleep, poll timeouts --------------

TIME_CASES: list[Case] = [
    pytest.param(lambda e: e.world.run_until(-1), InvalidArgument, "time must be >= 0, got -1",
                 id="run_until-negative"),
    pytest.param(lambda e: e.world.run_until(bad(NAN)), InvalidType,
                 "time must be an integer number of ms, got NaN", id="run_until-nan"),
    pytest.param(lambda e: e.world.run_until(bad(INF)), InvalidType,
                 "time must be an integer number of ms, got inf", id="run_until-inf"),
    pytest.param(lambda e: e.world.run_until(bad(-INF)), InvalidType,
                 "time must be an integer number of ms, got -inf", id="run_until-minus-inf"),
    pytest.param(lambda e: e.world.run_until(bad(150.5)), InvalidType,
                 "time must be an integer number of ms, got 150.5 (float)",
                 id="run_until-float"),
    pytest.param(lambda e: e.world.run_until(bad(150.0)), InvalidType,
                 "time must be an integer number of ms, got 150.0 (float)",
                 id="run_until-integral-float"),
    pytest.param(lambda e: e.world.run_until(bad(True)), InvalidType,
                 "time must be an integer number of ms, got True (bool)", id="run_until-bool"),
    pytest.param(lambda e: e.world.run_until(bad("200")), InvalidType,
                 "time must be an integer number of ms, got '200' (str)", id="run_until-str"),
    pytest.param(lambda e: e.world.run_until(bad(None)), InvalidType,
                 "time must be an integer number of ms, got None (NoneType)",
                 id="run_until-none"),
    pytest.param(lambda e: e.world.run_until(50), InvalidArgument,
                 "cannot move the clock back to 50 ms: it reads 100 ms", id="run_until-past"),
    pytest.param(lambda e: e.world.run_until(99, inclusive=False), InvalidArgument,
                 "cannot move the clock back to 99 ms: it reads 100 ms",
                 id="run_until-past-exclusive"),
    pytest.param(lambda e: e.world.run_until(200, max_steps=-1), InvalidArgument,
                 "max_steps must be >= 0, got -1", id="run_until-max_steps-negative"),
    pytest.param(lambda e: e.world.run_until(200, max_steps=bad(1.5)), InvalidType,
                 "max_steps must be an integer number of ms, got 1.5 (float)",
                 id="run_until-max_steps-float"),
    pytest.param(lambda e: e.world.run(max_steps=-1), InvalidArgument,
                 "max_steps must be >= 0, got -1", id="run-max_steps-negative"),
    pytest.param(lambda e: e.world.run(max_steps=bad(True)), InvalidType,
                 "max_steps must be an integer number of ms, got True (bool)",
                 id="run-max_steps-bool"),
    pytest.param(lambda e: e.world.run_until_idle(max_steps=bad("3")), InvalidType,
                 "max_steps must be an integer number of ms, got '3' (str)",
                 id="run_until_idle-max_steps-str"),
    pytest.param(lambda e: e.world.call_at(-1, _noop), InvalidArgument,
                 "time must be >= 0, got -1", id="call_at-negative"),
    pytest.param(lambda e: e.world.call_at(50, _noop), InvalidArgument,
                 "cannot schedule a call at 50 ms: the clock reads 100 ms", id="call_at-past"),
    pytest.param(lambda e: e.world.call_at(bad(NAN), _noop), InvalidType,
                 "time must be an integer number of ms, got NaN", id="call_at-nan"),
    pytest.param(lambda e: e.world.call_at(bad(200.0), _noop), InvalidType,
                 "time must be an integer number of ms, got 200.0 (float)", id="call_at-float"),
    pytest.param(lambda e: e.world.call_at(200, bad("later")), InvalidType,
                 "callback must be callable, got 'later'", id="call_at-not-callable"),
    pytest.param(lambda e: e.pool.enqueue_unknown(e.world.client, "job", {}, -1),
                 InvalidArgument, "run_at must be >= 0, got -1", id="enqueue_unknown-negative"),
    pytest.param(lambda e: e.pool.enqueue_unknown(e.world.client, "job", {}, bad(NAN)),
                 InvalidType, "run_at must be an integer number of ms, got NaN",
                 id="enqueue_unknown-nan"),
    pytest.param(lambda e: e.pool.enqueue_unknown(e.world.client, "job", {}, bad(INF)),
                 InvalidType, "run_at must be an integer number of ms, got inf",
                 id="enqueue_unknown-inf"),
    pytest.param(lambda e: e.pool.enqueue_unknown(e.world.client, "job", {}, bad(300.5)),
                 InvalidType, "run_at must be an integer number of ms, got 300.5 (float)",
                 id="enqueue_unknown-float"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_after(-1, "job"),
                 InvalidArgument, "delay_ms must be >= 0, got -1", id="ctx-run_after-negative"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_after(bad(0.5), "job"),
                 InvalidType, "delay_ms must be an integer number of ms, got 0.5 (float)",
                 id="ctx-run_after-float"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_at(-1, "job"),
                 InvalidArgument, "time must be >= 0, got -1", id="ctx-run_at-negative"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_at(bad(NAN), "job"),
                 InvalidType, "time must be an integer number of ms, got NaN",
                 id="ctx-run_at-nan"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_at(bad(INF), "job"),
                 InvalidType, "time must be an integer number of ms, got inf",
                 id="ctx-run_at-inf"),
    pytest.param(lambda e: e.world.client.scheduler.run_after(-1, "job"), InvalidArgument,
                 "delay_ms must be >= 0, got -1", id="scheduler-run_after-negative"),
    pytest.param(lambda e: e.world.client.scheduler.run_after(bad(True), "job"), InvalidType,
                 "delay_ms must be an integer number of ms, got True (bool)",
                 id="scheduler-run_after-bool"),
    pytest.param(lambda e: e.world.client.scheduler.run_at(-5, "job"), InvalidArgument,
                 "time must be >= 0, got -5", id="scheduler-run_at-negative"),
    pytest.param(lambda e: e.world.client.scheduler.run_at(bad(1.5), "job"), InvalidType,
                 "time must be an integer number of ms, got 1.5 (float)",
                 id="scheduler-run_at-float"),
    pytest.param(lambda e: e.world.client.scheduler.run_at(bad(INF), "job"), InvalidType,
                 "time must be an integer number of ms, got inf", id="scheduler-run_at-inf"),
    pytest.param(lambda e: e.action_ctx.scheduler.run_after(-1, "job"), InvalidArgument,
                 "delay_ms must be >= 0, got -1", id="action-scheduler-run_after-negative"),
    pytest.param(lambda e: e.action_ctx.sleep(-1), InvalidArgument, "ms must be >= 0, got -1",
                 id="sleep-negative"),
    pytest.param(lambda e: e.action_ctx.sleep(bad(2.5)), InvalidType,
                 "ms must be an integer number of ms, got 2.5 (float)", id="sleep-float"),
    pytest.param(lambda e: e.action_ctx.sleep(bad(NAN)), InvalidType,
                 "ms must be an integer number of ms, got NaN", id="sleep-nan"),
    pytest.param(lambda e: e.pool.poll_result(e.action_ctx, "p/1", -1), InvalidArgument,
                 "timeout_ms must be >= 0, got -1", id="poll_result-timeout-negative"),
    pytest.param(lambda e: e.pool.poll_result(e.action_ctx, "p/1", bad(1.5)), InvalidType,
                 "timeout_ms must be an integer number of ms, got 1.5 (float)",
                 id="poll_result-timeout-float"),
    pytest.param(lambda e: e.pool.poll_result(e.action_ctx, "p/1", bad(INF)), InvalidType,
                 "timeout_ms must be an integer number of ms, got inf",
                 id="poll_result-timeout-inf"),
]


@pytest.mark.parametrize(("call", "error", "message"), TIME_CASES)
@checks("CLK-2", "ERR-1", "ENQ-4", "CLK-4")
def test_bad_times_and_durations_are_rejected_and_change_nothing(
    call: Callable[[Env], object], error: type[RefmodelError], message: str
) -> None:
    _assert_rejected(call, error, message)


# Functions and contexts -----------------------------------------------------------------------

NOT_A_CTX = "needs a ctx: world.client, or the ctx an action or mutation received; got"

FUNCTION_CASES: list[Case] = [
    pytest.param(lambda e: e.pool.enqueue_action(e.world.client, "foo:bar"), UnknownFunction,
                 "no function named 'foo:bar' is registered", id="enqueue_action-unknown"),
    pytest.param(lambda e: e.pool.enqueue_mutation(e.world.client, "nope"), UnknownFunction,
                 "no function named 'nope' is registered", id="enqueue_mutation-unknown"),
    pytest.param(lambda e: e.pool.enqueue_unknown(e.world.client, "nope", {}, 0),
                 UnknownFunction, "no function named 'nope' is registered",
                 id="enqueue_unknown-unknown"),
    pytest.param(lambda e: e.pool.enqueue_action(e.world.client, "save"), InvalidArgument,
                 "'save' is a mutation, but an action is needed here",
                 id="enqueue_action-mutation"),
    pytest.param(lambda e: e.pool.enqueue_action(e.world.client, "count"), InvalidArgument,
                 "'count' is a query, but an action is needed here", id="enqueue_action-query"),
    pytest.param(lambda e: e.pool.enqueue_mutation(e.world.client, "job"), InvalidArgument,
                 "'job' is an action, but a mutation is needed here", id="enqueue_mutation-action"),
    pytest.param(lambda e: e.pool.enqueue_action(e.world.client, bad(5)), InvalidType,
                 "a function reference must be a FunctionRef or a registered name, got 5",
                 id="enqueue_action-fn-int"),
    pytest.param(lambda e: e.pool.enqueue_action(bad(None), "job"), InvalidType,
                 f"enqueue {NOT_A_CTX} None", id="enqueue_action-ctx-none"),
    pytest.param(lambda e: e.pool.enqueue_mutation(bad("client"), "save"), InvalidType,
                 f"enqueue {NOT_A_CTX} 'client'", id="enqueue_mutation-ctx-str"),
    pytest.param(lambda e: e.pool.cancel(bad(None), "p/1"), InvalidType,
                 f"cancel {NOT_A_CTX} None", id="cancel-ctx-none"),
    pytest.param(lambda e: e.world.scheduler.run_after(bad(None), 0, "job"), InvalidType,
                 f"scheduling {NOT_A_CTX} None", id="scheduler-ctx-none"),
    pytest.param(lambda e: e.world.scheduler.cancel(bad(None), "scheduled/1"), InvalidType,
                 f"cancel {NOT_A_CTX} None", id="scheduler-cancel-ctx-none"),
    pytest.param(lambda e: e.pool.poll_result(bad(e.world.client), "p/1", 10), NotInAction,
                 "poll_result waits for virtual time, so it needs an action's ctx (inside an "
                 "async action); got world.client. Outside actions, run the world and read "
                 "status instead.", id="poll_result-client"),
    pytest.param(lambda e: e.pool.ctx(bad(e.world.client)), NotInAction,
                 "pool.ctx waits for virtual time, so it needs an action's ctx (inside an "
                 "async action); got world.client. Outside actions, run the world and read "
                 "status instead.", id="pool-ctx-client"),
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.run_after(0, "nope"),
                 UnknownFunction, "no function named 'nope' is registered",
                 id="ctx-run_after-unknown"),
    pytest.param(lambda e: e.world.client.scheduler.run_after(0, "nope"), UnknownFunction,
                 "no function named 'nope' is registered", id="scheduler-unknown"),
    pytest.param(lambda e: e.world.client.scheduler.run_at(500, "count"), InvalidArgument,
                 "'count' is a query: the scheduler runs actions and mutations only",
                 id="scheduler-query"),
    pytest.param(lambda e: e.world.run_action("nope"), UnknownFunction,
                 "no function named 'nope' is registered", id="run_action-unknown"),
    pytest.param(lambda e: e.world.run_action("save"), InvalidArgument,
                 "'save' is a mutation, but an action is needed here", id="run_action-mutation"),
    pytest.param(lambda e: e.world.run_mutation("job"), InvalidArgument,
                 "'job' is an action, but a mutation is needed here", id="run_mutation-action"),
    pytest.param(lambda e: e.world.run_query("save"), InvalidArgument,
                 "'save' is a mutation, but a query is needed here", id="run_query-mutation"),
    pytest.param(lambda e: e.action_ctx.run_mutation("count"), InvalidArgument,
                 "'count' is a query, but a mutation is needed here", id="ctx-run_mutation-query"),
    pytest.param(lambda e: e.action_ctx.run_action("nope"), UnknownFunction,
                 "no function named 'nope' is registered", id="ctx-run_action-unknown"),
]


@pytest.mark.parametrize(("call", "error", "message"), FUNCTION_CASES)
@checks("ENQ-1", "ERR-1", "RES-2", "CTX-1", "SCH-1")
def test_bad_functions_and_contexts_are_rejected_and_change_nothing(
    call: Callable[[Env], object], error: type[RefmodelError], message: str
) -> None:
    _assert_rejected(call, error, message)


# Args -----------------------------------------------------------------------------------------

ARGS_CASES: list[Case] = [
    pytest.param([1], "args must be a dict with str keys (a JSON object), got list [1]",
                 id="list"),
    pytest.param("x", "args must be a dict with str keys (a JSON object), got str 'x'",
                 id="str"),
    pytest.param(_Doc(a=1),
                 "args must be a dict with str keys (a JSON object), got _Doc _Doc(...)",
                 id="dict-subclass"),
    pytest.param({"x": {"nested": _Doc(a=1)}},
                 f"args['x']['nested'] must be JSON-like {VALUE_KINDS}: got _Doc _Doc(...)",
                 id="nested-dict-subclass"),
    pytest.param({"x": set(range(30))},
                 f"args['x'] must be JSON-like {VALUE_KINDS}: got set "
                 + repr(set(range(30)))[:57] + "...",  # Reprs over 60 characters are cut.
                 id="long-repr-cut"),
    pytest.param({"x": set()}, f"args['x'] must be JSON-like {VALUE_KINDS}: got set set()",
                 id="set"),
    pytest.param({"x": frozenset({1})},
                 f"args['x'] must be JSON-like {VALUE_KINDS}: got frozenset frozenset({{1}})",
                 id="frozenset"),
    pytest.param({"x": b"raw"}, f"args['x'] must be JSON-like {VALUE_KINDS}: got bytes b'raw'",
                 id="bytes"),
    pytest.param({"x": _Thing()}, f"args['x'] must be JSON-like {VALUE_KINDS}: got _Thing "
                 "_Thing()", id="object"),
    pytest.param({"x": 1j}, f"args['x'] must be JSON-like {VALUE_KINDS}: got complex 1j",
                 id="complex"),
    pytest.param({"x": NAN}, "args['x'] must be JSON-like: got nan, which is not finite",
                 id="nan"),
    pytest.param({"x": INF}, "args['x'] must be JSON-like: got inf, which is not finite",
                 id="inf"),
    pytest.param({"x": [1, -INF]},
                 "args['x'][1] must be JSON-like: got -inf, which is not finite",
                 id="nested-minus-inf"),
    pytest.param({1: "one"}, "args must be JSON-like: object keys must be str, got 1 (int)",
                 id="int-key"),
    pytest.param({"x": {None: 1}},
                 "args['x'] must be JSON-like: object keys must be str, got None (NoneType)",
                 id="nested-none-key"),
    pytest.param({"a": 1, "b": [{"c": {2}}], "d": set()},
                 f"args['b'][0]['c'] must be JSON-like {VALUE_KINDS}: got set {{2}}",
                 id="first-offender-depth-first"),
]

ENTRY_POINTS: list[Case] = [
    pytest.param(lambda e, a: e.pool.enqueue_action(e.world.client, "job", a),
                 id="enqueue_action"),
    pytest.param(lambda e, a: e.pool.enqueue_mutation(e.world.client, "save", a),
                 id="enqueue_mutation"),
    pytest.param(lambda e, a: e.pool.enqueue_unknown(e.world.client, "job", a, 0),
                 id="enqueue_unknown"),
    pytest.param(lambda e, a: e.pool.ctx(e.action_ctx).scheduler.run_after(0, "job", a),
                 id="ctx-run_after"),
    pytest.param(lambda e, a: e.world.client.scheduler.run_at(0, "job", a),
                 id="scheduler-run_at"),
    pytest.param(lambda e, a: e.world.run_action("job", a), id="run_action"),
    pytest.param(lambda e, a: e.world.run_query("count", a), id="run_query"),
    pytest.param(lambda e, a: e.action_ctx.run_mutation("save", a), id="ctx-run_mutation"),
]


@pytest.mark.parametrize(("args", "message"), ARGS_CASES)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@checks("ENQ-2", "ERR-1")
def test_args_that_are_not_json_like_are_rejected_and_change_nothing(
    entry: Callable[[Env, Any], object], args: Any, message: str
) -> None:
    _assert_rejected(lambda e: entry(e, args), InvalidType, message)


@checks("ENQ-2", "ERR-1")
def test_args_with_a_reference_cycle_are_rejected_as_not_json_like() -> None:
    env = _env()
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic

    try:
        env.pool.enqueue_action(env.world.client, "job", cyclic)
        outcome = "accepted"
    except RecursionError:
        outcome = "RecursionError"
    except InvalidType:
        outcome = "InvalidType"

    assert outcome == "InvalidType"


# Work ids -------------------------------------------------------------------------------------

ISSUED = "pool 'p' has issued ids up to p/4"


def _id_calls(work_id: Any) -> list[Case]:
    return [
        pytest.param(lambda e: e.pool.status(work_id), id=f"status-{work_id!r}"),
        pytest.param(lambda e: e.pool.try_result(work_id), id=f"try_result-{work_id!r}"),
        pytest.param(lambda e: e.pool.cancel(e.world.client, work_id), id=f"cancel-{work_id!r}"),
        pytest.param(lambda e: e.pool.poll_result(e.action_ctx, work_id, 10),
                     id=f"poll_result-{work_id!r}"),
        pytest.param(lambda e: e.pool.info(work_id), id=f"info-{work_id!r}"),
        pytest.param(lambda e: e.pool.kind_of(work_id), id=f"kind_of-{work_id!r}"),
    ]


ID_CASES: list[Case] = [
    *[pytest.param(*p.values, "'q/1' was not issued by pool 'p'", id=p.id)
      for p in _id_calls("q/1")],
    *[pytest.param(*p.values, f"unknown work id 'p/9': {ISSUED}", id=p.id)
      for p in _id_calls("p/9")],
    *[pytest.param(*p.values, f"unknown work id 'p/0': {ISSUED}", id=p.id)
      for p in _id_calls("p/0")],
    *[pytest.param(*p.values, "'p/x' was not issued by pool 'p'", id=p.id)
      for p in _id_calls("p/x")],
    *[pytest.param(*p.values, "'scheduled/1' was not issued by pool 'p'", id=p.id)
      for p in _id_calls("scheduled/1")],
    *[pytest.param(*p.values, "'' was not issued by pool 'p'", id=p.id) for p in _id_calls("")],
    *[pytest.param(*p.values, "'P/1' was not issued by pool 'p'", id=p.id)
      for p in _id_calls("P/1")],
]


@pytest.mark.parametrize(("call", "message"), ID_CASES)
@checks("STS-4", "CAN-5", "ERR-1")
def test_ids_the_pool_did_not_issue_raise_unknown_work_id_and_change_nothing(
    call: Callable[[Env], object], message: str
) -> None:
    _assert_rejected(call, UnknownWorkId, message)


NOT_STR_CASES = [
    *[pytest.param(*p.values, "a work id is a str like p/1, got 1 (int)", id=p.id)
      for p in _id_calls(1)],
    *[pytest.param(*p.values, "a work id is a str like p/1, got None (NoneType)", id=p.id)
      for p in _id_calls(None)],
    pytest.param(lambda e: e.pool.ctx(e.action_ctx).scheduler.cancel(bad(7)),
                 "a work id is a str like p/1, got 7 (int)", id="ctx-scheduler-cancel-int"),
    pytest.param(lambda e: e.world.client.scheduler.cancel(bad(1)),
                 "a scheduled-function id is a str like scheduled/1, got 1 (int)",
                 id="scheduler-cancel-int"),
    pytest.param(lambda e: e.world.client.scheduler.cancel(bad(None)),
                 "a scheduled-function id is a str like scheduled/1, got None (NoneType)",
                 id="scheduler-cancel-none"),
]


@pytest.mark.parametrize(("call", "message"), NOT_STR_CASES)
@checks("STS-4", "CAN-5", "ERR-1")
def test_ids_that_are_not_a_str_raise_invalid_type_and_change_nothing(
    call: Callable[[Env], object], message: str
) -> None:
    """``cancel(3)`` or ``status(None)`` is a wrong type, not an unknown id (ERR-1)."""
    _assert_rejected(call, InvalidType, message)


FOREIGN_SUFFIX = (
    "ctx(...).scheduler.cancel only takes ids from ctx(...).scheduler.run_at/run_after"
)


@pytest.mark.parametrize(
    ("work_id", "message"),
    [
        pytest.param("p/1", f"'p/1' was not issued by the scheduler of pool 'p': {FOREIGN_SUFFIX}",
                     id="action-id"),
        pytest.param("p/3", f"'p/3' was not issued by the scheduler of pool 'p': {FOREIGN_SUFFIX}",
                     id="mutation-id"),
        pytest.param("q/1", "'q/1' was not issued by the scheduler of pool 'p': 'q/1' was not "
                     "issued by pool 'p'", id="other-pool"),
        pytest.param("p/9", f"'p/9' was not issued by the scheduler of pool 'p': unknown work id "
                     f"'p/9': {ISSUED}", id="never-issued"),
        pytest.param("scheduled/1", "'scheduled/1' was not issued by the scheduler of pool 'p': "
                     "'scheduled/1' was not issued by pool 'p'", id="scheduled-function-id"),
    ],
)
@checks("CAN-4", "ERR-1")
def test_ctx_scheduler_cancel_refuses_ids_it_did_not_issue_and_changes_nothing(
    work_id: Any, message: str
) -> None:
    _assert_rejected(
        lambda e: e.pool.ctx(e.action_ctx).scheduler.cancel(work_id), ForeignWorkId, message
    )


@checks("CAN-4", "CTX-2")
def test_ctx_scheduler_cancel_accepts_its_own_unknown_kind_id() -> None:
    env = _env()

    env.pool.ctx(env.action_ctx).scheduler.cancel("p/4")

    assert env.pool.status("p/4").to_json() == {"kind": "error", "error": "Canceled"}


SCHEDULED_ISSUED = "(it has issued scheduled/1 to scheduled/1)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda e: e.world.client.scheduler.cancel("scheduled/2"),
                     f"'scheduled/2' is not a scheduled-function id this scheduler issued "
                     f"{SCHEDULED_ISSUED}", id="cancel-never-issued"),
        pytest.param(lambda e: e.world.client.scheduler.cancel("p/1"),
                     f"'p/1' is not a scheduled-function id this scheduler issued "
                     f"{SCHEDULED_ISSUED}", id="cancel-work-id"),
        pytest.param(lambda e: e.action_ctx.scheduler.cancel("scheduled/0"),
                     f"'scheduled/0' is not a scheduled-function id this scheduler issued "
                     f"{SCHEDULED_ISSUED}", id="action-cancel-zero"),
        pytest.param(lambda e: e.world.scheduler.get("scheduled/9"),
                     f"'scheduled/9' is not a scheduled-function id this scheduler issued "
                     f"{SCHEDULED_ISSUED}", id="get-never-issued"),
    ],
)
@checks("SCH-2", "ERR-1")
def test_scheduled_function_ids_the_scheduler_did_not_issue_are_rejected(
    call: Callable[[Env], object], message: str
) -> None:
    _assert_rejected(call, UnknownScheduledId, message)


@pytest.mark.parametrize(
    "work_id", ["p/01", "p/\uff11", "p/\u00b2", "p/\u0663"], ids=["leading-zero", "fullwidth",
                                                                 "superscript", "arabic-indic"]
)
@checks("STS-4", "ERR-1")
def test_malformed_ids_that_look_numeric_raise_unknown_work_id(work_id: str) -> None:
    env = _env()
    before = _snapshot(env.world)

    outcomes = []
    for call in (env.pool.status, env.pool.try_result,
                 lambda i: env.pool.cancel(env.world.client, i)):
        try:
            call(work_id)
            outcomes.append("accepted")
        except UnknownWorkId:
            outcomes.append("UnknownWorkId")
        except ValueError as error:
            outcomes.append(type(error).__name__)

    assert outcomes == ["UnknownWorkId"] * 3
    assert _snapshot(env.world) == before


@pytest.mark.parametrize(
    "scheduled_id",
    ["scheduled/01", "scheduled/\uff11", "scheduled/\u00b2"],
    ids=["leading-zero", "fullwidth", "superscript"],
)
@checks("SCH-2", "ERR-1")
def test_malformed_scheduled_ids_that_look_numeric_raise_unknown_scheduled_id(
    scheduled_id: str,
) -> None:
    env = _env()
    before = _snapshot(env.world)

    outcomes = []
    for call in (env.world.scheduler.get, env.world.client.scheduler.cancel):
        try:
            call(scheduled_id)
            outcomes.append("accepted")
        except UnknownScheduledId:
            outcomes.append("UnknownScheduledId")
        except ValueError as error:
            outcomes.append(type(error).__name__)

    assert outcomes == ["UnknownScheduledId"] * 2
    assert _snapshot(env.world) == before


# Validation order -----------------------------------------------------------------------------

NOT_A_CTX_NONE = f"{NOT_A_CTX} None"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(lambda e: e.pool.enqueue_action(bad(None), "nope", [1]), InvalidType,
                     f"enqueue {NOT_A_CTX_NONE}", id="enqueue_action-ctx-fn-args"),
        pytest.param(lambda e: e.pool.enqueue_action(e.world.client, "nope", [1]),
                     UnknownFunction, "no function named 'nope' is registered",
                     id="enqueue_action-fn-args"),
        pytest.param(lambda e: e.pool.cancel(bad(None), "q/1"), InvalidType,
                     f"cancel {NOT_A_CTX_NONE}", id="cancel-ctx-id"),
        pytest.param(lambda e: e.pool.poll_result(bad(e.world.client), "q/1", -1), NotInAction,
                     "poll_result waits for virtual time, so it needs an action's ctx (inside an "
                     "async action); got world.client. Outside actions, run the world and read "
                     "status instead.", id="poll_result-ctx-id-timeout"),
        pytest.param(lambda e: e.pool.poll_result(e.action_ctx, "q/1", -1), UnknownWorkId,
                     "'q/1' was not issued by pool 'p'", id="poll_result-id-timeout"),
        pytest.param(lambda e: e.world.pool("1x", max_parallelism=0, bogus=1), InvalidArgument,
                     f"pool name {NAME_RULE}, got '1x'", id="pool-name-first"),
        pytest.param(lambda e: e.world.pool("p", bogus=1), InvalidArgument,
                     "a pool named 'p' already exists in this world", id="pool-unique-second"),
        pytest.param(lambda e: e.world.pool("x", ttl_ms=0, bogus=1), InvalidArgument,
                     f"unknown pool option 'bogus': allowed are {ALLOWED_OPTIONS}",
                     id="pool-option-names-third"),
        pytest.param(lambda e: e.world.pool("x", ttl_ms=0), InvalidArgument,
                     "max_parallelism is required (an int in 1..300)",
                     id="pool-required-fourth"),
        pytest.param(lambda e: e.world.pool("x", ttl_ms=0, action_timeout_ms=0,
                                            max_parallelism=0), InvalidArgument,
                     "max_parallelism must be >= 1, got 0", id="pool-values-in-table-order"),
        pytest.param(lambda e: e.world.pool("x", ttl_ms=0, action_timeout_ms=0,
                                            max_parallelism=1), InvalidArgument,
                     "action_timeout_ms must be a positive integer number of ms, got 0",
                     id="pool-timeouts-before-ttl"),
        pytest.param(lambda e: e.world.call_at(-1, bad("x")), InvalidArgument,
                     "time must be >= 0, got -1", id="call_at-time-callback"),
        pytest.param(lambda e: e.world.run_until(-1, max_steps=-1), InvalidArgument,
                     "time must be >= 0, got -1", id="run_until-time-max_steps"),
        pytest.param(lambda e: e.world.run_action("nope", [1]), UnknownFunction,
                     "no function named 'nope' is registered", id="run_action-fn-args"),
        pytest.param(lambda e: e.pool.enqueue_unknown(bad(None), "nope", [1], -1), InvalidType,
                     f"enqueue {NOT_A_CTX_NONE}", id="enqueue_unknown-ctx-first"),
    ],
)
@checks("ERR-1", "CFG-3", "ENQ-1")
def test_the_first_bad_argument_in_signature_order_is_reported(
    call: Callable[[Env], object], error: type[RefmodelError], message: str
) -> None:
    _assert_rejected(call, error, message)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda e: e.world.scheduler.run_after(bad(None), -1, "job"),
                     id="scheduler-run_after"),
        pytest.param(lambda e: e.world.scheduler.run_at(bad(None), -1, "job"),
                     id="scheduler-run_at"),
    ],
)
@checks("ERR-1")
def test_a_bad_ctx_is_reported_before_a_bad_time(call: Callable[[Env], object]) -> None:
    env = _env()

    try:
        call(env)
        outcome = "accepted"
    except RefmodelError as error:
        outcome = type(error).__name__

    assert outcome == "InvalidType"
