"""What the checker keeps of pools and work items while it reads a trace.

Every structure is a queue in time order, so each event costs O(1) amortised time and a
trace of any length streams through in bounded work per event.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

from refmodel.workpool.lifecycle import State

PENDING = State.PENDING


class Retry:
    """A retry behaviour: at most ``max_attempts`` attempts; retry k waits about
    ``initial_ms * base**(k-1)``."""

    __slots__ = ("base", "initial_ms", "max_attempts")

    def __init__(self, max_attempts: int, initial_ms: float, base: float) -> None:
        self.max_attempts = max_attempts
        self.initial_ms = initial_ms
        self.base = base


NO_RETRY = Retry(1, 0, 1)
"""The behaviour of work that is never retried."""


class Unknown:
    """The type of :data:`UNKNOWN`."""

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN = Unknown()
"""A fact the trace does not tell."""


class Item:
    """What the checker keeps of one work item.

    ``order`` is its enqueue order ``q`` in its current wait (a retry waits again, with a new
    order), or 0 when it is not waiting; ``eligible`` is when that wait may end (a ``runAt``
    in the past is clamped to the enqueue instant, as ENQ-4 says). ``outcome`` is
    ``(result kind, value)`` of its terminal event, as an onComplete must report it. The
    ``*_seq`` fields name the events that a violation points at. ``retry`` is the behaviour
    it retries by, ``None`` if not known. ``exact`` is false while ``eligible`` is only the
    latest instant a retry can be due (its ``retrying`` event gave no ``retryAt``): then it
    bounds how late the item may start, but not how early. ``context`` is the context its
    onComplete must be given, when the trace says. ``prev_state`` and ``moved_at`` are the
    state before its last transition and that transition's instant (a status read at that
    instant may show either).

    The class attributes are defaults, so that an enqueue sets only what differs.
    """

    state: State = PENDING
    prev_state: State = PENDING
    moved_at = -1
    attempts = 0
    order = 0
    exact = True
    eligible: float = 0
    context: Any = None
    cancel_seen = False  # A canceled or cancel_requested event since its last cancel_called.
    start_seq = 0
    started_at = 0
    finished_at = 0
    finished_seq = 0
    cancel_at = -1
    outcome: tuple[str, Any] | None = None
    on_complete: str | Unknown | None = UNKNOWN
    on_complete_seq = 0  # The seq of its on_complete event, once called.
    stopped_by_cancel = False

    def __init__(
        self, work_id: str, pool: Pool, kind: str, seq: int, retry: Retry | None
    ) -> None:
        self.id = work_id
        self.pool = pool
        self.kind = kind
        self.enqueued_seq = seq
        self.wait_seq = seq
        self.last_seq = seq
        self.retry = retry


class MinQueue:
    """Entries ``(key, tiebreak, item)`` by least key, for keys that come almost in order.

    Entries pushed in key order go to a deque, the others to a heap; the least entry is the
    lesser of the two heads. ``tiebreak`` (a trace ``seq`` or an enqueue order) is unique and
    grows, so entries never compare items, and an entry whose key is not below the deque's
    tail keeps the deque sorted. Stale entries are the caller's to pop.
    """

    __slots__ = ("heap", "run")

    def __init__(self) -> None:
        self.run: deque[tuple[float, int, Item]] = deque()
        self.heap: list[tuple[float, int, Item]] = []

    def push(self, key: float, tiebreak: int, item: Item) -> None:
        run = self.run
        if not run or key >= run[-1][0]:
            run.append((key, tiebreak, item))
        else:
            heapq.heappush(self.heap, (key, tiebreak, item))

    def head(self) -> tuple[float, int, Item] | None:
        run = self.run
        heap = self.heap
        if heap and (not run or heap[0] < run[0]):
            return heap[0]
        return run[0] if run else None

    def pop(self) -> None:
        run = self.run
        heap = self.heap
        if heap and (not run or heap[0] < run[0]):
            heapq.heappop(heap)
        else:
            run.popleft()


class Pool:
    """What the checker keeps of one pool.

    ``limit`` is its ``maxParallelism`` (``None``: not known, so PAR-1 and WC-1 are not
    checked), ``running`` the items holding a slot, ``free_since`` the instant since which a
    slot has been free (when one is), judged without depending on the order of the events of
    one instant: at the end of an instant at which ``ends_count`` attempts ended, the pool may
    have been full during it if ``running + ends_count`` reaches the limit. ``waiting`` holds
    the waiting items by ``(eligible, order)``. ``timeouts_due`` and ``evictions`` hold
    deadlines by instant.
    """

    def __init__(self, name: str, limit: int | None) -> None:
        self.name = name
        self.limit = limit
        self.config_seq = 0
        self.timeouts: dict[str, int] = {}
        self.ttl: int | Unknown | None = UNKNOWN  # None: results are kept forever.
        self.default_retry: Retry | None = None
        self.running = 0
        self.retrying = 0
        self.free_since = 0
        self.free_seq = 0
        self.free_lag = 0  # The completion lag a slot freed at free_since may add (WC-1).
        self.ends_at = -1  # The last instant at which attempts ended, and how many did:
        self.ends_count = 0  # with the running count they tell whether it may have been full.
        self.next_order = 0
        self.waiting = MinQueue()
        self.waiting_count = 0
        self.unused_reported: tuple[int, float] | None = None
        self.timeouts_due: dict[str, MinQueue] = {}
        self.evictions = MinQueue()

    def first_waiting(self) -> Item | None:
        """The waiting item with the least key; stale entries on the way are dropped (an
        entry is stale once its item's ``order`` is no longer the entry's)."""
        run = self.waiting.run
        heap = self.waiting.heap
        while heap or run:
            if heap and (not run or heap[0] < run[0]):
                if heap[0][2].order == heap[0][1]:
                    return heap[0][2]
                heapq.heappop(heap)
            else:
                if run[0][2].order == run[0][1]:
                    return run[0][2]
                run.popleft()
        return None


