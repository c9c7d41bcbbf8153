"""Retention: how long a finished item's result is kept (rules TTL-1, TTL-2).

Theory of operation. In the seed profile a finished result is kept ``ttl_ms`` (one day by
default; ``math.inf`` keeps it forever) and evicted at exactly ``finished_at + ttl_ms``, in the
EVICT phase, the last of its instant (rule TTL-1): the pool applies the lifecycle's ``evict``
row, the item's status then reads ``evicted`` and its result is gone (rule TTL-2). In the
current profile a finished item is forgotten at its terminal transition.

The ttl cannot change at runtime, so results leave in the order they finished: one FIFO of
records, with only the earliest deadline armed in the clock, holds a million finished results
at eight bytes each.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from refmodel.engine.clock import Clock, Phase
from refmodel.workpool.items import WorkRecord

_EVICT = int(Phase.EVICT)


class Retention:
    """The finished results one pool keeps.

    Args:
        clock: the world's clock.
        ttl_ms: how long results are kept (``math.inf``: forever; ``None``: not at all).
        evict: called with each record whose ttl ran out, in finishing order.
        forget: called with a record to drop at once (no retention).
    """

    __slots__ = ("_armed", "_clock", "_evict", "_forget", "_kept", "_ttl")

    def __init__(
        self,
        clock: Clock,
        ttl_ms: int | float | None,
        evict: Callable[[WorkRecord], None],
        forget: Callable[[WorkRecord], None],
    ) -> None:
        self._clock = clock
        self._ttl = None if ttl_ms is None or ttl_ms == math.inf else int(ttl_ms)
        self._evict = evict
        self._forget = forget
        self._kept: deque[WorkRecord] | None = None if ttl_ms is None else deque()
        self._armed = False

    def keep(self, record: WorkRecord) -> None:
        """``record`` just finished: keep its result for the ttl, or forget it now."""
        kept = self._kept
        if kept is None:
            self._forget(record)  # The current component deletes finished work.
            return
        ttl = self._ttl
        if ttl is None:
            return  # Kept forever.
        kept.append(record)
        if not self._armed:
            self._armed = True
            deadline = record.finished_at + ttl
            self._clock.schedule(deadline, _EVICT, self._fire, deadline)

    def _fire(self, deadline: int) -> None:
        """results are evicted (ttl)"""
        kept = self._kept
        ttl = self._ttl
        assert kept is not None and ttl is not None
        now = self._clock.now
        evict = self._evict
        while kept and kept[0].finished_at + ttl <= now:
            evict(kept.popleft())
        if kept:
            following = kept[0].finished_at + ttl
            self._clock.schedule(following, _EVICT, self._fire, following)
        else:
            self._armed = False

    def __len__(self) -> int:
        return 0 if self._kept is None else len(self._kept)
