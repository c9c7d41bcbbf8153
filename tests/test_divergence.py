"""Tests of ``refmodel/profiles.py`` and of choosing a profile: ``World(profile=...)``, where the
``seed`` and ``current`` profiles part, and the search for the shortest scenario on which they
disagree about cancelling running work (rule PRF-1).
"""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import (
    CURRENT_PROFILE,
    PROFILES,
    SEED_PROFILE,
    ActionCtx,
    InvalidArgument,
    InvalidType,
    MutationCtx,
    RefmodelError,
    RetryBehavior,
    World,
)
from refmodel.divergence import (
    OBSERVED,
    CancelDisagreement,
    compare,
    first_divergence,
    observations,
    play,
    shortest_cancel_disagreement,
)
from tests.spec import checks

ENQUEUED_JOB = "fn='job', kind='action', onComplete=None, retry=None, runAt=0"


def bad(value: object) -> Any:
    """Pass a deliberately ill-typed value past the type checker."""
    return value


# Choosing a profile ---------------------------------------------------------------------------


@checks("PRF-1")
def test_the_profile_is_seed_by_default_and_current_on_request() -> None:
    default = World()
    current = World(profile="current")

    assert PROFILES == ("seed", "current")
    assert (default.profile, current.profile) == (SEED_PROFILE, CURRENT_PROFILE)
    assert (default.profile.name, current.profile.name) == ("seed", "current")
    assert current.trace[0].data["profile"] == "current"
    assert default.trace[0].data["profile"] == "seed"
    assert current.pool("p").profile is CURRENT_PROFILE
    assert default.pool("p", max_parallelism=1).profile is SEED_PROFILE
    assert World(profile=CURRENT_PROFILE).profile is CURRENT_PROFILE


@pytest.mark.parametrize(
    ("profile", "error", "message"),
    [
        ("nope", InvalidArgument,
         "unknown profile 'nope': choose one of ['seed', 'current', 'current-bucketed']"),
        ("Current", InvalidArgument,
         "unknown profile 'Current': choose one of ['seed', 'current', 'current-bucketed']"),
        ("", InvalidArgument,
         "unknown profile '': choose one of ['seed', 'current', 'current-bucketed']"),
        (bad(None), InvalidType,
         "profile must be a str, one of ['seed', 'current'], or a Profile; got None"),
        (bad(1), InvalidType,
         "profile must be a str, one of ['seed', 'current'], or a Profile; got 1"),
    ],
)
@checks("PRF-1", "ERR-1")
def test_an_unknown_profile_is_rejected_with_the_choices(
    profile: Any, error: type[RefmodelError], message: str
) -> None:
    with pytest.raises(RefmodelError) as raised:
        World(profile=profile)

    assert (type(raised.value), str(raised.value)) == (error, message)


# first_divergence -----------------------------------------------------------------------------


