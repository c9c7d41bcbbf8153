"""Fuzzing every front door (ERR-1, CLK-6): the Python API (also from inside handlers), the
trace checker on whole traces, the adapter program's request reader and the CLI's arguments.

Each input ends in a typed rejection (a refmodel error, a protocol error answer, status 2 with
one line), is accepted, or is an untyped exception, which fails the test at once. A rejected
call must leave the world exactly as it was. ``tests/fuzz/budget.py`` sets the budget.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmodel import RetryBehavior, World
from refmodel.adapter import ModelAdapter, answer
from refmodel.checker import check
from refmodel.checker.reader import TraceUnreadable
from refmodel.cli import main
from refmodel.engine.runtime import ActionCtx
from refmodel.errors import ReentrantCall, RefmodelError, StepLimitExceeded
from refmodel.values import short
from tests.fuzz.budget import fuzz_settings, tally
from tests.schema_strategies import ANY_JSON
from tests.spec import checks

JUNK: st.SearchStrategy[Any] = st.one_of(
    ANY_JSON,
    st.just(5000).map(lambda digits: 10**digits),  # Beyond Python's int-to-str limit.
    st.sampled_from([None, -1, 0, 1, 2.5, math.nan, math.inf, -math.inf, True, 10**30,
                     "", "p/1", "p/" + "9" * 50, "\ud800", "q/1", "scheduled/1",
                     [1, 2], {"a": [1]}, object(), b"bytes", 2**63]),
)
"""Arguments good and bad: JSON values, numbers at and beyond every bound, ids of every
shape, text that is not Unicode, things that are not JSON at all."""


def _snapshot(world: World) -> tuple[Any, ...]:
    return (world.trace_jsonl(), world.now, world.peek(), world.idle,
            [(name, pool.statistics()) for name, pool in world.pools.items()],
            world.registry.names(), world.scheduler.ids(), world.store.tables())


def _world(profile: str) -> World:
    world = World(seed=5, profile=profile)
    world.pool("p", max_parallelism=2)
    world.pool("q", max_parallelism=1)

    @world.action(name="work")
    async def work(ctx: ActionCtx, args: dict[str, Any]) -> int:
        await ctx.sleep(5)
        return 1

    @world.mutation(name="write")
    def write(ctx: Any, args: dict[str, Any]) -> None:
        return None

    return world


def _api_calls(world: World) -> dict[str, Callable[[Any, Any], object]]:
    pool = world.pools["p"]
    client = world.client
    return {
        "enqueue_action": lambda a, b: pool.enqueue_action(client, a, b),
        "enqueue_action_retry": lambda a, b: pool.enqueue_action(client, "work", {}, retry=a),
        "enqueue_action_run_at": lambda a, b: pool.enqueue_action(client, "work", {}, run_at=a),
        "enqueue_mutation": lambda a, b: pool.enqueue_mutation(client, "write", a),
        "enqueue_on_complete": lambda a, b: pool.enqueue_action(client, "work", {},
                                                                on_complete=a, context=b),
        "status": lambda a, b: pool.status(a),
        "cancel": lambda a, b: pool.cancel(client, a),
        "cancel_all": lambda a, b: pool.cancel_all(client, limit=a),
        "update_config": lambda a, b: pool.update_config(max_parallelism=a),
        "pool": lambda a, b: world.pool(a, max_parallelism=b),
        "run_until": lambda a, b: world.run_until(a),
        "run_until_max_steps": lambda a, b: world.run_until(world.now + 1, max_steps=a),
        "run_until_idle": lambda a, b: world.run_until_idle(max_steps=a),
        "call_at": lambda a, b: world.call_at(a, b),
        "draw": lambda a, b: world.draw(a),
        "set_next_draw": lambda a, b: world.set_next_draw(a),
        "scheduler_run_after": lambda a, b: world.scheduler.run_after(client, a, "work", b),
        "scheduler_cancel": lambda a, b: world.scheduler.cancel(client, a),
        "run_mutation": lambda a, b: world.run_mutation(a, b),
        "retry_behavior": lambda a, b: RetryBehavior(max_attempts=a, initial_backoff_ms=b),
        "explain": lambda a, b: world.explain(a),
        "step": lambda a, b: world.step() if world.next_step() else None,
    }


CALL_NAMES = sorted(_api_calls(_world("seed")))
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "p/1": st.just("p/1"), "work": st.just("work"), "10": st.just(10), "{}": st.just({}),
}


@checks("ERR-1", "CLK-6")
@fuzz_settings()
@given(st.sampled_from(["seed", "current"]),
       st.lists(st.tuples(st.sampled_from(CALL_NAMES),
                          st.one_of(JUNK, *GOOD.values()), st.one_of(JUNK, *GOOD.values())),
                min_size=1, max_size=12))
def test_the_python_api_raises_only_typed_errors_and_a_refusal_changes_nothing(
    profile: str, calls: list[tuple[str, Any, Any]]
) -> None:
    world = _world(profile)
    api = _api_calls(world)
    for name, a, b in calls:
        before = _snapshot(world)
        try:
            api[name](a, b)
        except StepLimitExceeded:  # Not a refusal: the events before the limit ran (CLK-4).
            tally("python-api", "accepted")
            continue
        except RefmodelError:
            tally("python-api", "typed_rejection")
            assert _snapshot(world) == before, f"{name}({short(a)}, {short(b)}) changed it"
            continue
        except Exception:
            tally("python-api", "untyped_exception")
            raise
        tally("python-api", "accepted")
    with contextlib.suppress(RefmodelError):
        world.run(max_steps=10_000)
    report = check(world.trace_jsonl().splitlines())
    assert report.ok, report.violations


@checks("CLK-6")
@fuzz_settings()
@given(st.sampled_from(["action", "mutation"]),
       st.lists(st.tuples(st.sampled_from(CALL_NAMES), JUNK, JUNK), min_size=1, max_size=4))
def test_calls_from_inside_handlers_raise_only_typed_errors(
    inside: str, calls: list[tuple[str, Any, Any]]
) -> None:
    """Whatever a handler calls on the world, it gets a typed error or an answer, and the
    model's trace stays valid (a driving call is refused with ReentrantCall, CLK-6)."""
    world = _world("current")
    api = _api_calls(world)
    seen: list[str] = []

    def make_calls() -> None:
        for name, a, b in calls:
            try:
                api[name](a, b)
            except ReentrantCall:
                seen.append("typed_rejection")
            except RefmodelError:
                seen.append("typed_rejection")
            except Exception:
                seen.append("untyped_exception")
                raise
            else:
                seen.append("accepted")

    @world.action()
    async def caller(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(1)
        make_calls()

    @world.mutation()
    def mutating(ctx: Any, args: dict[str, Any]) -> None:
        make_calls()

    pool = world.pools["q"]
    pool.enqueue_action(world.client, caller, {}) if inside == "action" else \
        pool.enqueue_mutation(world.client, mutating, {})
    with contextlib.suppress(RefmodelError):
        world.run(max_steps=10_000)
    for outcome in seen:
        tally("handler-calls", outcome)
    assert "untyped_exception" not in seen
    assert check(world.trace_jsonl().splitlines()).ok


def _model_trace() -> list[str]:
    world = World(seed=3)
    pool = world.pool("p", max_parallelism=2, ttl_ms=100)

    @world.action()
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> int:
        await ctx.sleep(int(args["ms"]))
        if args["ms"] == 7:
            raise RuntimeError("boom")
        return 1

    for ms in (3, 7, 5, 9):
        pool.enqueue_action(world.client, job, {"ms": ms}, retry=RetryBehavior(
            max_attempts=2, initial_backoff_ms=10, base=2))
    world.run()
    return world.trace_jsonl().splitlines()


TRACE = _model_trace()


@st.composite
def _damaged_trace(draw: st.DrawFn) -> list[str]:
    lines = list(TRACE)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "swap", "field", "field", "field", "text",
                                    "duplicate"]))
        if how == "drop":
            del lines[i]
        elif how == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif how == "duplicate":
            lines.insert(i, lines[i])
        elif how == "text":
            lines[i] = draw(st.text(max_size=30))
        elif lines[i] in TRACE:  # An event line: replace one of its fields.
            event = json.loads(lines[i])
            key = draw(st.sampled_from(["t", "kind", "pool", "id", "data"]))
            event[key] = draw(JUNK.filter(lambda v: _jsonable(v)))
            lines[i] = json.dumps(event)
        if not lines:
            break
    return lines


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@checks("CHK-1", "ERR-1")
@fuzz_settings()
@given(_damaged_trace())
def test_the_checker_judges_any_damaged_trace_or_calls_it_unreadable(lines: list[str]) -> None:
    try:
        check(lines)
    except TraceUnreadable:
        tally("trace-checker", "typed_rejection")
        return
    except Exception:
        tally("trace-checker", "untyped_exception")
        raise
    tally("trace-checker", "accepted")


