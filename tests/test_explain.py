""""Why is it waiting?": ``world.explain(work_id)`` and ``Session.explain`` give an exact
answer for every state of the lifecycle (:mod:`refmodel.debugger.explain`).

The answers are a view of the model for people, not a rule of the spec: these tests cite no
rule. Each test pins a whole answer, so a wrong number fails it.
"""

from __future__ import annotations

from typing import Any

import pytest

from refmodel import (
    ActionCtx,
    InvalidType,
    MutationCtx,
    NonRetryableError,
    RetryBehavior,
    UnknownWorkId,
    World,
)
from refmodel.debugger import Recipe, Session
from refmodel.debugger.explain import ordinal
from tests.spec import checks


def scrapes(profile: str = "seed", trace: bool = True, **options: Any) -> World:
    """A pool ``scrapes`` of 2 slots and ``scrape``: sleeps ``ms`` (1000), then returns
    ``out``, or throws (``fail``: ``"plain"`` or ``"nr"`` for NonRetryableError)."""
    world = World(seed=2, profile=profile, trace=trace)
    options.setdefault("max_parallelism", 2)
    world.pool("scrapes", **options)

    @world.action("scrape")
    async def scrape(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(args.get("ms", 1000))
        if args.get("fail"):
            raise (NonRetryableError if args["fail"] == "nr" else RuntimeError)("down")
        return args.get("out", "ok")

    @world.mutation("done")
    def done(ctx: MutationCtx, args: dict[str, Any]) -> None:
        return None

    return world


def enqueue(world: World, n: int = 1, **options: Any) -> list[str]:
    pool = world.pools["scrapes"]
    args = options.pop("args", {})
    return [pool.enqueue_action(world.client, "scrape", {"ms": 1000 + 100 * i, **args}, **options)
            for i in range(n)]


@checks()
def test_pending_behind_a_full_pool_names_who_runs_and_the_place_in_line() -> None:
    world = scrapes()
    ids = enqueue(world, 4)
    world.run_until(0)
    assert world.explain(ids[3]) == (
        "pending: pool `scrapes` is full (2/2 running: scrapes/1, scrapes/2), 2nd in line"
    )


@checks()
def test_a_session_adds_when_the_next_slot_frees_and_the_expected_start() -> None:
    def build() -> World:
        world = scrapes()
        enqueue(world, 4)
        return world

    session = Session(Recipe(build=build))
    session.step(1)
    assert session.explain("scrapes/4") == (
        "pending: pool `scrapes` is full (2/2 running: scrapes/1, scrapes/2), 2nd in line; "
        "the next slot frees at 1,000 ms (scrapes/1 ends); expected start 1,100 ms"
    )
    assert session.position == 1  # Looking ahead moved a replica, not the session.


@checks()
def test_pending_with_a_free_slot_starts_in_this_instants_start_phase() -> None:
    world = scrapes()
    ids = enqueue(world, 3)
    assert world.explain(ids[0]) == (
        "pending: a slot is free (0/2 running) and it is 1st in line: it starts at 0 ms, in "
        "this instant's start phase"
    )
    assert world.explain(ids[2]) == (
        "pending: pool `scrapes` has 2 free slot(s) and 2 item(s) ahead (scrapes/1, "
        "scrapes/2): 3rd in line"
    )


@checks()
def test_pending_until_its_run_at() -> None:
    world = scrapes()
    (late,) = enqueue(world, run_at=5000)
    assert world.explain(late) == "pending: not eligible until 5,000 ms (its run_at)"


@checks()
def test_paused_pool_says_since_when() -> None:
    world = scrapes(profile="current")
    world.run_until(900)
    world.pools["scrapes"].update_config(max_parallelism=0)
    ids = enqueue(world, 2)
    world.run_until(1500)
    assert world.explain(ids[0]) == "paused: max_parallelism is 0 since 900 ms"
    assert world.explain(ids[1]) == "paused: max_parallelism is 0 since 900 ms, 2nd in line"


@checks()
def test_retrying_gives_the_failure_the_due_time_and_backoff_times_jitter() -> None:
    world = scrapes(default_retry_behavior=RetryBehavior(max_attempts=3,
                                                         initial_backoff_ms=250))
    (work_id,) = enqueue(world, args={"fail": "plain"}, retry=True)
    world.run_until(1000)
    draw = next(e for e in world.trace if e.kind == "rng")
    retry_at = next(e for e in world.trace if e.kind == "retrying").data["retryAt"]
    jitter = 0.5 + draw.data["value"]
    assert world.explain(work_id) == (
        f'retrying: attempt 1 failed at 1,000 ms ("down"); retry due at {retry_at:,} ms '
        f"(backoff 250 ms × jitter {jitter:.2f})"
    )
    world.run_until(retry_at + 1000)  # The second attempt failed too.
    second = [e for e in world.trace if e.kind == "retrying"][1]
    assert world.explain(work_id).startswith(
        f'retrying: attempt 2 failed at {second.time:,} ms ("down"); retry due at '
        f"{second.data['retryAt']:,} ms (backoff 500 ms × jitter "
    )


@checks()
def test_without_a_trace_the_answer_says_only_what_the_state_holds() -> None:
    world = scrapes(trace=False, default_retry_behavior=RetryBehavior(initial_backoff_ms=250))
    (work_id,) = enqueue(world, args={"fail": "plain"}, retry=True)
    world.run_until(1000)
    due = world.pools["scrapes"].info(work_id).eligible_at
    assert world.explain(work_id) == f"retrying: attempt 1 failed; retry due at {due:,} ms"


@checks()
def test_running_gives_the_attempt_its_start_and_its_timeout() -> None:
    world = scrapes()
    (work_id,) = enqueue(world)
    world.run_until(10)
    assert world.explain(work_id) == (
        "running: attempt 1 since 0 ms in pool `scrapes` (1/2 running); it times out at "
        "900,000 ms unless it ends first"
    )


@checks()
def test_a_session_says_when_running_work_ends() -> None:
    def build() -> World:
        world = scrapes(profile="current")
        enqueue(world, args={"fail": "plain"}, retry=True)
        return world

    session = Session(Recipe(build=build))
    session.step(1)
    assert session.explain("scrapes/1") == (
        "running: attempt 1 since 0 ms in pool `scrapes` (1/2 running); it fails and will "
        "retry at 1,000 ms"
    )


@checks()
def test_canceling_says_when_the_cancel_was_asked_for() -> None:
    world = scrapes(profile="current")
    (work_id,) = enqueue(world)
    world.run_until(300)
    world.pools["scrapes"].cancel(world.client, work_id)
    assert world.explain(work_id) == (
        "canceling: attempt 1 since 0 ms in pool `scrapes` (1/2 running); cancel requested at "
        "300 ms: the attempt runs to its end and is not retried"
    )


@checks()
def test_succeeded_gives_the_result_its_retention_and_on_complete() -> None:
    world = scrapes(ttl_ms=5000)
    (work_id,) = enqueue(world, on_complete="done")
    world.run_until(1000)
    assert world.explain(work_id) == (
        'succeeded: at 1,000 ms on attempt 1, returning "ok"; its result is kept until '
        "6,000 ms (ttl_ms 5,000 ms); onComplete done was called at 1,000 ms"
    )


@checks()
def test_failed_says_why_it_was_not_retried() -> None:
    world = scrapes(default_retry_behavior=RetryBehavior(max_attempts=1), ttl_ms=float("inf"))
    plain, = enqueue(world, args={"fail": "plain"})
    used, = enqueue(world, args={"fail": "plain"}, retry=True)
    world.run_until_idle()
    assert world.explain(plain) == (
        'failed: at 1,000 ms on attempt 1: "down"; not retried: it has no retry behaviour; '
        "its result is kept forever (ttl_ms is infinite)"
    )
    assert world.explain(used).startswith(
        'failed: at 1,000 ms on attempt 1: "down"; not retried: all 1 attempts are used;'
    )
    other = scrapes(default_retry_behavior=RetryBehavior(max_attempts=3))
    final, = enqueue(other, args={"fail": "nr"}, retry=True)
    other.run_until_idle()
    assert other.explain(final).startswith(
        'failed: at 1,000 ms on attempt 1: "down"; not retried: it threw a NonRetryableError;'
    )


@checks()
def test_canceled_says_whether_it_waited_or_ran() -> None:
    world = scrapes(max_parallelism=1)
    first, second = enqueue(world, 2)
    world.run_until(100)
    pool = world.pools["scrapes"]
    pool.cancel(world.client, second)
    pool.cancel(world.client, first)
    assert world.explain(second).startswith("canceled: at 100 ms while it waited to start;")
    assert world.explain(first).startswith("canceled: at 100 ms while attempt 1 ran;")


@checks()
def test_timed_out_names_the_timeout() -> None:
    world = scrapes(action_timeout_ms=500)
    (work_id,) = enqueue(world)
    world.run_until(600)
    assert world.explain(work_id).startswith(
        "timed_out: at 500 ms: attempt 1 ran 500 ms, the pool's action_timeout_ms;"
    )


@checks()
def test_evicted_and_forgotten_work_say_when_it_ended() -> None:
    world = scrapes(ttl_ms=100)
    (work_id,) = enqueue(world)
    world.run()
    assert world.explain(work_id) == (
        "evicted: it succeeded at 1,000 ms and its result was dropped at 1,100 ms, ttl_ms "
        "later; status reads evicted"
    )
    current = scrapes(profile="current")
    (gone,) = enqueue(current, on_complete="done")
    current.run_until_idle()
    assert current.explain(gone) == (
        "finished: it succeeded at 1,000 ms on attempt 1; the current profile keeps no "
        "results, so status reads finished; onComplete done was called at 1,000 ms"
    )


@checks("ERR-1")
def test_explain_rejects_ids_it_cannot_know_and_changes_nothing() -> None:
    world = scrapes()
    enqueue(world)
    before = world.trace_jsonl()
    for bad, error, message in (
        ("nopool/1", UnknownWorkId, "names no pool of this world"),
        ("scrapes/9", UnknownWorkId, "has issued ids up to scrapes/1"),
        (7, InvalidType, "a work id is a str"),
    ):
        with pytest.raises(error, match=message):
            world.explain(bad)  # type: ignore[arg-type]
    assert world.trace_jsonl() == before


@checks()
def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 103, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd", "111th"
    ]
