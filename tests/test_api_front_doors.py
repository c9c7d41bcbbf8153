"""The Python API's front doors: driving the world from inside itself (CLK-6), values no
implementation could hold (ENQ-2, CLK-2), text that is not Unicode, and the small frictions
a new user meets first (ERR-1)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from refmodel import InvalidArgument, InvalidType, UnknownWorkId, World
from refmodel.checker import check
from refmodel.engine.runtime import ActionCtx
from refmodel.errors import ReentrantCall
from refmodel.values import MAX_INT, MAX_TIME_MS
from tests.spec import checks


def _state(world: World) -> tuple[Any, ...]:
    """Everything a rejected call must leave as it was: trace, clock, queue, statistics."""
    return (
        world.trace_jsonl(),
        world.now,
        world.next_step(),
        len(world.clock),
        world.idle,
        [(name, pool.statistics()) for name, pool in world.pools.items()],
        world.registry.names(),
        world.scheduler.ids(),
        world.store.tables(),
    )


def _failures(world: World) -> list[str]:
    return [str(e.data["error"]) for e in world.trace if e.kind == "failed"]


DRIVE_CALLS: dict[str, Callable[[World], object]] = {
    "step": lambda w: w.step(),
    "run_until": lambda w: w.run_until(w.now + 100),
    "run_until_idle": lambda w: w.run_until_idle(),
    "run": lambda w: w.run(),
    "run_until_event": lambda w: w.run_until_event(lambda e: False),
    "run_mutation": lambda w: w.run_mutation("noop", {}),
    "run_action": lambda w: w.run_action("noop_action", {}),
    "run_query": lambda w: w.run_query("read", {}),
}


def _world() -> World:
    world = World(seed=3, profile="current")
    world.pool("p", max_parallelism=2)

    @world.mutation(name="noop")
    def noop(ctx: Any, args: dict[str, Any]) -> None:
        return None

    @world.action(name="noop_action")
    async def noop_action(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    @world.query(name="read")
    def read(ctx: Any, args: dict[str, Any]) -> int:
        return 1

    return world


@checks("CLK-6", "ERR-1")
@pytest.mark.parametrize("call", sorted(DRIVE_CALLS))
@pytest.mark.parametrize("inside", ["action", "mutation", "on_complete"])
def test_driving_the_world_from_a_handler_is_refused_and_the_model_trace_stays_valid(
    call: str, inside: str
) -> None:
    """An action that calls ``world.run_until`` (and every other driver call) gets a
    ReentrantCall that it may catch; the run goes on as if the call had not been made, and
    the checker finds nothing wrong in the model's own trace (it used to report WC-1)."""
    world = _world()
    pool = world.pools["p"]
    caught: list[str] = []

    def drive() -> None:
        try:
            DRIVE_CALLS[call](world)
        except ReentrantCall as refused:
            caught.append(str(refused))

    @world.action()
    async def in_action(ctx: ActionCtx, args: dict[str, Any]) -> int:
        await ctx.sleep(10)
        drive()
        await ctx.sleep(10)
        return 1

    @world.mutation()
    def in_mutation(ctx: Any, args: dict[str, Any]) -> int:
        drive()
        return 2

    @world.mutation()
    def done(ctx: Any, args: dict[str, Any]) -> None:
        drive()

    if inside == "action":
        pool.enqueue_action(world.client, in_action, {})
    elif inside == "mutation":
        pool.enqueue_mutation(world.client, in_mutation, {})
    else:
        pool.enqueue_action(world.client, "noop_action", {}, on_complete=done)
    pool.enqueue_action(world.client, in_action if inside == "action" else "noop_action", {})
    world.run_until_idle()
    assert caught, "the re-entrant call was not refused"
    assert all(f"world.{call}()" in message for message in caught)
    assert _failures(world) == []
    report = check(world.trace_jsonl().splitlines())
    assert report.ok, report.violations


