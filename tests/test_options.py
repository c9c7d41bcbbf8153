"""Tests of ``refmodel/options.py``: the current profile's pool options, runtime
``update_config`` and ``RetryBehavior`` validation, including bad input (rules CFG-4 to CFG-6).

Every rejected call is checked twice: the exact error class and message, and that the world is
unchanged afterwards (its trace, clock, next event, pools and their options and statistics).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    InvalidArgument,
    InvalidType,
    MutationCtx,
    RefmodelError,
    RetryBehavior,
    Workpool,
    World,
)
from refmodel.workpool.options import LOG_LEVELS, make_options
from tests.spec import checks

WARN_150 = (
    "max_parallelism should be <= 100, but is set to 150. This will be an error in a future "
    "version."
)
CURRENT_LEVELS = "DEBUG, TRACE, INFO, REPORT, WARN, ERROR"
SEED_LEVELS = "DEBUG, INFO, WARN, ERROR"
SEED_ONLY = "is a seed-profile option: the current profile has no timeouts and keeps no results"


def bad(value: object) -> Any:
    """Pass a deliberately ill-typed value past the type checker."""
    return value


def _warnings(world: World) -> list[tuple[int, str | None, str]]:
    return [(e.time, e.pool, str(e.data["message"])) for e in world.trace if e.kind == "warning"]


def _snapshot(world: World) -> tuple[Any, ...]:
    """Everything a rejected call must leave as it was."""
    return (
        world.trace_jsonl(),
        world.now,
        world.peek(),
        sorted(world.pools),
        [(pool.options, pool.statistics()) for pool in world.pools.values()],
    )


def _busy_world(profile: str = "current") -> tuple[World, Workpool]:
    """A world with one item running, one waiting for a slot and one due later."""
    world = World(profile=profile)
    pool = world.pool("p", max_parallelism=1)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(100)
        return "ok"

    pool.enqueue_action(world.client, job)
    pool.enqueue_action(world.client, job)
    pool.enqueue_action(world.client, job, run_at=500)
    world.run_until(10)
    return world, pool


# CFG-4: current-profile options ---------------------------------------------------------------


@checks("CFG-4")
def test_current_pool_defaults_to_ten_slots_report_level_and_no_retries() -> None:
    world = World(profile="current")
    pool = world.pool("p")

    assert pool.options.max_parallelism == 10
    assert pool.options.log_level == "REPORT"
    assert pool.options.retry_actions_by_default is False
    assert pool.options.default_retry_behavior == RetryBehavior(
        max_attempts=5, initial_backoff_ms=250, base=2
    )
    assert (pool.options.ttl_ms, pool.options.timeout_for("action")) == (None, None)
    created = [e for e in world.trace if e.kind == "pool_created"]
    assert [(e.pool, dict(e.data)) for e in created] == [
        (
            "p",
            {
                "maxParallelism": 10,
                "logLevel": "REPORT",
                "retryActionsByDefault": False,
                "defaultRetryBehavior": {"maxAttempts": 5, "initialBackoffMs": 250, "base": 2},
            },
        )
    ]
    assert _warnings(world) == []


@checks("CFG-4")
def test_seed_pool_keeps_its_own_defaults_beside_the_new_options() -> None:
    world = World()
    pool = world.pool("p", max_parallelism=3)

    assert pool.options.log_level == "WARN"
    assert pool.options.retry_actions_by_default is False
    assert pool.options.default_retry_behavior == RetryBehavior()
    assert pool.options.to_json() == {
        "maxParallelism": 3,
        "actionTimeoutMs": 900_000,
        "mutationTimeoutMs": 30_000,
        "unknownTimeoutMs": 900_000,
        "ttl": 86_400_000,
        "logLevel": "WARN",
        "retryActionsByDefault": False,
        "defaultRetryBehavior": {"maxAttempts": 5, "initialBackoffMs": 250, "base": 2},
    }


@pytest.mark.parametrize("parallelism", [0, 1, 99, 100])
@checks("CFG-4")
def test_current_parallelism_up_to_100_is_accepted_without_a_warning(parallelism: int) -> None:
    world = World(profile="current")

    pool = world.pool("p", max_parallelism=parallelism)

    assert pool.options.max_parallelism == parallelism
    assert _warnings(world) == []


@pytest.mark.parametrize("parallelism", [101, 150, 200])
@checks("CFG-4")
def test_current_parallelism_above_100_is_accepted_with_a_warning_event(parallelism: int) -> None:
    world = World(profile="current")

    pool = world.pool("p", max_parallelism=parallelism)

    assert pool.options.max_parallelism == parallelism
    assert _warnings(world) == [
        (
            0,
            "p",
            f"max_parallelism should be <= 100, but is set to {parallelism}. This will be an "
            "error in a future version.",
        )
    ]
    kinds = [e.kind for e in world.trace]
    assert kinds == ["world_started", "pool_created", "warning"]


@pytest.mark.parametrize("level", LOG_LEVELS["current"])
@checks("CFG-4")
def test_current_accepts_all_six_log_levels(level: str) -> None:
    world = World(profile="current")

    assert world.pool("p", log_level=level).options.log_level == level


@checks("CFG-4")
def test_log_levels_are_ordered_per_profile() -> None:
    assert LOG_LEVELS == {
        "seed": ("DEBUG", "INFO", "WARN", "ERROR"),
        "current": ("DEBUG", "TRACE", "INFO", "REPORT", "WARN", "ERROR"),
    }


POOL_CASES = [
    pytest.param("current", {"max_parallelism": 201}, InvalidArgument,
                 "max_parallelism must be <= 200, got 201", id="current-201"),
    pytest.param("current", {"max_parallelism": -1}, InvalidArgument,
                 "max_parallelism must be >= 0, got -1", id="current-negative"),
    pytest.param("current", {"max_parallelism": 1.5}, InvalidType,
                 "max_parallelism must be an int, got 1.5 (float)", id="current-float"),
    pytest.param("current", {"max_parallelism": True}, InvalidType,
                 "max_parallelism must be an int, got True (bool)", id="current-bool"),
    pytest.param("current", {"ttl_ms": 1000}, InvalidArgument, f"ttl_ms {SEED_ONLY}",
                 id="current-ttl"),
    pytest.param("current", {"action_timeout_ms": 5}, InvalidArgument,
                 f"action_timeout_ms {SEED_ONLY}", id="current-action-timeout"),
    pytest.param("current", {"mutation_timeout_ms": 5}, InvalidArgument,
                 f"mutation_timeout_ms {SEED_ONLY}", id="current-mutation-timeout"),
    pytest.param("current", {"unknown_timeout_ms": 5}, InvalidArgument,
                 f"unknown_timeout_ms {SEED_ONLY}", id="current-unknown-timeout"),
    pytest.param("current", {"debounce_ms": 50}, InvalidArgument,
                 "unknown pool option 'debounce_ms': allowed are ['default_retry_behavior', "
                 "'log_level', 'max_parallelism', 'retry_actions_by_default']",
                 id="current-unknown-option"),
    pytest.param("current", {"log_level": "trace"}, InvalidArgument,
                 f"log_level must be one of {CURRENT_LEVELS} in the current profile, got 'trace'",
                 id="current-level-lowercase"),
    pytest.param("current", {"log_level": 3}, InvalidArgument,
                 f"log_level must be one of {CURRENT_LEVELS} in the current profile, got 3",
                 id="current-level-int"),
    pytest.param("current", {"retry_actions_by_default": 1}, InvalidType,
                 "retry_actions_by_default must be a bool, got 1 (int)",
                 id="current-retry-default-int"),
    pytest.param("current", {"default_retry_behavior": 5}, InvalidType,
                 "default_retry_behavior must be a RetryBehavior or a dict of its fields, got 5 "
                 "(int)", id="current-behavior-int"),
    pytest.param("current", {"default_retry_behavior": {"max_retries": 3}}, InvalidArgument,
                 "default_retry_behavior: unknown field 'max_retries'; allowed are max_attempts, "
                 "initial_backoff_ms, base", id="current-behavior-unknown-field"),
    pytest.param("current", {"default_retry_behavior": {"base": 0}}, InvalidArgument,
                 "base must be a finite number > 0, got 0", id="current-behavior-bad-base"),
    pytest.param("seed", {"max_parallelism": 1, "log_level": "TRACE"}, InvalidArgument,
                 f"log_level must be one of {SEED_LEVELS} in the seed profile, got 'TRACE'",
                 id="seed-trace-level"),
    pytest.param("seed", {"max_parallelism": 1, "log_level": "REPORT"}, InvalidArgument,
                 f"log_level must be one of {SEED_LEVELS} in the seed profile, got 'REPORT'",
                 id="seed-report-level"),
    pytest.param("seed", {"max_parallelism": 0}, InvalidArgument,
                 "max_parallelism must be >= 1, got 0", id="seed-zero"),
    pytest.param("seed", {}, InvalidArgument,
                 "max_parallelism is required (an int in 1..300)", id="seed-missing"),
    pytest.param("seed", {"max_parallelism": 1, "default_retry_behavior": {"foo": 1}},
                 InvalidArgument,
                 "default_retry_behavior: unknown field 'foo'; allowed are max_attempts, "
                 "initial_backoff_ms, base", id="seed-behavior-unknown-field"),
]


@pytest.mark.parametrize(("profile", "options", "error", "message"), POOL_CASES)
@checks("CFG-4", "CFG-6")
def test_bad_pool_options_are_rejected_and_change_nothing(
    profile: str, options: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    world, _ = _busy_world(profile)
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        world.pool("fresh", **options)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before
    assert world.pool("fresh", max_parallelism=2).name == "fresh"  # The name is still free.


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [(case.values[1], case.values[2], case.values[3]) for case in POOL_CASES
     if case.values[0] == "current"],
)
@checks("CFG-4")
def test_make_options_rejects_what_the_world_rejects(
    options: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    with pytest.raises(RefmodelError) as raised:
        make_options("current", options)

    assert (type(raised.value), str(raised.value)) == (error, message)


# CFG-5: update_config -------------------------------------------------------------------------


def _slow_world(parallelism: int, items: int) -> tuple[World, Workpool]:
    """A current-profile pool with ``items`` actions of 100 ms each enqueued at 0."""
    world = World(profile="current")
    pool = world.pool("p", max_parallelism=parallelism)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(100)
        return "ok"

    for _ in range(items):
        pool.enqueue_action(world.client, job)
    return world, pool


def _starts(world: World) -> list[tuple[int, str | None]]:
    return [(e.time, e.id) for e in world.trace if e.kind == "started"]


@checks("CFG-5")
def test_update_config_changes_the_options_and_traces_them() -> None:
    world, pool = _slow_world(2, 0)

    pool.update_config(max_parallelism=7, log_level="INFO")

    assert (pool.options.max_parallelism, pool.options.log_level) == (7, "INFO")
    assert pool.statistics().max_parallelism == 7
    updated = [(e.time, e.pool, dict(e.data)) for e in world.trace if e.kind == "config_updated"]
    assert updated == [(0, "p", pool.options.to_json())]


@checks("CFG-5")
def test_update_config_of_one_field_keeps_the_other() -> None:
    _, pool = _slow_world(2, 0)

    pool.update_config(log_level="DEBUG")
    pool.update_config(max_parallelism=4)

    assert (pool.options.max_parallelism, pool.options.log_level) == (4, "DEBUG")


@checks("CFG-5", "PAR-1")
def test_lowering_parallelism_stops_nothing_and_starts_nothing_until_below_the_limit() -> None:
    world, pool = _slow_world(3, 4)
    world.run_until(50)

    pool.update_config(max_parallelism=1)
    world.run_until_idle()

    assert _starts(world) == [(0, "p/1"), (0, "p/2"), (0, "p/3"), (100, "p/4")]
    ends = [(e.time, e.kind, e.id) for e in world.trace if e.kind == "succeeded"]
    assert ends == [(100, "succeeded", "p/1"), (100, "succeeded", "p/2"),
                    (100, "succeeded", "p/3"), (200, "succeeded", "p/4")]


@checks("CFG-5", "PAR-1")
def test_lowering_parallelism_holds_back_starts_while_more_than_the_limit_run() -> None:
    world, pool = _slow_world(3, 4)
    world.run_until(50)
    pool.update_config(max_parallelism=2)

    world.run_until(100)

    # Three ended at 100; the fourth starts because 0 < 2 now run.
    assert _starts(world)[-1] == (100, "p/4")
    assert pool.statistics().running == 1


@checks("CFG-5")
def test_raising_parallelism_starts_waiting_work_at_that_instant() -> None:
    world, pool = _slow_world(1, 3)
    world.run_until(30)

    pool.update_config(max_parallelism=3)
    world.run_until(30)

    assert _starts(world) == [(0, "p/1"), (30, "p/2"), (30, "p/3")]
    assert pool.statistics().running == 3


@checks("CFG-5", "PAR-2")
def test_raising_parallelism_from_a_mutation_takes_effect_at_its_commit() -> None:
    world, pool = _slow_world(1, 2)

    @world.mutation("widen", duration_ms=20)
    def widen(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.update_config(ctx, max_parallelism=2)

    world.run_until(10)
    world.run_mutation(widen)
    world.run_until(29)
    assert pool.options.max_parallelism == 1
    assert _starts(world) == [(0, "p/1")]

    world.run_until(30)

    assert pool.options.max_parallelism == 2
    assert _starts(world) == [(0, "p/1"), (30, "p/2")]


@checks("CFG-5")
def test_update_config_in_a_mutation_that_throws_changes_nothing() -> None:
    world, pool = _slow_world(1, 2)

    @world.mutation("widen_then_fail", duration_ms=5)
    def widen_then_fail(ctx: MutationCtx, args: dict[str, Any]) -> None:
        pool.update_config(ctx, max_parallelism=5)
        raise RuntimeError("changed my mind")

    handle = world.run_mutation(widen_then_fail)
    world.run_until_idle()

    assert handle.error == "changed my mind"
    assert pool.options.max_parallelism == 1
    assert [e for e in world.trace if e.kind == "config_updated"] == []
    assert _starts(world) == [(0, "p/1"), (100, "p/2")]


@checks("CFG-5", "CFG-4")
def test_update_config_above_100_warns_in_the_current_profile() -> None:
    world, pool = _slow_world(1, 0)
    world.run_until(5)

    pool.update_config(max_parallelism=150)

    assert _warnings(world) == [(5, "p", WARN_150)]
    kinds = [e.kind for e in world.trace][-2:]
    assert kinds == ["config_updated", "warning"]


UPDATE_CASES = [
    pytest.param("current", {"ttl_ms": 5}, InvalidArgument,
                 "update_config takes max_parallelism and log_level only, got 'ttl_ms'",
                 id="current-ttl"),
    pytest.param("current", {"retry_actions_by_default": True}, InvalidArgument,
                 "update_config takes max_parallelism and log_level only, got "
                 "'retry_actions_by_default'", id="current-retry-default"),
    pytest.param("current", {"max_parallelism": 201}, InvalidArgument,
                 "max_parallelism must be <= 200, got 201", id="current-201"),
    pytest.param("current", {"max_parallelism": -1}, InvalidArgument,
                 "max_parallelism must be >= 0, got -1", id="current-negative"),
    pytest.param("current", {"max_parallelism": 2.0}, InvalidType,
                 "max_parallelism must be an int, got 2.0 (float)", id="current-float"),
    pytest.param("current", {"max_parallelism": 5, "log_level": "LOUD"}, InvalidArgument,
                 f"log_level must be one of {CURRENT_LEVELS} in the current profile, got 'LOUD'",
                 id="current-good-and-bad"),
    pytest.param("current", {"log_level": "INFO", "max_parallelism": None}, InvalidType,
                 "max_parallelism must be an int, got None (NoneType)",
                 id="current-bad-and-good"),
    pytest.param("seed", {"max_parallelism": 0}, InvalidArgument,
                 "max_parallelism must be >= 1, got 0", id="seed-zero"),
    pytest.param("seed", {"max_parallelism": 301}, InvalidArgument,
                 "max_parallelism must be <= 300, got 301", id="seed-301"),
    pytest.param("seed", {"log_level": "REPORT"}, InvalidArgument,
                 f"log_level must be one of {SEED_LEVELS} in the seed profile, got 'REPORT'",
                 id="seed-report"),
]


@pytest.mark.parametrize(("profile", "changes", "error", "message"), UPDATE_CASES)
@checks("CFG-5")
def test_bad_update_config_is_rejected_and_changes_nothing(
    profile: str, changes: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    world, pool = _busy_world(profile)
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.update_config(**changes)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before
    world.run_until_idle()
    assert _starts(world) == [(0, "p/1"), (100, "p/2"), (500, "p/3")]


@checks("CFG-5")
def test_bad_update_config_in_a_mutation_raises_at_the_call_and_changes_nothing() -> None:
    world, pool = _busy_world()

    @world.mutation("bad_update")
    def bad_update(ctx: MutationCtx, args: dict[str, Any]) -> str:
        try:
            pool.update_config(ctx, max_parallelism=500)
        except InvalidArgument as exc:
            return str(exc)
        return "accepted"

    handle = world.run_mutation(bad_update)
    world.run_until_idle()

    assert handle.result() == "max_parallelism must be <= 200, got 500"
    assert pool.options.max_parallelism == 1
    assert [e for e in world.trace if e.kind == "config_updated"] == []


@checks("CFG-5")
def test_update_config_rejects_a_bad_ctx_and_changes_nothing() -> None:
    world, pool = _busy_world()
    before = _snapshot(world)

    with pytest.raises(InvalidType) as raised:
        pool.update_config(bad("ctx"), max_parallelism=5)

    assert str(raised.value) == (
        "update_config needs a ctx: world.client, or the ctx an action or mutation received; "
        "got 'ctx'"
    )
    assert _snapshot(world) == before


# CFG-6: RetryBehavior -------------------------------------------------------------------------


@checks("CFG-6")
def test_retry_behavior_defaults_and_json() -> None:
    behavior = RetryBehavior()

    assert (behavior.max_attempts, behavior.initial_backoff_ms, behavior.base) == (5, 250, 2)
    assert behavior.to_json() == {"maxAttempts": 5, "initialBackoffMs": 250, "base": 2}
    assert [behavior.backoff_ms(k) for k in (1, 2, 3, 4)] == [250, 500, 1000, 2000]


@pytest.mark.parametrize(
    "fields",
    [
        {"max_attempts": 1},
        {"max_attempts": 1, "initial_backoff_ms": 0},
        {"base": 0.5},
        {"base": 1},
        {"base": 1e-9},
        {"max_attempts": 100, "initial_backoff_ms": 10_000, "base": 3.5},
    ],
)
@checks("CFG-6")
def test_retry_behavior_accepts_the_edges_of_what_is_allowed(fields: dict[str, Any]) -> None:
    behavior = RetryBehavior(**fields)

    assert {name: getattr(behavior, name) for name in fields} == fields


RETRY_CASES = [
    pytest.param({"max_attempts": 0}, InvalidArgument,
                 "max_attempts must be >= 1 (attempts in all, the first included), got 0",
                 id="attempts-0"),
    pytest.param({"max_attempts": -3}, InvalidArgument,
                 "max_attempts must be >= 1 (attempts in all, the first included), got -3",
                 id="attempts-negative"),
    pytest.param({"max_attempts": 2.0}, InvalidType,
                 "max_attempts must be an int, got 2.0 (float)", id="attempts-float"),
    pytest.param({"max_attempts": True}, InvalidType,
                 "max_attempts must be an int, got True (bool)", id="attempts-bool"),
    pytest.param({"max_attempts": "3"}, InvalidType,
                 "max_attempts must be an int, got '3' (str)", id="attempts-str"),
    pytest.param({"initial_backoff_ms": -1}, InvalidArgument,
                 "initial_backoff_ms must be >= 0, got -1", id="backoff-negative"),
    pytest.param({"initial_backoff_ms": 1.5}, InvalidType,
                 "initial_backoff_ms must be an int, got 1.5 (float)", id="backoff-float"),
    pytest.param({"initial_backoff_ms": None}, InvalidType,
                 "initial_backoff_ms must be an int, got None (NoneType)", id="backoff-none"),
    pytest.param({"base": 0}, InvalidArgument,
                 "base must be a finite number > 0, got 0", id="base-0"),
    pytest.param({"base": -2}, InvalidArgument,
                 "base must be a finite number > 0, got -2", id="base-negative"),
    pytest.param({"base": -0.0}, InvalidArgument,
                 "base must be a finite number > 0, got -0.0", id="base-negative-zero"),
    pytest.param({"base": math.nan}, InvalidArgument,
                 "base must be a finite number > 0, got nan", id="base-nan"),
    pytest.param({"base": math.inf}, InvalidArgument,
                 "base must be a finite number > 0, got inf", id="base-inf"),
    pytest.param({"base": "2"}, InvalidType,
                 "base must be a number (int or float), got '2' (str)", id="base-str"),
    pytest.param({"base": True}, InvalidType,
                 "base must be a number (int or float), got True (bool)", id="base-bool"),
    pytest.param({"base": None}, InvalidType,
                 "base must be a number (int or float), got None (NoneType)", id="base-none"),
]


@pytest.mark.parametrize(("fields", "error", "message"), RETRY_CASES)
@checks("CFG-6")
def test_retry_behavior_rejects_bad_fields_with_exact_messages(
    fields: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    with pytest.raises(RefmodelError) as raised:
        RetryBehavior(**fields)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert isinstance(raised.value, ValueError if error is InvalidArgument else TypeError)


@pytest.mark.parametrize(("fields", "error", "message"), RETRY_CASES)
@checks("CFG-6", "RTY-1")
def test_a_bad_retry_dict_at_enqueue_is_rejected_and_changes_nothing(
    fields: dict[str, Any], error: type[RefmodelError], message: str
) -> None:
    world, pool = _busy_world()
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.enqueue_action(world.client, "job", retry=fields)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    ("retry", "error", "message"),
    [
        pytest.param({"max_attempts": 3, "backoff": 10}, InvalidArgument,
                     "retry: unknown field 'backoff'; allowed are max_attempts, "
                     "initial_backoff_ms, base", id="unknown-field"),
        pytest.param({"maxAttempts": 3}, InvalidArgument,
                     "retry: unknown field 'maxAttempts'; allowed are max_attempts, "
                     "initial_backoff_ms, base", id="camel-case-field"),
        pytest.param(3, InvalidType,
                     "retry must be a RetryBehavior or a dict of its fields, got 3 (int)",
                     id="int"),
        pytest.param("yes", InvalidType,
                     "retry must be a RetryBehavior or a dict of its fields, got 'yes' (str)",
                     id="str"),
        pytest.param([3, 10, 2], InvalidType,
                     "retry must be a RetryBehavior or a dict of its fields, got [3, 10, 2] "
                     "(list)", id="list"),
    ],
)
@checks("CFG-6", "RTY-1")
def test_a_retry_that_is_neither_bool_behavior_nor_dict_is_rejected(
    retry: Any, error: type[RefmodelError], message: str
) -> None:
    world, pool = _busy_world()
    before = _snapshot(world)

    with pytest.raises(RefmodelError) as raised:
        pool.enqueue_action(world.client, "job", retry=retry)

    assert (type(raised.value), str(raised.value)) == (error, message)
    assert _snapshot(world) == before


@checks("CFG-6")
def test_the_dict_form_makes_the_same_behavior() -> None:
    world = World(profile="current")
    made = world.pool(
        "p", default_retry_behavior={"max_attempts": 2, "initial_backoff_ms": 10, "base": 3}
    )

    assert made.options.default_retry_behavior == RetryBehavior(
        max_attempts=2, initial_backoff_ms=10, base=3
    )
    partial = world.pool("q", default_retry_behavior={"max_attempts": 7})
    assert partial.options.default_retry_behavior == RetryBehavior(max_attempts=7)