REQUESTS: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=40),
    st.builds(lambda method, params, rid: json.dumps({"id": rid, "method": method,
                                                      "params": params}),
              st.sampled_from(["handshake", "reset", "call", "advance", "shutdown", "nope", 3]),
              st.one_of(st.fixed_dictionaries({}, optional={
                  "ms": JUNK.filter(_jsonable), "step": JUNK.filter(_jsonable),
                  "scenario": JUNK.filter(_jsonable)}), JUNK.filter(_jsonable)),
              st.one_of(st.integers(0, 5), st.none(), st.text(max_size=3),
                        st.lists(st.integers(), max_size=2))),
    st.just("[" * 50_000),
    st.just('{"id": 1, "method": "advance", "params": {"ms": 1' + "0" * 5000 + "}}"),
)
SCENARIO = {"profile": "current", "pools": {"p": {"maxParallelism": 1}},
            "functions": {"f": {"kind": "action", "attempts": [{"durationMs": 3}]}},
            "steps": []}


@checks("CNF-1", "ERR-1")
@fuzz_settings()
@given(st.booleans(), st.lists(REQUESTS, min_size=1, max_size=6))
def test_the_adapter_program_answers_every_line_and_keeps_serving(
    reset_first: bool, lines: list[str]
) -> None:
    adapter = ModelAdapter()
    if reset_first:
        adapter.reset(SCENARIO)
    for number, line in enumerate(lines, start=1):
        try:
            response, _ = answer(adapter, number, line)
        except Exception:
            tally("adapter-requests", "untyped_exception")
            raise
        if response is None:
            continue
        json.dumps(response)  # Every answer is JSON.
        tally("adapter-requests", "typed_rejection" if "error" in response else "accepted")


