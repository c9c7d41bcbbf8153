"""Trace events, their JSON Lines form and the sinks (:mod:`refmodel.trace`)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from refmodel import ActionCtx, InvalidArgument, MutationCtx, World
from refmodel.examples import ctx_interface
from refmodel.trace import KINDS, JsonlWriter, MemoryTrace, TraceEvent, to_jsonl
from tests.spec import checks

VOCABULARY = [
    "world_started",
    "pool_created",
    "enqueued",
    "started",
    "succeeded",
    "failed",
    "retrying",
    "canceled",
    "cancel_requested",
    "timed_out",
    "evicted",
    "cancel_ignored",
    "on_complete",
    "cancel_called",
    "status_read",
    "config_updated",
    "warning",
    "scheduled",
    "sched_started",
    "sched_succeeded",
    "sched_failed",
    "sched_canceled",
    "call_started",
    "call_succeeded",
    "call_failed",
    "committed",
    "conflict",
    "rng",
]


def play(trace: Any) -> World:
    """A small scenario that emits most kinds of events, written to ``trace``."""
    world = World(seed=7, trace=trace)
    pool = world.pool("emails", max_parallelism=1, action_timeout_ms=500, ttl_ms=1000)

    @world.action("send")
    async def send(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(int(args["ms"]))
        if args.get("fail"):
            raise RuntimeError("bounced: é ✗")
        return f"sent {args['ms']}"

    @world.mutation("note", duration_ms=5)
    def note(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("notes", {"text": "hi"})
        ctx.scheduler.run_after(10, send, {"ms": 1})

    first = pool.enqueue_action(world.client, send, {"ms": 100})
    pool.enqueue_action(world.client, send, {"ms": 10, "fail": True})
    slow = pool.enqueue_action(world.client, send, {"ms": 10_000})
    canceled = pool.enqueue_action(world.client, send, {"ms": 1})
    world.run_mutation(note)
    world.draw("jitter")
    world.run_until(50)
    pool.cancel(world.client, canceled)
    world.run_until_idle()
    pool.cancel(world.client, first)
    world.run()
    assert pool.seed_status(slow).kind == "evicted"
    return world


@checks("DET-1")
def test_kinds_are_the_spec_vocabulary() -> None:
    assert list(KINDS) == VOCABULARY


@checks("DET-1")
def test_to_json_has_the_keys_in_schema_order() -> None:
    event = TraceEvent(
        time=10, seq=3, kind="started", pool="emails", id="emails/1", data={"attempt": 1}
    )
    assert event.to_json() == {
        "t": 10,
        "seq": 3,
        "kind": "started",
        "pool": "emails",
        "id": "emails/1",
        "data": {"attempt": 1},
    }
    assert list(event.to_json()) == ["t", "seq", "kind", "pool", "id", "data"]


@checks("DET-1")
def test_to_line_is_compact_json_with_non_ascii_kept() -> None:
    event = TraceEvent(
        time=0, seq=9, kind="failed", pool="p", id="p/2", data={"error": "bounced: é ✗"}
    )
    assert event.to_line() == (
        '{"t":0,"seq":9,"kind":"failed","pool":"p","id":"p/2","data":{"error":"bounced: é ✗"}}'
    )
    bare = TraceEvent(time=5, seq=1, kind="world_started")
    assert bare.to_line() == (
        '{"t":5,"seq":1,"kind":"world_started","pool":null,"id":null,"data":{}}'
    )


@checks("DET-1")
def test_from_json_reads_a_line_back() -> None:
    event = TraceEvent(
        time=42, seq=7, kind="succeeded", pool="p", id="p/1", data={"result": {"a": [1, None]}}
    )
    assert TraceEvent.from_json(json.loads(event.to_line())) == event


@checks("DET-1")
def test_from_json_defaults_pool_id_and_data() -> None:
    assert TraceEvent.from_json({"t": 1, "seq": 2, "kind": "rng"}) == TraceEvent(
        time=1, seq=2, kind="rng", pool=None, id=None, data={}
    )


@checks("DET-1")
def test_every_event_of_a_run_round_trips_through_its_line() -> None:
    world = play(True)
    for event in world.trace:
        line = event.to_line()
        assert "\n" not in line
        assert TraceEvent.from_json(json.loads(line)).to_line() == line
        assert TraceEvent.from_json(json.loads(line)) == event


@checks("DET-1", "LIF-1")
def test_a_run_uses_only_the_vocabulary_and_numbers_events_from_one() -> None:
    events = play(True).trace
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == "world_started"
    assert events[0].data == {"traceVersion": 2, "seed": 7, "epoch": 0, "profile": "seed"}
    kinds = {e.kind for e in events}
    assert kinds <= set(KINDS)
    assert {
        "pool_created",
        "enqueued",
        "started",
        "succeeded",
        "failed",
        "canceled",
        "timed_out",
        "evicted",
        "cancel_ignored",
        "scheduled",
        "sched_started",
        "sched_succeeded",
        "call_started",
        "call_succeeded",
        "committed",
        "rng",
    } <= kinds
    times = [e.time for e in events]
    assert times == sorted(times)


@checks("DET-2")
def test_a_draw_is_recorded_with_its_value_before_it_is_used() -> None:
    world = World(seed=3)
    value = world.draw("jitter")
    last = world.trace[-1]
    assert (last.kind, last.pool, last.id) == ("rng", None, None)
    assert last.data == {"purpose": "jitter", "value": value}
    assert 0 <= value < 1
    assert World(seed=3).draw("jitter") == value


@checks("DET-1")
def test_memory_trace_keeps_events_in_order() -> None:
    sink = MemoryTrace()
    first = TraceEvent(time=0, seq=1, kind="world_started")
    second = TraceEvent(time=3, seq=2, kind="rng", data={"purpose": "x", "value": 0.5})
    sink(first)
    sink(second)
    assert len(sink) == 2
    assert list(sink) == [first, second]
    assert sink.events == [first, second]
    assert sink.to_jsonl() == first.to_line() + "\n" + second.to_line() + "\n"
    assert to_jsonl([first, second]) == sink.to_jsonl()
    assert MemoryTrace().to_jsonl() == ""


@checks("DET-1")
def test_jsonl_writer_writes_each_event_as_it_comes() -> None:
    stream = io.StringIO()
    writer = JsonlWriter(stream)
    first = TraceEvent(time=0, seq=1, kind="world_started")
    writer(first)
    assert stream.getvalue() == first.to_line() + "\n"
    second = TraceEvent(time=1, seq=2, kind="evicted", pool="p", id="p/1")
    writer(second)
    assert stream.getvalue() == first.to_line() + "\n" + second.to_line() + "\n"


@checks("DET-1")
def test_a_world_streaming_its_trace_writes_the_bytes_of_its_in_memory_trace() -> None:
    stream = io.StringIO()
    streamed = play(stream)
    kept = play(True)
    assert stream.getvalue() == kept.trace_jsonl()
    assert streamed.memory is None


@checks("DET-1")
def test_a_streamed_trace_is_written_while_the_world_runs() -> None:
    stream = io.StringIO()
    world = World(seed=1, trace=stream)
    assert stream.getvalue().count("\n") == 1
    world.pool("p", max_parallelism=1)
    assert stream.getvalue().splitlines()[-1].startswith('{"t":0,"seq":2,"kind":"pool_created"')


@checks("DET-1")
def test_a_callable_sink_receives_the_same_events() -> None:
    received: list[TraceEvent] = []
    play(received.append)
    assert received == play(True).trace


@checks("DET-1")
def test_a_world_without_a_trace_keeps_nothing() -> None:
    world = play(False)
    assert world.memory is None
    with pytest.raises(InvalidArgument) as raised:
        world.trace_jsonl()
    assert str(raised.value) == "this world does not keep its trace in memory (trace=True)"


@checks("DET-1")
def test_an_example_trace_round_trips_line_by_line() -> None:
    text = ctx_interface(0).worlds["world"].trace_jsonl()
    events = [TraceEvent.from_json(json.loads(line)) for line in text.splitlines()]
    assert to_jsonl(events) == text
