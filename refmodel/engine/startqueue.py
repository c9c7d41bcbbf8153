"""The start queue: pending work in start order, and the one mechanism that starts it.

Theory of operation. Both pools and the plain scheduler hold work that becomes *eligible* at a
time (its enqueue instant, or a later ``run_at``) and start it into a bounded number of slots,
first-in first-out by ``(eligibility time, enqueue order)`` (rules ORD-1, ORD-2), the instant a
slot is free and the work is eligible (rules WC-1, LIV-1). Work that is eligible when it is
added goes to a deque, which stays sorted because the clock never goes back; work due later goes
to a heap keyed by ``(eligibility time, order of adding)``. Taking the next item merges the two
heads.

The enqueue order needs no field of its own: an item in the deque was added at its eligibility
time, so an item of the heap with the same eligibility time was added earlier, and comes first.

Starting happens in the START phase of an instant (rule CLK-3), after every completion, timeout
and cancel of that instant, so the choice of what starts never depends on the order in which
same-instant events were processed. A :class:`StartQueue` keeps at most one START event armed,
at the earliest time anything may start; stale items (canceled while pending) are skipped.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from refmodel.engine.clock import Clock, Phase


class Queued(Protocol):
    """What a start queue orders by: when the item becomes eligible."""

    eligible_at: int


T = TypeVar("T", bound=Queued)
_START = int(Phase.START)


class StartQueue(Generic[T]):
    """Pending items in start order, started into free slots in the START phase.

    Items carry their eligibility time, ``eligible_at``, which must not be before now when
    they are added; among items eligible at the same time, the first added starts first.

    Args:
        clock: the world's clock.
        is_live: whether a queued item is still waiting (a canceled one is skipped).
        has_room: whether a slot is free now.
        start: start one item now.
    """

    __slots__ = (
        "_added",
        "_armed",
        "_clock",
        "_delayed",
        "_has_room",
        "_is_live",
        "_ready",
        "_start",
    )

    def __init__(
        self,
        clock: Clock,
        is_live: Callable[[T], bool],
        has_room: Callable[[], bool],
        start: Callable[[T], None],
    ) -> None:
        self._clock = clock
        self._is_live = is_live
        self._has_room = has_room
        self._start = start
        self._ready: deque[T] = deque()
        self._delayed: list[tuple[int, int, T]] = []
        self._added = 0
        self._armed: int | None = None

    def add(self, item: T) -> None:
        """Queue ``item``; its ``eligible_at`` is not before now."""
        eligible_at = item.eligible_at
        if eligible_at <= self._clock.now:
            self._ready.append(item)
        else:
            self._added += 1
            heapq.heappush(self._delayed, (eligible_at, self._added, item))
        armed = self._armed
        if armed is None or eligible_at < armed:
            self.kick(eligible_at)

    def kick(self, time: int) -> None:
        """Make sure a START event runs at ``time`` (a slot freed, or work comes due)."""
        armed = self._armed
        if armed is None or time < armed:
            self._armed = time
            self._clock.schedule(time, _START, self._dispatch, time)

    def _dispatch(self, armed_for: int) -> None:
        """due work starts"""
        if armed_for != self._armed:
            return  # Superseded by an earlier arming, which already ran at this instant.
        self._armed = None
        has_room = self._has_room
        start = self._start
        room = has_room()
        while room:
            item = self._pop()
            if item is None:
                break
            start(item)
            room = has_room()
        if room:
            due = self.next_due()
            if due is not None:
                self.kick(due)

    def _pop(self) -> T | None:
        ready = self._ready
        delayed = self._delayed
        is_live = self._is_live
        now = self._clock.now
        while True:
            if delayed and delayed[0][0] <= now:
                if ready and ready[0].eligible_at < delayed[0][0]:
                    item = ready.popleft()
                else:  # At the same eligibility time, the item of the heap was added first.
                    item = heapq.heappop(delayed)[2]
            elif ready:
                item = ready.popleft()
            else:
                return None
            if is_live(item):
                return item

    def next_due(self) -> int | None:
        """The eligibility time of the earliest live item that is not yet eligible."""
        delayed = self._delayed
        while delayed and not self._is_live(delayed[0][2]):
            heapq.heappop(delayed)
        return delayed[0][0] if delayed else None

    def waiting(self) -> list[T]:
        """The live queued items in start order (for introspection; not on the hot path)."""
        keyed = [(item.eligible_at, 1, i, item) for i, item in enumerate(self._ready)]
        keyed += [(eligible_at, 0, added, item) for eligible_at, added, item in self._delayed]
        keyed.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in keyed if self._is_live(entry[3])]