ARGV_WORDS = st.sampled_from([
    "example", "trace", "check", "fill", "conformance", "run", "debug", "timeline", "bench",
    # Not "profiles": it runs a Hypothesis search, which cannot nest in a test.
    "lifecycle", "--seed", "--jobs", "--out", "--adapter", "--fixtures",
    "--explore", "--until", "--trace", "--width", "--format", "--timeout", "--start-lag-ms",
    "--deviation", "--profile", "counter", "ctx", "nope", "-", "", "0", "1", "-1", "2.5",
    "nan", "9" * 25, "x.json", "trace.jsonl", "scenario.json", "svg", "'x", "model", "\x00",
    "--help",
])


@checks("ERR-1")
@fuzz_settings(max_examples=max(20, int(os.environ.get("REFMODEL_FUZZ_EXAMPLES", "300")) // 5))
@given(argv=st.lists(ARGV_WORDS, min_size=0, max_size=5))
def test_the_command_line_exits_0_1_or_2_and_explains_a_2_in_one_line(
    argv: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "trace.jsonl").write_text("\n".join(TRACE) + "\n", encoding="utf-8")
    (tmp / "scenario.json").write_text(json.dumps({**SCENARIO, "steps": [
        {"op": "enqueue", "pool": "p", "fn": "f", "ref": "a"}, {"op": "advance", "ms": 10}]}),
        encoding="utf-8")
    if "bench" in argv:
        argv = [*argv, "--jobs", "10"]  # Keep a benchmark short.
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(tmp)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    except Exception:
        tally("cli-args", "untyped_exception")
        raise
    finally:
        os.chdir(cwd)
    assert code in (0, 1, 2), (argv, code)
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert "internal error" not in err.getvalue(), err.getvalue()
        tally("cli-args", "typed_rejection")
    else:
        tally("cli-args", "accepted")
