"""The virtual clock and its event queue.

Theory of operation. Time is an integer number of milliseconds that only the simulator moves
(rule CLK-1). Everything that will happen is an entry ``(time, phase, seq, action, arg)`` in
one binary heap: ``time`` is when, ``phase`` orders the kinds of things that happen at one
instant (rule CLK-3), and ``seq`` is a counter that makes same-phase events first-in,
first-out. Because ``seq`` is unique, tuples never compare past it, so an event's callback is
never compared and ordering never depends on ``id()``, hashing or set order (the lesson of
CPython's ``sched``). Cancelling an event is never needed: every callback checks whether what
it was scheduled for still holds, and does nothing otherwise.

Deadlines that come in large numbers and in (nearly) increasing order, such as timeouts and TTL
evictions, live in a :class:`TimerQueue`: a deque that keeps a single entry armed in the heap.
This keeps the heap as small as the number of things in flight, so the cost of an event stays
flat however much work is queued.

The clock also runs the loop (:meth:`Clock.run`): pop the next event, move ``now`` to it, call
it, until a time bound, a step limit, or (for ``run_until_idle``) the moment nothing is
:attr:`~Clock.busy`. Whoever owns work that the world must wait for (a pool's items, the plain
scheduler's functions, a driver's calls, onComplete calls) counts it in ``busy`` while it is
pending or running.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import math
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from refmodel.errors import EmptySchedule, StepLimitExceeded

T = TypeVar("T")


class Phase(enum.IntEnum):
    """The order of things that happen at one instant (rule CLK-3)."""

    CALL = 0
    """External calls scheduled by a driver or a scenario step."""
    RESUME = 1
    """Function progress: action wake-ups, mutation commits, completions."""
    TIMER = 2
    """Deadlines: work timeouts, poll_result deadlines, scheduled functions coming due."""
    START = 3
    """Pools and the plain scheduler start eligible work into free slots."""
    EVICT = 4
    """TTL evictions of finished results."""


Action = Callable[[Any], None]
Entry = tuple[int, int, int, Action, Any]


class Clock:
    """The event queue, the current virtual time, and the loop that runs events.

    Attributes:
        now: the current virtual time in ms. Only :meth:`pop`, :meth:`run` and
            :meth:`advance_to` move it.
        busy: how many things the world must wait for are pending or running (work items,
            scheduled functions, driver calls, onComplete calls). Their owners add one when
            such a thing begins and take one away when it ends.
    """

    __slots__ = ("_heap", "_seq", "busy", "now", "running")

    def __init__(self, epoch: int = 0) -> None:
        self.now: int = epoch
        self.busy = 0
        self.running = False
        """True while an event is being processed (rule CLK-6: the loop is not re-entered)."""
        self._heap: list[Entry] = []
        self._seq = 0

    def schedule(self, time: int, phase: int, action: Action, arg: Any = None) -> None:
        """Queue ``action(arg)`` to run at ``time`` in ``phase``.

        ``time`` must not be earlier than :attr:`now`; callers compute it from ``now`` plus a
        validated non-negative delay, so an earlier time is a bug of the model.
        """
        assert time >= self.now, (time, self.now)
        self._seq += 1
        heapq.heappush(self._heap, (time, phase, self._seq, action, arg))

    def peek(self) -> float:
        """The time of the next event, or ``math.inf`` when nothing is queued."""
        return self._heap[0][0] if self._heap else math.inf

    def peek_entry(self) -> Entry | None:
        """The next event's whole entry, or ``None`` when nothing is queued."""
        return self._heap[0] if self._heap else None

    def pop(self) -> Entry:
        """Remove the next event, move the clock to its time and return it.

        Raises:
            EmptySchedule: nothing is queued; the clock is unchanged.
        """
        if not self._heap:
            raise EmptySchedule(f"nothing left to run at {self.now} ms")
        entry = heapq.heappop(self._heap)
        self.now = entry[0]
        return entry

    def advance_to(self, time: int) -> None:
        """Move the clock to ``time`` with nothing to run on the way (``run_until``'s end).

        ``time`` must not be before :attr:`now` nor after the next event.
        """
        assert self.now <= time <= self.peek(), (self.now, time, self.peek())
        self.now = time

    def run(self, before: float, until_idle: bool, limit: float, goal: str) -> None:
        """The loop: run events earlier than ``before`` (and, with ``until_idle``, only while
        :attr:`busy`), one at a time in ``(time, phase, seq)`` order.

        Raises:
            StepLimitExceeded: ``limit`` events ran first; the clock is at the last one.
        """
        heap = self._heap
        pop = heapq.heappop
        steps = 0
        self.running = True
        try:
            # Kept flat: this is the hot path of every simulation.
            while heap and heap[0][0] < before and (self.busy or not until_idle):
                if steps >= limit:
                    raise StepLimitExceeded(
                        f"stopped after {steps} events at {self.now} ms before {goal}"
                    )
                entry = pop(heap)
                self.now = entry[0]
                entry[3](entry[4])
                steps += 1
        finally:
            self.running = False

    def __len__(self) -> int:
        return len(self._heap)