@checks("CLK-6")
def test_an_uncaught_reentrant_call_fails_only_its_attempt_with_the_typed_message() -> None:
    world = _world()

    @world.action()
    async def greedy(ctx: ActionCtx, args: dict[str, Any]) -> None:
        world.run_until_idle()

    world.pools["p"].enqueue_action(world.client, greedy, {})
    world.run_until_idle()
    [message] = _failures(world)
    assert message.startswith("world.run_until_idle() was called while the world is processing")
    assert check(world.trace_jsonl().splitlines()).ok


@checks("CLK-6")
def test_a_call_at_callback_may_act_as_a_driver_but_not_run_the_clock() -> None:
    world = _world()
    handles: list[Any] = []
    world.call_at(5, lambda: handles.append(world.run_mutation("noop", {})))
    world.run_until(10)
    assert handles and handles[0].done
    world.call_at(20, lambda: world.run_until(30))
    with pytest.raises(ReentrantCall, match=r"world\.run_until\(\) was called while"):
        world.run_until(25)


@checks("ENQ-2", "ERR-1")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(10**5000, "the int <int of about 5001 digits> is outside the 64-bit range",
                     id="int-5000-digits"),
        pytest.param(MAX_INT + 1, "the int 9223372036854775808 is outside the 64-bit range",
                     id="int-beyond-int64"),
        pytest.param({"nested": [10**30]}, "is outside the 64-bit range", id="nested-int"),
        pytest.param("\ud800", "is not Unicode text (it holds a lone surrogate)", id="surrogate"),
        pytest.param({"\udfff": 1}, "is not Unicode text", id="surrogate-key"),
    ],
)
def test_a_return_value_no_implementation_could_hold_fails_its_attempt_and_streams(
    value: Any, message: str
) -> None:
    """It used to raise ValueError or UnicodeEncodeError from the trace encoder mid-step."""
    stream = io.StringIO()
    world = World(seed=1, trace=stream)
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def returns(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        return value

    work_id = pool.enqueue_action(world.client, returns, {})
    world.run_until_idle()
    status = pool.status(work_id).to_json()
    assert status["kind"] == "error"
    assert message in status["error"]
    stream.getvalue().encode("utf-8")  # Every line is UTF-8 text.
    assert check(stream.getvalue().splitlines()).ok


@checks("ENQ-2", "ERR-1")
def test_args_no_implementation_could_hold_are_refused_at_enqueue_and_change_nothing() -> None:
    world = _world()
    pool = world.pools["p"]
    before = _state(world)
    with pytest.raises(InvalidType, match="outside the 64-bit range"):
        pool.enqueue_action(world.client, "noop_action", {"n": 2**64})
    with pytest.raises(InvalidType, match="lone surrogate"):
        pool.enqueue_action(world.client, "noop_action", {"s": "a\ud800b"})
    assert _state(world) == before


@checks("DET-1")
@pytest.mark.parametrize("trace", ["stream", "memory"])
def test_an_error_message_that_is_not_unicode_is_escaped_in_the_trace(trace: str) -> None:
    """User code may raise with any text; the trace line escapes a lone surrogate as JSON
    allows (``\\ud800``), so writing it never fails and reading it gives the same text."""
    stream = io.StringIO()
    world = World(seed=1, trace=stream if trace == "stream" else True)
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def raises(ctx: ActionCtx, args: dict[str, Any]) -> None:
        raise RuntimeError("bad \ud800 byte")

    pool.enqueue_action(world.client, raises, {})
    world.run_until_idle()
    text = stream.getvalue() if trace == "stream" else world.trace_jsonl()
    text.encode("utf-8")
    assert "bad \\ud800 byte" in text
    assert check(text.splitlines()).ok


@checks("CLK-2", "DET-2", "ERR-1")
@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        pytest.param(lambda: World(seed=10**5000), InvalidArgument,
                     "seed must be from -9223372036854775808 to 9223372036854775807, got "
                     "<int of about 5001 digits>", id="seed-5000-digits"),
        pytest.param(lambda: World(seed=2**63), InvalidArgument,
                     "seed must be from -9223372036854775808 to 9223372036854775807, got "
                     "9223372036854775808", id="seed-beyond-int64"),
        pytest.param(lambda: World(epoch=MAX_TIME_MS + 1), InvalidArgument,
                     "epoch must be at most 9007199254740991 ms, got 9007199254740992",
                     id="epoch-beyond-safe"),
    ],
)
def test_numbers_beyond_the_documented_bounds_are_refused(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        make()
    assert str(raised.value) == message


@checks("CLK-2", "ERR-1")
def test_a_sleep_beyond_the_largest_time_fails_the_attempt_and_the_clock_stays_small() -> None:
    world = _world()

    @world.action()
    async def sleeper(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10**5000)

    world.pools["p"].enqueue_action(world.client, sleeper, {})
    world.run_until_idle()
    assert world.now == 0
    assert _failures(world) == ["ms must be at most 9007199254740991 ms, got <int of about "
                                "5001 digits>"]


@checks("STS-4", "ERR-1")
@pytest.mark.parametrize("work_id", ["p/" + "9" * 5000, "p/" + "9" * 20, "9" * 5000])
def test_a_huge_work_id_is_unknown_with_a_short_message(work_id: str) -> None:
    world = _world()
    before = _state(world)
    with pytest.raises(UnknownWorkId) as raised:
        world.pools["p"].status(work_id)
    assert len(str(raised.value)) < 120
    assert _state(world) == before


@checks("DET-2", "ERR-1")
@pytest.mark.parametrize(("purpose", "error"), [(None, InvalidType), (3, InvalidType),
                                                ("", InvalidArgument)])
def test_a_draw_needs_a_purpose_and_a_refused_one_changes_nothing(
    purpose: Any, error: type[Exception]
) -> None:
    """``world.draw(None)`` used to write an ``rng`` event the checker and schema reject."""
    world = _world()
    before = _state(world)
    with pytest.raises(error, match="a draw's purpose must be a"):
        world.draw(purpose)
    assert _state(world) == before
    world.draw("mine")
    assert check(world.trace_jsonl().splitlines()).ok


@checks("RES-3")
def test_poll_result_waits_30_seconds_when_no_timeout_is_given() -> None:
    """The seed's README shows ``pollResult(id)`` without a timeout."""
    world = World(seed=1)
    pool = world.pool("p", max_parallelism=1)
    outcome: list[str] = []

    @world.action()
    async def forever(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(60_000)

    @world.action()
    async def poller(ctx: ActionCtx, args: dict[str, Any]) -> None:
        try:
            await pool.poll_result(ctx, args["id"])
        except Exception as error:
            outcome.append(f"{ctx.now}: {error}")

    waited = pool.enqueue_action(world.client, forever, {})
    world.pool("q", max_parallelism=1).enqueue_action(world.client, poller, {"id": waited})
    world.run_until_idle()
    assert outcome == [f"30000: Timeout waiting for result of work {waited}"]


@checks("CLK-3")
def test_trace_events_have_t_as_trace_lines_name_it() -> None:
    world = _world()
    world.run_until(7)
    world.draw("x")
    event = world.trace[-1]
    assert event.t == event.time == 7 == event.to_json()["t"]


@checks("DET-1")
@pytest.mark.parametrize("mark", ["\x85", "\u2028", "\u2029"])
def test_a_line_separator_in_user_text_keeps_one_event_on_one_line(mark: str) -> None:
    """JSON leaves U+0085, U+2028 and U+2029 unescaped, but str.splitlines breaks lines at
    them: a trace line holding one is written in ASCII."""
    stream = io.StringIO()
    for trace in (True, stream):
        world = World(seed=1, trace=trace)
        world.draw(f"a{mark}b")
        text = world.trace_jsonl() if trace is True else stream.getvalue()
        assert len(text.splitlines()) == 2
        assert check(text.splitlines()).ok
        assert json.loads(text.splitlines()[1])["data"]["purpose"] == f"a{mark}b"
