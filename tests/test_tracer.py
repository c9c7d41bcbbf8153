"""The tracer (:mod:`refmodel.engine.tracer`): event numbering, and a streamed trace that is
byte for byte the in-memory trace's JSON Lines (rule DET-1)."""

from __future__ import annotations

import io
from typing import Any

from refmodel import ActionCtx, RetryBehavior, World
from tests.spec import checks


def _play(trace: Any) -> World:
    world = World(seed=4, profile="current", trace=trace)
    pool = world.pool("p", max_parallelism=2, retry_actions_by_default=True,
                      default_retry_behavior=RetryBehavior(initial_backoff_ms=7, base=1.5))

    @world.action("odd")
    async def odd(ctx: ActionCtx, args: dict[str, Any]) -> Any:
        await ctx.sleep(3)
        if args["n"] % 2:
            raise RuntimeError("ünïcode \u2028 \"quoted\" \\ slash")
        return {"values": [0.1, 1e300, -0.0, 2**70, None, True], "text": "日本\n"}

    @world.mutation("note")
    def note(ctx: Any, args: dict[str, Any]) -> None:
        ctx.db.insert("notes", {"work": args["work_id"], "result": args["result"]})

    for n in range(6):
        pool.enqueue_action(world.client, odd, {"n": n, "f": n / 3}, on_complete=note,
                            context={"n": n, "nested": {"list": [n, "x"]}})
    world.run()
    return world


@checks("DET-1")
def test_a_streamed_trace_is_byte_for_byte_the_in_memory_traces_json_lines() -> None:
    stream = io.StringIO()
    _play(stream)
    kept = _play(True)
    assert stream.getvalue() == kept.trace_jsonl()
    assert len(kept.trace) > 50


@checks("DET-1")
def test_events_are_numbered_from_one_whoever_listens() -> None:
    seen: list[Any] = []
    world = _play(seen.append)
    assert [event.seq for event in seen] == list(range(1, len(seen) + 1))
    assert world.tracer.emitted == len(seen)


@checks("CLK-4")
def test_a_step_collects_its_events_even_with_the_trace_off() -> None:
    world = World(trace=False)
    pool = world.pool("p", max_parallelism=1)
    job = world.declare_action("job", duration_ms=5)
    pool.enqueue_action(world.client, job, {})
    step = world.step()
    assert [e.kind for e in step.events] == ["started"]
    assert world.tracer.tracing is False