def describe(action: Callable[[Any], None]) -> str:
    """What a queued event does, in words: the first line of its action's docstring (each
    action the model schedules starts its docstring with one, e.g. "due work starts"), else
    the action's name. ``next_step()`` and ``Step.action`` show it."""
    doc: str | None = getattr(action, "__doc__", None)
    if doc:
        line = doc.strip().split("\n", 1)[0].strip()
        if line:
            return line.rstrip(".")
    return str(getattr(action, "__qualname__", type(action).__name__))


class TimerQueue(Generic[T]):
    """Deadlines kept in time order, with only the earliest one armed in the clock.

    ``on_due(item)`` is called for each item whose deadline has come, in deadline order, then
    in the order the items were added. Callers make stale items harmless (``on_due`` checks
    that the item is still waiting for this deadline), and may drop stale items from the front
    with :meth:`drop_front_while`.
    """

    __slots__ = ("_armed", "_clock", "_on_due", "_phase", "_q")

    def __init__(self, clock: Clock, phase: Phase, on_due: Callable[[T], None]) -> None:
        self._clock = clock
        self._phase = int(phase)
        self._on_due = on_due
        self._q: deque[tuple[int, T]] = deque()
        self._armed: int | None = None

    def add(self, deadline: int, item: T) -> None:
        """Add ``item`` due at ``deadline``, after any item with the same deadline."""
        q = self._q
        if not q or deadline >= q[-1][0]:
            q.append((deadline, item))
        else:  # Out of order only after a reconfiguration shortened a delay: rare.
            at = bisect.bisect_right([d for d, _ in q], deadline)
            q.insert(at, (deadline, item))
        armed = self._armed
        if armed is None or deadline < armed:
            self._armed = deadline
            self._clock.schedule(deadline, self._phase, self._fire, deadline)

    def drop_front_while(self, stale: Callable[[T], bool]) -> None:
        """Drop items from the front for as long as ``stale(item)`` holds."""
        q = self._q
        while q and stale(q[0][1]):
            q.popleft()

    def _fire(self, armed_for: int) -> None:
        """deadlines fall due (timeouts)"""
        if armed_for != self._armed:
            return  # A later arming superseded this one; it will fire on its own.
        self._armed = None
        q = self._q
        now = self._clock.now
        on_due = self._on_due
        while q and q[0][0] <= now:
            on_due(q.popleft()[1])
        if q:
            self._armed = q[0][0]
            self._clock.schedule(q[0][0], self._phase, self._fire, q[0][0])

    def __len__(self) -> int:
        return len(self._q)

    def items(self) -> list[tuple[int, T]]:
        """The queued ``(deadline, item)`` pairs in order (for introspection)."""
        return list(self._q)
