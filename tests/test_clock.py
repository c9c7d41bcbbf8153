"""The clock core: :class:`refmodel.engine.clock.Clock` and
:class:`refmodel.engine.clock.TimerQueue`."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmodel.engine.clock import Clock, Phase, TimerQueue
from refmodel.errors import EmptySchedule, RefmodelError
from tests.spec import checks


def drain(clock: Clock) -> int:
    """Pop and run every queued event, as the world does; return how many ran."""
    ran = 0
    while len(clock):
        entry = clock.pop()
        entry[3](entry[4])
        ran += 1
    return ran


@checks("CLK-3")
def test_phases_are_ordered_call_resume_timer_start_evict() -> None:
    assert [(phase.name, int(phase)) for phase in Phase] == [
        ("CALL", 0),
        ("RESUME", 1),
        ("TIMER", 2),
        ("START", 3),
        ("EVICT", 4),
    ]


@checks("CLK-1")
def test_clock_starts_at_its_epoch_and_moves_only_when_popping() -> None:
    clock = Clock(epoch=250)
    assert clock.now == 250
    clock.schedule(300, Phase.CALL, lambda _: None)
    assert clock.now == 250
    assert clock.peek() == 300
    assert clock.now == 250
    clock.pop()
    assert clock.now == 300


@checks("CLK-3")
def test_events_pop_by_time_then_phase_then_seq() -> None:
    clock = Clock()
    ran: list[str] = []
    clock.schedule(10, Phase.START, ran.append, "10 start")
    clock.schedule(10, Phase.CALL, ran.append, "10 call")
    clock.schedule(5, Phase.EVICT, ran.append, "5 evict")
    clock.schedule(10, Phase.TIMER, ran.append, "10 timer a")
    clock.schedule(10, Phase.RESUME, ran.append, "10 resume")
    clock.schedule(10, Phase.TIMER, ran.append, "10 timer b")
    assert drain(clock) == 6
    assert ran == ["5 evict", "10 call", "10 resume", "10 timer a", "10 timer b", "10 start"]


@checks("CLK-3")
def test_same_phase_events_run_first_in_first_out() -> None:
    clock = Clock()
    ran: list[int] = []
    for i in range(50):
        clock.schedule(7, Phase.RESUME, ran.append, i)
    drain(clock)
    assert ran == list(range(50))


@checks("CLK-3")
def test_an_event_queued_now_in_an_earlier_phase_runs_before_the_rest_of_the_instant() -> None:
    clock = Clock()
    ran: list[str] = []

    def start(_: Any) -> None:
        ran.append("start 1")
        clock.schedule(clock.now, Phase.RESUME, ran.append, "resume queued by start 1")

    clock.schedule(0, Phase.START, start)
    clock.schedule(0, Phase.START, ran.append, "start 2")
    drain(clock)
    assert ran == ["start 1", "resume queued by start 1", "start 2"]


@checks("CLK-3")
def test_callbacks_are_never_compared_when_keys_tie_on_time_and_phase() -> None:
    clock = Clock()

    class Uncomparable:
        def __lt__(self, other: object) -> bool:
            raise AssertionError("compared")

    for _ in range(10):
        clock.schedule(1, Phase.TIMER, lambda _: None, Uncomparable())
    assert drain(clock) == 10


@checks("CLK-3")
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(list(Phase))), max_size=40))
def test_pop_order_is_the_sorted_order_of_time_phase_and_insertion(
    events: list[tuple[int, Phase]],
) -> None:
    clock = Clock()
    ran: list[tuple[int, int, int]] = []
    for i, (time, phase) in enumerate(events):
        clock.schedule(time, phase, ran.append, (time, int(phase), i))
    drain(clock)
    assert ran == sorted((time, int(phase), i) for i, (time, phase) in enumerate(events))


@checks("CLK-4")
def test_peek_is_infinity_when_nothing_is_queued() -> None:
    clock = Clock()
    assert clock.peek() == math.inf
    assert clock.peek_entry() is None
    assert len(clock) == 0


@checks("CLK-4")
def test_peek_entry_shows_the_next_event_without_removing_it() -> None:
    clock = Clock()
    clock.schedule(4, Phase.TIMER, print, "later")
    clock.schedule(3, Phase.EVICT, print, "sooner")
    entry = clock.peek_entry()
    assert entry is not None
    assert entry[:3] == (3, int(Phase.EVICT), 2)
    assert entry[4] == "sooner"
    assert len(clock) == 2


@checks("CLK-4")
def test_pop_with_nothing_queued_raises_empty_schedule_and_keeps_the_clock() -> None:
    clock = Clock(epoch=120)
    with pytest.raises(EmptySchedule) as raised:
        clock.pop()
    assert str(raised.value) == "nothing left to run at 120 ms"
    assert isinstance(raised.value, IndexError)
    assert isinstance(raised.value, RefmodelError)
    assert clock.now == 120


# TimerQueue ----------------------------------------------------------------------------------


def timer_queue(clock: Clock, fired: list[tuple[int, str]]) -> TimerQueue[str]:
    return TimerQueue(clock, Phase.TIMER, lambda item: fired.append((clock.now, item)))


@checks("TMO-1", "TTL-1")
def test_timer_queue_fires_each_item_at_its_deadline_in_the_given_phase() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    timers.add(30, "a")
    timers.add(50, "b")
    entry = clock.peek_entry()
    assert entry is not None
    assert entry[:2] == (30, int(Phase.TIMER))
    drain(clock)
    assert fired == [(30, "a"), (50, "b")]
    assert len(timers) == 0


@checks("CLK-3")
def test_timer_queue_keeps_one_event_armed_however_many_items_it_holds() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    for i in range(100):
        timers.add(10 + i, f"item {i}")
    assert len(clock) == 1
    assert len(timers) == 100


@checks("CLK-3")
def test_timer_queue_fires_same_deadline_items_in_the_order_added() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    for name in ["first", "second", "third"]:
        timers.add(10, name)
    ran = drain(clock)
    assert fired == [(10, "first"), (10, "second"), (10, "third")]
    assert ran == 1


@checks("CLK-3")
def test_timer_queue_inserts_an_earlier_deadline_in_order_and_arms_it() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    timers.add(100, "late")
    timers.add(100, "late 2")
    timers.add(50, "early")
    timers.add(100, "late 3")
    timers.add(70, "middle")
    assert timers.items() == [
        (50, "early"),
        (70, "middle"),
        (100, "late"),
        (100, "late 2"),
        (100, "late 3"),
    ]
    assert clock.peek() == 50
    ran = drain(clock)
    assert fired == [(50, "early"), (70, "middle"), (100, "late"), (100, "late 2"), (100, "late 3")]
    # The event armed for 100 before "early" arrived is superseded; it runs as a no-op.
    assert ran == 4


@checks("CLK-3")
def test_timer_queue_drop_front_while_drops_only_a_stale_prefix() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    for deadline, name in [(10, "stale 1"), (20, "stale 2"), (30, "live"), (40, "stale 3")]:
        timers.add(deadline, name)
    timers.drop_front_while(lambda item: item.startswith("stale"))
    assert timers.items() == [(30, "live"), (40, "stale 3")]
    drain(clock)
    assert fired == [(30, "live"), (40, "stale 3")]


@checks("CLK-3")
def test_timer_queue_drop_front_while_can_empty_the_queue() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers = timer_queue(clock, fired)
    timers.add(10, "a")
    timers.add(20, "b")
    timers.drop_front_while(lambda item: True)
    assert timers.items() == []
    # The armed event stays queued (events are never withdrawn) and finds nothing to fire.
    assert len(clock) == 1
    drain(clock)
    assert fired == []


@checks("CLK-3")
def test_timer_queue_item_added_during_firing_at_the_same_deadline_fires_in_that_event() -> None:
    clock = Clock()
    fired: list[tuple[int, str]] = []
    timers: TimerQueue[str] = TimerQueue(clock, Phase.TIMER, lambda item: on_due(item))

    def on_due(item: str) -> None:
        fired.append((clock.now, item))
        if item == "a":
            timers.add(clock.now, "added by a")

    timers.add(5, "a")
    drain(clock)
    assert fired == [(5, "a"), (5, "added by a")]