def _busy_scenario(world: World) -> None:
    """Retries, on_complete, batches, run_at, a slot shortage and a cancel of pending work:
    everything both profiles do alike."""
    pool = world.pool("p", max_parallelism=2, retry_actions_by_default=True,
                      default_retry_behavior=RetryBehavior(max_attempts=3, initial_backoff_ms=40))
    failures: dict[str, int] = {}

    @world.action("flaky")
    async def flaky(ctx: ActionCtx, args: dict[str, Any]) -> str:
        key = str(args["key"])
        failures[key] = failures.get(key, 0) + 1
        await ctx.sleep(25)
        if failures[key] <= int(args["failures"]):
            raise RuntimeError(f"{key} failed")
        return key

    @world.mutation("record")
    def record(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("log", args)

    pool.enqueue_action_batch(
        world.client, flaky,
        [{"key": "a", "failures": 1}, {"key": "b", "failures": 5}, {"key": "c", "failures": 0}],
        on_complete=record, context="batch",
    )
    pool.enqueue_action(world.client, flaky, {"key": "d", "failures": 0}, run_at=300)
    doomed = pool.enqueue_action(world.client, flaky, {"key": "e", "failures": 0}, run_at=900)
    pool.cancel(world.client, doomed)


@checks("PRF-1")
def test_no_divergence_without_cancels_of_running_work_or_timeouts() -> None:
    assert first_divergence(_busy_scenario) is None
    assert first_divergence(_busy_scenario, seed=99) is None


@pytest.mark.parametrize(
    "ops",
    [
        [],
        [("enqueue", 10)],
        [("enqueue", 10), ("enqueue", 5), ("advance", 3)],
        [("enqueue", 10), ("enqueue", 10), ("cancel", 1)],  # Cancels pending work.
        [("cancel", 0), ("enqueue", 10)],  # Cancels nothing.
    ],
)
@checks("PRF-1")
def test_no_divergence_for_small_scenarios_that_cancel_no_running_work(
    ops: list[tuple[str, int]],
) -> None:
    assert first_divergence(play(ops)) is None


@checks("PRF-1", "CAN-6", "CAN-2")
def test_cancel_of_running_work_is_where_the_profiles_part() -> None:
    divergence = first_divergence(play([("enqueue", 10), ("advance", 5), ("cancel", 0)]))

    assert divergence is not None
    assert divergence.index == 2
    assert divergence.seed == (5, "canceled", "pool/1", "attempt=1, wasRunning=True")
    assert divergence.current == (5, "cancel_requested", "pool/1", "attempt=1")
    assert divergence.traces == {
        "seed": [
            (0, "enqueued", "pool/1", ENQUEUED_JOB),
            (0, "started", "pool/1", "attempt=1, lagMs=0"),
            (5, "canceled", "pool/1", "attempt=1, wasRunning=True"),
        ],
        "current": [
            (0, "enqueued", "pool/1", ENQUEUED_JOB),
            (0, "started", "pool/1", "attempt=1, lagMs=0"),
            (5, "cancel_requested", "pool/1", "attempt=1"),
            (10, "succeeded", "pool/1", "attempt=1, result='done'"),
        ],
    }
    assert divergence.describe() == (
        "the profiles agree on 2 observation(s), then:\n"
        "  seed:    at 5 ms canceled pool/1 attempt=1, wasRunning=True\n"
        "  current: at 5 ms cancel_requested pool/1 attempt=1"
    )


@checks("PRF-1", "TMO-1")
def test_a_seed_timeout_is_a_divergence() -> None:
    def scenario(world: World) -> None:
        pool = world.pool("p", max_parallelism=1)

        @world.action("slow")
        async def slow(ctx: ActionCtx, args: dict[str, Any]) -> str:
            await ctx.sleep(1_000_000)
            return "late"

        pool.enqueue_action(world.client, slow)

    divergence = first_divergence(scenario)

    assert divergence is not None
    assert divergence.seed == (900_000, "timed_out", "p/1", "attempt=1, timeoutMs=900000")
    assert divergence.current == (1_000_000, "succeeded", "p/1", "attempt=1, result='late'")


@checks("PRF-1")
def test_observations_keep_only_behaviour() -> None:
    world = World(profile="current")
    _busy_scenario(world)
    world.run_until_idle()

    seen = observations(world.trace)

    assert {kind for _, kind, _, _ in seen} <= set(OBSERVED)
    assert {"rng", "pool_created", "call_started", "committed"}.isdisjoint(
        kind for _, kind, _, _ in seen
    )
    expected = [e for e in world.trace if e.kind in OBSERVED]
    assert [(time, kind, work_id) for time, kind, work_id, _ in seen] == [
        (e.time, e.kind, e.id) for e in expected
    ]


# shortest_cancel_disagreement -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shortest() -> CancelDisagreement:
    return shortest_cancel_disagreement()


@checks("PRF-1")
def test_the_shortest_cancel_disagreement_is_at_most_three_steps(
    shortest: CancelDisagreement,
) -> None:
    ops = shortest.ops

    assert len(ops) <= 3
    assert ops[0][0] == "enqueue"
    assert ops[-1][0] == "cancel"
    assert any(op == "advance" for op, _ in ops)


@checks("PRF-1", "CAN-6")
def test_the_shortest_cancel_disagreement_is_canceled_versus_cancel_requested(
    shortest: CancelDisagreement,
) -> None:
    divergence = shortest.divergence
    assert divergence.seed is not None and divergence.current is not None
    seed_time, seed_kind, seed_id, seed_details = divergence.seed
    current_time, current_kind, current_id, _ = divergence.current

    assert (seed_kind, current_kind) == ("canceled", "cancel_requested")
    assert "wasRunning=True" in seed_details
    assert (seed_time, seed_id) == (current_time, current_id)
    assert first_divergence(play(shortest.ops)) == divergence


@checks("PRF-1")
def test_the_shortest_cancel_disagreement_describes_itself(
    shortest: CancelDisagreement,
) -> None:
    text = shortest.describe()
    steps = [f"  {i + 1}. {op} {value}" for i, (op, value) in enumerate(shortest.ops)]

    assert text == "\n".join(["scenario:", *steps, shortest.divergence.describe()])
    assert "cancel_requested" in text


@checks("PRF-1")
def test_compare_names_any_two_runs_and_where_they_part() -> None:
    original = [(0, "enqueued", "p/1", ""), (10, "succeeded", "p/1", "attempt=1")]
    fork = [(0, "enqueued", "p/1", ""), (5, "canceled", "p/1", "attempt=0")]

    divergence = compare(original, fork, ("original", "fork"))

    assert divergence is not None
    assert (divergence.index, divergence.left, divergence.right) == (1, original[1], fork[1])
    assert divergence.describe() == (
        "the runs agree on 1 observation(s), then:\n"
        "  original: at 10 ms succeeded p/1 attempt=1\n"
        "  fork:     at 5 ms canceled p/1 attempt=0"
    )
    assert compare(original, original) is None
    shorter = compare(original, original[:1], ("a", "b"))
    assert shorter is not None and shorter.right is None
    assert shorter.describe().endswith("  b: (nothing more)")
